import Foundation

/// A policy string that may contain policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`,
/// `${aws:username, 'default'}`, and the escapes `${*}`, `${?}`, `${$}` (a literal `*`, `?`, `$`).
///
/// Variables are substituted from the request context before matching; a substituted value is
/// always literal text, even when it contains `*` or `?`.
public struct PolicyTemplate: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        /// Text as written (its `*` and `?` are wildcards where the element allows them).
        case text(String)
        /// Literal text from `${*}`, `${?}`, `${$}`.
        case literal(String)
        /// A context key (lower-cased: key names are case-insensitive) and an optional default used
        /// when the key is absent.
        case variable(key: String, defaultValue: String?)
    }

    public let parts: [Part]
    /// Per part, the wildcard tokens of text parts and the literal bytes of escapes (variables: empty).
    private let wildcardTokens: [[UInt16]]

    /// Splits `text` into parts; with `variables` false (Version 2008-10-17) the whole text is plain.
    public init(_ text: String, variables: Bool = true) {
        guard variables, text.contains("${") else {
            parts = [.text(text)]
            wildcardTokens = [WildcardPattern(text).tokens]
            return
        }
        var parts: [Part] = []
        var pending = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            guard let close = rest[start.upperBound...].firstIndex(of: "}") else { break }
            pending += rest[..<start.lowerBound]
            let body = rest[start.upperBound..<close]
            if let part = PolicyTemplate.variablePart(body) {
                if !pending.isEmpty { parts.append(.text(pending)) }
                pending = ""
                parts.append(part)
            } else {
                pending += rest[start.lowerBound...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        pending += rest
        if !pending.isEmpty || parts.isEmpty { parts.append(.text(pending)) }
        self.parts = parts
        wildcardTokens = parts.map { part in
            switch part {
            case .text(let t): WildcardPattern(t).tokens
            case .literal(let t): t.utf8.map { UInt16($0) }
            case .variable: []
            }
        }
    }

    /// Whether any part depends on the request.
    public var hasVariables: Bool {
        parts.contains { if case .variable = $0 { return true } else { return false } }
    }

    /// The context keys this template reads.
    public var variableKeys: [String] {
        parts.compactMap { if case .variable(let key, _) = $0 { return key } else { return nil } }
    }

    private static func variablePart(_ body: Substring) -> Part? {
        switch body {
        case "*", "?", "$": return .literal(String(body))
        default: break
        }
        var key = body
        var defaultValue: String?
        if let comma = body.firstIndex(of: ",") {
            key = body[..<comma]
            let tail = body[body.index(after: comma)...].trimmingSpaces
            guard tail.count >= 2, tail.first == "'", tail.last == "'" else { return nil }
            defaultValue = String(tail.dropFirst().dropLast())
        }
        let trimmed = key.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.allSatisfy({ !$0.isWhitespace && $0 != "{" && $0 != "$" }) else { return nil }
        return .variable(key: String(trimmed).lowercased(), defaultValue: defaultValue)
    }

    /// The text with variables substituted; nil when a variable's key is absent (and has no
    /// default) or has more than one value.
    /// Whether every variable of the template has a value (its key present with one value, or a default).
    func isResolvable(in context: RequestContext) -> Bool {
        for part in parts {
            if case .variable(let key, let defaultValue) = part, Self.value(of: key, defaultValue: defaultValue, in: context) == nil {
                return false
            }
        }
        return true
    }

    public func resolve(in context: RequestContext) -> String? {
        var result = ""
        for part in parts {
            switch part {
            case .text(let t), .literal(let t): result += t
            case .variable(let key, let defaultValue):
                guard let value = PolicyTemplate.value(of: key, defaultValue: defaultValue, in: context) else { return nil }
                result += value
            }
        }
        return result
    }

    /// Whether `resource` matches this Resource / NotResource template (variables substituted as
    /// literal text, AWS's segment rule for `*`); false when a variable cannot be resolved. Builds
    /// one token buffer and matches it directly, without compiling a pattern.
    func matchesResource(_ resource: UnsafeBufferPointer<UInt8>, in context: RequestContext) -> Bool {
        var tokens: [UInt16] = []
        tokens.reserveCapacity(resource.count + 16)
        for index in parts.indices {
            if case .variable(let key, let defaultValue) = parts[index] {
                guard let value = PolicyTemplate.value(of: key, defaultValue: defaultValue, in: context) else { return false }
                for byte in value.utf8 { tokens.append(UInt16(byte)) }
            } else {
                tokens += wildcardTokens[index]
            }
        }
        return WildcardPattern.segmentStarsInPlace(&tokens)
            ? tokens.withUnsafeBufferPointer { WildcardPattern.segmentMatch($0, resource) }
            : tokens.withUnsafeBufferPointer { WildcardPattern.globMatch($0, resource) }
    }

    /// A wildcard pattern with variables substituted as literal text; nil as in ``resolve(in:)``.
    func resolvePattern(
        in context: RequestContext, wildcards: Bool, caseInsensitive: Bool = false, arnResource: Bool = false
    ) -> WildcardPattern? {
        var tokens: [UInt16] = []
        if wildcards && !caseInsensitive {
            for (index, part) in parts.enumerated() {
                if case .variable(let key, let defaultValue) = part {
                    guard let value = PolicyTemplate.value(of: key, defaultValue: defaultValue, in: context) else { return nil }
                    tokens += value.utf8.lazy.map { UInt16($0) }
                } else {
                    tokens += wildcardTokens[index]
                }
            }
            return WildcardPattern(tokens: arnResource ? WildcardPattern.segmentStars(tokens) : tokens)
        }
        for part in parts {
            switch part {
            case .text(let t):
                if wildcards {
                    tokens += WildcardPattern(t, caseInsensitive: caseInsensitive).tokens
                } else {
                    tokens += t.utf8.map { UInt16(caseInsensitive ? asciiLower($0) : $0) }
                }
            case .literal(let t):
                tokens += t.utf8.map { UInt16($0) }
            case .variable(let key, let defaultValue):
                guard let value = PolicyTemplate.value(of: key, defaultValue: defaultValue, in: context) else { return nil }
                tokens += value.utf8.map { UInt16(caseInsensitive ? asciiLower($0) : $0) }
            }
        }
        return WildcardPattern(tokens: tokens, caseInsensitive: caseInsensitive)
    }

    private static func value(of key: String, defaultValue: String?, in context: RequestContext) -> String? {
        let values = context.values(forLowercased: key) ?? []
        if values.count == 1 { return values[0] }
        if values.isEmpty { return defaultValue }
        return nil  // multivalued keys cannot be policy variables
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return s
    }
}
