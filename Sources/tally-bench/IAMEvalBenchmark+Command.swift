import ArgumentParser
import Foundation

/// The `iam-eval` subcommand of tally-bench (for the root command's `subcommands:` list).
struct IAMEvalBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam-eval",
        abstract: "Policy evaluations per second on one core (target >= 1,000,000) and expansion of every AWS managed policy moto ships (target < 1 s)."
    )

    @Option(help: "Evaluations to time.")
    var evaluations = 4_000_000

    @Option(help: "Managed policies as JSON (Tools/export-moto-managed-policies.py OUT); default: export them now with python3 and moto.")
    var managedPolicies: String?

    func run() throws {
        var path = managedPolicies
        if path == nil {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-moto-managed-policies.json").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "Tools/export-moto-managed-policies.py", out]
            process.standardOutput = FileHandle.nullDevice
            if (try? process.run()) != nil {
                process.waitUntilExit()
                if process.terminationStatus == 0 { path = out }
            }
        }
        try IAMEvalBenchmark.run(managedPolicies: path, evaluations: evaluations)
    }
}
