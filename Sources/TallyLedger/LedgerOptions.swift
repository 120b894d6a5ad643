/// Tunables for a ledger. The defaults are the documented ones (docs/LEDGER-FORMAT.md).
public struct LedgerOptions: Sendable {
    /// Write a checkpoint after this many records since the last one (default 10,000).
    public var checkpointEveryRecords: UInt64 = 10_000
    /// …or after this many seconds with uncheckpointed records (default 1 s).
    public var checkpointInterval: Double = 1.0
    /// Start a new segment file when the current one would exceed this many bytes (default 8 MiB).
    public var segmentMaxBytes: Int = 8 << 20
    /// Uncompressed bytes of events per LZ4 block (default 4 MiB, like `lz4`'s default block; one event may exceed it).
    public var blockMaxBytes: Int = 4 << 20
    /// Largest accepted event, in bytes of JSON text (default 1 MiB).
    public var maxEventBytes: Int = 1 << 20
    /// Epoch length in seconds (init only; default 1 hour).
    public var epochSeconds: Int64 = 3600
    /// Number of epoch keys generated at init (default 8,784: 366 days of hourly epochs).
    public var epochCount: Int = 8784
    /// The checkpoint origin line (init only); default `tally.ledger/<16 random hex digits>`.
    public var origin: String? = nil
    /// Clock in milliseconds since the Unix epoch (tests inject one to cross epochs).
    public var clock: @Sendable () -> Int64 = { LedgerTime.nowMillis() }
    /// How long `open` waits for another process holding the ledger lock (default 10 s).
    public var lockTimeout: Double = 10
    /// Called once when `open` finds the lock held and starts waiting for it (a command line tells its user why it is
    /// silent: it said nothing for 10 s; session 12 probe).
    public var onLockWait: (@Sendable (_ timeout: Double) -> Void)? = nil
    /// When set, each segment the writer seals (by starting a new one) is compacted in the background
    /// at this LZ4HC level, as `tally ledger compact` would (small blocks merged, LZ4HC). Off by default:
    /// a bulk append should not spend CPU on it; a long-running writer of small commits (the gateway)
    /// turns it on.
    public var autoCompactLevel: Int? = nil
    /// When above 0, the writer writes up to this many zero bytes ahead of the data in the newest segment (topped up
    /// when a commit does not fit in them; synced with that commit), and writes small commits over them (docs/LEDGER-FORMAT.md §4.5): the file's
    /// size then does not change with each commit, so its fdatasync need not commit the file system's journal
    /// (measured here: p50 0.15–0.18 against 0.20–0.22 ms for a few hundred bytes). Off by default: a bulk append
    /// writes megabytes per fdatasync and gains nothing; the gateway, which commits a call at a time, turns it on.
    /// The zeros are cut off when the segment is sealed and when the ledger closes.
    public var preallocateBytes: Int = 0

    public init() {}
}

/// What `Ledger.initialize` created.
public struct InitReport: Sendable {
    public var home: String
    public var origin: String
    /// The root verifier key (also in H/ledger.pub).
    public var rootKey: String
    public var epochCount: Int
    public var epochSeconds: Int64
    public var firstEpochStart: Int64
}

/// What `Ledger.open` had to repair: a torn, uncommitted tail cut off, reported, never silent.
public struct RecoveryReport: Sendable, CustomStringConvertible {
    public struct Repair: Sendable {
        public var file: String
        public var offset: Int
        public var bytesRemoved: Int
        public var reason: String
    }
    public var repairs: [Repair]
    /// Checkpoints written on open for records that were committed but not yet checkpointed.
    public var checkpointsWritten: Int

    public var description: String {
        var lines = repairs.map { "repaired \($0.file): removed \($0.bytesRemoved) bytes of torn, uncommitted tail at offset \($0.offset) (\($0.reason))" }
        if checkpointsWritten > 0 { lines.append("wrote \(checkpointsWritten) checkpoint(s) for committed records not yet checkpointed") }
        return lines.joined(separator: "\n")
    }
}

/// One record as read back: seq, time (RFC 3339 UTC, milliseconds) and the event.
public struct LedgerRecord: Sendable {
    public let seq: UInt64
    public let time: String
    public let event: JSONValue

    public init(seq: UInt64, time: String, event: JSONValue) {
        self.seq = seq
        self.time = time
        self.event = event
    }
}

public import TallyCore
