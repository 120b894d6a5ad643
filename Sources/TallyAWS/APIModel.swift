import Foundation
import TallyCore

/// The compact API model written by `Tools/generate-api-model.py` (schema documented there), indexed for
/// identification: services by signing name, by endpoint prefix and by JSON target prefix; REST routes
/// compiled and grouped by method.
struct APIModel: Sendable {
    var source: String
    var services: [String: ServiceModel]
    var bySigningName: [String: [String]] = [:]
    var byEndpointPrefix: [String: [String]] = [:]
    var byTargetPrefix: [String: [String]] = [:]

    init(json data: Data) throws {
        let root = try JSONValue(parsing: data)
        guard let source = root["source"]?.stringValue, let raw = root["services"]?.objectValue else {
            throw TallyError(.badInput, "api-model.json: expected an object with \"source\" and \"services\"")
        }
        self.source = source
        services = [:]
        for (name, value) in raw {
            let svc = try ServiceModel(name: name, json: value)
            services[name] = svc
            bySigningName[svc.signingName, default: []].append(name)
            byEndpointPrefix[svc.endpointPrefix, default: []].append(name)
            if let t = svc.targetPrefix, !t.isEmpty { byTargetPrefix[t, default: []].append(name) }
        }
        // The model named like the signing name first (rds before docdb and neptune, which share its endpoint).
        for k in bySigningName.keys {
            bySigningName[k]!.sort { a, b in (a == k) != (b == k) ? a == k : a < b }
        }
        for k in byTargetPrefix.keys { byTargetPrefix[k]!.sort() }
        for k in byEndpointPrefix.keys { byEndpointPrefix[k]!.sort() }
    }
}

/// One service of the model. A class: identification reads several per request, and a copy of the struct (a
/// dozen reference-counted members) cost more than the lookups themselves.
final class ServiceModel: Sendable {
    let name: String
    let signingName: String
    let endpointPrefix: String
    let `protocol`: AWSProtocol
    let apiVersion: String?
    let targetPrefix: String?
    let jsonVersion: String?
    let queryCompatible: Bool?
    let operations: [String: OperationModel]
    /// REST services: the compiled routes by HTTP method, most specific first (``Route/score`` descending, then
    /// operation name), so identification can stop at the first route that matches once no later one can win.
    let routes: [String: [Route]]

    init(name: String, json: JSONValue) throws {
        func str(_ k: String) -> String? { json[k]?.stringValue }
        guard let signingName = str("signingName"), let endpointPrefix = str("endpointPrefix"),
              let p = str("protocol"), let proto = AWSProtocol(rawValue: p), let ops = json["operations"]?.objectValue else {
            throw TallyError(.badInput, "api-model.json: service \(name) lacks signingName, endpointPrefix, protocol or operations")
        }
        self.name = name
        self.signingName = signingName
        self.endpointPrefix = endpointPrefix
        self.protocol = proto
        apiVersion = str("apiVersion")
        targetPrefix = str("targetPrefix")
        jsonVersion = str("jsonVersion")
        queryCompatible = json["queryCompatible"]?.boolValue
        var operations: [String: OperationModel] = [:]
        operations.reserveCapacity(ops.count)
        for (opName, op) in ops {
            guard let method = op["method"]?.stringValue, let uri = op["uri"]?.stringValue else {
                throw TallyError(.badInput, "api-model.json: \(name).\(opName) lacks method or uri")
            }
            operations[opName] = OperationModel(
                method: method, uri: uri,
                members: op["members"]?.objectValue?.compactMapValues(\.stringValue),
                required: op["required"]?.arrayValue?.compactMap(\.stringValue),
                payload: op["payload"]?.stringValue)
        }
        self.operations = operations
        routes = Self.compileRoutes(operations, protocol: proto)
    }

    private static func compileRoutes(_ operations: [String: OperationModel], protocol proto: AWSProtocol) -> [String: [Route]] {
        guard proto == .restJSON || proto == .restXML else { return [:] }
        var routes: [String: [Route]] = [:]
        for (name, op) in operations {
            routes[op.method, default: []].append(Route(operation: name, model: op))
        }
        for k in routes.keys { routes[k]!.sort { ($0.score, $1.operation) > ($1.score, $0.operation) } }
        return routes
    }
}

