import Foundation
import TallyCore

/// The writer settings of a home, chosen at `tally init` and kept in `H/ledger/settings.json`
/// (docs/LEDGER-FORMAT.md, "Files"), so that every writer of the home (`ledger append`, the
/// gateway, `credentials issue`) checkpoints and rolls segments the same way. Verifiers do not
/// need them: every structure they check is self-describing.
extension LedgerOptions {
    static func settingsPath(_ home: String) -> String { LedgerPaths(home: home).dir + "/settings.json" }

    /// The settings as stored: checkpoint_every_records, checkpoint_interval_seconds, segment_max_bytes, block_max_bytes.
    var settingsJSON: JSONValue {
        ["checkpoint_every_records": .int(checkpointEveryRecords), "checkpoint_interval_seconds": .number(String(checkpointInterval)),
         "segment_max_bytes": .int(segmentMaxBytes), "block_max_bytes": .int(blockMaxBytes)]
    }

    /// Checks the writer settings; throws a bad-usage error naming the one that is out of range.
    public func validateWriterSettings() throws {
        guard checkpointEveryRecords >= 1 else { throw TallyError(.badUsage, "checkpoint every \(checkpointEveryRecords) records: must be at least 1") }
        guard checkpointInterval > 0, checkpointInterval <= 86_400 else {
            throw TallyError(.badUsage, "checkpoint interval \(checkpointInterval) s: must be more than 0 and at most 86400")
        }
        guard blockMaxBytes >= 256, blockMaxBytes <= 64 << 20 else {
            throw TallyError(.badUsage, "block size \(blockMaxBytes) bytes: must be between 256 and 67108864")
        }
        guard segmentMaxBytes >= 256, segmentMaxBytes <= 1 << 30 else {
            throw TallyError(.badUsage, "segment size \(segmentMaxBytes) bytes: must be between 256 and 1073741824")
        }
    }

    /// Default options with the writer settings of the home `home` applied (its
    /// `ledger/settings.json`; a home without one uses the documented defaults).
    public static func forHome(_ home: String) throws -> LedgerOptions {
        var o = LedgerOptions()
        let path = settingsPath(home)
        guard FileIO.exists(path) else { return o }
        let v: JSONValue
        do { v = try JSONValue(parsing: FileIO.readFile(path)) } catch let e as TallyError {
            throw TallyError(.badInput, "\(path): \(e.reason)")
        }
        func number(_ key: String) throws -> Double? {
            guard let m = v[key] else { return nil }
            guard case .number(let text) = m, let d = Double(text) else { throw TallyError(.badInput, "\(path): \"\(key)\" must be a number") }
            return d
        }
        if let n = try number("checkpoint_every_records") { o.checkpointEveryRecords = UInt64(max(0, n)) }
        if let n = try number("checkpoint_interval_seconds") { o.checkpointInterval = n }
        if let n = try number("segment_max_bytes") { o.segmentMaxBytes = Int(n) }
        if let n = try number("block_max_bytes") { o.blockMaxBytes = Int(n) }
        do { try o.validateWriterSettings() } catch let e as TallyError { throw TallyError(.badInput, "\(path): \(e.reason)") }
        return o
    }
}
