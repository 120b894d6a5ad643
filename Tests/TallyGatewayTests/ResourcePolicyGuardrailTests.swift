import Foundation
import Testing
@testable import TallyGateway
import TallyAWS

/// Built-in guardrail: resource policies, grants and sharing may reach only the upstream account and AWS services (a
/// bucket, queue, topic, key, secret, repository, function or snapshot opened to another account or to everyone is
/// reached from outside the gateway, with no record).
@Suite struct ResourcePolicyGuardrailTests {
    let account = "123456789012"

    func policy(_ principal: String, effect: String = "Allow", condition: String? = nil) -> String {
        #"{"Version":"2012-10-17","Statement":[{"Effect":"\#(effect)","Action":"*","Resource":"*","Principal":\#(principal)\#(condition.map { #","Condition":\#($0)"# } ?? "")}]}"#
    }

    func problem(_ service: String, _ operation: String, method: String = "POST", target: String = "/",
                 headers: [(String, String)] = [], body: String? = nil) -> String? {
        GatewayHandler.resourceSharingProblem(service: service, operation: operation,
                                              head: HTTPRequestHead(method: method, target: target, headers: headers),
                                              body: body.map { Array($0.utf8) }, account: account)
    }

    func form(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\(URIEncoding.encode($0.1))" }.joined(separator: "&")
    }

