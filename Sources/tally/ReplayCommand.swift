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
        // Streamed: each call is written once it is final (see `Sessions.replay(session:_:)`), through a 1 MiB buffer.
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        var first = true
        let asJSON = json.json
        try Sessions(home: home.homePath).replay(session: session) { call in
            let j = call.json
            if asJSON {
                out.append(first ? UInt8(ascii: "[") : UInt8(ascii: ","))
                out.append(contentsOf: j.canonicalBytes())
            } else {
                let f = { (k: String) in j[k]?.stringValue ?? j[k].map { $0.description } ?? "-" }
                // A refused call has no outcome or latency: nothing is printed for them ("- - ms"; session 12 probe).
                let outcome = j["outcome"] == nil ? "" : " \(f("outcome"))"
                let latency = j["latencyMs"] == nil ? "" : " \(f("latencyMs")) ms"
                out.append(contentsOf: "#\(call.seq) \(call.time) \(f("decision")) \(f("service")):\(f("operation")) -> \(f("status")) \(f("errorCode"))\(outcome)\(latency) actions \(f("actions"))\n".utf8)
            }
            first = false
            if out.count >= 1 << 20 { writeStdout(out); out.removeAll(keepingCapacity: true) }
        }
        if asJSON { out.append(contentsOf: first ? Array("[]\n".utf8) : Array("]\n".utf8)) }
        writeStdout(out)
    }
}
