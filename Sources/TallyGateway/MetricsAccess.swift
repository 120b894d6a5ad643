import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import TallyCore
#if canImport(Glibc)
import Glibc
#endif

/// Who may read `/_tally/metrics` (review finding 13): it shares the agents' listener, so by default it needs
/// `Authorization: Bearer <token>`. The token is the config's `metricsToken`, else one derived from the gateway
/// master key and written to `H/gateway/metrics.token` (0600) for the operator's scraper. `metricsPublic: true`
/// serves it to anyone (the former behaviour). `/_tally/health` stays open: it says only "ok" or "unavailable".
public enum MetricsAccess {
    /// `H/gateway/metrics.token`.
    public static func tokenPath(_ paths: GatewayPaths) -> String {
        (paths.directory as NSString).appendingPathComponent("metrics.token")
    }

    /// The default token: HMAC-SHA256(master key, "tally-metrics-token-v1"), hex. Written to ``tokenPath(_:)``
    /// (mode 0600) so a scraper with access to the Tally home can read it; agents have no such access.
    public static func defaultToken(paths: GatewayPaths) throws -> String {
        let key = try MasterKey.loadOrCreate(paths: paths)
        let token = Hex.encode(HMACSHA256.mac(key: key.bytes, message: Array("tally-metrics-token-v1".utf8)))
        let path = tokenPath(paths)
        if let existing = FileManager.default.contents(atPath: path), String(decoding: existing, as: UTF8.self) == token + "\n" {
            return token
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TallyError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        let bytes = Array((token + "\n").utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TallyError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return token
    }
}

extension GatewayConfiguration {
    /// Sets ``metricsToken`` to the default one (``MetricsAccess/defaultToken(paths:)``) unless the config gave a
    /// token or made the metrics public.
    public mutating func resolveMetricsToken() throws {
        guard !metricsPublic, metricsToken == nil else { return }
        metricsToken = try MetricsAccess.defaultToken(paths: GatewayPaths(home: home))
    }
}

extension GatewayHandler {
    /// True for a request the gateway answers itself: a `/_tally/` path without SigV4 (no Authorization, or a
    /// Bearer one, which is never SigV4). Callers check the path prefix first.
    static func isInternalRequest(_ head: HTTPRequest) -> Bool {
        guard let auth = head.headerFields[.authorization] else { return true }
        return bearerToken(auth) != nil
    }

    /// The token of an `Authorization: Bearer <token>` value; the scheme name is case-insensitive (RFC 9110 §11.1:
    /// Prometheus and curl send `Bearer`, other clients `bearer`).
    static func bearerToken(_ authorization: String) -> Substring? {
        guard authorization.utf8.count >= 7, authorization.prefix(7).lowercased() == "bearer " else { return nil }
        return authorization.dropFirst(7)
    }

    /// True when `/_tally/metrics` may be served to this request.
    func metricsAuthorized(_ head: HTTPRequest) -> Bool {
        Self.metricsAuthorized(head, token: configuration.metricsPublic ? nil : (configuration.metricsToken ?? ""))
    }

    /// `token` nil: public. Otherwise `Authorization: Bearer <token>`, compared in constant time; an empty
    /// token (none configured) refuses everyone.
    static func metricsAuthorized(_ head: HTTPRequest, token: String?) -> Bool {
        guard let token else { return true }
        guard !token.isEmpty, let auth = head.headerFields[.authorization], let bearer = bearerToken(auth) else { return false }
        let given = Array(bearer.utf8)
        let expected = Array(token.utf8)
        return given.count == expected.count && constantTimeEquals(given, expected)
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge.
    func refuseMetrics(_ writer: consuming ResponseWriter) async throws {
        let text = "metrics need Authorization: Bearer <token> (the config's metricsToken, or H/gateway/metrics.token)\n"
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        fields[.wwwAuthenticate] = "Bearer realm=\"tally\""
        fields[.contentLength] = String(text.utf8.count)
        try await writer.write(response: HTTPResponse(status: .unauthorized, headerFields: fields),
                               body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
