import ArgumentParser
import TallyCore
import TallyGateway

/// `tally sessions list [--json]`
struct SessionsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List sessions (one per issued credential) with call counts.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var json: JSONOption

    func run() async throws {
        let sessions = try Sessions(home: home.homePath).list()
        if json.json {
            print(JSONValue.array(sessions).description)
            return
        }
        for s in sessions {
            let f = { (k: String) in s[k]?.stringValue ?? s[k].map { $0.description } ?? "-" }
            print("\(f("session"))  \(f("status"))  calls \(f("calls")) (denied \(f("denied")), failed \(f("failed")))  \(f("principal"))  expires \(f("expiration"))")
        }
    }
}
