import ArgumentParser
import TallyCore
import TallyIAM

/// `tally iam action NAME`: one action of the catalog.
struct IAMActionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "action",
        abstract: "Show one IAM action: access level, resource types with ARN templates, condition keys, dependent actions.",
        discussion: "An unknown action is bad input (exit 2)."
    )

    @Argument(help: "An action name such as s3:GetObject (case-insensitive).")
    var name: String

    @OptionGroup var output: JSONOption

    func run() async throws {
        let catalog = try IAMCatalog.load()
        let action = try catalog.knownAction(name)
        if output.json {
            printJSON(action)
            return
        }
        print("\(action.fullName)  (\(action.accessLevel.rawValue))")
        if !action.description.isEmpty { print("  \(action.description)") }
        if action.resourceTypes.isEmpty {
            print("  resource types: none (Resource \"*\")")
        } else {
            print("  resource types:")
            for type in action.resourceTypes {
                print("    \(type.name)\(type.required ? "*" : "")  \(type.arnTemplate)")
            }
        }
        print("  condition keys: \(action.conditionKeys.isEmpty ? "none" : action.conditionKeys.joined(separator: ", "))")
        print("  dependent actions: \(action.dependentActions.isEmpty ? "none" : action.dependentActions.joined(separator: ", "))")
    }
}

extension IAMCatalog {
    /// The catalog's action of `name` (any case), or bad input naming what is wrong (`what` names the input).
    func knownAction(_ name: String, what: String = "") throws -> IAMAction {
        if let action = action(named: name) { return action }
        var hint = ""
        if let colon = name.firstIndex(of: ":"), service(prefix: String(name[..<colon])) == nil {
            hint = ": no service prefix '\(name[..<colon])'"
        } else if !name.contains(":") {
            hint = ": expected service:action, e.g. s3:GetObject"
        }
        throw TallyError(.badInput, "\(what)unknown IAM action '\(name)'\(hint)")
    }
}
