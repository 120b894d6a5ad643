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
    /// A `*` inside an ARN segment (followed by more of the segment): it cannot cross a `:`.
    @usableFromInline static let segmentStar: UInt16 = 258

    @usableFromInline enum Shape: UInt8, Sendable {
        case everything, exact, prefix, general
    }

    @usableFromInline final class Storage: @unchecked Sendable {
        /// One token per pattern element: 0...255 a literal byte, `star`, `one`.
        @usableFromInline let tokens: UnsafeMutableBufferPointer<UInt16>
        /// The literal bytes of `exact` and `prefix` patterns.
        @usableFromInline let literal: UnsafeMutableBufferPointer<UInt8>
        @usableFromInline let shape: Shape
        @usableFromInline let hasSegmentStar: Bool
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
            hasSegmentStar = tokens.contains(WildcardPattern.segmentStar)
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

    /// A Resource / NotResource pattern: like ``init(_:caseInsensitive:)``, except that a `*`
    /// followed by more characters of its colon-separated ARN segment cannot cross a `:` (AWS: only a
    /// `*` that ends a segment "can expand to match beyond the colon boundaries").
    public init(arnResource pattern: String) {
        self.init(tokens: WildcardPattern.segmentStars(WildcardPattern(pattern).tokens))
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
        String(
            decoding: storage.tokens.map {
                $0 == WildcardPattern.star || $0 == WildcardPattern.segmentStar ? 42 : $0 == WildcardPattern.one ? 63 : UInt8($0)
            }, as: UTF8.self)
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
            let tokens = UnsafeBufferPointer(storage.tokens)
            return storage.hasSegmentStar ? WildcardPattern.segmentMatch(tokens, s) : WildcardPattern.globMatch(tokens, s)
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

    /// Matching for patterns with segment stars: memoised search over (pattern, input) positions,
    /// O(n·m) with one table allocation (only ARN patterns with mid-segment stars get here).
    @usableFromInline
    static func segmentMatch(_ p: UnsafeBufferPointer<UInt16>, _ s: UnsafeBufferPointer<UInt8>) -> Bool {
        let width = s.count + 1
        var memo = [UInt8](repeating: 0, count: (p.count + 1) * width)  // 0 unknown, 1 no, 2 yes
        func match(_ pi: Int, _ si: Int) -> Bool {
            let key = pi * width + si
            if memo[key] != 0 { return memo[key] == 2 }
            var result: Bool
            if pi == p.count {
                result = si == s.count
            } else {
                let t = p[pi]
                if t == star {
                    result = match(pi + 1, si) || (si < s.count && match(pi, si + 1))
                } else if t == segmentStar {
                    result = match(pi + 1, si) || (si < s.count && s[si] != UInt8(ascii: ":") && match(pi, si + 1))
                } else if si == s.count {
                    result = false
                } else if t == one {
                    let next = si + utf8Length(s[si])
                    result = next <= s.count && match(pi + 1, next)
                } else {
                    result = t == UInt16(s[si]) && match(pi + 1, si + 1)
                }
            }
            memo[key] = result ? 2 : 1
            return result
        }
        return match(0, 0)
    }

    /// Marks the stars that are followed by more of their ARN segment as segment stars.
    static func segmentStars(_ tokens: [UInt16]) -> [UInt16] {
        var tokens = tokens
        _ = segmentStarsInPlace(&tokens)
        return tokens
    }

    /// ``segmentStars(_:)`` in place; returns whether any star became a segment star.
    static func segmentStarsInPlace(_ tokens: inout [UInt16]) -> Bool {
        var any = false
        for i in tokens.indices where tokens[i] == star && i + 1 < tokens.count && tokens[i + 1] != UInt16(UInt8(ascii: ":")) {
            tokens[i] = segmentStar
            any = true
        }
        return any
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
