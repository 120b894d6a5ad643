/// IAM wildcard matching: `*` matches any run of characters (including none), `?` exactly one.
public enum IAMWildcard {
    /// Whether `value` matches `pattern`; ASCII case-insensitive when `caseInsensitive` (action
    /// names), exact otherwise (ARNs).
    public static func matches(_ pattern: String, _ value: String, caseInsensitive: Bool) -> Bool {
        var p = Array(pattern.utf8), v = Array(value.utf8)
        if caseInsensitive {
            p = p.map(lowerASCII)
            v = v.map(lowerASCII)
        }
        return match(p, v)
    }

    /// Greedy matching with single-star backtracking: linear in practice, never exponential.
    static func match(_ p: [UInt8], _ v: [UInt8]) -> Bool {
        var pi = 0, vi = 0
        var star = -1, mark = 0
        while vi < v.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == v[vi]) && p[pi] != UInt8(ascii: "*") {
                pi += 1; vi += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi; mark = vi; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; vi = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
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
        let actionBytes = Array(actionPattern.utf8).map(IAMWildcard.lowerASCII)
        let matchesAll = actionBytes.allSatisfy { $0 == UInt8(ascii: "*") } && !actionBytes.isEmpty
        var result: [IAMAction] = []
        for service in services where IAMWildcard.matches(servicePattern, service.prefix, caseInsensitive: true) {
            let actions = self.actions(service: service.prefix)
            if matchesAll { result.append(contentsOf: actions); continue }
            for action in actions where IAMWildcard.match(actionBytes, Array(action.name.utf8).map(IAMWildcard.lowerASCII)) {
                result.append(action)
            }
        }
        return result
    }
}
