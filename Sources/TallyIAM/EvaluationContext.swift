/// The context keys of a request (`aws:SourceIp`, `s3:prefix`, `aws:PrincipalTag/team`, ...).
/// Key names are case-insensitive; a key may carry several values (multivalued keys such as
/// `aws:TagKeys`).
public struct RequestContext: Sendable, Hashable {
    /// Lower-cased keys and their values, in insertion order. Request contexts hold a handful of
    /// keys, so a linear search (length first, then bytes) beats hashing.
    private var names: [String] = []
    private var lists: [[String]] = []
    /// Per name, ``keyHash(_:)`` of it: lookups compare one integer per key before any bytes.
    private var hashes: [UInt64] = []

    /// A cheap hash (FNV-1a) of a lower-cased key, precomputed by the evaluator for its keys.
    static func keyHash(_ key: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }

    public init() {}

    /// Builds a context from keys as written; values of keys that differ only in case are merged.
    public init(_ values: [String: [String]]) {
        for key in values.keys.sorted() { append(key.lowercased(), values[key]!) }
    }

    private func index(ofLowercased key: String) -> Int? {
        index(ofLowercased: key, hash: RequestContext.keyHash(key))
    }

    private func index(ofLowercased key: String, hash: UInt64) -> Int? {
        for i in hashes.indices where hashes[i] == hash && names[i] == key { return i }
        return nil
    }

    /// The values of an already lower-cased key whose ``keyHash(_:)`` is known (the hot path).
    func values(forLowercased key: String, hash: UInt64) -> [String]? {
        index(ofLowercased: key, hash: hash).map { lists[$0] }
    }

    private mutating func append(_ key: String, _ values: [String]) {
        if let i = index(ofLowercased: key) {
            lists[i] += values
        } else {
            names.append(key)
            lists.append(values)
            hashes.append(RequestContext.keyHash(key))
        }
    }

    /// The values of `key` (empty when absent).
    public func values(for key: String) -> [String] {
        index(ofLowercased: key.lowercased()).map { lists[$0] } ?? []
    }

    /// The values of an already lower-cased key (the evaluator's fast path).
    func values(forLowercased key: String) -> [String]? {
        index(ofLowercased: key).map { lists[$0] }
    }

    /// Adds one value (a repeated key becomes multivalued).
    public mutating func add(_ key: String, _ value: String) {
        append(key.lowercased(), [value])
    }

    /// Sets a key's values, replacing any.
    public mutating func set(_ key: String, _ values: [String]) {
        let lower = key.lowercased()
        if let i = index(ofLowercased: lower) { lists[i] = values } else { append(lower, values) }
    }

    /// Sets a value under an already lower-cased key unless the key is present.
    mutating func setIfAbsent(lowercased key: String, _ value: String) {
        if index(ofLowercased: key) == nil { append(key, [value]) }
    }

    public func contains(_ key: String) -> Bool { index(ofLowercased: key.lowercased()) != nil }

    /// Lower-cased keys present.
    public var keys: [String] { names }

    public static func == (a: RequestContext, b: RequestContext) -> Bool {
        a.names.count == b.names.count && a.names.indices.allSatisfy { i in b.values(forLowercased: a.names[i]) == a.lists[i] }
    }

    public func hash(into hasher: inout Hasher) {
        for (i, name) in names.enumerated().sorted(by: { $0.element < $1.element }) {
            hasher.combine(name)
            hasher.combine(lists[i])
        }
    }
}
