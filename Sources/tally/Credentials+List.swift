import ArgumentParser
import Foundation
import TallyCore
import TallyGateway

/// `tally credentials list`
struct CredentialsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List issued credentials (never secrets).",
        discussion: "Reads the registry (refused if its MACs do not check) and the ledger's credential.revoked records (a revocation there shows as revoked whatever the registry says): it reads the whole ledger, and fails on a damaged one.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var json: JSONOption

    func run() async throws {
        let now = Date()
        var rows: [JSONValue] = []
        for c in try CredentialIssuer(home: home.homePath).list() {
            let status = c.revokedAt != nil ? "revoked" : (c.rejection(at: now) == nil ? "active" : "expired")
            if json.json {
                var o: [String: JSONValue] = ["accessKeyId": .string(c.accessKeyId), "principal": .string(c.principal),
                                              "expiration": .string(rfc3339(seconds: c.expiresAt)), "status": .string(status)]
                if let role = c.role { o["role"] = .string(role) }
                rows.append(.object(o))
            } else {
                print("\(c.accessKeyId)  \(status)  expires \(rfc3339(seconds: c.expiresAt))  \(c.principal)\(c.role.map { "  role \($0)" } ?? "")")
            }
        }
        if json.json { print(JSONValue.array(rows).description) }  // one JSON array, `[]` when there is none (as `sessions list`)
    }
}
