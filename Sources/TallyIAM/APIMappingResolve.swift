import TallyCore

/// Values a resource pattern can refer to.
struct ResolveContext {
    let parameters: [String: String]
    let region: String
    let account: String
    let partition: String

    init(request: APIRequestContext, parameters: [String: String]? = nil) {
        self.parameters = parameters ?? request.parameters
        region = request.region
        account = request.account
        partition = Self.partition(region: request.region)
    }

    /// The ARN partition of a region: aws-cn for cn-*, aws-us-gov for us-gov-*, aws-iso* for the ISO regions, else aws.
    static func partition(region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        if region.hasPrefix("us-isob-") { return "aws-iso-b" }
        if region.hasPrefix("us-iso-") { return "aws-iso" }
        if region.hasPrefix("eu-isoe-") { return "aws-iso-e" }
        return "aws"
    }
}

/// One piece of a compiled resource pattern.
enum PatternSegment: Sendable, Hashable {
    case literal(String)
    case partition, region, account
    case member(String, transform: String?)
}

/// A permission rule with its resource patterns parsed once at load time.
struct CompiledPermission: Sendable {
    let action: String
    let when: String?
    let unless: String?
    let whenPrefix: [(member: String, prefix: String)]
    /// Every `whenPrefix` text is "*": the rule is the "otherwise" of the rules on the same member (see
    /// `APIMapping.permissions(for:)`); `applies(to:)` then only asks that the members are present.
    let otherwise: Bool
    let patterns: [[PatternSegment]]        // [] for "*"
    /// The member whose elements the rule is applied to, one by one, when its tests or patterns name
    /// `List[].Member` (the elements of a list; an object sent in its place as one element) or `Map[keys]` (the keys of
    /// a map); nil for a rule on the top-level members only. See ``elementParameters(_:list:)``.
    let elements: (member: String, keys: Bool)?
    /// A `when` of the form `$.a.b[].c`: the rule applies once per value found at that path of the JSON body, with
    /// `${in:$.a.b[].c}` the value (see ``deepValues(_:in:limit:)``); nil for other rules.
    let deepPath: String?

    init(_ rule: APIPermissionRule) throws {
        self.init(rule, patterns: try rule.resources.map(Self.compile))
    }

    /// A rule whose resource patterns are already compiled (shared between rules by the loader).
    init(_ rule: APIPermissionRule, patterns: [[PatternSegment]]) {
        action = rule.action
        when = rule.when
        unless = rule.unless
        whenPrefix = rule.whenPrefix.sorted { $0.key < $1.key }.map { ($0.key, $0.value.lowercased()) }
        otherwise = !rule.whenPrefix.isEmpty && rule.whenPrefix.values.allSatisfy { $0 == "*" }
        self.patterns = patterns
        var names = [rule.when, rule.unless].compactMap { $0 } + rule.whenPrefix.keys
        for pattern in patterns {
            for case .member(let name, _) in pattern { names.append(name) }
        }
        // A deep path ("$.a.b[].c"): the values found there, each filling the patterns (see `deepValues`).
        deepPath = rule.when.flatMap { $0.hasPrefix("$.") ? $0 : nil }
        elements = deepPath != nil ? nil : names.lazy.compactMap { name -> (member: String, keys: Bool)? in
            if let r = name.firstRange(of: "[].") { return (String(name[..<r.lowerBound]), false) }
            if name.hasSuffix("[keys]") { return (String(name.dropLast(6)), true) }
            return nil
        }.first
    }

