import Foundation

/// An IPv4 or IPv6 network (`203.0.113.0/24`, `2001:db8::/32`, or one address), for
/// `IpAddress` / `NotIpAddress`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The address as 128 bits (IPv4 in the low 32 bits).
    public let high: UInt64
    public let low: UInt64
    public let isIPv4: Bool
    /// Prefix length (0...32 for IPv4, 0...128 for IPv6).
    public let prefixLength: Int

    /// Parses `address` or `address/prefix`. nil when malformed.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPNetwork.parseAddress(parts[0]) else { return nil }
        // An IPv4-mapped IPv6 network (::ffff:a.b.c.d/120) is the IPv4 network /(prefix - 96).
        let mapped = address.isIPv4 && parts[0].contains(":")
        let maxPrefix = address.isIPv4 && !mapped ? 32 : 128
        var prefix = address.isIPv4 ? 32 : 128
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit), parts[1].count <= 3, let p = Int(parts[1]),
                p <= maxPrefix, !mapped || p >= 96
            else { return nil }
            prefix = mapped ? p - 96 : p
        }
        (high, low, isIPv4, prefixLength) = (address.high, address.low, address.isIPv4, prefix)
    }

    /// Whether `address` (a single IP, IPv4-mapped IPv6 counts as IPv4) lies in this network.
    public func contains(_ address: some StringProtocol) -> Bool {
        guard let a = IPNetwork.parseAddress(address) else { return false }
        return contains(parsed: a)
    }

    /// Whether an address from ``parseAddress(_:)`` lies in this network.
    func contains(parsed a: (high: UInt64, low: UInt64, isIPv4: Bool)) -> Bool {
        guard a.isIPv4 == isIPv4 else { return false }
        let bits = isIPv4 ? prefixLength + 96 : prefixLength
        let (maskHigh, maskLow) = IPNetwork.mask(bits)
        return (a.high & maskHigh) == (high & maskHigh) && (a.low & maskLow) == (low & maskLow)
    }

    public var description: String {
        if isIPv4 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)/\(prefixLength)"
        }
        let groups = (0..<8).map { i -> String in
            let word = i < 4 ? high >> (48 - 16 * UInt64(i)) : low >> (48 - 16 * UInt64(i - 4))
            return String(word & 0xffff, radix: 16)
        }
        return groups.joined(separator: ":") + "/\(prefixLength)"
    }

    private static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : ~(UInt64.max >> UInt64(bits)))
        let lowBits = bits - 64
        let low: UInt64 = lowBits >= 64 ? .max : (lowBits <= 0 ? 0 : ~(UInt64.max >> UInt64(lowBits)))
        return (high, low)
    }

    /// Parses one IPv4 or IPv6 address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is reported as IPv4.
    static func parseAddress(_ text: some StringProtocol) -> (high: UInt64, low: UInt64, isIPv4: Bool)? {
        if let v4 = parseIPv4(text) { return (0, UInt64(v4), true) }
        guard let words = parseIPv6(text) else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(words[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(words[i]) }
        if high == 0 && (low >> 32) == 0xffff { return (0, low & 0xffff_ffff, true) }
        return (high, low, false)
    }

    static func parseIPv4(_ text: some StringProtocol) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if byte >= 48 && byte <= 57 {
                digits += 1
                octet = octet * 10 + UInt32(byte - 48)
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func parseIPv6(_ text: some StringProtocol) -> [UInt16]? {
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if allowIPv4Tail && i == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                } else {
                    guard (1...4).contains(piece.count), let w = UInt16(piece, radix: 16) else { return nil }
                    result.append(w)
                }
            }
            return result
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowIPv4Tail: false), let tail = groups(halves[1], allowIPv4Tail: true),
            head.count + tail.count <= 7
        else { return nil }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
