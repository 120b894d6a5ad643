import Foundation
import TallyCore

extension OperationIdentifier {
    /// Identifies the request.
    ///
    /// - Service: the models whose signing name is the credential scope's service (`monitoring` → CloudWatch);
    ///   when none, the Host's first label as an endpoint prefix (`sqs.us-east-1.amazonaws.com`).
    /// - Operation: `smithy-protocol: rpc-v2-cbor` with `/service/<Service>/operation/<Operation>` (RPC v2 CBOR);
    ///   `X-Amz-Target: Prefix.Operation` (JSON); else the `Action` parameter of the form body or query
    ///   (query / EC2); else REST route matching from botocore's requestUri — method, path template (`{Label}`,
    ///   `{Label+}`), requestUri query literals (`?uploads`, `?list-type=2`) and required query / header members,
    ///   the most specific route winning. S3 requests are identified path-style from the request path (what the
    ///   gateway forwards); a virtual-hosted Host (`bucket.s3.amazonaws.com`) is only reported
    ///   (``IdentifiedOperation/virtualHostedBucket``), unless `virtualHostBaseDomain` is given and the Host is
    ///   `bucket.<virtualHostBaseDomain>`: then the bucket is put in front of the path and
    ///   ``IdentifiedOperation/forwardPath`` is that path-style path, which the gateway must forward.
    /// - Parameters: JSON / CBOR: the body's top-level members (scalars as text, other values as ""); query: the form /
    ///   query parameters without `Action`/`Version` (`A.member.1` → `A`: ""); REST: labels, query-string and
    ///   header members mapped back to member names, plus the top-level members of a JSON body.
    ///
    /// - Parameter body: the request body when buffered (query/json protocols); nil when streamed.
    /// - Parameter virtualHostBaseDomain: the gateway's own S3 endpoint domain (e.g. `s3.tally.internal` or
    ///   `localhost`, a port is ignored); only Hosts below it are read as virtual-hosted buckets. nil: none.
    public func identify(_ head: HTTPRequestHead, signingName: String, region: String, body: [UInt8]?,
                         virtualHostBaseDomain: String? = nil) -> IdentifiedOperation {
        var out = identifyCore(head, signingName: signingName, region: region, body: body,
                               virtualHostBaseDomain: virtualHostBaseDomain)
        out.serviceFromHost = (model.bySigningName[signingName] ?? []).isEmpty && out.modelName != nil
        return out
    }

