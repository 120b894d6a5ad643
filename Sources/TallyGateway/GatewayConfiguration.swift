public import Foundation
import TallyCore
import TallyIAM

/// Everything `tally gateway` needs to run.
public struct GatewayConfiguration: Sendable {
    /// The Tally home (ledger, master key, credential registry).
    public var home: String
    /// Listen address, e.g. 127.0.0.1.
    public var host: String
    public var port: Int
    /// Where calls go: a fixed base URL (e.g. http://127.0.0.1:5000) or each service's AWS endpoint.
    public var upstream: UpstreamEndpoint
    /// PEM certificate chain and private key for an HTTPS listener.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// PEM bundle of CAs to trust for an https upstream (default: the system's; env AWS_CA_BUNDLE also works).
    public var upstreamCABundle: String?
    /// Upstream account id used in ARNs (default moto's 123456789012).
    public var account: String
    /// Deny rules (guardrails).
    public var guardrails: Guardrails
    /// Largest non-streamed request body the gateway buffers (needed to identify and hash it).
    public var maxBufferedBody: Int
    /// Mask upstream secrets in responses (credential-minting operations and error bodies; see README "Gateway").
    /// Config key `maskResponses`, default on.
    public var maskResponses = true
    /// Bearer token `/_tally/metrics` requires (config `metricsToken`); nil and not public: refused until
    /// ``resolveMetricsToken()`` sets the default one (see ``MetricsAccess``).
    public var metricsToken: String?
    /// Serve `/_tally/metrics` without authentication (config `metricsPublic`, default false).
    public var metricsPublic = false
    /// Most client connections open at once (config `maxConnections`, default 4096). At the limit the gateway stops
    /// accepting: further connections wait in the listen backlog until one closes (and are refused once that is
    /// full), so a flood of idle connections cannot exhaust the gateway's memory or descriptors.
    public var maxConnections = 4096
    /// How long graceful shutdown (SIGTERM/SIGINT) waits for calls in flight (config `drainSeconds`, default 20). Calls
    /// still waiting for the upstream then are cut off, answered 503 and recorded `aborted`, so the ledger is closed
    /// with every call completed and a final checkpoint instead of the process being killed mid-call.
    /// The default stays under a supervisor's usual grace period (Kubernetes: 30 s), so the gateway closes its ledger
    /// before a SIGKILL (the drain plus the final checkpoint took 30.05 s with the old default of 30; session 13 probe).
    public var drainTimeout: Duration = .seconds(20)

    public init(home: String, host: String, port: Int, upstream: UpstreamEndpoint, tlsCertificate: String? = nil, tlsKey: String? = nil,
                account: String = "123456789012", guardrails: Guardrails = Guardrails(), maxBufferedBody: Int = 64 << 20) {
        self.home = home
        self.host = host
        self.port = port
        self.upstream = upstream
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.account = account
        self.guardrails = guardrails
        self.maxBufferedBody = maxBufferedBody
    }

    /// Parses `HOST:PORT` (IPv6 as `[::1]:PORT`).
    public static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw TallyError(.badUsage, "--listen \(text): expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        return (host, port)
    }

