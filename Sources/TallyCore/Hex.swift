/// Lower-case hex encoding and decoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: ContiguousBytes>(_ bytes: C) -> String {
        bytes.withUnsafeBytes { b in
            String(unsafeUninitializedCapacity: b.count * 2) { out in
                for (i, byte) in b.enumerated() {
                    out[2 * i] = digits[Int(byte >> 4)]
                    out[2 * i + 1] = digits[Int(byte & 0xF)]
                }
                return b.count * 2
            }
        }
    }

    /// Decodes hex (either case); nil when the text is not valid hex.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
