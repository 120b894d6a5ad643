import TallyAWS
import TallyCore

extension GatewayHandler {
    /// S3 operations whose body is the object data an `x-amz-checksum-*` header covers. (Not CompleteMultipartUpload:
    /// its header is the whole object's checksum, not its body's.)
    static let checksummedBodyOperations: Set<String> = ["PutObject", "UploadPart"]

    /// The checksum an S3 object upload declares in an `x-amz-checksum-*` header, checked against its body: at once for
    /// a buffered body (``checkHeaderChecksum(_:head:body:)``), or as it streams (this tap, verified at the end of the
    /// body before its last bytes go upstream). Nil when the request declares none (or is no object upload).
    static func headerChecksumTap(_ ident: IdentifiedOperation?, head: TallyAWS.HTTPRequestHead) -> ChecksumTap? {
        guard ident?.service == "s3", let operation = ident?.operation, checksummedBodyOperations.contains(operation),
              case .some(.some(let (algorithm, value))) = try? AWSChecksumAlgorithm.declaredHeader(head) else { return nil }
        return ChecksumTap(algorithm, declared: value)
    }

    /// Refuses an object upload whose `x-amz-checksum-*` header does not match its buffered body (`BadDigest`), is
    /// malformed or repeated (`InvalidRequest`), as S3 would, before anything is forwarded.
    static func checkHeaderChecksum(_ ident: IdentifiedOperation, head: TallyAWS.HTTPRequestHead, body: [UInt8]?) throws(AWSAuthError) {
        guard ident.service == "s3", let operation = ident.operation, checksummedBodyOperations.contains(operation),
              let (algorithm, value) = try AWSChecksumAlgorithm.declaredHeader(head) else { return }
        guard let body else { return }  // streamed: checked by the body pump (headerChecksumTap)
        var hasher = AWSChecksumHasher(algorithm)
        hasher.update(body)
        _ = try algorithm.verify(value, digest: hasher.finalize())
    }
}
