import ArgumentParser
import Foundation

/// Options every command takes: where the Tally home is, and whether to print JSON.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: "The Tally home directory (env TALLY_HOME, default ./.tally).")
    var home: String?

    /// The resolved home: --home, else $TALLY_HOME, else ./.tally.
    var homePath: String {
        if let home { return home }
        if let env = ProcessInfo.processInfo.environment["TALLY_HOME"], !env.isEmpty { return env }
        return "./.tally"
    }
}

/// The `--json` flag, shared by commands with machine output.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false
}
