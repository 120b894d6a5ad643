import Foundation
import TallyCore

/// The compact API model written by `Tools/generate-api-model.py` (schema documented there).
struct APIModel: Sendable {
    var source: String
    var services: [String: ServiceModel]

    init(json data: Data) throws {
        let raw = try JSONDecoder().decode(RawModel.self, from: data)
        source = raw.source
        services = raw.services
    }

    private struct RawModel: Decodable {
        var source: String
        var services: [String: ServiceModel]
    }
}

struct ServiceModel: Sendable, Decodable {
    var name: String = ""
    var signingName: String
    var endpointPrefix: String
    var `protocol`: AWSProtocol
    var targetPrefix: String?
    var jsonVersion: String?
    var queryCompatible: Bool?
    var operations: [String: OperationModel]
}

struct OperationModel: Sendable, Decodable {
    var method: String
    var uri: String
    /// member name → location: "uri:Label", "querystring:name", "header:Name", "body"
    var members: [String: String]?
}