    /// Parses `--upstream URL` (http or https, no path).
    public static func parseUpstream(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw TallyError(.badUsage, "--upstream \(text): expected an http:// or https:// URL, e.g. http://127.0.0.1:5000")
        }
        if !url.path.isEmpty && url.path != "/" {
            throw TallyError(.badUsage, "--upstream \(text): must not have a path (requests keep their own path)")
        }
        return url
    }

    /// Applies a `--config FILE` (JSON): `{"account": "...", "maxBufferedBody": N, "maxConnections": N, "maskResponses": true,
    /// "metricsToken": "...", "metricsPublic": false, "builtinDeny": true, "deny": [{"action": "iam:Create*", "reason": "..."}]}`.
    public mutating func apply(configFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TallyError(.notFound, "--config \(path): cannot read the file")
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: [UInt8](data)) } catch {
            throw TallyError(.badInput, "--config \(path): \(error)")
        }
        guard case .object(let object) = value else { throw TallyError(.badInput, "--config \(path): expected a JSON object") }
        let known: Set<String> = ["account", "builtinDeny", "deny", "drainSeconds", "maxBufferedBody", "maxConnections", "maskResponses",
                                  "metricsToken", "metricsPublic"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw TallyError(.badInput, "--config \(path): unknown key \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let account = object["account"] {
            guard let text = account.stringValue, text.count == 12, text.allSatisfy(\.isNumber) else {
                throw TallyError(.badInput, "--config \(path): \"account\" must be a 12-digit string")
            }
            self.account = text
        }
        if let max = object["maxBufferedBody"] {
            guard case .number(let text) = max, let n = Int(text), n > 0 else {
                throw TallyError(.badInput, "--config \(path): \"maxBufferedBody\" must be a positive integer")
            }
            maxBufferedBody = n
        }
        if let max = object["maxConnections"] {
            guard case .number(let text) = max, let n = Int(text), (1...1_000_000).contains(n) else {
                throw TallyError(.badInput, "--config \(path): \"maxConnections\" must be an integer from 1 to 1000000")
            }
            maxConnections = n
        }
        if let drain = object["drainSeconds"] {
            guard case .number(let text) = drain, let n = Double(text), n.isFinite, n >= 0.1, n <= 3600 else {
                throw TallyError(.badInput, "--config \(path): \"drainSeconds\" must be a number of seconds from 0.1 to 3600")
            }
            drainTimeout = .milliseconds(Int64((n * 1000).rounded()))
        }
        if let mask = object["maskResponses"] {
            guard case .bool(let on) = mask else {
                throw TallyError(.badInput, "--config \(path): \"maskResponses\" must be true or false")
            }
            maskResponses = on
        }
        if let token = object["metricsToken"] {
            guard let text = token.stringValue, text.utf8.count >= 16, text.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw TallyError(.badInput, "--config \(path): \"metricsToken\" must be at least 16 printable ASCII characters")
            }
            metricsToken = text
        }
        if let open = object["metricsPublic"] {
            guard case .bool(let on) = open else {
                throw TallyError(.badInput, "--config \(path): \"metricsPublic\" must be true or false")
            }
            metricsPublic = on
        }
        if let builtin = object["builtinDeny"] {
            guard case .bool(let on) = builtin else {
                throw TallyError(.badInput, "--config \(path): \"builtinDeny\" must be true or false")
            }
            guardrails.builtinRules = on ? Guardrails.credentialEscapeRules : []
        }
        if let deny = object["deny"] {
            guard case .array(let rules) = deny else { throw TallyError(.badInput, "--config \(path): \"deny\" must be an array") }
            // A pattern that matches no IAM action (a typo: "iam:CreatUser", "s3 : Get*") would enforce nothing: refused.
            let catalog = rules.isEmpty ? nil : try IAMCatalog.load()
            for (i, rule) in rules.enumerated() {
                guard case .object(let fields) = rule else {
                    throw TallyError(.badInput, "--config \(path): deny[\(i)] must be an object {\"action\": \"service:Pattern\", \"reason\": \"...\"}")
                }
                // A key the gateway does not read would be a restriction the user believes in and Tally never applies
                // (a "resource" narrowing a deny to one bucket denied the action everywhere; session 11 probe).
                if let unknown = fields.keys.sorted().first(where: { $0 != "action" && $0 != "reason" }) {
                    throw TallyError(.badInput, "--config \(path): deny[\(i)] has unknown key \"\(unknown)\" (known: action, reason; "
                                     + "a deny rule applies to its actions on every resource)")
                }
                if let reason = fields["reason"], reason.stringValue == nil {
                    throw TallyError(.badInput, "--config \(path): deny[\(i)] \"reason\" must be a string")
                }
                guard let action = fields["action"]?.stringValue, action.contains(":") || action == "*" else {
                    throw TallyError(.badInput, "--config \(path): deny[\(i)] needs \"action\": \"service:Pattern\"")
                }
                if let catalog, catalog.expand(pattern: action).isEmpty {
                    throw TallyError(.badInput, "--config \(path): deny[\(i)] action \"\(action)\" matches no IAM action "
                                     + "(check the spelling; `tally iam actions '\(action)'` lists what a pattern matches)")
                }
                guardrails.denyRules.append(.init(actionPattern: action, reason: fields["reason"]?.stringValue))
            }
        }
    }
}
