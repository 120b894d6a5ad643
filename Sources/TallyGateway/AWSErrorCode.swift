import Foundation

/// Extracts the AWS error code from an upstream error response (header or body prefix), in the
/// places botocore looks: `x-amzn-ErrorType`, JSON `__type`/`code`, XML `<Code>`.
enum AWSErrorCode {
    static func extract(headerErrorType: String?, queryError: String?, body: [UInt8]) -> String? {
        if let q = queryError, let code = q.split(separator: ";").first, !code.isEmpty { return String(code) }
        if let t = headerErrorType, let code = t.split(separator: ":").first, !code.isEmpty { return String(code) }
        let text = String(decoding: body, as: UTF8.self)
        if let r = text.range(of: "<Code>"), let end = text.range(of: "</Code>", range: r.upperBound..<text.endIndex) {
            return String(text[r.upperBound..<end.lowerBound])
        }
        for key in ["\"__type\"", "\"code\"", "\"Code\""] {
            guard let r = text.range(of: key) else { continue }
            var rest = text[r.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "\t" }
            guard rest.first == "\"" else { continue }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: "\"") else { continue }
            var value = String(rest[..<close])
            if let hash = value.lastIndex(of: "#") { value = String(value[value.index(after: hash)...]) }
            if let colon = value.firstIndex(of: ":") { value = String(value[..<colon]) }
            if !value.isEmpty { return value }
        }
        return nil
    }
}
