/// IAM wildcard matching: `*` matches any run of characters (including none), `?` exactly one.
public enum IAMWildcard {
    /// Whether `value` matches `pattern`; ASCII case-insensitive when `caseInsensitive` (action
    /// names), exact otherwise (ARNs).
    public static func matches(_ pattern: String, _ value: String, caseInsensitive: Bool) -> Bool {
        var pattern = pattern, value = value
        return pattern.withUTF8 { p in value.withUTF8 { v in match(p, v, caseInsensitive: caseInsensitive) } }
    }

    /// Greedy matching with single-star backtracking: linear in practice, never exponential, no allocation.
    static func match(_ p: UnsafeBufferPointer<UInt8>, _ v: UnsafeBufferPointer<UInt8>, caseInsensitive ci: Bool) -> Bool {
        let star = UInt8(ascii: "*"), question = UInt8(ascii: "?")
        var pi = 0, vi = 0
        var starAt = -1, mark = 0
        while vi < v.count {
            if pi < p.count && p[pi] != star
                && (p[pi] == question || p[pi] == v[vi] || (ci && lowerASCII(p[pi]) == lowerASCII(v[vi]))) {
                pi += 1; vi += 1
            } else if pi < p.count && p[pi] == star {
                starAt = pi; mark = vi; pi += 1
            } else if starAt >= 0 {
                pi = starAt + 1; mark += 1; vi = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == star { pi += 1 }
        return pi == p.count
    }

    @inline(__always) static func lowerASCII(_ c: UInt8) -> UInt8 {
        (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
    }

    /// Whether the text contains `*` or `?`.
    public static func hasWildcard(_ text: String) -> Bool {
        text.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }
}

extension IAMCatalog {
    /// The actions an IAM action pattern matches, e.g. "s3:Get*", "ec2:Describe?pcs", "*",
    /// "s3:*", "*:ListTags". Case-insensitive. An unknown action name without wildcards, or a
    /// pattern without ":" other than "*", matches nothing.
    public func expand(pattern: String) -> [IAMAction] {
        if pattern == "*" { return allActions }
        guard let colon = pattern.firstIndex(of: ":") else { return [] }
        let servicePattern = String(pattern[..<colon])
        let actionPattern = String(pattern[pattern.index(after: colon)...])
        if !IAMWildcard.hasWildcard(pattern) { return action(named: pattern).map { [$0] } ?? [] }
        let matchesAll = !actionPattern.isEmpty && actionPattern.utf8.allSatisfy { $0 == UInt8(ascii: "*") }
        var result: [IAMAction] = []
        var actionPatternCopy = actionPattern
        actionPatternCopy.withUTF8 { p in
            let prefixes = IAMWildcard.hasWildcard(servicePattern)
                ? services.lazy.map(\.prefix).filter { IAMWildcard.matches(servicePattern, $0, caseInsensitive: true) }.map { $0 }
                : [servicePattern]
            for prefix in prefixes {
                let actions = self.actions(service: prefix)
                if matchesAll { result.append(contentsOf: actions); continue }
                for action in actions {
                    var name = action.name
                    if name.withUTF8({ IAMWildcard.match(p, $0, caseInsensitive: true) }) { result.append(action) }
                }
            }
        }
        return result
    }
}
