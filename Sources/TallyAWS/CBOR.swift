/// The little CBOR (RFC 8949) Smithy RPC v2 needs here: reading the top-level members of a request body and
/// writing an error body. Not a general codec.
enum CBOR {
    /// Top-level members of a CBOR map: text, integers, booleans and floats as text; other values as "".
    /// nil when the body is not a well-formed CBOR map.
    static func topLevelMembers(_ bytes: [UInt8]) -> [String: String]? {
        var r = Reader(bytes: bytes)
        guard let (major, count) = try? r.head(), major == 5 else { return nil }
        var out: [String: String] = [:]
        var i = 0
        while count.map({ i < $0 }) ?? true {
            if count == nil, r.peek() == 0xFF { r.pos += 1; break }
            guard let key = try? r.text(), let value = try? r.scalar() else { return nil }
            out[key] = value
            i += 1
        }
        return out
    }

    /// A map of text keys to text values, e.g. `{"__type": code, "message": text}`.
    static func encodeTextMap(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        appendHead(major: 5, UInt64(pairs.count), to: &out)
        for (k, v) in pairs {
            appendHead(major: 3, UInt64(k.utf8.count), to: &out)
            out += k.utf8
            appendHead(major: 3, UInt64(v.utf8.count), to: &out)
            out += v.utf8
        }
        return out
    }

    static func appendHead(major: UInt8, _ n: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        switch n {
        case 0..<24: out.append(m | UInt8(n))
        case 24..<256: out += [m | 24, UInt8(n)]
        case 256..<65536: out += [m | 25, UInt8(n >> 8), UInt8(n & 0xFF)]
        case 65536..<(1 << 32): out += [m | 26] + (0..<4).reversed().map { UInt8((n >> (8 * $0)) & 0xFF) }
        default: out += [m | 27] + (0..<8).reversed().map { UInt8((n >> (8 * UInt64($0))) & 0xFF) }
        }
    }

    struct Malformed: Error {}

    struct Reader {
        let bytes: [UInt8]
        var pos = 0
        var depth = 0

        func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

        mutating func byte() throws(Malformed) -> UInt8 {
            guard pos < bytes.count else { throw Malformed() }
            defer { pos += 1 }
            return bytes[pos]
        }

        /// Major type and argument (nil argument: indefinite length).
        mutating func head() throws(Malformed) -> (UInt8, Int?) {
            let b = try byte()
            let major = b >> 5, info = b & 31
            switch info {
            case 0..<24: return (major, Int(info))
            case 24...27:
                var n: UInt64 = 0
                for _ in 0..<(1 << (info - 24)) { n = n << 8 | UInt64(try byte()) }
                guard n <= UInt64(Int.max) else { throw Malformed() }
                return (major, Int(n))
            case 31 where major >= 2 && major <= 5: return (major, nil)
            case 31 where major == 7: return (7, nil)   // break (handled by callers)
            default: throw Malformed()
            }
        }

        mutating func text() throws(Malformed) -> String {
            let (major, n) = try head()
            // Lengths are compared against what is left, never added to `pos` first (a length near Int.max overflowed:
            // a crash from one request; session 9 probe).
            guard major == 3, let n, n <= bytes.count - pos else { throw Malformed() }
            defer { pos += n }
            return String(decoding: bytes[pos..<(pos + n)], as: UTF8.self)
        }

        /// A value as text when scalar ("" for containers, byte strings and null), skipping it.
        mutating func scalar() throws(Malformed) -> String {
            let start = pos
            let (major, n) = try head()
            switch major {
            case 0: return String(n ?? 0)
            case 1: return "-" + String(UInt64(n ?? 0) + 1)   // n ≤ Int.max: no overflow in UInt64
            case 3 where n != nil:
                pos = start
                return try text()
            case 7:
                let info = bytes[start] & 31
                switch info {
                case 20: return "false"
                case 21: return "true"
                case 25: return ""   // half float: not decoded
                case 26:
                    let bits = bytes[(start + 1)..<(start + 5)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    return String(Float(bitPattern: bits))
                case 27:
                    let bits = bytes[(start + 1)..<(start + 9)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    return String(Double(bitPattern: bits))
                default: return ""
                }
            default:
                pos = start
                try skip()
                return ""
            }
        }

        /// Skips one data item of any type.
        mutating func skip() throws(Malformed) {
            depth += 1
            defer { depth -= 1 }
            guard depth < 64 else { throw Malformed() }
            let (major, n) = try head()
            switch major {
            case 0, 1: return
            case 2, 3:
                if let n { guard n <= bytes.count - pos else { throw Malformed() }; pos += n; return }
                while peek() != 0xFF { try skip() }
                pos += 1
            case 4, 5:
                let per = major == 5 ? 2 : 1
                // Every item takes at least a byte: a count beyond what is left is malformed (and n * per cannot overflow).
                if let n { guard n <= bytes.count - pos else { throw Malformed() }; for _ in 0..<(n * per) { try skip() }; return }
                while peek() != 0xFF { guard peek() != nil else { throw Malformed() }; try skip() }
                pos += 1
            case 6: try skip()
            case 7: return   // simple values and floats: head() consumed the argument bytes
            default: throw Malformed()
            }
        }
    }
}
