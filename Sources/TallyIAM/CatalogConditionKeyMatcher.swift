/// Matches a concrete condition key against a catalog key that may be a template:
/// "aws:ResourceTag/${TagKey}" or "s3:ExistingObjectTag/<key>" match "aws:ResourceTag/Owner".
public enum IAMConditionKeyMatcher {
    /// True when `key` is `template` (case-insensitive), or `template` ends in a "/${...}" or
    /// "/<...>" placeholder and `key` has the same text before the "/" and a non-empty suffix.
    public static func matches(template: String, key: String) -> Bool {
        if template.caseInsensitiveEquals(key) { return true }
        guard let slash = template.lastIndex(of: "/") else { return false }
        let tail = template[template.index(after: slash)...]
        let isPlaceholder = (tail.hasPrefix("${") && tail.hasSuffix("}")) || (tail.hasPrefix("<") && tail.hasSuffix(">"))
        guard isPlaceholder else { return false }
        let head = template[...slash]
        guard key.count > head.count else { return false }
        return String(key.prefix(head.count)).caseInsensitiveEquals(String(head))
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}

/// Condition key definitions indexed for lookup: exact names by their lowercased text, templated
/// names ("aws:ResourceTag/${TagKey}", "s3:ExistingObjectTag/<key>") by their lowercased head.
struct ConditionKeyIndex: Sendable {
    private var exact: [String: IAMConditionKey] = [:]
    private var templates: [(head: String, key: IAMConditionKey)] = []

    /// Indexes the keys of every service, in service order (the first definition of a name wins).
    init(services: [IAMService], keysByService: [String: [IAMConditionKey]]) {
        for service in services {
            for key in keysByService[service.prefix.lowercased()] ?? [] {
                let lower = key.name.lowercased()
                if exact[lower] == nil { exact[lower] = key }
                if let slash = lower.lastIndex(of: "/") {
                    let tail = lower[lower.index(after: slash)...]
                    if (tail.hasPrefix("${") && tail.hasSuffix("}")) || (tail.hasPrefix("<") && tail.hasSuffix(">")) {
                        let head = String(lower[...slash])
                        if !templates.contains(where: { $0.head == head }) { templates.append((head, key)) }
                    }
                }
            }
        }
    }

    func lookup(_ key: String) -> IAMConditionKey? {
        let lower = key.lowercased()
        if let hit = exact[lower] { return hit }
        for template in templates where lower.count > template.head.count && lower.hasPrefix(template.head) {
            return template.key
        }
        return nil
    }
}
