public import TallyCore

extension LedgerReader {
    /// The newest signed checkpoint note (as written), or nil when none exists yet.
    public func latestCheckpoint() throws -> String? {
        let log = CheckpointLog.read(try FileIO.readFile(paths.checkpoints), epochs: nil)
        return log.entries.last?.note.serialized
    }

    /// A JSON line for `cat`: the event's members plus "seq" and "time". When the event itself
    /// has a top-level "seq" or "time" member, the line is {"event":…,"seq":…,"time":…} instead.
    public static func catLine(seq: UInt64, time: Int64, event: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let bytes = event.bindMemory(to: UInt8.self)
        var conflict = false
        // A byte search first (glibc's memmem): only an event that has the text "seq": or "time": somewhere is parsed
        // to see whether the member is a top-level one.
        if bytes.count >= 2, ByteSearch.contains(event, catSeqKey) || ByteSearch.contains(event, catTimeKey) {
            if let v = try? JSONValue(parsing: bytes), v["seq"] != nil || v["time"] != nil { conflict = true }
        }
        out.append(contentsOf: catSeqHead)
        out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: catTimeHead)
        LedgerTime.append(time, to: &out)
        out.append(UInt8(ascii: "\""))
        if conflict {
            out.append(contentsOf: ",\"event\":".utf8)
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "}"))
        } else if bytes.count > 2 {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes.dropFirst()))
        } else {
            out.append(UInt8(ascii: "}"))
        }
        out.append(0x0A)
    }

    private static let catSeqKey = Array("\"seq\":".utf8)
    private static let catTimeKey = Array("\"time\":".utf8)
    private static let catSeqHead = Array("{\"seq\":".utf8)
    private static let catTimeHead = Array(",\"time\":\"".utf8)
}
