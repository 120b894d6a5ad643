/// An AWS-style authentication or request error: the `code` an SDK understands, a message and the
/// HTTP status. Render it for the client with ``AWSErrorRenderer``.
public struct AWSAuthError: Error, Sendable, Hashable, CustomStringConvertible {
    /// AWS's error code, e.g. `SignatureDoesNotMatch`.
    public var code: String
    /// A human-readable message naming what is wrong.
    public var message: String
    /// The HTTP status to answer with (403 for authentication failures, 400 for malformed requests).
    public var httpStatus: Int

    /// Creates an error.
    public init(code: String, message: String, httpStatus: Int) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    public var description: String { "\(code) (\(httpStatus)): \(message)" }
}

extension AWSAuthError {
    /// The signature computed with the credential's secret differs from the one sent.
    public static func signatureDoesNotMatch(_ detail: String? = nil) -> AWSAuthError {
        var m = "The request signature we calculated does not match the signature you provided. "
            + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        if let detail { m += " " + detail }
        return AWSAuthError(code: "SignatureDoesNotMatch", message: m, httpStatus: 403)
    }

    /// The access key id is not known (or revoked / expired): `InvalidAccessKeyId` for S3, `InvalidClientTokenId`
    /// (403) for every other service. (AWS's JSON-protocol services such as DynamoDB say
    /// `UnrecognizedClientException` with status 400; the gateway uses the one code for all of them, as pinned.)
    public static func unknownAccessKey(service: String, protocol proto: AWSProtocol) -> AWSAuthError {
        if SigV4.isS3SigningName(service) {
            return AWSAuthError(code: "InvalidAccessKeyId",
                                message: "The AWS Access Key Id you provided does not exist in our records.",
                                httpStatus: 403)
        }
        return AWSAuthError(code: "InvalidClientTokenId",
                            message: "The security token included in the request is invalid.", httpStatus: 403)
    }

    /// The credential has expired (temporary credentials), as the service the request was signed for says it: S3
    /// `400 ExpiredToken` (its error code list), the JSON and CBOR protocols `403 ExpiredTokenException` (AWS's common
    /// errors), the query protocols `403 ExpiredToken`.
    public static func expiredToken(service: String, protocol proto: AWSProtocol) -> AWSAuthError {
        if SigV4.isS3SigningName(service) {
            return AWSAuthError(code: "ExpiredToken", message: "The provided token has expired.", httpStatus: 400)
        }
        switch proto {
        case .json, .restJSON, .rpcV2CBOR:
            return AWSAuthError(code: "ExpiredTokenException", message: "The security token included in the request is expired",
                                httpStatus: 403)
        case .query, .ec2, .restXML:
            return AWSAuthError(code: "ExpiredToken", message: "The security token included in the request is expired",
                                httpStatus: 403)
        }
    }

    /// A session token was sent with a key that has none (or not this one): S3 `400 InvalidToken`, every other service
    /// `403 InvalidClientTokenId`, as AWS answers. `hint` is appended to the message.
    public static func invalidToken(service: String, hint: String) -> AWSAuthError {
        if SigV4.isS3SigningName(service) {
            return AWSAuthError(code: "InvalidToken", message: "The provided token is malformed or otherwise invalid. " + hint,
                                httpStatus: 400)
        }
        return AWSAuthError(code: "InvalidClientTokenId", message: "The security token included in the request is invalid. " + hint,
                            httpStatus: 403)
    }

    /// The request time differs from the server's by more than 15 minutes.
    public static func requestTimeTooSkewed(requestTime: String, serverTime: String) -> AWSAuthError {
        AWSAuthError(code: "RequestTimeTooSkewed",
                     message: "The difference between the request time and the current time is too large "
                        + "(request time \(requestTime), server time \(serverTime), maximum skew 15 minutes).",
                     httpStatus: 403)
    }

    /// The Authorization header is syntactically wrong.
    public static func incompleteSignature(_ detail: String) -> AWSAuthError {
        AWSAuthError(code: "IncompleteSignature", message: detail, httpStatus: 403)
    }

    /// The Authorization header's credential scope is malformed (wrong terminator, bad date, ...).
    public static func authorizationHeaderMalformed(_ detail: String) -> AWSAuthError {
        AWSAuthError(code: "AuthorizationHeaderMalformed",
                     message: "The authorization header is malformed; \(detail)", httpStatus: 400)
    }

    /// The presigned query parameters are incomplete or malformed.
    public static func authorizationQueryParametersError(_ detail: String) -> AWSAuthError {
        AWSAuthError(code: "AuthorizationQueryParametersError", message: detail, httpStatus: 400)
    }

    /// No authentication at all.
    public static func missingAuthenticationToken() -> AWSAuthError {
        AWSAuthError(code: "MissingAuthenticationToken", message: "Request is missing Authentication Token",
                     httpStatus: 403)
    }

    /// Access denied (SigV2, expired presigned URL, ...).
    public static func accessDenied(_ message: String) -> AWSAuthError {
        AWSAuthError(code: "AccessDenied", message: message, httpStatus: 403)
    }

    /// The body's SHA-256 differs from `x-amz-content-sha256`.
    public static func contentSHA256Mismatch(provided: String, computed: String) -> AWSAuthError {
        AWSAuthError(code: "XAmzContentSHA256Mismatch",
                     message: "The provided 'x-amz-content-sha256' header does not match what was computed "
                        + "(provided \(provided), computed \(computed)).",
                     httpStatus: 400)
    }

    /// Malformed aws-chunked framing, or a bad request otherwise not covered.
    public static func invalidRequest(_ message: String) -> AWSAuthError {
        AWSAuthError(code: "InvalidRequest", message: message, httpStatus: 400)
    }

    /// An aws-chunked body whose framing is broken or incomplete.
    public static func incompleteBody(_ message: String) -> AWSAuthError {
        AWSAuthError(code: "IncompleteBody", message: message, httpStatus: 400)
    }
}
