import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// Every REST operation of every botocore service, as a synthesized request (labels filled, requestUri query
/// literals and required query/header members present), is identified as itself — or, where botocore's model
/// gives two operations the very same method, template and requirements, as an operation with an identical route.
@Suite struct RouteCoverageTests {
    @Test func everyRESTOperationIsIdentified() throws {
        let id = try OperationIdentifier.load()
        var checked = 0, ambiguous = 0
        var failures: [String] = []
        for (name, svc) in id.model.services.sorted(by: { $0.key < $1.key }) where svc.protocol == .restJSON || svc.protocol == .restXML {
            for (opName, op) in svc.operations.sorted(by: { $0.key < $1.key }) {
                let route = Route(operation: opName, model: op)
                let query = route.syntheticQueryLiterals + route.syntheticRequiredQuery
                let head = HTTPRequestHead(method: op.method, path: route.syntheticPath(),
                                           query: query.isEmpty ? nil : query.joined(separator: "&"), headers: route.syntheticHeaders)
                let got = id.identify(head, signingName: svc.signingName, region: "us-east-1", body: nil)
                checked += 1
                if got.operation == opName && got.modelName == name { continue }
                // acceptable only when the chosen operation's route is indistinguishable from this one
                if let other = got.operation, let otherModel = got.modelName.flatMap({ id.model.services[$0] })?.operations[other],
                   otherModel.method == op.method, Route(operation: other, model: otherModel).sameRequirements(as: route) {
                    ambiguous += 1
                    continue
                }
                failures.append("\(name).\(opName) \(op.method) \(op.uri) -> \(got.modelName ?? "-").\(got.operation ?? "nil")")
            }
        }
        #expect(checked > 5000)
        #expect(failures.isEmpty, "\(failures.count) misidentified: \(failures.prefix(40).joined(separator: "\n"))")
        #expect(ambiguous < checked / 50, "\(ambiguous) indistinguishable routes")
    }

    /// Every JSON operation by `X-Amz-Target`, every query/EC2 operation by `Action` + `Version`.
    @Test func everyRPCOperationIsIdentified() throws {
        let id = try OperationIdentifier.load()
        var checked = 0, shared = 0
        var failures: [String] = []
        for (name, svc) in id.model.services.sorted(by: { $0.key < $1.key }) {
            for opName in svc.operations.keys.sorted() {
                let got: IdentifiedOperation
                switch svc.protocol {
                case .json:
                    let head = HTTPRequestHead(method: "POST", target: "/", headers: [
                        ("Host", "h"), ("X-Amz-Target", "\(svc.targetPrefix ?? "").\(opName)"),
                        ("Content-Type", "application/x-amz-json-\(svc.jsonVersion ?? "1.0")")])
                    got = id.identify(head, signingName: svc.signingName, region: "us-east-1", body: Array("{}".utf8))
                    // the same operation in the Smithy RPC v2 CBOR form
                    let cbor = HTTPRequestHead(method: "POST", path: "/service/\(svc.targetPrefix ?? "")/operation/\(opName)", query: nil,
                                               headers: [("Host", "h"), ("smithy-protocol", "rpc-v2-cbor")])
                    let viaCBOR = id.identify(cbor, signingName: svc.signingName, region: "us-east-1", body: [0xA0])
                    if viaCBOR.operation != got.operation || viaCBOR.modelName != got.modelName || viaCBOR.protocol != .rpcV2CBOR {
                        failures.append("cbor \(name).\(opName) -> \(viaCBOR.modelName ?? "-").\(viaCBOR.operation ?? "nil")")
                    }
                case .query, .ec2:
                    let head = HTTPRequestHead(method: "POST", target: "/", headers: [
                        ("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
                    got = id.identify(head, signingName: svc.signingName, region: "us-east-1",
                                      body: Array("Action=\(opName)&Version=\(svc.apiVersion ?? "")".utf8))
                default: continue
                }
                checked += 1
                if got.operation == opName && got.modelName == name { continue }
                // models that share an endpoint and wire identity (rds/docdb/neptune: same signing name, API version
                // and actions; timestream-query/-write: same target prefix) cannot be told apart: the first wins
                if got.operation == opName, let other = got.modelName.flatMap({ id.model.services[$0] }),
                   other.signingName == svc.signingName,
                   svc.protocol == .json ? other.targetPrefix == svc.targetPrefix : other.apiVersion == svc.apiVersion {
                    shared += 1
                } else {
                    failures.append("\(name).\(opName) -> \(got.modelName ?? "-").\(got.operation ?? "nil")")
                }
            }
        }
        #expect(checked > 8000)
        #expect(shared < 200, "\(shared) operations of models sharing a wire identity")
        #expect(failures.isEmpty, "\(failures.count) misidentified: \(failures.prefix(40).joined(separator: "\n"))")
    }
}

extension Route {
    /// Same path shape (literals equal, labels in the same places) and the same query / header requirements.
    func sameRequirements(as other: Route) -> Bool {
        guard segments.count == other.segments.count,
              Set(queryLiterals.map { "\($0.0)=\($0.1 ?? "")" }) == Set(other.queryLiterals.map { "\($0.0)=\($0.1 ?? "")" }),
              Set(requiredQuery) == Set(other.requiredQuery),
              Set(requiredHeaders.map { $0.lowercased() }) == Set(other.requiredHeaders.map { $0.lowercased() }) else { return false }
        for (a, b) in zip(segments, other.segments) {
            switch (a, b) {
            case (.literal(let x), .literal(let y)) where x == y: continue
            case (.label(_, let p1, let s1), .label(_, let p2, let s2)) where p1 == p2 && s1 == s2: continue
            case (.greedy(_, let p1), .greedy(_, let p2)) where p1 == p2: continue
            default: return false
            }
        }
        return true
    }
}
