/// A compiled IAM wildcard pattern: `*` matches any run of characters (including none), `?`
/// exactly one character; everything else is literal. Matching works on UTF-8 bytes without
/// regular expressions or allocation, with fast paths for the common shapes (`*`, `literal`,
/// `prefix*`).
public struct WildcardPattern: Sendable, Hashable, CustomStringConvertible {
    /// One immutable allocation per pattern: copying a pattern costs one reference count, and
    /// matching reads raw buffers without any.
    @usableFromInline let storage: Storage

    @usableFromInline static let star: UInt16 = 256
    @usableFromInline static let one: UInt16 = 257

    @usableFromInline enum Shape: UInt8, Sendable {
        case everything, exact, prefix, general
    }

    @usableFromInline final class Storage: @unchecked Sendable {
        /// One token per pattern element: 0...255 a literal byte, `star`, `one`.
        @usableFromInline let tokens: UnsafeMutableBufferPointer<UInt16>
        /// The literal bytes of `exact` and `prefix` patterns.
        @usableFromInline let literal: UnsafeMutableBufferPointer<UInt8>
        @usableFromInline let shape: Shape
        let caseInsensitive: Bool

        init(tokens: [UInt16], caseInsensitive: Bool) {
            self.caseInsensitive = caseInsensitive
            let wildcardCount = tokens.lazy.filter { $0 > 255 }.count
            let shape: Shape
            var literal: [UInt8] = []
            if tokens == [WildcardPattern.star] {
                shape = .everything
            } else if wildcardCount == 0 {
                shape = .exact
                literal = tokens.map { UInt8($0) }
            } else if wildcardCount == 1 && tokens.last == WildcardPattern.star {
                shape = .prefix
                literal = tokens.dropLast().map { UInt8($0) }
            } else {
                shape = .general
            }
            self.shape = shape
            self.tokens = .allocate(capacity: tokens.count)
            _ = self.tokens.initialize(from: tokens)
            self.literal = .allocate(capacity: literal.count)
            _ = self.literal.initialize(from: literal)
        }

        deinit {
            tokens.deallocate()
            literal.deallocate()
        }
    }

    /// Whether matching folds ASCII case (the pattern is stored lower-cased; inputs must be too).
    public var caseInsensitive: Bool { storage.caseInsensitive }

    /// The pattern's tokens (literal bytes 0...255, `star`, `one`).
    var tokens: [UInt16] { Array(storage.tokens) }

    /// Compiles `pattern`; with `caseInsensitive` ASCII letters are lower-cased (match against
    /// lower-cased input, see ``matches(lowercasedUTF8:)``).
    public init(_ pattern: String, caseInsensitive: Bool = false) {
        var tokens: [UInt16] = []
        tokens.reserveCapacity(pattern.utf8.count)
        for byte in pattern.utf8 {
            switch byte {
            case UInt8(ascii: "*"): if tokens.last != WildcardPattern.star { tokens.append(WildcardPattern.star) }
            case UInt8(ascii: "?"): tokens.append(WildcardPattern.one)
            default: tokens.append(UInt16(caseInsensitive ? asciiLower(byte) : byte))
            }
        }
        self.init(tokens: tokens, caseInsensitive: caseInsensitive)
    }

    /// Builds a pattern from tokens (literal bytes, `star`, `one`); used for policy variables,
    /// whose resolved values are literal even when they contain `*` or `?`.
    init(tokens: [UInt16], caseInsensitive: Bool = false) {
        storage = Storage(tokens: tokens, caseInsensitive: caseInsensitive)
    }

    public static func == (a: WildcardPattern, b: WildcardPattern) -> Bool {
        a.caseInsensitive == b.caseInsensitive && a.storage.tokens.elementsEqual(b.storage.tokens)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(caseInsensitive)
        for token in storage.tokens { hasher.combine(token) }
    }

    /// Whether the pattern has no wildcard at all.
    public var isLiteral: Bool { storage.shape == .exact }
    /// Whether the pattern is `*`.
    public var matchesEverything: Bool { storage.shape == .everything }

    public var description: String {
        String(decoding: storage.tokens.map { $0 == WildcardPattern.star ? 42 : $0 == WildcardPattern.one ? 63 : UInt8($0) }, as: UTF8.self)
    }

    /// Matches a string (lower-cased first when the pattern is case-insensitive).
    public func matches(_ text: String) -> Bool {
        if caseInsensitive {
            return matches(lowercasedUTF8: Array(text.utf8).map(asciiLower))
        }
        var copy = text
        return copy.withUTF8 { matches(bytes: $0) }
    }

    /// Matches UTF-8 bytes that are already lower-cased when the pattern is case-insensitive.
    public func matches(lowercasedUTF8 bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { matches(bytes: $0) }
    }

    @inlinable
    func matches(bytes s: UnsafeBufferPointer<UInt8>) -> Bool {
        let storage = self.storage
        switch storage.shape {
        case .everything:
            return true
        case .exact:
            let literal = storage.literal
            guard literal.count == s.count else { return false }
            for i in 0..<s.count where literal[i] != s[i] { return false }
            return true
        case .prefix:
            let literal = storage.literal
            guard literal.count <= s.count else { return false }
            for i in 0..<literal.count where literal[i] != s[i] { return false }
            return true
        case .general:
            return WildcardPattern.globMatch(UnsafeBufferPointer(storage.tokens), s)
        }
    }

    /// Iterative glob matching with a single backtracking point (linear for one star, worst case
    /// O(n·m)). `?` consumes one whole UTF-8 character.
    @usableFromInline
    static func globMatch(_ p: UnsafeBufferPointer<UInt16>, _ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var pi = 0
        var si = 0
        var starP = -1
        var starS = 0
        while si < s.count {
            if pi < p.count {
                let t = p[pi]
                if t == one {
                    pi += 1
                    si += utf8Length(s[si])
                    if si > s.count { return false }
                    continue
                }
                if t == star {
                    starP = pi
                    starS = si
                    pi += 1
                    continue
                }
                if t == UInt16(s[si]) {
                    pi += 1
                    si += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            pi = starP + 1
            starS += 1
            while starS < s.count && s[starS] & 0xC0 == 0x80 { starS += 1 }
            si = starS
        }
        while pi < p.count && p[pi] == star { pi += 1 }
        return pi == p.count
    }

    @usableFromInline
    static func utf8Length(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
    }
}

/// ASCII lower-casing of one byte (IAM action names and condition keys are ASCII).
@inlinable
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 65 && byte <= 90 ? byte | 0x20 : byte
}
