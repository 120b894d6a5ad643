public import TallyCore

/// One finding of `verify`: what kind, which records (when known), where in which file.
public struct VerifyProblem: Sendable, Equatable {
    /// A stable kind: damaged-block, chain-mismatch, seq-gap, segment-header, segment-link,
    /// missing-segment, checkpoint-invalid, checkpoint-order, checkpoint-mismatch, truncated,
    /// epoch-keys, epoch-mismatch, witness-invalid, witness-fork, witness-truncation,
    /// torn-tail (warning), uncheckpointed (warning), unverifiable (warning).
    public var kind: String
    public var seq: UInt64?
    public var lastSeq: UInt64?
    /// Path relative to the home (e.g. ledger/segments/seg-00000001.tseg).
    public var file: String?
    public var offset: Int?
    public var message: String

    public init(kind: String, seq: UInt64? = nil, lastSeq: UInt64? = nil, file: String? = nil, offset: Int? = nil, message: String) {
        self.kind = kind
        self.seq = seq
        self.lastSeq = lastSeq
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(kind), "message": .string(message)]
        if let seq { o["seq"] = .int(seq) }
        if let lastSeq { o["last_seq"] = .int(lastSeq) }
        if let file { o["file"] = .string(file) }
        if let offset { o["offset"] = .int(offset) }
        return .object(o)
    }

    public var text: String {
        var s = kind
        if let seq { s += " seq \(seq)" + (lastSeq.map { $0 != seq ? "–\($0)" : "" } ?? "") }
        if let file { s += " \(file)" }
        if let offset { s += " @\(offset)" }
        return s + ": " + message
    }
}

/// The outcome of `verify`: ok when there are no problems (warnings do not fail it).
public struct VerifyReport: Sendable {
    public var records: UInt64 = 0
    public var segments = 0
    public var checkpoints = 0
    public var witnesses = 0
    public var problems: [VerifyProblem] = []
    public var warnings: [VerifyProblem] = []
    public var ok: Bool { problems.isEmpty }

    public var json: JSONValue {
        .object([
            "ok": .bool(ok), "records": .int(records), "segments": .int(segments), "checkpoints": .int(checkpoints),
            "witnesses": .int(witnesses), "problems": .array(problems.map(\.json)), "warnings": .array(warnings.map(\.json)),
        ])
    }
}