    /// For a rule whose `when` is a deep path (`$.deploymentConfiguration.lifecycleHooks[].roleArn`: object members
    /// by their body keys, `[]` for each element of a list, or a structure as one element): every value found there
    /// in `body` (a string or number as text; any other value, null included, as "", which fills no pattern, so the
    /// rule's resource is "*"), at most `limit` (nil past it). The gateway reads roles passed below the top this way.
    static func deepValues(_ path: String, in body: JSONValue, limit: Int) -> [String]? {
        var nodes: [JSONValue] = [body]
        for var segment in path.dropFirst(2).split(separator: ".", omittingEmptySubsequences: false) {
            if segment.hasSuffix("[]") { segment = segment.dropLast(2) }
            var next: [JSONValue] = []
            for node in nodes {
                guard case .object(let members) = node, let value = members[String(segment)] else { continue }
                // A list is read element by element wherever it stands (also where the model has a structure: the
                // upstream may accept either shape, and reading both errs on the closed side).
                if case .array(let elements) = value { next += elements } else { next.append(value) }
            }
            guard next.count <= limit else { return nil }
            nodes = next
        }
        return nodes.map { node in
            switch node {
            case .string(let text), .number(let text): return text
            default: return ""
            }
        }
    }

    /// The rule's names for one element of `list` (a JSON array of objects in the body): each member of the
    /// element, and each member of a member that is an object, as `list[].A` and `list[].A.B`, holding the string
    /// (or number) value, or "" for any other value. Merged over the top-level parameters, they let the rule's
    /// tests and patterns read the element.
    static func elementParameters(_ element: JSONValue, list: String) -> [String: String] {
        guard case .object(let members) = element else { return [:] }
        var out: [String: String] = [:]
        func scalar(_ v: JSONValue) -> String {
            switch v {
            case .string(let s): return s
            case .number(let n): return n
            default: return ""
            }
        }
        // A member whose name holds "." or "[" could stand for another's path ("Update.TableName" beside "Update"):
        // such names are no members of any AWS shape and are left out (session 10 re-probe).
        func plain(_ name: String) -> Bool { !name.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "[") } }
        for (name, value) in members where plain(name) {
            out["\(list)[].\(name)"] = scalar(value)
            if case .object(let inner) = value {
                for (innerName, innerValue) in inner where plain(innerName) { out["\(list)[].\(name).\(innerName)"] = scalar(innerValue) }
            }
        }
        return out
    }

    /// Whether the rule's request condition holds.
    func applies(to parameters: [String: String]) -> Bool {
        if let when, !Self.present(when, in: parameters) { return false }
        if let unless, Self.present(unless, in: parameters) { return false }
        for test in whenPrefix {
            guard let value = parameters[test.member] else { return false }
            if test.prefix == "*" { continue }
            if test.prefix.count > 2, test.prefix.hasPrefix("*"), test.prefix.hasSuffix("*") {
                // "*word*": the value contains the word anywhere, ASCII case-insensitively (a JSON Patch path that an
                // upstream may read as its policy: `/policy`, `/policy_x`, `/x/policy`).
                guard Self.containsWord(value, test.prefix.dropFirst().dropLast()) else { return false }
                continue
            }
            if Self.firstWord(value) != test.prefix { return false }
        }
        return true
    }

    /// Whether `value` holds `word` (lowercase ASCII) anywhere, comparing Unicode scalars with ASCII letters folded
    /// (not `Character`s, which would join "policy" + a combining mark into another last letter).
    static func containsWord(_ value: String, _ word: Substring) -> Bool {
        let hay = value.unicodeScalars.map { ("A"..."Z").contains($0) ? $0.value + 32 : $0.value }
        let needle = word.unicodeScalars.map(\.value)
        guard !needle.isEmpty, hay.count >= needle.count else { return needle.isEmpty }
        for start in 0...(hay.count - needle.count) where hay[start..<(start + needle.count)].elementsEqual(needle) { return true }
        return false
    }

    /// The first word of a value, lowercased, read one Unicode scalar at a time: after white space (any, CR LF
    /// included), `(`, `/` (a JSON Patch path: `/policy`) and SQL comments (`-- ...` to the line's end, `/* ... */`),
    /// a run of ASCII letters, which must
    /// end the value or be followed by an ASCII character other than a digit or `_`. Nil otherwise: `SELECT\u{301}`,
    /// a zero-width joiner, or a letter of another script is no word Tally can be sure the upstream reads the same.
    /// (`Character`s would group `\r\n` or a letter with its combining mark into one, and miss the word.)
    static func firstWord(_ value: String) -> String? {
        let scalars = Array(value.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c.properties.isWhitespace || c == "(" { i += 1; continue }
            if c == "-", i + 1 < scalars.count, scalars[i + 1] == "-" {
                while i < scalars.count && scalars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/", i + 1 < scalars.count, scalars[i + 1] == "*" {
                i += 2
                while i + 1 < scalars.count && !(scalars[i] == "*" && scalars[i + 1] == "/") { i += 1 }
                i += 2
                continue
            }
            if c == "/" { i += 1; continue }
            break
        }
        var word = ""
        while i < scalars.count, scalars[i].isASCII, scalars[i].properties.isAlphabetic {
            word.unicodeScalars.append(scalars[i])
            i += 1
        }
        guard !word.isEmpty else { return nil }
        if i < scalars.count {
            let next = scalars[i]
            guard next.isASCII, !("0"..."9").contains(next), next != "_" else { return nil }
        }
        return word.lowercased()
    }

    /// "Member" is present; "Member|Other" either is (EC2 sends some members under their wire name);
    /// "Member?name" is present and its value has a query parameter `name`.
    static func present(_ test: String, in parameters: [String: String]) -> Bool {
        if test.utf8.contains(UInt8(ascii: "|")) { return test.split(separator: "|").contains { parameters[String($0)] != nil } }
        guard let q = test.firstIndex(of: "?") else { return parameters[test] != nil }
        guard let value = parameters[String(test[..<q])], let query = value.firstIndex(of: "?") else { return false }
        let name = test[test.index(after: q)...]
        return value[value.index(after: query)...].split(separator: "&").contains {
            $0 == name || $0.hasPrefix(name + "=")
        }
    }

    /// The ARNs for a request; ["*"] when no pattern can be filled.
    func resolve(_ context: ResolveContext) -> [String] {
        var out: [String] = []
        for pattern in patterns {
            if pattern.isEmpty { if !out.contains("*") { out.append("*") }; continue }
            if let arn = Self.fill(pattern, context), !out.contains(arn) { out.append(arn) }
        }
        return out.isEmpty ? ["*"] : out
    }

    static func fill(_ pattern: [PatternSegment], _ context: ResolveContext) -> String? {
        var out = ""
        var seenMember = false
        for segment in pattern {
            switch segment {
            case .literal(let text): out += text
            case .partition: out += context.partition
            case .region: out += context.region
            case .account: out += context.account
            case .member(let name, let transform):
                guard let raw = context.parameters[name], !raw.isEmpty else { return nil }
                // A (first) member that already holds an ARN replaces everything before it:
                // FunctionName "arn:aws:lambda:…:function:f" + ":${Qualifier}" → "arn:aws:lambda:…:function:f:prod".
                if !seenMember, raw.hasPrefix("arn:"), transform != "queueAccount", transform != "path" {
                    out = transform == "s3CopySource" ? Self.s3CopySource(raw) : raw
                } else {
                    guard let value = Self.apply(transform, to: raw, context) else { return nil }
                    out += value
                }
                seenMember = true
            }
        }
        return out
    }

    static func apply(_ transform: String?, to value: String, _ context: ResolveContext) -> String? {
        switch transform {
        case nil, "arn": return value
        case "lastPathSegment":
            let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
            return trimmed.split(separator: "/").last.map(String.init)
        case "stripLeadingSlash": return value.hasPrefix("/") ? String(value.dropFirst()) : value
        case "stripAliasPrefix": return value.hasPrefix("alias/") ? String(value.dropFirst(6)) : value
        case "logGroupName": return value
        case "queueAccount":
            // ".../123456789012/queue-name": the account segment when it is 12 digits, else the request's account.
            let parts = value.split(separator: "/")
            if parts.count >= 2, parts[parts.count - 2].count == 12, parts[parts.count - 2].allSatisfy(\.isNumber) {
                return String(parts[parts.count - 2])
            }
            return context.account
        case "kmsKey": return value.hasPrefix("alias/") ? value : "key/" + value
        case "roleArn": return "arn:\(context.partition):iam::\(context.account):role/\(value)"
        case "s3CopySource": return s3CopySource(value)
        case "path": return uriEncode(value)
        case "secretName":
            // A Secrets Manager secret named by its name: its ARN ends in "-" and six random characters, which AWS
            // says a policy naming the secret by name must match with "-??????" (the name alone matched no secret's
            // ARN; session 12 probe). An ARN value is used whole (see `fill`).
            return value + "-??????"
        case "iamPath":
            // An IAM name whose ARN carries the request's Path (CreateRole --path /eng/ → role/eng/NAME; it recorded
            // role/NAME, which a policy built from the ledger would not match; session 12 probe). "/" or no Path: the
            // name alone. A Path IAM would refuse (not /…/ of printable ASCII, over 512 bytes) fills nothing.
            guard let path = context.parameters["Path"], path != "/" else { return value }
            guard path.utf8.count >= 2, path.utf8.count <= 512, path.hasPrefix("/"), path.hasSuffix("/"),
                  path.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return nil }
            return String(path.dropFirst()) + value
        default: return nil
        }
    }

    /// "/bucket/key%20name?versionId=v" → "bucket/key name" (CopySource is URL-encoded).
    static func s3CopySource(_ value: String) -> String {
        var text = Substring(value)
        if let q = text.firstIndex(of: "?") { text = text[..<q] }
        if text.hasPrefix("/") { text = text.dropFirst() }
        return percentDecode(text)
    }

    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2,
               let h = hexValue(it[it.startIndex]), let l = hexValue(it[it.startIndex + 1]) {
                bytes.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    static let knownTransforms: Set<String> = [
        "arn", "lastPathSegment", "stripLeadingSlash", "logGroupName", "kmsKey", "roleArn", "s3CopySource", "queueAccount",
        "stripAliasPrefix", "path", "iamPath", "secretName",
    ]

    /// A request-path label as the SDKs send it: every byte but A-Z a-z 0-9 - . _ ~ percent-encoded (API Gateway's
    /// IAM resources are the request path: `/tags/arn%3Aaws%3Aapigateway...`).
    static func uriEncode(_ value: String) -> String {
        var out = ""
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    struct PatternError: Error, CustomStringConvertible { var description: String }

    /// Parses "arn:${Partition}:s3:::${in:Bucket}/${in:Key}" into segments; "*" into [].
    static func compile(_ pattern: String) throws -> [PatternSegment] {
        if pattern == "*" { return [] }
        var segments: [PatternSegment] = []
        let bytes = Array(pattern.utf8)
        var literalStart = 0
        var i = 0
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        while i + 1 < bytes.count {
            guard bytes[i] == UInt8(ascii: "$"), bytes[i + 1] == UInt8(ascii: "{") else { i += 1; continue }
            guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                throw PatternError(description: "unterminated ${ in \(pattern)")
            }
            if i > literalStart { segments.append(.literal(text(literalStart..<i))) }
            let name = text((i + 2)..<close)
            switch name {
            case "Partition": segments.append(.partition)
            case "Region": segments.append(.region)
            case "Account": segments.append(.account)
            default:
                guard name.hasPrefix("in:") else { throw PatternError(description: "unknown variable ${\(name)} in \(pattern)") }
                let spec = name.dropFirst(3)
                if let bar = spec.firstIndex(of: "|") {
                    let transform = String(spec[spec.index(after: bar)...])
                    guard knownTransforms.contains(transform) else {
                        throw PatternError(description: "unknown transform \(transform) in \(pattern)")
                    }
                    segments.append(.member(String(spec[..<bar]), transform: transform))
                } else {
                    segments.append(.member(String(spec), transform: nil))
                }
            }
            i = close + 1
            literalStart = i
        }
        if literalStart < bytes.count { segments.append(.literal(text(literalStart..<bytes.count))) }
        return segments
    }
}
