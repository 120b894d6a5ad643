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
