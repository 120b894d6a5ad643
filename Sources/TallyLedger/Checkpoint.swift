import Foundation
public import TallyCore

/// A C2SP tlog-checkpoint body: origin line, decimal tree size, base64 root hash.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: UInt64
    public var root: Digest

    public init(origin: String, size: UInt64, root: Digest) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text ("origin\nsize\nroot\n").
    public var text: String { "\(origin)\n\(size)\n\(Data(root.bytes).base64EncodedString())\n" }

    /// Parses a checkpoint note body (extension lines after the root are not used by Tally and are rejected).
    public init(text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func bad(_ why: String) -> TallyError { TallyError(.badInput, "malformed checkpoint: \(why)") }
        guard lines.count == 4, lines[3].isEmpty else { throw bad("expected exactly origin, size and root hash lines") }
        guard !lines[0].isEmpty else { throw bad("empty origin") }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else { throw bad("the size '\(lines[1])' is not a canonical decimal") }
        guard let raw = Data(base64Encoded: String(lines[2])), let root = Digest([UInt8](raw)),
              Data(raw).base64EncodedString() == lines[2] else { throw bad("the root is not base64 of 32 bytes") }
        self.origin = String(lines[0])
        self.size = size
        self.root = root
    }
}
