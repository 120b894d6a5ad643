import Foundation
@testable import TallyAWS

/// One raw request from Fixtures/captures (copied from shared/aws-wire-captures).
struct Capture {
    let name: String
    let head: HTTPRequestHead
    /// The body bytes as captured (HTTP chunked framing removed for Transfer-Encoding: chunked; possibly truncated).
    let body: [UInt8]
    let truncated: Bool

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/captures")

    static func all() throws -> [Capture] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".http") }.sorted()
        return try names.map { try load($0) }
    }

    static func load(_ name: String) throws -> Capture {
        let raw = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
        let sep: [UInt8] = [13, 10, 13, 10]
        guard let split = find(sep, in: raw, from: 0) else { throw CaptureError.malformed(name) }
        let headText = String(decoding: raw[..<split], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [(name: String, value: String)] = []
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers.append((String(l[..<c]), String(l[l.index(after: c)...]).trimmingCharacters(in: .whitespaces)))
        }
        let head = HTTPRequestHead(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers)
        var body = Array(raw[(split + 4)...])
        let marker = Array("\r\n\r\n### upstream response".utf8)
        if let m = find(marker, in: body, from: 0) { body = Array(body[..<m]) }
        var truncated = false
        let note = Array("...[truncated".utf8)
        if let t = find(note, in: body, from: 0) {
            truncated = true
            body = Array(body[..<t])
        }
        if head.value(of: "transfer-encoding")?.lowercased() == "chunked" { body = dechunk(body) }
        if let cl = head.value(of: "content-length").flatMap(Int.init), cl != body.count { truncated = true }
        return Capture(name: name, head: head, body: body, truncated: truncated)
    }

    /// Removes HTTP/1.1 chunked framing, leniently (stops where the capture was cut).
    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < b.count {
            guard let eol = find([13, 10], in: b, from: i),
                  let size = Int(String(decoding: b[i..<eol], as: UTF8.self), radix: 16) else { break }
            if size == 0 { break }
            let start = eol + 2, end = min(start + size, b.count)
            out += b[start..<end]
            i = end + 2
        }
        return out
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// The capture with its Authorization signature replaced (header auth).
    func replacingSignature(with signature: String) -> HTTPRequestHead {
        var h = head
        let auth = h.value(of: "authorization")!
        let r = auth.range(of: "Signature=")!
        h.setHeader("Authorization", String(auth[..<r.upperBound]) + signature)
        return h
    }
}

enum CaptureError: Error { case malformed(String) }

func utc(_ amzDate: String) -> Date { AmzDate.parse(amzDate)! }