    @Test func policiesGrantingOnlyTheAccountAndServicesPass() {
        #expect(GatewayHandler.resourcePolicyProblem(policy(#"{"AWS":"arn:aws:iam::123456789012:root"}"#), account: account) == nil)
        #expect(GatewayHandler.resourcePolicyProblem(policy(#"{"AWS":["123456789012"],"Service":"cloudtrail.amazonaws.com"}"#), account: account) == nil)
        #expect(GatewayHandler.resourcePolicyProblem(policy(#""*""#, effect: "Deny"), account: account) == nil)
        // everyone, pinned to the account by a condition (the AWS-managed key policy pattern)
        #expect(GatewayHandler.resourcePolicyProblem(policy(#"{"AWS":"*"}"#, condition: #"{"StringEquals":{"kms:CallerAccount":"123456789012"}}"#),
                                                     account: account) == nil)
        #expect(GatewayHandler.resourcePolicyProblem(policy(#""*""#, condition: #"{"StringEquals":{"aws:PrincipalAccount":["123456789012"]}}"#),
                                                     account: account) == nil)
    }

    @Test func policiesGrantingOutsideAreRefused() {
        let outside = [
            policy(#""*""#), policy(#"{"AWS":"*"}"#), policy(#"{"AWS":"arn:aws:iam::999999999999:root"}"#),
            policy(#"{"AWS":["123456789012","999999999999"]}"#), policy(#"{"CanonicalUser":"abc"}"#),
            policy(#"{"Federated":"accounts.google.com"}"#), policy(#"{"Service":"evil.example.com"}"#),
            policy(#""*""#, condition: #"{"StringEquals":{"aws:PrincipalAccount":["123456789012","999999999999"]}}"#),
            policy(#""*""#, condition: #"{"StringLike":{"aws:PrincipalAccount":"*"}}"#),
            policy(#""*""#, condition: #"{"StringEquals":{"aws:username":"123456789012"}}"#),
            #"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"*"}]}"#,
            "not json", #"{"Version":"2012-10-17"}"#, #"{"Statement":[],"Statement":[{"Effect":"Allow","Principal":"*"}]}"#,
        ]
        for document in outside { #expect(GatewayHandler.resourcePolicyProblem(document, account: account) != nil, "\(document)") }
        #expect(GatewayHandler.resourcePolicyProblem(policy(#"{"AWS":"999999999999"}"#), account: account)?.contains("999999999999") == true)
    }

    @Test func eachServiceReadsItsPolicyWhereTheWireCarriesIt() {
        let open = policy(#""*""#), own = policy(#"{"AWS":"arn:aws:iam::123456789012:root"}"#)
        // S3: the body of PutBucketPolicy; a streamed (unread) policy is refused
        #expect(problem("s3", "PutBucketPolicy", method: "PUT", target: "/b?policy", body: open)?.contains("bucket policy") == true)
        #expect(problem("s3", "PutBucketPolicy", method: "PUT", target: "/b?policy", body: own) == nil)
        #expect(problem("s3", "PutBucketPolicy", method: "PUT", target: "/b?policy", body: nil) != nil)
        // SQS query and JSON
        #expect(problem("sqs", "SetQueueAttributes", body: form([("Action", "SetQueueAttributes"), ("Attribute.1.Name", "Policy"),
                                                                   ("Attribute.1.Value", open)])) != nil)
        #expect(problem("sqs", "SetQueueAttributes", body: form([("Attribute.1.Name", "VisibilityTimeout"), ("Attribute.1.Value", "30")])) == nil)
        let sqsJSON = String(decoding: try! JSONSerialization.data(withJSONObject: ["QueueUrl": "q", "Attributes": ["Policy": open]]), as: UTF8.self)
        #expect(problem("sqs", "SetQueueAttributes", body: sqsJSON) != nil)
        #expect(problem("sqs", "CreateQueue", body: sqsJSON) != nil)
        #expect(problem("sqs", "AddPermission", body: #"{"QueueUrl":"q","Label":"l","AWSAccountIds":["999999999999"],"Actions":["SendMessage"]}"#) != nil)
        #expect(problem("sqs", "AddPermission", body: #"{"QueueUrl":"q","Label":"l","AWSAccountIds":["123456789012"],"Actions":["SendMessage"]}"#) == nil)
        #expect(problem("sqs", "AddPermission", body: form([("AWSAccountId.1", "999999999999"), ("ActionName.1", "SendMessage")])) != nil)
        // SNS
        #expect(problem("sns", "SetTopicAttributes", body: form([("TopicArn", "t"), ("AttributeName", "Policy"), ("AttributeValue", open)])) != nil)
        #expect(problem("sns", "SetTopicAttributes", body: form([("AttributeName", "DisplayName"), ("AttributeValue", "*")])) == nil)
        #expect(problem("sns", "CreateTopic", body: form([("Name", "t"), ("Attributes.entry.1.key", "Policy"), ("Attributes.entry.1.value", open)])) != nil)
        #expect(problem("sns", "AddPermission", body: form([("AWSAccountId.member.1", "999999999999")])) != nil)
        // Lambda
        #expect(problem("lambda", "AddPermission", body: #"{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"*"}"#) != nil)
        #expect(problem("lambda", "AddPermission", body: #"{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"999999999999"}"#) != nil)
        #expect(problem("lambda", "AddPermission", body: #"{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com","SourceAccount":"123456789012"}"#) == nil)
        #expect(problem("lambda", "AddPermission", body: #"{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"*","SourceAccount":"123456789012"}"#) == nil)
        #expect(problem("lambda", "CreateFunctionUrlConfig", body: #"{"AuthType":"NONE"}"#) != nil)
        #expect(problem("lambda", "CreateFunctionUrlConfig", body: #"{"AuthType":"AWS_IAM"}"#) == nil)
        // KMS, Secrets Manager, ECR, Logs, EFS, Backup, EventBridge
        #expect(problem("kms", "PutKeyPolicy", body: #"{"KeyId":"k","PolicyName":"default","Policy":\#(jsonString(open))}"#) != nil)
        #expect(problem("kms", "PutKeyPolicy", body: #"{"KeyId":"k","PolicyName":"default","Policy":\#(jsonString(own))}"#) == nil)
        #expect(problem("kms", "PutKeyPolicy", body: #"{"KeyId":"k","Policy":{"Statement":[]}}"#) != nil)  // not a string
        #expect(problem("kms", "CreateGrant", body: #"{"KeyId":"k","GranteePrincipal":"arn:aws:iam::999999999999:root","Operations":["Decrypt"]}"#) != nil)
        #expect(problem("kms", "CreateGrant", body: #"{"KeyId":"k","GranteePrincipal":"arn:aws:iam::123456789012:role/r","Operations":["Decrypt"]}"#) == nil)
        #expect(problem("secretsmanager", "PutResourcePolicy", body: #"{"SecretId":"s","ResourcePolicy":\#(jsonString(open))}"#) != nil)
        #expect(problem("ecr", "SetRepositoryPolicy", body: #"{"repositoryName":"r","policyText":\#(jsonString(open))}"#) != nil)
        #expect(problem("logs", "PutResourcePolicy", body: #"{"policyName":"p","policyDocument":\#(jsonString(open))}"#) != nil)
        #expect(problem("elasticfilesystem", "PutFileSystemPolicy", body: #"{"Policy":\#(jsonString(open))}"#) != nil)
        #expect(problem("backup", "PutBackupVaultAccessPolicy", body: #"{"Policy":\#(jsonString(open))}"#) != nil)
        #expect(problem("events", "PutPermission", body: #"{"Action":"events:PutEvents","Principal":"999999999999","StatementId":"s"}"#) != nil)
        // EC2 / RDS snapshot and image sharing
        #expect(problem("ec2", "ModifySnapshotAttribute", body: form([("SnapshotId", "snap-1"), ("CreateVolumePermission.Add.1.Group", "all")])) != nil)
        #expect(problem("ec2", "ModifySnapshotAttribute", body: form([("Attribute", "createVolumePermission"), ("OperationType", "add"),
                                                                        ("UserId.1", "999999999999")])) != nil)
        #expect(problem("ec2", "ModifySnapshotAttribute", body: form([("CreateVolumePermission.Add.1.UserId", "123456789012")])) == nil)
        #expect(problem("ec2", "ModifyImageAttribute", body: form([("LaunchPermission.Add.1.Group", "all")])) != nil)
        #expect(problem("ec2", "ModifySnapshotAttribute", body: form([("CreateVolumePermission.Remove.1.Group", "all")])) == nil)
        #expect(problem("rds", "ModifyDBSnapshotAttribute", body: form([("AttributeName", "restore"), ("ValuesToAdd.member.1", "all")])) != nil)
        #expect(problem("rds", "ModifyDBSnapshotAttribute", body: form([("AttributeName", "restore"), ("ValuesToAdd.member.1", "123456789012")])) == nil)
        // S3 public ACLs
        #expect(problem("s3", "PutObject", method: "PUT", target: "/b/k", headers: [("x-amz-acl", "public-read")]) != nil)
        #expect(problem("s3", "PutObject", method: "PUT", target: "/b/k", headers: [("x-amz-acl", "private")]) == nil)
        #expect(problem("s3", "CreateBucket", method: "PUT", target: "/b",
                        headers: [("x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")]) != nil)
        #expect(problem("s3", "PutBucketAcl", method: "PUT", target: "/b?acl",
                        body: "<AccessControlPolicy><AccessControlList><Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>") != nil)
    }

    /// Session 15 probe: moto takes `policy` for SNS's `Policy` attribute, so a public topic policy went through under
    /// the lower-case name. Attribute names are compared without case (SQS, SNS, RDS).
    @Test func attributeNamesAreReadWithoutCase() {
        let open = policy(#""*""#)
        for name in ["policy", "POLICY", "pOlIcY"] {
            #expect(problem("sns", "SetTopicAttributes", body: form([("TopicArn", "t"), ("AttributeName", name), ("AttributeValue", open)])) != nil, "\(name)")
            #expect(problem("sns", "CreateTopic", body: form([("Name", "t"), ("Attributes.entry.1.key", name), ("Attributes.entry.1.value", open)])) != nil, "\(name)")
            #expect(problem("sqs", "SetQueueAttributes", body: form([("Attribute.1.Name", name), ("Attribute.1.Value", open)])) != nil, "\(name)")
            let json = String(decoding: try! JSONSerialization.data(withJSONObject: ["QueueUrl": "q", "Attributes": [name: open]]), as: UTF8.self)
            #expect(problem("sqs", "SetQueueAttributes", body: json) != nil, "\(name)")
        }
        #expect(problem("rds", "ModifyDBSnapshotAttribute", body: form([("AttributeName", "RESTORE"), ("ValuesToAdd.member.1", "999999999999")])) != nil)
        // Other attributes still pass.
        #expect(problem("sns", "SetTopicAttributes", body: form([("AttributeName", "displayname"), ("AttributeValue", "*")])) == nil)
    }

    @Test func s3GrantsByEmailAreRefused() {
        #expect(problem("s3", "PutObjectAcl", method: "PUT", target: "/b/k?acl",
                        headers: [("x-amz-grant-read", "emailAddress=\"someone@example.com\"")])?.contains("e-mail") == true)
        #expect(problem("s3", "PutBucketAcl", method: "PUT", target: "/b?acl",
                        body: "<AccessControlPolicy><AccessControlList><Grant><Grantee><EmailAddress>x@example.com</EmailAddress></Grantee></Grant></AccessControlList></AccessControlPolicy>") != nil)
        #expect(problem("s3", "PutObject", method: "PUT", target: "/b/k", headers: [("x-amz-grant-read", "id=\"abc\"")]) == nil)
    }

    func jsonString(_ s: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [s]), as: UTF8.self).dropFirst().dropLast().description
    }
}
