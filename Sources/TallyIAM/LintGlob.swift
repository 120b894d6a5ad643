/// A wildcard pattern used to decide whether two patterns (a policy resource and a catalog ARN
/// template) can match a common ARN.
struct LintGlob {
    let elements: [Element]

    enum Element: Equatable {
        case char(Character)
        /// `?`: any one character.
        case any
        /// `*` in a policy: any run of characters.
        case star
        /// A `${Placeholder}` of an ARN template: a run of characters without `:` (unless it is the
        /// template's last element, e.g. a Lambda function's `name:alias`) and without `/` when the
        /// placeholder names something that never contains one (a bucket, a table, an account, ...).
        case placeholder(colon: Bool, slash: Bool)
    }

    /// Placeholders whose values never contain "/".
    static let slashFree: Set<String> = [
        "Partition", "Region", "Account", "AccountId", "BucketName", "TableName", "QueueName", "TopicName",
        "FunctionName", "InstanceId", "KeyId", "VolumeId", "VpcId", "SubnetId", "SecurityGroupId", "ImageId",
        "SnapshotId", "StackName", "RepositoryName", "ClusterName", "StreamName", "CertificateId",
    ]

    /// A policy resource: `*` and `?` are wildcards; `${...}` policy variables may be anything.
    init(resource: String) {
        var elements: [Element] = []
        var rest = Substring(resource)
        while let c = rest.first {
            if c == "$", rest.dropFirst().first == "{", let close = rest.firstIndex(of: "}") {
                elements.append(.star)
                rest = rest[rest.index(after: close)...]
                continue
            }
            elements.append(c == "*" ? .star : c == "?" ? .any : .char(c))
            rest = rest.dropFirst()
        }
        self.elements = elements
    }

    /// A catalog ARN template with `${Placeholder}`s (a literal `*` in a template is a wildcard too).
    init(template: String) {
        var elements: [Element] = []
        var rest = Substring(template)
        while let c = rest.first {
            if c == "$", rest.dropFirst().first == "{", let close = rest.firstIndex(of: "}") {
                let name = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                rest = rest[rest.index(after: close)...]
                elements.append(.placeholder(colon: rest.isEmpty, slash: !LintGlob.slashFree.contains(name)))
                continue
            }
            elements.append(c == "*" ? .star : c == "?" ? .any : .char(c))
            rest = rest.dropFirst()
        }
        self.elements = elements
    }

    /// Whether a run element can produce this character.
    private static func admits(_ run: Element, _ c: Character) -> Bool {
        switch run {
        case .star: true
        case .placeholder(let colon, let slash): (colon || c != ":") && (slash || c != "/")
        default: false
        }
    }

    private static func isRun(_ e: Element) -> Bool {
        switch e {
        case .star, .placeholder: true
        default: false
        }
    }

    /// Whether some string matches both patterns (memoised search over both positions).
    func intersects(_ other: LintGlob) -> Bool {
        let a = elements
        let b = other.elements
        var memo = [UInt8](repeating: 0, count: (a.count + 1) * (b.count + 1))  // 0 unknown, 1 no, 2 yes
        func go(_ i: Int, _ j: Int) -> Bool {
            let key = i * (b.count + 1) + j
            if memo[key] != 0 { return memo[key] == 2 }
            var result = false
            if i == a.count && j == b.count {
                result = true
            } else if i < a.count && LintGlob.isRun(a[i]) {
                // a's run ends here, or produces b's next character.
                result = go(i + 1, j)
                if !result, j < b.count {
                    switch b[j] {
                    case .char(let c): result = LintGlob.admits(a[i], c) && go(i, j + 1)
                    case .any: result = go(i, j + 1)
                    default: result = go(i, j + 1)  // both at runs: b's run ends here
                    }
                }
            } else if j < b.count && LintGlob.isRun(b[j]) {
                result = go(i, j + 1)
                if !result, i < a.count {
                    switch a[i] {
                    case .char(let c): result = LintGlob.admits(b[j], c) && go(i + 1, j)
                    case .any: result = go(i + 1, j)
                    default: break
                    }
                }
            } else if i < a.count && j < b.count {
                switch (a[i], b[j]) {
                case (.char(let x), .char(let y)): result = x == y && go(i + 1, j + 1)
                default: result = go(i + 1, j + 1)
                }
            }
            memo[key] = result ? 2 : 1
            return result
        }
        return go(0, 0)
    }
}
