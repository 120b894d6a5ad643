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
