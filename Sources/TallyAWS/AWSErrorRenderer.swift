/// Renders an ``AWSAuthError`` the way the service's protocol does, so the SDK's error parser
/// (botocore's `QueryParser`, `EC2QueryParser`, `RestXMLParser`, `JSONParser`, `RestJSONParser`)
/// reports the right code and message.
public enum AWSErrorRenderer {
    /// Returns the HTTP status, headers (content type, request id, `x-amzn-ErrorType` for JSON) and body.
    ///
    /// - query:     `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`
    /// - ec2:       `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
    /// - rest-xml:  `<Error><Code/><Message/><RequestId/></Error>` plus `x-amz-request-id`
    /// - json / rest-json: `{"__type": code, "message": ...}` plus `x-amzn-ErrorType` and `x-amzn-RequestId`
    /// - smithy-rpc-v2-cbor: the same map in CBOR, `Content-Type: application/cbor`, `smithy-protocol: rpc-v2-cbor`
    ///
    /// `queryCompatible` (SQS and CloudWatch over JSON with `x-amzn-query-mode`) also adds
    /// `x-amzn-query-error: Code;Sender`, which botocore prefers for those services.
    public static func render(_ error: AWSAuthError, protocol proto: AWSProtocol, requestId: String)
        -> (status: Int, headers: [(String, String)], body: [UInt8])
    {
        render(error, protocol: proto, requestId: requestId, queryCompatible: false, jsonVersion: nil)
    }

    /// Like ``render(_:protocol:requestId:)`` with the JSON content-type version (`1.0`/`1.1`) and the
    /// query-compatibility header.
    public static func render(_ error: AWSAuthError, protocol proto: AWSProtocol, requestId: String,
                              queryCompatible: Bool, jsonVersion: String?)
        -> (status: Int, headers: [(String, String)], body: [UInt8])
    {
        let code = xmlEscape(error.code), message = xmlEscape(error.message), rid = xmlEscape(requestId)
        switch proto {
        case .query:
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>\(code)</Code>"
                + "<Message>\(message)</Message></Error><RequestId>\(rid)</RequestId></ErrorResponse>"
            return (error.httpStatus, [("Content-Type", "text/xml"), ("x-amzn-RequestId", requestId)], Array(body.utf8))
        case .ec2:
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>\(code)</Code>"
                + "<Message>\(message)</Message></Error></Errors><RequestID>\(rid)</RequestID></Response>"
            return (error.httpStatus, [("Content-Type", "text/xml;charset=UTF-8")], Array(body.utf8))
        case .restXML:
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(message)</Message>"
                + "<RequestId>\(rid)</RequestId></Error>"
            return (error.httpStatus, [("Content-Type", "application/xml"), ("x-amz-request-id", requestId)],
                    Array(body.utf8))
        case .json, .restJSON:
            let code = jsonCode(error.code)
            let body = "{\"__type\":\"\(jsonEscape(code))\",\"message\":\"\(jsonEscape(error.message))\"}"
            let contentType = proto == .json ? "application/x-amz-json-\(jsonVersion ?? "1.1")" : "application/json"
            var headers: [(String, String)] = [("Content-Type", contentType), ("x-amzn-RequestId", requestId),
                                               ("x-amzn-ErrorType", code)]
            if queryCompatible { headers.append(("x-amzn-query-error", "\(error.code);Sender")) }
            return (error.httpStatus, headers, Array(body.utf8))
        case .rpcV2CBOR:
            let code = jsonCode(error.code)
            var headers: [(String, String)] = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                               ("x-amzn-RequestId", requestId), ("x-amzn-ErrorType", code)]
            if queryCompatible { headers.append(("x-amzn-query-error", "\(error.code);Sender")) }
            return (error.httpStatus, headers, CBOR.encodeTextMap([("__type", code), ("message", error.message)]))
        }
    }

    static func xmlEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The code a JSON or CBOR service gives: AWS's JSON services answer an authorization refusal with
    /// `AccessDeniedException` (the common errors of AWS's API references), where the
    /// query and XML services say `AccessDenied`. A query-compatible service's `x-amzn-query-error` keeps the query
    /// code. (The ledger records the refusal's code, `AccessDenied`.)
    static func jsonCode(_ code: String) -> String {
        code == "AccessDenied" ? "AccessDeniedException" : code
    }

    static func jsonEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    let h = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}
