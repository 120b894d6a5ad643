import ArgumentParser
import TallyCore
#if canImport(Glibc)
import Glibc
#endif

/// The `tally` command line. Each command group lives in its own file.
///
/// Exit codes everywhere: 0 ok, 1 a finding (damage, an invalid proof, a deny), 2 bad usage,
/// bad input or an I/O error.
@main
struct Tally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Records, verifies and analyses what AI agents do with AWS credentials.",
        subcommands: [
            InitCommand.self,
            LedgerCommand.self,
            IAMCommand.self,
            CredentialsCommand.self,
            GatewayCommand.self,
            SessionsCommand.self,
            ReplayCommand.self,
        ]
    )

    static func main() async {
        // A file size limit (RLIMIT_FSIZE) makes a write past it fail with EFBIG, which the ledger reports (and the
        // gateway fails closed on), instead of killing the process with SIGXFSZ mid-commit.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as TallyError {
            printError("tally: \(error.reason)")
            Glibc.exit(error.code.exitCode)
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            printError(fullMessage(for: error))
            Glibc.exit(2)
        }
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    var line = message
    if !line.hasSuffix("\n") { line += "\n" }
    writeStderr(line)
}

/// Tells the user why a command is silent while another process (a running gateway, `ledger append`) holds the
/// ledger lock (it waited up to 10 s without a word; session 12 probe).
@Sendable func sayWaitingForLock(_ timeout: Double) {
    printError("tally: the ledger is locked by another process (a running gateway, ledger append or compact); waiting up to \(timeout) s…")
}
