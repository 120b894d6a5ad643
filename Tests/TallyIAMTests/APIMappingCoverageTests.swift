import Testing
import TallyIAM

@Suite("API mapping coverage")
struct APIMappingCoverageTests {
    /// Issue 3: ≥ 99% of the operations of the 13 services map to actions that exist in the catalog.
    @Test func heldServicesAreAtLeast99PercentCovered() throws {
        let report = try APIMapping.load().coverage(catalog: try IAMCatalog.load())
        #expect(report.services.map(\.service) == APIMapping.heldServices)
        #expect(report.operations > 1_600)
        #expect(report.percent >= 99.0, "coverage \(report.percent)%")
        for row in report.services {
            #expect(row.operations > 0, "\(row.service) has no operations")
            #expect(row.unknownActions.isEmpty, "\(row.service): \(row.unknownActions)")
            #expect(row.operations == row.mapped + row.unmapped.count)
        }
        let s3 = try #require(report.services.first { $0.service == "s3" })
        #expect(s3.percent == 100)
    }
}
