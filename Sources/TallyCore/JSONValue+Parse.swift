extension JSONValue {
    /// Parses one JSON text strictly (RFC 8259).
    ///
    /// Rejects, with a `TallyError(.badInput)` naming the byte offset (0-based): malformed syntax,
    /// invalid UTF-8, raw control characters in strings, lone surrogate escapes, duplicate object
    /// keys (keys are compared as Swift strings, so canonically equivalent keys count as
    /// duplicates), nesting deeper than 512, and anything but whitespace after the value.
    public init(parsing bytes: some Collection<UInt8>) throws {
        if let result = try bytes.withContiguousStorageIfAvailable({ try JSONValue.parse($0) }) {
            self = result
        } else {
            let array = Array(bytes)
            self = try array.withUnsafeBufferPointer { try JSONValue.parse($0) }
        }
    }

    /// Parses JSON text given as a string.
    public init(parsing text: String) throws {
        var text = text
        self = try text.withUTF8 { try JSONValue.parse($0) }
    }

    static func parse(_ buf: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        var scanner = JSONScanner(buf)
        scanner.skipWhitespace()
        var scratch: [UInt8] = []
        let value = try scanner.parseValue(&scratch)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("unexpected \(scanner.describeCurrent()) after the JSON value") }
        return value
    }
}

extension JSONScanner {
    mutating func parseValue(_ scratch: inout [UInt8]) throws -> JSONValue {
        guard !atEnd else { throw error("expected a value, found end of input") }
        switch current {
        case UInt8(ascii: "{"):
            try enter()
            pos += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if !atEnd, current == UInt8(ascii: "}") { pos += 1; leave(); return .object(members) }
            while true {
                skipWhitespace()
                guard !atEnd, current == UInt8(ascii: "\"") else {
                    throw error("expected a string key, found \(describeCurrent())")
                }
                let keyStart = pos
                scratch.removeAll(keepingCapacity: true)
                try scanString(into: &scratch, canonical: false)
                let key = String(decoding: scratch, as: UTF8.self)
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after an object key")
                skipWhitespace()
                let value = try parseValue(&scratch)
                if members.updateValue(value, forKey: key) != nil {
                    throw error("duplicate key \"\(key)\"", at: keyStart)
                }
                skipWhitespace()
                guard !atEnd else { throw error("unterminated object") }
                if current == UInt8(ascii: ",") { pos += 1; continue }
                if current == UInt8(ascii: "}") { pos += 1; break }
                throw error("expected ',' or '}' in an object, found \(describeCurrent())")
            }
            leave()
            return .object(members)
        case UInt8(ascii: "["):
            try enter()
            pos += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if !atEnd, current == UInt8(ascii: "]") { pos += 1; leave(); return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(&scratch))
                skipWhitespace()
                guard !atEnd else { throw error("unterminated array") }
                if current == UInt8(ascii: ",") { pos += 1; continue }
                if current == UInt8(ascii: "]") { pos += 1; break }
                throw error("expected ',' or ']' in an array, found \(describeCurrent())")
            }
            leave()
            return .array(elements)
        case UInt8(ascii: "\""):
            scratch.removeAll(keepingCapacity: true)
            try scanString(into: &scratch, canonical: false)
            return .string(String(decoding: scratch, as: UTF8.self))
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try scanNumber()
            scratch.removeAll(keepingCapacity: true)
            guard JSONCanonicalForm.appendNumber(UnsafeBufferPointer(rebasing: buf[range]), to: &scratch) else {
                throw error("invalid number (its canonical exponent would be out of range)", at: range.lowerBound)
            }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: buf[range]), as: UTF8.self))
        default:
            throw error("expected a value, found \(describeCurrent())")
        }
    }
}
