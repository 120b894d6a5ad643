import ArgumentParser
import Foundation
import TallyCore
import TallyGateway

/// `tally credentials issue --principal NAME [--ttl 1h] [--role ARN] [--json]`
struct CredentialsIssue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue an AWS credential for an agent (one session); records credential.issued.",
        discussion: "--json prints the AWS CLI credential_process shape (Version, AccessKeyId, SecretAccessKey, Expiration) plus Principal and SessionId.")
    @OptionGroup var home: HomeOptions
    @Option(help: "Who the agent is (recorded on every call).") var principal: String
    @Option(help: "Lifetime, 1m to 366d: 90s, 30m, 1.5h, 2d or plain seconds (default 1h).") var ttl: String = "1h"
    @Option(help: "Upstream IAM role ARN to assume (STS AssumeRole) for this agent's calls.") var role: String?
    @OptionGroup var json: JSONOption

    func run() async throws {
        let seconds = try parseDuration(ttl)
        let issued = try await CredentialIssuer(home: home.homePath).issue(principal: principal, ttl: seconds, role: role)
        let c = issued.credential
        if json.json {
            var o: [String: JSONValue] = [
                "Version": 1, "AccessKeyId": .string(c.accessKeyId), "SecretAccessKey": .string(issued.secretAccessKey),
                "Expiration": .string(rfc3339(seconds: c.expiresAt)), "Principal": .string(c.principal),
                "SessionId": .string(c.sessionId),
            ]
            if let role = c.role { o["Role"] = .string(role) }
            print(JSONValue.object(o).description)
        } else {
            print("AWS_ACCESS_KEY_ID=\(c.accessKeyId)")
            print("AWS_SECRET_ACCESS_KEY=\(issued.secretAccessKey)")
            print("# principal \(c.principal), session \(c.sessionId), expires \(rfc3339(seconds: c.expiresAt))")
        }
    }
}

/// Parses `90s`, `30m`, `1h`, `2d` or plain seconds: decimal digits (one optional fraction, `1.5h`), then an optional
/// unit. Nothing else: `Double` alone also read `0x10m` (16 minutes), `1e3s`, `+1h`, `inf` and `nan`.
func parseDuration(_ text: String) throws -> TimeInterval {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    var number = Substring(text), unit = 1.0
    if let last = text.last, let u = units[last] {
        number = number.dropLast()
        unit = u
    }
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    let digits = { (s: Substring) in !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }
    guard (1...2).contains(parts.count), digits(parts[0]), parts.count == 1 || digits(parts[1]), number.utf8.count <= 12,
          let n = Double(number) else {
        throw TallyError(.badUsage, "--ttl \(text): expected a duration like 90s, 30m, 1h or 2d")
    }
    // A zero duration has the right shape: the range is what is wrong (session 12 probe).
    guard n > 0 else { throw TallyError(.badUsage, "--ttl \(text): must be between 1m and 366d") }  // as the issuer says
    return n * unit
}
