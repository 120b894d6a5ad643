public import Foundation

/// Where calls are forwarded: one fixed base URL (moto, LocalStack, a single AWS endpoint, another
/// gateway), or `aws`: each call to its service's public AWS endpoint, from the credential scope.
public enum UpstreamEndpoint: Sendable, Hashable {
    case fixed(URL)
    case aws

    /// `aws`, or an http(s) URL without a path.
    public static func parse(_ text: String) throws -> UpstreamEndpoint {
        if text == "aws" { return .aws }
        return .fixed(try GatewayConfiguration.parseUpstream(text))
    }

    /// The base URL (scheme://host[:port]) for a call signed for `service` in `region`.
    public func baseURL(service: String, region: String) -> URL {
        switch self {
        case .fixed(let url): return url
        case .aws:
            // `SigV4.parse` lets only [a-z0-9-] names through, so this URL always parses; should it not, the call goes to
            // a host that never resolves (RFC 6761 `.invalid`) and fails there, rather than crashing the gateway.
            return URL(string: "https://\(Self.awsHost(service: service, region: region))") ?? Self.unroutable
        }
    }

    static let unroutable = URL(string: "https://unroutable.invalid")!

    /// The shape of AWS region names: a two- to four-letter area, one or more words, a number (`us-east-1`,
    /// `us-gov-west-1`, `ap-southeast-3`, `cn-north-1`, `us-isob-east-1`, `eusc-de-east-1`).
    public static func isAWSRegion(_ region: String) -> Bool {
        let parts = region.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, (2...4).contains(parts[0].utf8.count), parts[0].utf8.allSatisfy({ $0 >= 97 && $0 <= 122 }),
              let last = parts.last, (1...2).contains(last.utf8.count), last.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
        return parts.dropFirst().dropLast().allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 97 && $0 <= 122 } }
    }

    /// The public endpoint host of a signing name in a region (global services in their partition's home
    /// region; a few signing names differ from the endpoint prefix).
    static func awsHost(service: String, region: String) -> String {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        switch service {
        case "iam": return region.hasPrefix("cn-") ? "iam.\(suffix)" : (region.hasPrefix("us-gov-") ? "iam.us-gov.\(suffix)" : "iam.\(suffix)")
        case "cloudfront", "route53", "organizations", "globalaccelerator", "shield":
            return "\(service).\(suffix)"
        case "s3" where region == "us-east-1": return "s3.\(suffix)"
        case "execute-api": return "apigateway.\(region).\(suffix)"
        case "ses": return "email.\(region).\(suffix)"
        case "states": return "states.\(region).\(suffix)"
        default: return "\(service).\(region).\(suffix)"
        }
    }
}

extension UpstreamEndpoint: CustomStringConvertible {
    public var description: String {
        switch self {
        case .fixed(let url): return upstreamBaseURL(url)
        case .aws: return "aws (per-service public endpoints)"
        }
    }
}