    func identifyCore(_ head: HTTPRequestHead, signingName: String, region: String, body: [UInt8]?,
                      virtualHostBaseDomain: String?) -> IdentifiedOperation {
        // S3 Express and S3 Object Lambda sign with their own names for S3's API.
        var candidates = model.bySigningName[signingName == "s3express" || signingName == "s3-object-lambda" ? "s3" : signingName] ?? []
        if candidates.isEmpty, let host = head.value(of: "host"), let first = host.split(separator: ".").first {
            candidates = model.byEndpointPrefix[String(first)] ?? []
        }
        let unknown = IdentifiedOperation(service: signingName, signingName: signingName, operation: nil,
                                          protocol: guessProtocol(head), parameters: [:], region: region)
        guard !candidates.isEmpty else { return unknown }

        // Smithy RPC v2 CBOR: POST /service/<Service>/operation/<Operation>.
        if let h = head.value(of: "smithy-protocol"), ASCII.trim(h) == "rpc-v2-cbor" {
            let parts = head.path.split(separator: "/")
            let service = parts.count >= 4 && parts[parts.count - 4] == "service" && parts[parts.count - 2] == "operation"
                ? String(parts[parts.count - 3]) : ""
            let opName = parts.count >= 2 ? URIEncoding.decode(parts[parts.count - 1]) : ""
            let hasOp = { (n: String) in self.model.services[n]?.operations[opName] != nil }
            let svcName = candidates.first { hasOp($0) && model.services[$0]?.targetPrefix == service }
                ?? candidates.first(where: hasOp) ?? candidates[0]
            let svc = model.services[svcName]!
            var out = IdentifiedOperation(service: svc.signingName, signingName: signingName,
                                          operation: hasOp(svcName) && !service.isEmpty ? opName : nil, protocol: .rpcV2CBOR,
                                          parameters: body.flatMap { CBOR.topLevelMembers($0) } ?? [:], region: region,
                                          queryCompatible: svc.queryCompatible ?? false, modelName: svc.name)
            if out.operation == nil {
                out.unidentifiedReason = "RPC v2 CBOR path \(head.path) names no \(svc.name) operation"
            } else if svc.protocol != .json || svc.targetPrefix != service || head.value(of: "x-amz-target") != nil
                        || Self.carriesAction(head, body: body) {
                // CBOR only where the service is an RPC service addressed by its own name, and with nothing else that an
                // upstream could route by (X-Amz-Target, an Action): session 9 probe.
                out.operation = nil
                out.unidentifiedReason = "RPC v2 CBOR request that \(svc.name) would not route by its path alone"
            }
            return out
        }

        // JSON RPC: X-Amz-Target.
        if let target = head.value(of: "x-amz-target") {
            // "Prefix.Operation"; prefixes may contain dots (com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101).
            let dot = target.lastIndex(of: ".")
            let prefix = dot.map { String(target[..<$0]) } ?? ""
            let opName = dot.map { String(target[target.index(after: $0)...]) } ?? target
            let byPrefix = (model.byTargetPrefix[prefix] ?? []).filter { candidates.contains($0) }
            let hasOp = { (n: String) in self.model.services[n]?.operations[opName] != nil }
            let svcName = byPrefix.first(where: hasOp) ?? byPrefix.first ?? candidates.first(where: hasOp) ?? candidates[0]
            let svc = model.services[svcName]!
            var out = IdentifiedOperation(service: svc.signingName, signingName: signingName,
                                          operation: svc.operations[opName] != nil ? opName : nil, protocol: .json,
                                          parameters: Self.jsonParameters(body), region: region,
                                          jsonVersion: svc.jsonVersion ?? jsonVersion(of: head),
                                          queryCompatible: svc.queryCompatible ?? false, modelName: svc.name)
            if out.operation == nil {
                out.unidentifiedReason = "X-Amz-Target '\(target)' names no \(svc.name) operation (matched case-sensitively)"
            } else if byPrefix.isEmpty || svc.protocol != .json {
                // Only a JSON-RPC service is called by X-Amz-Target, with its own prefix. On a query service (IAM, STS)
                // the upstream ran the form's Action while Tally identified (checked, recorded, masked) the header's
                // operation: `X.GetUser` with `Action=CreateAccessKey` returned an unmasked key (session 9 probe).
                out.operation = nil
                out.unidentifiedReason = "X-Amz-Target '\(target)' is not a \(svc.name) JSON operation target "
                    + (svc.protocol != .json ? "(\(svc.name) is not called by X-Amz-Target)" : "(the prefix is not \(svc.targetPrefix ?? "?"))")
            } else if Self.carriesAction(head, body: body) {
                // An upstream that reads a form Action (moto does, from the query string or a form body) would run it
                // instead of the target (session 9 probes). A JSON body is not read as a form: real JSON services route
                // by the target alone, and stored data may well hold "&Action=" (moto alone also reads that).
                out.operation = nil
                out.unidentifiedReason = "X-Amz-Target '\(target)' next to an Action parameter (ambiguous)"
            } else if let extra = head.queryItems.first(where: { !Self.isQueryAuthParameter($0.name) }) {
                // A JSON-RPC request's input is its body alone; an upstream that also reads the query string (moto takes
                // a query value before the body's member: a `roleArn` there was stored unseen, session 10 re-probe) would
                // act on input Tally never saw. Query authentication's own X-Amz-* parameters are allowed.
                out.operation = nil
                out.unidentifiedReason = "JSON request with query parameter '\(extra.name)' (its input is the body alone)"
            }
            return out
        }

        // Query / EC2: Action in the form body or the query string.
        var formItems: [(name: String, value: String)] = []
        if let body, isForm(head) {
            formItems = QueryString.formPairs(String(decoding: body, as: UTF8.self))
        } else if let body, !body.isEmpty,
                  candidates.contains(where: { [.query, .ec2, .json].contains(model.services[$0]!.protocol) }) {
            // A form body with another (or no) Content-Type: lenient upstreams still run its Action, and Content-Type
            // need not be signed (the JavaScript SDK v2 leaves it out), so read the Action whatever the header says.
            let items = QueryString.formPairs(String(decoding: body, as: UTF8.self))
            if items.contains(where: { $0.name == "Action" }) { formItems = items }
        }
        let queryItems = head.queryItems
        if let action = (formItems.first { $0.name == "Action" } ?? queryItems.first { $0.name == "Action" })?.value {
            let items = formItems.contains { $0.name == "Action" } ? formItems : queryItems
            let version = items.first { $0.name == "Version" }?.value
            // A repeated Action/Version, or an Action in both the query and the body, could be read differently by
            // the upstream: never identify from one copy (review finding 5).
            let count = { (list: [(name: String, value: String)], n: String) in list.reduce(0) { $0 + ($1.name == n ? 1 : 0) } }
            var ambiguity: String?
            if count(formItems, "Action") > 1 || count(queryItems, "Action") > 1 { ambiguity = "the Action parameter is repeated" }
            else if count(formItems, "Version") > 1 || count(queryItems, "Version") > 1 { ambiguity = "the Version parameter is repeated" }
            else if count(formItems, "Action") > 0 && count(queryItems, "Action") > 0 {
                ambiguity = "Action is sent in both the query string and the form body"
            } else if count(formItems, "Version") > 0 && count(queryItems, "Version") > 0 {
                ambiguity = "Version is sent in both the query string and the form body"
            } else if items.count > 1, Set(items.map(\.name)).count != items.count {
                ambiguity = "a parameter is repeated"
            } else {
                // Parameters on the other side of the request from Action: an upstream that merges the two would act on
                // them (e.g. the UserName of an IAM call) while the gateway identified and checked the call without
                // them (review finding, session 9). Query authentication's own X-Amz-* parameters are not parameters.
                let other = formItems.contains { $0.name == "Action" }
                    ? queryItems.filter { !Self.isQueryAuthParameter($0.name) } : formItems
                if let extra = other.first {
                    ambiguity = "parameter '\(extra.name)' is sent apart from Action (query string and form body both carry parameters)"
                } else if formItems.isEmpty, let body, !body.isEmpty {
                    // The Action is in the query string and the body was not read as a form: an upstream may still read
                    // parameters from it (moto ran a multipart/form-data body's Action=CreateUser while Tally identified
                    // and checked the query's ListUsers; session 15 probe).
                    let type = head.value(of: "content-type").map { "Content-Type '\($0)'" } ?? "no Content-Type"
                    ambiguity = "a body (\(type)) that is not read as a URL-encoded form is sent beside the query string's Action"
                }
            }
            let svcName = candidates.first { model.services[$0]!.operations[action] != nil && model.services[$0]!.apiVersion == version }
                ?? candidates.first { model.services[$0]!.operations[action] != nil } ?? candidates[0]
            let svc = model.services[svcName]!
            var params: [String: String] = [:]
            for (n, v) in items where n != "Action" && n != "Version" {
                if let dot = n.firstIndex(of: ".") { params[String(n[..<dot])] = "" } else { params[n] = v }
            }
            // SQS over the query protocol addresses the queue by the request path (/account/queue).
            if svc.name == "sqs", params["QueueUrl"] == nil, head.path.split(separator: "/").count == 2,
               let host = head.value(of: "host") {
                params["QueueUrl"] = "https://\(host)\(head.path)"
            }
            // SQS's model is JSON now; its query form (older SDKs) names the tags of CreateQueue `Tag.N.Key`, the JSON
            // member `tags`, which is what the IAM mapping tests (with tags, CreateQueue also needs sqs:TagQueue).
            if svc.name == "sqs", params["Tag"] != nil, params["tags"] == nil { params["tags"] = "" }
            var out = IdentifiedOperation(service: svc.signingName, signingName: signingName,
                                          operation: svc.operations[action] != nil && ambiguity == nil ? action : nil,
                                          protocol: svc.protocol == .ec2 ? .ec2 : .query, parameters: params, region: region,
                                          queryCompatible: svc.queryCompatible ?? false, modelName: svc.name)
            if let ambiguity {
                out.unidentifiedReason = "ambiguous query request: \(ambiguity)"
            } else if out.operation == nil {
                out.unidentifiedReason = "Action '\(action)' names no \(svc.name) operation (AWS matches Action case-sensitively)"
            }
            return out
        }

        // `Operation` is a legacy alias of `Action` some query APIs still accept (Auto Scaling's documentation): never
        // guess, report it unidentified.
        if let svc = candidates.lazy.compactMap({ self.model.services[$0] }).first(where: { $0.protocol == .query || $0.protocol == .ec2 }),
           formItems.contains(where: { $0.name == "Operation" }) || queryItems.contains(where: { $0.name == "Operation" })
            || (body.map { isForm(head) && QueryString.formPairs(String(decoding: $0, as: UTF8.self)).contains { $0.name == "Operation" } } ?? false) {
            var out = IdentifiedOperation(service: svc.signingName, signingName: signingName, operation: nil,
                                          protocol: svc.protocol == .ec2 ? .ec2 : .query, parameters: [:], region: region,
                                          modelName: svc.name)
            out.unidentifiedReason = "the legacy Operation parameter (an alias of Action) is not identified; send Action"
            return out
        }

        // REST. Routes come most specific first: once a route matched, only a higher score can replace it, so a
        // service's routes are read until the first that matches or whose score cannot beat the best so far.
        var best: (svc: ServiceModel, route: Route, labels: [String: String], score: Int)?
        let hostBucket = Self.virtualHostedBucket(head.value(of: "host"), baseDomain: virtualHostBaseDomain)
        let query = QueryLookup(queryItems)
        let method = ASCII.uppercasedMethod(head.method)
        var segmented: (path: String, segs: [String], slash: Bool)?
        for name in candidates {
            let svc = model.services[name]!
            guard let routes = svc.routes[method] else { continue }
            let path = restPath(head, service: svc, honouredBucket: hostBucket.honoured ? hostBucket.bucket : nil)
            if segmented?.path != path { segmented = (path, Self.pathSegments(path), Self.hasTrailingSlash(path)) }
            let (_, segs, slash) = segmented!
            for route in routes {
                if let best, route.score <= best.score { break }
                guard route.mayMatch(segs), route.accepts(query: query, head: head),
                      let labels = route.match(segs, trailingSlash: slash) else { continue }
                best = (svc, route, labels, route.score)
                break
            }
        }
        let isS3Model = { (svc: ServiceModel) in svc.name == "s3" }
        guard let best else {
            let svc = model.services[candidates[0]]!
            // A service with no REST routes (query, JSON or CBOR) was called with no Action, target or CBOR path that
            // names an operation: a form request is answered in the query format it implies (it got JSON from
            // CloudWatch, whose model is JSON now, which the older SDK sending it could not parse; session 15 probe).
            let rest = svc.protocol == .restJSON || svc.protocol == .restXML
            var out = IdentifiedOperation(service: svc.signingName, signingName: signingName, operation: nil,
                                          protocol: !rest && isForm(head) && svc.protocol != .ec2 ? .query : svc.protocol,
                                          parameters: [:], region: region, modelName: svc.name)
            if !rest, let body, !body.isEmpty,
               let coding = head.value(of: "content-encoding").map({ ASCII.trim($0) }), !coding.isEmpty, coding.lowercased() != "identity" {
                // Older SDKs gzip a query-protocol body (CloudWatch PutMetricData of 10 KiB or more): its Action is inside.
                out.unidentifiedReason = "the \(coding)-encoded body could not be read for its Action (Tally reads request bodies "
                    + "as sent: turn request compression off, AWS config disable_request_compression = true or env "
                    + "AWS_DISABLE_REQUEST_COMPRESSION=true)"
            } else {
                out.unidentifiedReason = "no \(svc.name) route matches \(head.method) \(head.path)"
            }
            if isS3Model(svc), let b = hostBucket.bucket {
                out.virtualHostedBucket = b
                if hostBucket.honoured { out.forwardPath = restPath(head, service: svc, honouredBucket: b) }
            }
            return out
        }
        var params: [String: String] = [:]
        if best.svc.protocol == .restJSON && best.route.payload == nil { params = Self.jsonParameters(body) }
        for (label, value) in best.labels { params[best.route.memberByLabel[label] ?? label] = value }
        for (member, name) in best.route.queryMembers { if let v = query[name] { params[member] = v } }
        for (member, name) in best.route.headerMembers { if let v = head.value(of: name) { params[member] = v } }
        // aws-chunked is S3's transfer framing, not the object's Content-Encoding.
        if let ce = params["ContentEncoding"], best.svc.protocol == .restXML {
            let kept = ce.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != "aws-chunked" }
            params["ContentEncoding"] = kept.isEmpty ? nil : kept.joined(separator: ",")
        }
        var out = IdentifiedOperation(service: best.svc.signingName, signingName: signingName, operation: best.route.operation,
                                      protocol: best.svc.protocol, parameters: params, region: region, modelName: best.svc.name)
        if isS3Model(best.svc), let b = hostBucket.bucket {
            out.virtualHostedBucket = b
            if hostBucket.honoured { out.forwardPath = restPath(head, service: best.svc, honouredBucket: b) }
        }
        if isS3Model(best.svc) {
            let s3Path = restPath(head, service: best.svc, honouredBucket: hostBucket.honoured ? hostBucket.bucket : nil)
            // S3 keeps empty segments in a key (`a//b`, a key starting with `/`): the key is the raw path after the
            // bucket, not the joined non-empty segments, or two objects would be recorded as one (review, session 9).
            // (Only a path with an empty segment, `//`, can differ; the others skip the work.)
            if best.route.hasGreedy, Self.hasEmptySegment(head.path), let key = best.route.memberByLabel["Key"], params[key] != nil {
                let afterSlash = s3Path.hasPrefix("/") ? s3Path.dropFirst() : s3Path[...]
                if let slash = afterSlash.firstIndex(of: "/"),
                   URIEncoding.decode(afterSlash[..<slash]) == params[best.route.memberByLabel["Bucket"] ?? "Bucket"] {
                    params[key] = URIEncoding.decode(afterSlash[afterSlash.index(after: slash)...])
                    out.parameters = params
                } else {
                    out.operation = nil
                    out.unidentifiedReason = "the path \(head.path) has an empty segment before the object key"
                }
            }
            // A bucket name never holds '/': `/bucket%2Fkey` was identified as a bucket call (ListObjects, CreateBucket)
            // and run by moto as an object call, past deny rules on the object actions (session 9 re-probe).
            if let bucket = params[best.route.memberByLabel["Bucket"] ?? "Bucket"], bucket.utf8.contains(UInt8(ascii: "/")) {
                out.operation = nil
                out.unidentifiedReason = "the bucket name '\(bucket)' holds a '/' (an encoded %2F in the path)"
            }
            // S3 takes x-amz-* request headers from the query string too (presigned URLs may carry them so): an
            // `?x-amz-acl=public-read` or `?x-amz-copy-source=...` would act unread by the checks, which read headers
            // (session 15 probe: the header form of a public ACL was refused, the query form forwarded). Only query
            // authentication's own parameters are taken, and `X-Amz-Content-Sha256=UNSIGNED-PAYLOAD`, which the
            // JavaScript v3, PHP v3 and Go v1 SDKs put in every presigned S3 URL (it says what a presigned URL means anyway).
            if out.operation != nil, let extra = queryItems.first(where: {
                Self.isQueryAuthParameter($0.name) && !Self.isSigV4QueryParameter($0.name)
                    && !(asciiCaseInsensitiveEquals($0.name, "x-amz-content-sha256") && $0.value == "UNSIGNED-PAYLOAD")
            }) {
                out.operation = nil
                out.unidentifiedReason = "the S3 request parameter '\(extra.name)' is in the query string (send it as a header)"
            }
            // A request that also fits another operation's route whose requirements the chosen one does not include
            // (`?policy&acl`; `?uploadId=..&partNumber=..&acl`): S3 picks one by rules of its own, and Tally might
            // identify, check and record the other (a public policy checked as an ACL; an UploadPartCopy recorded as
            // PutObjectAcl). Never identified (review, session 9). Query authentication's X-Amz-* names never decide.
            if out.operation != nil, queryItems.contains(where: { !Self.isQueryAuthParameter($0.name) }) {
                func requirements(_ r: Route) -> Set<String> {
                    Set(r.queryLiterals.map { "?" + $0.0 } + r.requiredQuery.map { "?" + $0 } + r.requiredHeaders.map { $0.lowercased() })
                }
                let mine = requirements(best.route)
                // The route loop above split this path already (the S3 model's path); split again only if it did not.
                let (segs, slash) = segmented?.path == s3Path ? (segmented!.segs, segmented!.slash)
                    : (Self.pathSegments(s3Path), Self.hasTrailingSlash(s3Path))
                for other in best.svc.routes[method] ?? [] where other !== best.route && other.operation != best.route.operation {
                    guard other.mayMatch(segs), other.accepts(query: query, head: head), other.match(segs, trailingSlash: slash) != nil
                    else { continue }
                    let theirs = requirements(other)
                    guard !theirs.isSubset(of: mine) else { continue }
                    out.operation = nil
                    out.unidentifiedReason = "the request fits both \(best.route.operation) and \(other.operation) "
                        + "(\(theirs.subtracting(mine).sorted().joined(separator: ", ")) next to "
                        + "\(mine.sorted().joined(separator: ", ")))"
                    break
                }
            }
        }
        return out
    }

    /// True when `path` holds `//` (an empty segment).
    static func hasEmptySegment(_ path: String) -> Bool {
        var previousSlash = false
        for b in path.utf8 {
            let slash = b == UInt8(ascii: "/")
            if slash && previousSlash { return true }
            previousSlash = slash
        }
        return false
    }

    /// True when the request carries a form `Action` an upstream could run: in the query string, in a form body, or as
    /// a header named `Action` (moto reads one when the query and body hold none: it deleted a queue past a deny rule
    /// while Tally identified the X-Amz-Target's ListQueues; session 15 probe).
    static func carriesAction(_ head: HTTPRequestHead, body: [UInt8]?) -> Bool {
        head.queryItems.contains { $0.name == "Action" } || body.map(formHasAction) == true || head.value(of: "action") != nil
    }

    /// True for query authentication's own parameters (`X-Amz-Algorithm`, `X-Amz-Signature`, ...), any case.
    static func isQueryAuthParameter(_ name: String) -> Bool { ASCII.hasPrefixIgnoringCase(name, "x-amz-") }

    /// True for one of ``SigV4/presignQueryParameters``, any case (compared without allocating: a presigned URL's six or
    /// seven are tested on every call).
    static func isSigV4QueryParameter(_ name: String) -> Bool {
        SigV4.presignQueryParameters.contains { asciiCaseInsensitiveEquals(name, $0) }
    }

    /// True when `body` reads as a form with an `Action` parameter (`Action=...` at the start or after `&`).
    static func formHasAction(_ body: [UInt8]) -> Bool {
        // Cheap first: no "Action=" bytes, no Action parameter. A JSON object (or CBOR map) body is not a form.
        guard body.withUnsafeBytes({ ByteSearch.contains($0, Array("Action=".utf8)) }) else { return false }
        let first = body.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if first == UInt8(ascii: "{") || (first.map { $0 >> 5 == 5 } ?? false) { return false }
        return QueryString.formPairs(String(decoding: body, as: UTF8.self)).contains { $0.name.trimmingCharacters(in: .whitespaces) == "Action" }
    }

    /// The path to match: the request path, with an honoured virtual-hosted S3 bucket put in front.
    func restPath(_ head: HTTPRequestHead, service: ServiceModel, honouredBucket: String?) -> String {
        let path = head.path.isEmpty ? "/" : head.path
        guard service.name == "s3", let bucket = honouredBucket else { return path }
        return "/" + URIEncoding.encode(bucket) + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// The bucket a Host names in virtual-hosted style: `bucket.<baseDomain>` (honoured) when `baseDomain` is
    /// given and matches, else an AWS S3 virtual-hosted Host (``virtualHostedBucket(_:)``, not honoured).
    static func virtualHostedBucket(_ host: String?, baseDomain: String?) -> (bucket: String?, honoured: Bool) {
        if let host, let baseDomain {
            let h = stripPort(host.lowercased()), base = stripPort(baseDomain.lowercased())
            if !base.isEmpty, h.hasSuffix("." + base) {
                let bucket = String(h.dropLast(base.utf8.count + 1))
                if !bucket.isEmpty { return (bucket, true) }
            }
        }
        return (virtualHostedBucket(host), false)
    }

    static func stripPort(_ host: String) -> String {
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { return String(host[..<colon]) }
        return host
    }

    /// The bucket of an S3 virtual-hosted-style Host (`bucket.s3.amazonaws.com`, `bucket.s3.us-west-2.amazonaws.com`,
    /// `bucket.s3-us-west-2.amazonaws.com`), or of a subdomain of `localhost` (`bucket.localhost:8080`: what an SDK
    /// with virtual addressing makes of the endpoint `http://localhost:8080`; forwarded path-style it ran another
    /// operation on another bucket, session 11 probe); nil for path-style hosts (`s3.amazonaws.com`,
    /// `localhost:5056`, IPs).
    public static func virtualHostedBucket(_ host: String?) -> String? {
        guard let host else { return nil }
        // Every request asks, and almost no Host is an AWS one: an ASCII Host (port stripped) that does not end in
        // `.amazonaws.com` or `.amazonaws.com.cn` (any case) names no bucket — decided on its bytes, no copies.
        if let aws = endsWithAWSDomain(host), !aws {
            return hostEnds(host, with: ".localhost") == true ? localhostBucket(host) : nil
        }
        var lower = host.lowercased()
        if let colon = lower.lastIndex(of: ":"), !lower.hasSuffix("]") { lower = String(lower[..<colon]) }
        if lower.hasSuffix(".localhost") { return localhostBucket(host) }
        for marker in [".s3.", ".s3-"] {
            if let r = lower.rangeOfBytes(marker), lower.hasSuffix(".amazonaws.com") || lower.hasSuffix(".amazonaws.com.cn") {
                let bucket = String(lower[..<r.lowerBound])
                return bucket.isEmpty ? nil : bucket
            }
        }
        return nil
    }

    /// The labels before `.localhost` (lower-cased, port stripped); nil when there are none.
    static func localhostBucket(_ host: String) -> String? {
        let lower = stripPort(host.lowercased())
        guard lower.hasSuffix(".localhost") else { return nil }
        let bucket = String(lower.dropLast(".localhost".count))
        return bucket.isEmpty ? nil : bucket
    }

    /// For an ASCII Host: whether it ends (after a `:port`, unless it ends in `]`) in `.amazonaws.com` or
    /// `.amazonaws.com.cn`, ignoring ASCII case. nil for a Host with non-ASCII bytes (Unicode lower-casing and
    /// grapheme rules apply to those: the caller takes the general path).
    static func endsWithAWSDomain(_ host: String) -> Bool? {
        guard let com = hostEnds(host, with: ".amazonaws.com") else { return nil }
        return com || hostEnds(host, with: ".amazonaws.com.cn") == true
    }

    /// For an ASCII Host: whether it ends (after a `:port`, unless it ends in `]`) in `suffix` (lower-case ASCII),
    /// ignoring ASCII case; nil for a Host with non-ASCII bytes.
    static func hostEnds(_ host: String, with suffix: StaticString) -> Bool? {
        var host = host
        return host.withUTF8 { u -> Bool? in
            if u.contains(where: { $0 >= 0x80 }) { return nil }
            var end = u.count
            if end > 0, u[end - 1] != UInt8(ascii: "]"), let colon = u.lastIndex(of: UInt8(ascii: ":")) { end = colon }
            func endsWith(_ suffix: StaticString) -> Bool {
                let n = suffix.utf8CodeUnitCount
                guard end >= n else { return false }
                let s = suffix.utf8Start
                for i in 0..<n {
                    let c = u[end - n + i]
                    if (c >= 65 && c <= 90 ? c + 32 : c) != s[i] { return false }
                }
                return true
            }
            return endsWith(suffix)
        }
    }

    /// The path's segments (empty ones omitted), each percent-decoded. An ASCII path is split on its `/` bytes;
    /// another one by Characters, as before (a `/` followed by a combining mark is not a separator there).
    static func pathSegments(_ path: String) -> [String] {
        let u = path.utf8
        guard u.allSatisfy({ $0 < 0x80 }) else {
            return path.split(separator: "/", omittingEmptySubsequences: true).map { URIEncoding.decode($0) }
        }
        var segs: [String] = []
        var start = u.startIndex, i = u.startIndex
        while i != u.endIndex {
            if u[i] == UInt8(ascii: "/") {
                if i != start { segs.append(URIEncoding.decode(Substring(u[start..<i]))) }
                start = u.index(after: i)
            }
            i = u.index(after: i)
        }
        if start != u.endIndex { segs.append(URIEncoding.decode(Substring(u[start...]))) }
        return segs
    }

    /// True when the path is longer than `/` and ends in `/`.
    static func hasTrailingSlash(_ path: String) -> Bool {
        guard path.utf8.count > 1 else { return false }
        if path.utf8.allSatisfy({ $0 < 0x80 }) { return path.utf8.last == UInt8(ascii: "/") }
        return path.hasSuffix("/")
    }

    /// Top-level members of a JSON object body: scalars as text, arrays/objects/null as "".
    static func jsonParameters(_ body: [UInt8]?) -> [String: String] {
        guard let body, !body.isEmpty, let value = try? JSONValue(parsing: body), let obj = value.objectValue else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in obj {
            switch v {
            case .string(let s): out[k] = s
            case .number(let n): out[k] = n
            case .bool(let b): out[k] = b ? "true" : "false"
            default: out[k] = ""
            }
        }
        return out
    }

    func isForm(_ head: HTTPRequestHead) -> Bool {
        head.value(of: "content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
    }

    func jsonVersion(of head: HTTPRequestHead) -> String? {
        guard let ct = head.value(of: "content-type"), let r = ct.rangeOfBytes("application/x-amz-json-") else { return nil }
        return String(ct[r.upperBound...].prefix(3))
    }

    func guessProtocol(_ head: HTTPRequestHead) -> AWSProtocol {
        if head.value(of: "smithy-protocol") != nil { return .rpcV2CBOR }
        if head.value(of: "x-amz-target") != nil { return .json }
        if isForm(head) { return .query }
        return .restJSON
    }
}
