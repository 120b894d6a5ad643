import ArgumentParser
import TallyCore
import TallyGateway

/// `tally replay SESSION [--json]` — owned by the gateway work (issue 4).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Show a session's calls in order.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "The session id (the credential's access key id).") var session: String
    @OptionGroup var json: JSONOption

    func run() async throws {
        let calls = try Sessions(home: home.homePath).replay(session: session)
        if json.json {
            print(JSONValue.array(calls.map(\.json)).description)
            return
        }
        for call in calls {
            let j = call.json
            let f = { (k: String) in j[k]?.stringValue ?? j[k].map { $0.description } ?? "-" }
            print("#\(call.seq) \(call.time) \(f("decision")) \(f("service")):\(f("operation")) -> \(f("status")) \(f("errorCode")) \(f("outcome")) \(f("latencyMs")) ms actions \(f("actions"))")
        }
    }
}
