/// Deterministic, realistic AWS-call events (~450 bytes of JSON each) for benchmarks.
struct BenchEvents {
    private var state: UInt64

    init(seed: UInt64 = 0x5EED_7A11) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func pick<T>(_ a: [T]) -> T { a[Int(next() % UInt64(a.count))] }

    mutating func hex(_ n: Int) -> String {
        let d = Array("0123456789abcdef")
        return String((0..<n).map { _ in d[Int(next() & 15)] })
    }

    static let calls: [(String, String, String)] = [
        ("s3", "GetObject", "s3:GetObject"), ("s3", "PutObject", "s3:PutObject"), ("s3", "ListObjectsV2", "s3:ListBucket"),
        ("dynamodb", "GetItem", "dynamodb:GetItem"), ("dynamodb", "PutItem", "dynamodb:PutItem"), ("dynamodb", "Query", "dynamodb:Query"),
        ("sts", "GetCallerIdentity", "sts:GetCallerIdentity"), ("sqs", "SendMessage", "sqs:SendMessage"),
        ("lambda", "Invoke", "lambda:InvokeFunction"), ("ec2", "DescribeInstances", "ec2:DescribeInstances"),
    ]
    static let regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
    static let agents = ["claude-code", "codex", "cursor-agent", "devin"]

    /// One event as a compact JSON line (keys in producer order, not canonical), with "\n".
    mutating func line(_ i: Int) -> String {
        let (svc, op, action) = pick(Self.calls)
        let region = pick(Self.regions)
        let session = "sess-" + hex(8)
        let resource: String
        switch svc {
        case "s3": resource = "arn:aws:s3:::acme-data-prod/reports/2026/11/report-\(next() % 100_000).csv"
        case "dynamodb": resource = "arn:aws:dynamodb:\(region):123456789012:table/orders-\(next() % 20)"
        case "sqs": resource = "arn:aws:sqs:\(region):123456789012:jobs-\(next() % 10)"
        case "lambda": resource = "arn:aws:lambda:\(region):123456789012:function:etl-\(next() % 30)"
        default: resource = "*"
        }
        let status = next() % 20 == 0 ? 403 : 200
        let err = status == 403 ? "\"AccessDenied\"" : "null"
        let reqID = "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))"
        return #"{"type":"call.completed","session":"\#(session)","principal":"agent:\#(pick(Self.agents))@ci-runner-\#(next() % 16)","identity":"arn:aws:sts::123456789012:assumed-role/AgentRole/\#(session)","request_id":"\#(reqID)","service":"\#(svc)","operation":"\#(op)","region":"\#(region)","actions":["\#(action)"],"resources":["\#(resource)"],"decision":"allow","status":\#(status),"error_code":\#(err),"latency_ms":\#(5 + next() % 400),"bytes_out":\#(next() % 50_000),"n":\#(i)}"# + "\n"
    }
}
