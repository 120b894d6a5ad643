import ArgumentParser
import Foundation
import TallyAWS
import TallyCore
import TallyIAM
import TallyLedger

/// `tally-bench aws-request`: the gateway's per-call CPU work outside networking and the ledger — SigV4
/// parse and verify of the agent's request, operation identification, the IAM mapping, and re-signing for the
/// upstream — on three typical requests (an S3 GET presigned with query auth, a DynamoDB JSON POST and an EC2
/// query POST with header auth), printed beside the cost of one SHA-256 of the same canonical request (the
/// hashing every verification must do) measured in the same run.
struct AWSRequestBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aws-request", abstract: "Per-call CPU of SigV4 verification, identification, IAM mapping and re-signing.")

    @Option(help: "Iterations per request kind.") var iterations = 50_000
    @Option(help: "Only the request kinds whose name contains this (for profiling).") var only: String?

    func run() throws {
        let identifier = try OperationIdentifier.load()
        let mapping = try APIMapping.load()
        let agent = AWSCredentials(accessKeyId: "ASIATALLYBENCH000001", secretAccessKey: "agent-secret-for-the-benchmark-000000000")
        let upstream = AWSCredentials(accessKeyId: "AKIABENCHUPSTREAM000", secretAccessKey: "bench-upstream-secret")
        let now = Date()
        var s3 = HTTPRequestHead(method: "GET", path: "/bench/reports/2026/11/object.csv", query: nil,
                                 headers: [("Host", "127.0.0.1:8080"), ("User-Agent", "wrk")])
        SigV4.presign(&s3, credentials: agent, region: "us-east-1", service: "s3", expires: 3600, date: now)
        let ddbBody = Array(#"{"TableName":"orders-7","Key":{"pk":{"S":"order#1234"}}}"#.utf8)
        var ddb = HTTPRequestHead(method: "POST", path: "/", query: nil, headers: [
            ("Host", "127.0.0.1:8080"), ("Accept-Encoding", "identity"), ("X-Amz-Target", "DynamoDB_20120810.GetItem"),
            ("Content-Type", "application/x-amz-json-1.0"), ("User-Agent", "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux"),
            ("amz-sdk-invocation-id", "5f0c8a52-3a39-4b6c-9a1e-0c7d2b6b9b11"), ("amz-sdk-request", "attempt=1"),
            ("Content-Length", "\(ddbBody.count)")])
        SigV4.sign(&ddb, credentials: agent, region: "us-west-2", service: "dynamodb",
                   payloadHash: Hex.encode(SHA256.hash(ddbBody)), date: now)
        let ec2Body = Array("Action=DescribeInstances&Version=2016-11-15&MaxResults=5".utf8)
        var ec2 = HTTPRequestHead(method: "POST", path: "/", query: nil, headers: [
            ("Host", "127.0.0.1:8080"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("User-Agent", "aws-cli/1.36.0 Python/3.11 Linux botocore/1.35.0"), ("Content-Length", "\(ec2Body.count)")])
        SigV4.sign(&ec2, credentials: agent, region: "eu-west-1", service: "ec2",
                   payloadHash: Hex.encode(SHA256.hash(ec2Body)), date: now)

        // The gateway's call.requested event (its shape as CallEvents builds it), validated and canonicalised
        // into a batch as the ledger does on append.
        let event: JSONValue = .object([
            "type": "call.requested", "callId": "c-6f1d2a9b3c4e5f60", "session": "sess-0123456789abcdef",
            "principal": "agent-bench", "accessKeyId": "ASIATALLYBENCH000001", "service": "s3", "operation": "GetObject",
            "region": "us-east-1", "method": "GET", "path": "/bench/reports/2026/11/object.csv", "decision": "allow",
            "mapped": .bool(true), "mappingProvenance": "curated", "actions": .array(["s3:GetObject"]),
            "resources": .array(["arn:aws:s3:::bench/reports/2026/11/object.csv"]),
            "permissions": .array([.object(["action": "s3:GetObject", "resources": .array(["arn:aws:s3:::bench/reports/2026/11/object.csv"])])]),
            "upstreamIdentity": "arn:aws:iam::123456789012:user/tally-gateway", "payloadMode": "UNSIGNED-PAYLOAD",
            "sourceAddress": "127.0.0.1"])
        var batch = EventBatch()
        let t0 = threadCPUSeconds()
        for _ in 0..<iterations {
            batch.removeAll()
            try batch.append(event)
        }
        let eventMicros = (threadCPUSeconds() - t0) / Double(iterations) * 1e6
        let eventBytes = batch.bytes.count - 1
        let t1 = threadCPUSeconds()
        var eventHashes = 0
        for _ in 0..<iterations { eventHashes &+= Int(SHA256.hash(batch.bytes)[0]) }
        let eventHash = (threadCPUSeconds() - t1) / Double(iterations) * 1e6
        print(String(format: "call.requested event (%d bytes): validate + canonicalise %5.2f µs | limit: SHA-256 of it %4.2f µs", eventBytes, eventMicros, eventHash)
              + (eventHashes == 42 ? " " : ""))
        print("per call, \(iterations) iterations each, one thread (CPU time); the request as the gateway receives it")
        for (name, head, body) in [("s3 GetObject (presigned)", s3, nil as [UInt8]?), ("dynamodb GetItem (json)", ddb, ddbBody),
                                   ("ec2 DescribeInstances (query)", ec2, ec2Body)] {
            if let only, !name.contains(only) { continue }
            let auth = try SigV4.parse(head)
            let bodyHex = body.map { Hex.encode(SHA256.hash($0)) }
            let payloadHash = auth.payloadHashForVerification(bodySHA256Hex: bodyHex)!
            let canonical = Array(SigV4.canonicalRequest(head, signedHeaders: auth.signedHeaders, payloadHash: payloadHash,
                                                         service: auth.service, presigned: auth.isPresigned).utf8)
            let cache = SigningKeyCache()
            var sink = 0
            func time(_ body: () throws -> Void) rethrows -> Double {
                let t0 = threadCPUSeconds()
                for _ in 0..<iterations { try body() }
                return (threadCPUSeconds() - t0) / Double(iterations) * 1e6
            }
            let hash = time { sink &+= Int(SHA256.hash(canonical)[0]) }
            // The gateway builds a new head for every request: parse includes building it from its parts.
            let parse = try time {
                let h = HTTPRequestHead(method: head.method, path: head.path, query: head.query, headers: head.headers)
                sink &+= try SigV4.parse(h).signedHeaders.count
            }
            let verify = try time {
                let h = HTTPRequestHead(method: head.method, path: head.path, query: head.query, headers: head.headers)
                let a = try SigV4.parse(h)
                sink &+= try SigV4.verify(head, auth: a, secretAccessKey: agent.secretAccessKey, bodySHA256Hex: bodyHex, now: now,
                                          keyCache: cache).signedHeaders.count
            } - parse
            var identified: IdentifiedOperation?
            let identify = time {
                identified = identifier.identify(head, signingName: auth.service, region: auth.region, body: body)
                sink &+= identified!.parameters.count
            }
            guard let op = identified?.operation else { throw ValidationError("\(name): not identified") }
            let map = time {
                sink &+= mapping.permissions(for: APIRequestContext(service: identified!.service, operation: op,
                                                                   parameters: identified!.parameters, region: auth.region,
                                                                   account: "123456789012")).permissions.count
            }
            let resign = time {
                var h = head
                h.setHeader("Host", "s3.amazonaws.com")
                sink &+= SigV4.sign(&h, credentials: upstream, region: auth.region, service: auth.service,
                                    payloadHash: payloadHash, date: now, keyCache: cache).seedSignature.utf8.count
            }
            let label = name.padding(toLength: 30, withPad: " ", startingAt: 0)
            print(label + String(format: " parse %5.2f µs  verify %5.2f µs  identify %5.2f µs  IAM mapping %5.2f µs  re-sign %5.2f µs  total %5.1f µs | limit: SHA-256 of the %d-byte canonical request %4.2f µs",
                                 parse, verify, identify, map, resign, parse + verify + identify + map + resign, canonical.count, hash)
                  + (sink == 42 ? " " : ""))
        }
    }
}
