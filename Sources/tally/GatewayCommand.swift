import ArgumentParser
import Foundation
import Logging
import TallyCore
import TallyGateway

/// `tally gateway --listen HOST:PORT --upstream URL [--config FILE] [--tls-cert F --tls-key F]`
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the AWS API gateway: verify agents' SigV4, record each call durably, re-sign and forward.",
        discussion: """
            Responses that carry an upstream secret (IAM CreateAccessKey, STS GetSessionToken/AssumeRole*/\
            GetFederationToken, ...) and upstream error bodies are masked: the secret fields read TALLY-MASKED \
            (config "maskResponses": false turns this off). GET /_tally/health is open; GET /_tally/metrics \
            (Prometheus) needs "Authorization: Bearer TOKEN", TOKEN being the config's "metricsToken" or the \
            content of HOME/gateway/metrics.token (written at start, mode 0600); config "metricsPublic": true \
            serves it without a token.
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "Listen address HOST:PORT.") var listen: String = "127.0.0.1:8080"
    @Option(help: "Upstream: a base URL (http or https, e.g. http://127.0.0.1:5000) or `aws` (each service's public endpoint for the signed region).") var upstream: String
    @Option(help: "JSON config: {\"account\": \"123456789012\", \"deny\": [{\"action\": \"iam:*\", \"reason\": \"...\"}], \"maskResponses\": true, \"metricsToken\": \"...\", \"metricsPublic\": false, \"maxBufferedBody\": N, \"maxConnections\": 4096, \"builtinDeny\": true, \"drainSeconds\": 20} (see the README).") var config: String?
    @Option(help: "PEM certificate chain for an HTTPS listener.") var tlsCert: String?
    @Option(help: "PEM private key for an HTTPS listener.") var tlsKey: String?
    @Option(help: "PEM CA bundle to trust for an https upstream (default: system roots, or env AWS_CA_BUNDLE).") var upstreamCABundle: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Option(help: "Log line format on stderr: text (time level logger: key=value ... message) or json (one object per line).") var logFormat: String = "text"

    func run() async throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw TallyError(.badUsage, "--tls-cert and --tls-key go together") }
        guard let level = Logger.Level(rawValue: logLevel) else { throw TallyError(.badUsage, "--log-level \(logLevel): unknown level (trace, debug, info, notice, warning, error, critical)") }
        guard let format = GatewayLogHandler.Format(rawValue: logFormat) else { throw TallyError(.badUsage, "--log-format \(logFormat): unknown format (text, json)") }
        let (host, port) = try GatewayConfiguration.parseListen(listen)
        var configuration = GatewayConfiguration(home: home.homePath, host: host, port: port,
                                                 upstream: try UpstreamEndpoint.parse(upstream),
                                                 tlsCertificate: tlsCert, tlsKey: tlsKey)
        configuration.upstreamCABundle = upstreamCABundle
        if let config { try configuration.apply(configFile: config) }
        try configuration.resolveMetricsToken()
        var logger = Logger(label: "tally.gateway", factory: { GatewayLogHandler.standardError(label: $0, format: format) })
        logger.logLevel = level
        try await Gateway(configuration: configuration, logger: logger).run()
    }
}
