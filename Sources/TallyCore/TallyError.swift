/// The error every Tally module throws: a stable `code`, a human reason, and where it was raised.
///
/// Command-line exit codes derive from `code.exitCode`: findings (damage, invalid proofs) exit 1,
/// bad usage, bad input and I/O errors exit 2.
public struct TallyError: Error, CustomStringConvertible, Sendable {
    /// A stable, machine-readable category.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let exitCode: Int32
        public init(_ name: String, exitCode: Int32 = 2) {
            self.name = name
            self.exitCode = exitCode
        }
        public var description: String { name }

        public static let badInput = Code("bad-input")
        public static let badUsage = Code("bad-usage")
        public static let io = Code("io")
        public static let crypto = Code("crypto")
        public static let compression = Code("compression")
        public static let notFound = Code("not-found")
        public static let integrity = Code("integrity", exitCode: 1)
        public static let invalidProof = Code("invalid-proof", exitCode: 1)
        public static let internalError = Code("internal")
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: UInt

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { reason }
    /// The reason followed by the source location, for logs and debugging.
    public var debugDescription: String { "\(code): \(reason) (\(file):\(line))" }
}
