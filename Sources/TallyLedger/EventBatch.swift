public import TallyCore

/// Events ready to append: canonical event JSON, each followed by a newline, in one buffer.
/// (Canonical JSON never contains a raw newline, so the newline delimits events.)
public struct EventBatch: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// End offset (exclusive, before the newline) of each event in `bytes`.
    public private(set) var ends: [Int] = []

    public init() {}

    public var count: Int { ends.count }
    public var isEmpty: Bool { ends.isEmpty }

    func start(of i: Int) -> Int { i == 0 ? 0 : ends[i - 1] + 1 }

    /// Appends an event value: it must be an object with a string "type" and valid numbers.
    public mutating func append(_ event: JSONValue) throws {
        guard case .object = event else { throw TallyError(.badInput, "an event must be a JSON object") }
        guard event["type"]?.stringValue != nil else {
            throw TallyError(.badInput, event["type"] == nil ? "the event has no \"type\" member" : "the event's \"type\" member must be a string")
        }
        try event.validate()
        event.appendCanonical(to: &bytes)
        ends.append(bytes.count)
        bytes.append(0x0A)
    }

    /// Canonicalises one JSON text (an event object with a string "type") and appends it.
    /// On error nothing is appended.
    public mutating func append(jsonText: UnsafeBufferPointer<UInt8>, using canonicalizer: inout JSONCanonicalizer) throws {
        let mark = bytes.count
        do {
            try canonicalizer.canonicalizeEvent(jsonText, into: &bytes)
        } catch {
            bytes.removeSubrange(mark...)
            throw error
        }
        ends.append(bytes.count)
        bytes.append(0x0A)
    }

    /// Reserves room for about `bytes` of events.
    public mutating func reserveCapacity(bytes n: Int, events: Int = 0) {
        bytes.reserveCapacity(n)
        if events > 0 { ends.reserveCapacity(events) }
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append(contentsOf other: EventBatch) {
        let base = bytes.count
        bytes.append(contentsOf: other.bytes)
        ends.append(contentsOf: other.ends.map { $0 + base })
    }
}
