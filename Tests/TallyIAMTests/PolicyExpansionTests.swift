import Testing
import TallyIAM

@Suite("Policy expansion")
struct PolicyExpansionTests {
    @Test func resolvesPatternsAgainstTheCatalog() throws {
        let catalog = try IAMCatalog.load()
        var expander = PolicyExpander(catalog: catalog)
        let doc = try PolicyFixture.document(PolicyFixture.statements(
            #"{"Effect":"Allow","Action":["s3:GetObject","S3:GETOBJECT","s3:GetObjectAcl","nope:Nothing"],"Resource":"*"}"#,
            #"{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}"#,
            #"{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}"#))
        let expanded = expander.expand(doc)
        #expect(expander.names(expanded[0]) == ["s3:GetObject", "s3:GetObjectAcl"])  // deduplicated, unknown dropped
        let getStar = Set(expander.names(expanded[1]))
        #expect(getStar.contains("s3:GetObject") && getStar.contains("s3:GetBucketPolicy"))
        #expect(getStar.allSatisfy { $0.hasPrefix("s3:Get") })
        #expect(getStar.count == catalog.expand(pattern: "s3:Get*").count)
        // NotAction covers the complement.
        let notS3 = expanded[2]
        #expect(notS3.count == catalog.allActions.count - catalog.actions(service: "s3").count)
        #expect(!expander.names(notS3).contains { $0.hasPrefix("s3:") })
    }
}

@Suite("Policy expansion agrees with the catalog")
struct PolicyExpansionDifferentialTests {
    @Test func sameActionsAsCatalogExpand() throws {
        let catalog = try IAMCatalog.load()
        var expander = PolicyExpander(catalog: catalog)
        var patterns = ["*", "s3:*", "s3:Get*", "S3:get*", "*:List*", "ec2:Describe?pcs", "S3:*OBJECT*", "iam:passrole",
                        "iam:PassRole", "nope:*", "s3", "a*:*", "??:*", "s?:*", "*:*", "dynamodb:*Item", "kms:?ncrypt",
                        "lambda:*Function*", "s3:GetObject?", "sts:AssumeRole*", "ec2:", "*:GetObject", "s3:Nope*"]
        // Plus one exact name and one prefix pattern per service, chosen deterministically.
        for service in catalog.services {
            if let first = catalog.actions(service: service.prefix).first {
                patterns.append(first.fullName)
                patterns.append(service.prefix + ":" + String(first.name.prefix(3)) + "*")
            }
        }
        for pattern in patterns {
            let expected = catalog.expand(pattern: pattern).map(\.fullName)
            let got = expander.names(expander.actions(matching: pattern))
            #expect(got == expected, "\(pattern)")
        }
    }
}
