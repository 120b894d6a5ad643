import ArgumentParser
import TallyCore
import TallyIAM

/// `tally iam lint`: checks a policy against the action catalog and for risky patterns.
struct IAMLintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check a policy: unknown actions and condition keys, mismatched resources, risky patterns (exit 1 on findings, 2 if invalid)."
    )

    @Argument(help: "The policy file (- for standard input).")
    var file: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        let document = try PolicyDocument(contentsOfFile: file)
        let findings = PolicyLinter(catalog: try IAMCatalog.load()).lint(document)
        if output.json {
            let json = JSONValue.object(["file": .string(file), "findings": .array(findings.map(\.json))])
            print(String(decoding: json.canonicalBytes(), as: UTF8.self))
        } else if findings.isEmpty {
            print("\(file): no findings")
        } else {
            for finding in findings { print("\(file): \(finding)") }
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
