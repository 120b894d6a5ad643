import Foundation
public import TallyCore

extension PolicyDocument {
    /// Reads and parses a policy file; `-` reads standard input. The file name appears in errors.
    public init(contentsOfFile path: String) throws {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw TallyError(.io, "cannot read the policy file '\(path)'")
            }
            data = contents
        }
        try self.init(parsing: [UInt8](data), source: path)
    }
}

extension EvaluationResult {
    /// The result as JSON: {"decision", "reason", "statements": [{policy, kind, index, sid, effect}]}.
    public var json: JSONValue {
        .object([
            "decision": .string(decision.rawValue),
            "reason": .string(reason),
            "statements": .array(
                statements.map { s in
                    .object([
                        "policy": .string(s.policy), "kind": .string(s.kind.rawValue), "index": .int(s.index),
                        "sid": s.sid.map(JSONValue.string) ?? .null, "effect": .string(s.effect.rawValue),
                    ])
                }),
        ])
    }
}

extension RequestContext {
    /// Builds a context from `key=value` arguments; a repeated key becomes multivalued.
    public init(arguments: [String]) throws {
        self.init()
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw TallyError(.badUsage, "--context '\(argument)' must be key=value (e.g. aws:SourceIp=203.0.113.7)")
            }
            add(String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
        }
    }
}
