import AsyncHTTPClient
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTP1
import TallyAWS

extension GatewayHandler {
    /// How one upstream response is masked (``ResponseMasking``); nil when it streams untouched.
    struct MaskPlan: Sendable {
        /// XML elements / JSON members to mask.
        var fields: [String]
        /// True for a successful credential-minting response: if nothing could be masked (an unknown shape or
        /// encoding), the response is withheld rather than passed on.
        var requiresMask: Bool
        /// A content-encoded body is passed on unchanged rather than withheld: the safety net over the successful
        /// answers of operations not known to hand out a credential (they streamed untouched before it).
        var passesEncoded = false
    }

    /// The plan for a response of `status` to `ident` (HEAD responses have no body; masking off: none).
    /// An operation Tally could not identify (a service missing from its model) may be one that mints
    /// credentials: a small answer of known length (Content-Length ≤ ``ResponseMasking/maxBody``) is masked for
    /// every known secret field; a larger one streams (nothing that mints credentials answers with megabytes).
    func maskPlan(ident: IdentifiedOperation?, method: String, status: Int, headers: HTTPHeaders = [:]) -> MaskPlan? {
        Self.maskPlan(enabled: configuration.maskResponses, ident: ident, method: method, status: status, headers: headers)
    }

    /// ``maskPlan(ident:method:status:headers:)`` with the configuration's `maskResponses` as `enabled`.
    static func maskPlan(enabled: Bool, ident: IdentifiedOperation?, method: String, status: Int,
                         headers: HTTPHeaders = [:]) -> MaskPlan? {
        guard enabled, method != "HEAD", status != 304 else { return nil }
        if status >= 300 { return MaskPlan(fields: ResponseMasking.errorFields, requiresMask: false) }
        if ident?.operation == nil {
            guard let length = headers.first(name: "content-length").flatMap({ Int($0) }), length <= ResponseMasking.maxBody
            else { return nil }
            return MaskPlan(fields: ResponseMasking.allSecretFields, requiresMask: false)
        }
        if let fields = ResponseMasking.credentialFields(service: ident?.service, operation: ident?.operation) {
            return MaskPlan(fields: fields + ResponseMasking.errorFields, requiresMask: true)
        }
        // Any other successful non-S3 answer of known length up to safetyNetLimit (64 KiB, the answers written in one
        // piece anyway) is buffered too: masked for a credential under its usual field names (an operation that hands
        // one out but is not listed) and for literal copies of the gateway's own secret (e.g. its key stored in a
        // secret the agent reads); they went through untouched (session 12 probe). Larger answers stream with
        // backpressure as before (held whole up to 1 MiB, each cost memory and event-loop time; session 12 review).
        // S3 object bodies are the agent's data and stream.
        guard let service = ident?.service, !SigV4.isS3SigningName(service),
              let length = headers.first(name: "content-length").flatMap({ Int($0) }), length <= ResponseMasking.safetyNetLimit
        else { return nil }
        return MaskPlan(fields: ResponseMasking.credentialShapeFields, requiresMask: false, passesEncoded: true)
    }

    /// What ``writeMasked(_:plan:status:fields:upstreamCredential:callId:proto:ident:writer:)`` sent.
    struct MaskedWrite: Sendable {
        var bytesOut: Int
        /// The upstream body as received, up to 64 KiB (for the AWS error code).
        var prefix: [UInt8]
        var masked: [String]
        /// Why the upstream response was withheld and an error sent instead (nil: it was passed on, masked).
        var withheld: String?
    }

    /// Masks an upstream body read whole (`tooLarge`: it exceeded ``ResponseMasking/maxBody``), or says why it must
    /// be withheld: too large, content-encoded, or (for a credential) nothing maskable found.
    func mask(_ original: [UInt8], tooLarge: Bool, plan: MaskPlan, headers: HTTPHeaders, upstreamCredential: UpstreamCredential,
              ident: IdentifiedOperation?) -> (withheld: String?, result: ResponseMasking.Result) {
        var withheld: String?
        if tooLarge { withheld = "the upstream response exceeds \(ResponseMasking.maxBody) bytes and must be masked" }
        let encoding = headers.first(name: "content-encoding")?.lowercased()
        let encoded = encoding.map { !$0.isEmpty && $0 != "identity" } ?? false
        if withheld == nil, encoded, !plan.passesEncoded {
            withheld = "the upstream response is content-encoded (\(encoding ?? "")) and must be masked"
        }
        var result = ResponseMasking.Result(body: original, masked: [])
        if withheld == nil && !encoded {
            var literals = [(name: "upstream-secret", value: upstreamCredential.secretAccessKey),
                            (name: "upstream-secret", value: identity.base.secretAccessKey)]
            if let token = upstreamCredential.sessionToken { literals.append((name: "upstream-session-token", value: token)) }
            if let token = identity.base.sessionToken { literals.append((name: "upstream-session-token", value: token)) }
            result = ResponseMasking.mask(original, fields: plan.fields, literals: literals)
            if plan.requiresMask && result.masked.isEmpty && !original.isEmpty {
                withheld = "no credential field could be found to mask in the \(ident?.operation ?? "") response"
            }
        }
        return (withheld, result)
    }

    /// The answer's header fields for a masked body: its Content-Length, and without the upstream's body checksums
    /// when masking changed the body.
    static func maskedFields(_ fields: HTTPFields, original: [UInt8], masked: [UInt8]) -> HTTPFields {
        var out = fields
        if masked != original {
            // The upstream's body checksums no longer hold for the masked body.
            out[HTTPField.Name("x-amz-crc32")!] = nil
            out[HTTPField.Name("content-md5")!] = nil
        }
        out[.contentLength] = String(masked.count)
        return out
    }

    /// Buffers the upstream body (at most ``ResponseMasking/maxBody``), masks it and writes it with a corrected
    /// Content-Length. A body that is too large, content-encoded, or (for a credential) has nothing maskable is
    /// withheld: the agent gets an AccessDenied error instead (the upstream call did run; the ledger says so).
    func writeMasked(_ response: UpstreamResponse, plan: MaskPlan, status: Int, fields: HTTPFields,
                     upstreamCredential: UpstreamCredential, callId: String, proto: AWSProtocol, ident: IdentifiedOperation?,
                     writer: consuming ResponseWriter) async throws -> MaskedWrite {
        var original: [UInt8] = []
        var tooLarge = false
        do {
            let buffer = try await response.body.collect(upTo: ResponseMasking.maxBody)
            original = Array(buffer.readableBytesView)
        } catch {
            tooLarge = true
        }
        let (withheld, result) = mask(original, tooLarge: tooLarge, plan: plan, headers: response.headers,
                                      upstreamCredential: upstreamCredential, ident: ident)
        let prefix = Array(original.prefix(65536))
        if let withheld {
            let e = AWSAuthError(code: "AccessDenied", message: "Tally gateway withheld the upstream response: \(withheld)",
                                 httpStatus: 403)
            try await writeError(e, proto: proto, ident: ident, requestId: callId, writer)
            return MaskedWrite(bytesOut: 0, prefix: prefix, masked: [], withheld: withheld)
        }
        let out = Self.maskedFields(fields, original: original, masked: result.body)
        var bodyWriter = try await writer.writeHead(HTTPResponse(status: .init(code: status), headerFields: out))
        if !result.body.isEmpty { try await bodyWriter.write(ByteBuffer(bytes: result.body)) }
        try await bodyWriter.finish(nil)
        return MaskedWrite(bytesOut: result.body.count, prefix: prefix, masked: result.masked, withheld: nil)
    }
}