struct OperationModel: Sendable {
    var method: String
    var uri: String
    /// member name → "uri:Label" | "querystring:name" | "header:Name"
    var members: [String: String]?
    /// required query / header members ("querystring:uploadId", "header:x-amz-copy-source")
    var required: [String]?
    /// the input member bound to the whole body (Lambda Invoke's Payload, S3 PutObject's Body)
    let payload: String?
}

/// A compiled REST route: path template segments and the query literals of its requestUri.
final class Route: Sendable {
    enum Segment: Sendable {
        case literal(String)
        /// `prefix{Label}suffix` within one segment.
        case label(name: String, prefix: String, suffix: String)
        /// `{Label+}`: the rest of the path (one or more segments).
        case greedy(name: String, prefix: String)
    }

    let operation: String
    let segments: [Segment]
    let trailingSlash: Bool
    /// Query literals from the requestUri: `?uploads` → ("uploads", nil); `?list-type=2` → ("list-type", "2").
    let queryLiterals: [(String, String?)]
    let requiredQuery: [String]
    let requiredHeaders: [String]
    let members: [String: String]
    /// From `members`, precomputed for identification: URI label → member, and the members bound to a query
    /// parameter or a header (member, parameter or header name).
    let memberByLabel: [String: String]
    let queryMembers: [(member: String, name: String)]
    let headerMembers: [(member: String, name: String)]
    let payload: String?
    /// How specific the route is when it applies (``score(queryLiterals:required:segments:)``): of the routes that
    /// accept and match a request, the highest score wins.
    let score: Int
    let hasGreedy: Bool
    /// The first template segment when it is a literal.
    let firstLiteral: String?

    init(operation: String, model: OperationModel) {
        self.operation = operation
        let uri = model.uri
        let pathPart: Substring, queryPart: Substring?
        if let q = uri.firstIndex(of: "?") { pathPart = uri[..<q]; queryPart = uri[uri.index(after: q)...] } else {
            pathPart = uri[...]; queryPart = nil
        }
        trailingSlash = pathPart.count > 1 && pathPart.hasSuffix("/")
        segments = pathPart.split(separator: "/", omittingEmptySubsequences: true).map { seg in
            guard let open = seg.firstIndex(of: "{"), let close = seg.firstIndex(of: "}") else { return .literal(String(seg)) }
            var name = String(seg[seg.index(after: open)..<close])
            let prefix = String(seg[..<open]), suffix = String(seg[seg.index(after: close)...])
            if name.hasSuffix("+") { name.removeLast(); return .greedy(name: name, prefix: prefix) }
            return .label(name: name, prefix: prefix, suffix: suffix)
        }
        queryLiterals = (queryPart.map { QueryString.rawPairs(String($0)) } ?? []).map { pair in
            (String(pair.name), pair.value.isEmpty && !String(queryPart!).contains("\(pair.name)=") ? nil : String(pair.value))
        }
        requiredQuery = (model.required ?? []).filter { $0.hasPrefix("querystring:") }.map { String($0.dropFirst(12)) }
        requiredHeaders = (model.required ?? []).filter { $0.hasPrefix("header:") }.map { String($0.dropFirst(7)) }
        members = model.members ?? [:]
        memberByLabel = Dictionary(members.compactMap { m, loc in loc.hasPrefix("uri:") ? (String(loc.dropFirst(4)), m) : nil },
                                   uniquingKeysWith: { a, _ in a })
        queryMembers = members.compactMap { m, loc in loc.hasPrefix("querystring:") ? (m, String(loc.dropFirst(12))) : nil }
        headerMembers = members.compactMap { m, loc in loc.hasPrefix("header:") ? (m, String(loc.dropFirst(7))) : nil }
        payload = model.payload
        if case .literal(let l)? = segments.first { firstLiteral = l } else { firstLiteral = nil }
        hasGreedy = segments.contains { if case .greedy = $0 { true } else { false } }
        score = Self.score(queryLiterals: queryLiterals.count, required: requiredQuery.count + requiredHeaders.count,
                           segments: segments)
    }

