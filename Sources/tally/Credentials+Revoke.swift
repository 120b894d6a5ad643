import ArgumentParser
import TallyCore
import TallyGateway

/// `tally credentials revoke ACCESS_KEY_ID`
struct CredentialsRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke an issued credential (the gateway refuses it from then on); records credential.revoked.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "The access key id to revoke.") var accessKeyId: String
    @OptionGroup var json: JSONOption

    func run() async throws {
        let issuer = CredentialIssuer(home: home.homePath)
        // Revoking twice keeps the first time; say so.
        let already = ((try? issuer.list()) ?? []).contains { $0.accessKeyId == accessKeyId && $0.revokedAt != nil }
        let c = try await issuer.revoke(accessKeyId: accessKeyId)
        if json.json {
            print(JSONValue.object(["accessKeyId": .string(c.accessKeyId), "principal": .string(c.principal),
                                    "revokedAt": .string(rfc3339(seconds: c.revokedAt ?? 0)), "alreadyRevoked": .bool(already)]).description)
        } else {
            print("\(already ? "already revoked" : "revoked") \(c.accessKeyId) (principal \(c.principal)) at \(rfc3339(seconds: c.revokedAt ?? 0))")
        }
    }
}
