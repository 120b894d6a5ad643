import ArgumentParser
import Foundation
import TallyCore
import TallyIAM

/// `tally iam coverage`: how much of each service's API the action mapping covers.
struct IAMCoverageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Per service: operations, mapped, % mapped to actions that exist in the catalog; lists unmapped operations.",
        discussion: "Default services: the 13 the coverage test holds at >= 99%."
    )

    @Option(name: .customLong("service"), help: "A service (botocore name, IAM prefix or signing name); repeatable.")
    var services: [String] = []

    @Flag(name: .long, help: "Every service the mapping table has rows for.")
    var all = false

    @OptionGroup var output: JSONOption

    func run() async throws {
        let mapping = try APIMapping.load()
        let catalog = try IAMCatalog.load()
        var named: [String] = []
        for service in services {
            // A name the table does not know is bad input (it printed a row of zeros and exited 0; session 12 probe).
            guard let apis = mapping.coverageAPIs(named: service) else {
                throw TallyError(.badInput, "--service \(service): no such service in the mapping table (give an IAM prefix such as "
                                 + "s3, a signing name such as monitoring, or a botocore service name such as cloudwatch)")
            }
            named += apis.filter { !named.contains($0) }
        }
        let wanted: [String]? = all ? mapping.mappedServices : (named.isEmpty ? nil : named)
        let report = mapping.coverage(catalog: catalog, services: wanted)
        if output.json {
            printJSON(report)
            return
        }
        print("service          operations  mapped  in catalog       %")
        for row in report.services {
            let pct = String(format: "%7.2f", row.percent)
            print("\(pad(row.service, 16)) \(pad(String(row.operations), 10, right: true))  "
                + "\(pad(String(row.mapped), 6, right: true))  \(pad(String(row.mappedToCatalog), 10, right: true))  \(pct)")
        }
        print("total            \(pad(String(report.operations), 10, right: true))          "
            + "\(pad(String(report.mappedToCatalog), 10, right: true))  \(String(format: "%7.2f", report.percent))")
        print("sources: botocore \(report.sources.botocore), \(report.sources.catalogPackage) \(report.sources.catalogVersion)")
        for row in report.services where !row.unmapped.isEmpty || !row.unknownActions.isEmpty {
            for u in row.unmapped { print("unmapped \(row.service):\(u.operation) — \(u.reason)") }
            for a in row.unknownActions { print("unknown action \(row.service):\(a)") }
        }
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }
}