    /// Matches the percent-decoded path segments; returns the label values, or nil. A greedy label (`{Key+}`)
    /// takes one or more segments: everything the template segments after it do not need (it may sit
    /// mid-template, as in `/portals/{portalArn+}/browserSettings`).
    func match(_ path: [String], trailingSlash pathHasSlash: Bool) -> [String: String]? {
        guard mayMatch(path) else { return nil }
        var labels: [String: String] = [:]
        var i = 0
        for (k, seg) in segments.enumerated() {
            switch seg {
            case .literal(let lit):
                guard i < path.count, path[i] == lit else { return nil }
                i += 1
            case .label(let name, let prefix, let suffix):
                guard i < path.count else { return nil }
                let v = path[i]
                if prefix.isEmpty && suffix.isEmpty {
                    labels[name] = v
                } else {
                    guard v.hasPrefix(prefix), v.hasSuffix(suffix), v.count > prefix.count + suffix.count else { return nil }
                    labels[name] = String(v.dropFirst(prefix.count).dropLast(suffix.count))
                }
                i += 1
            case .greedy(let name, let prefix):
                let after = segments.count - k - 1
                let end = path.count - after
                guard end > i else { return nil }
                let v = path[i..<end].joined(separator: "/") + (after == 0 && pathHasSlash ? "/" : "")
                if prefix.isEmpty {
                    guard !v.isEmpty else { return nil }
                    labels[name] = v
                } else {
                    guard v.hasPrefix(prefix), v.count > prefix.count else { return nil }
                    labels[name] = String(v.dropFirst(prefix.count))
                }
                i = end
            }
        }
        return i == path.count ? labels : nil
    }

    /// A cheap necessary condition for ``match(_:trailingSlash:)``: the segment count fits (each template segment
    /// takes one path segment, a greedy label one or more) and a leading literal segment is the path's first.
    @inline(__always) func mayMatch(_ path: [String]) -> Bool {
        guard hasGreedy ? path.count >= segments.count : path.count == segments.count else { return false }
        if let firstLiteral { return path.first == firstLiteral }
        return true
    }

    /// How specific the route is for this request (higher wins); nil when its query / header requirements fail.
    func specificity(query: QueryLookup, head: HTTPRequestHead) -> Int? {
        accepts(query: query, head: head) ? score : nil
    }

    /// True when the request meets the route's query literals and required query / header members. `query`'s
    /// name-length mask lets a literal whose length no parameter has be refused without comparing names.
    func accepts(query: QueryLookup, head: HTTPRequestHead) -> Bool {
        for (name, value) in queryLiterals {
            guard query.mayContain(name), let got = query[name] else { return false }
            if let value, got != value { return false }
        }
        for name in requiredQuery where query[name] == nil { return false }
        for name in requiredHeaders where head.value(of: name) == nil { return false }
        return true
    }

    /// The route's specificity when it applies (it depends on the route alone): 100 per requestUri query literal,
    /// 10 per required query or header member, 3 per literal path segment, 2 per label, 1 per greedy label.
    static func score(queryLiterals: Int, required: Int, segments: [Segment]) -> Int {
        var score = 100 * queryLiterals + 10 * required
        for seg in segments {
            switch seg {
            case .literal: score += 3
            case .label: score += 2
            case .greedy: score += 1
            }
        }
        return score
    }
}

/// The query parameters of a request for route matching: the first value of a name (as a dictionary built with
/// `uniquingKeysWith: { a, _ in a }` would give), found by a linear scan — requests carry a handful of parameters,
/// fewer than it takes to make hashing them pay off — and a mask of the name lengths present (bit
/// `min(length, 63)`) that refuses most absent names without comparing.
struct QueryLookup {
    let items: [(name: String, value: String)]
    let nameLengths: UInt64

    init(_ items: [(name: String, value: String)]) {
        self.items = items
        nameLengths = items.reduce(UInt64(0)) { $0 | 1 << UInt64(min($1.name.utf8.count, 63)) }
    }

    /// False when no parameter has `name`'s length (so `self[name]` is nil).
    @inline(__always) func mayContain(_ name: String) -> Bool {
        nameLengths & (1 << UInt64(min(name.utf8.count, 63))) != 0
    }

    /// The first value of the parameter `name`, or nil.
    subscript(name: String) -> String? {
        guard mayContain(name) else { return nil }
        for item in items where item.name == name { return item.value }
        return nil
    }
}

