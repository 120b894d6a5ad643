public import Foundation
import TallyCore

/// The gateway's own AWS credential, found like the AWS CLI finds it.
public struct UpstreamCredential: Sendable, Hashable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Where it came from ("environment", "shared credentials file <path> profile <p>", "sts:AssumeRole <arn>").
    public var source: String
    /// When it stops working (nil: long-term).
    public var expiration: Date?
    /// Who AWS sees signing with it, when the gateway learnt it with the credential: for a role credential, STS
    /// AssumeRole's `AssumedRoleUser/Arn` (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, what CloudTrail records).
    public var identityARN: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, source: String,
                expiration: Date? = nil, identityARN: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
        self.expiration = expiration
        self.identityARN = identityARN
    }
}

/// The standard chain, in order: env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
/// then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) with
/// profile AWS_PROFILE (default "default").
public enum UpstreamCredentialChain {
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> UpstreamCredential {
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
           let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty {
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return UpstreamCredential(accessKeyId: id, secretAccessKey: secret, sessionToken: token, source: "environment")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (home as NSString).appendingPathComponent(".aws/credentials")
        let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TallyError(.notFound, "no upstream AWS credential: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set and \(path) cannot be read")
        }
        let sections = parseINI(text)
        guard let section = sections[profile] else {
            throw TallyError(.notFound, "no upstream AWS credential: profile [\(profile)] is not in \(path)")
        }
        guard let id = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] else {
            throw TallyError(.badInput, "profile [\(profile)] in \(path) lacks aws_access_key_id or aws_secret_access_key")
        }
        return UpstreamCredential(accessKeyId: id, secretAccessKey: secret, sessionToken: section["aws_session_token"],
                                  source: "shared credentials file \(path) profile \(profile)")
    }

    /// Minimal INI reader for the shared credentials file: `[name]` sections, `key = value` lines, `#`/`;` comments.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("profile ") { name = String(name.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
                current = name
                result[name, default: [:]] = result[name] ?? [:]
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            result[current]?[key] = value
        }
        return result
    }
}
