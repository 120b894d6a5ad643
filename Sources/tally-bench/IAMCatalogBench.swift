import Foundation
import TallyCore
import TallyIAM

/// `tally-bench iam-catalog`: how long loading the whole IAM catalog (and the API mapping) takes.
///
/// Next to the figure it prints the floor measured in the same run: reading the resource file and
/// LZ4-decompressing it, which any loader of this resource has to do.
enum IAMCatalogBench {
    static func run(iterations: Int = 20) throws -> [String] {
        let path = try IAMCatalog.resourcePath()
        let mappingPath = try APIMapping.resourcePath()
        var lines: [String] = []

        // Each loaded value is kept alive until after its timing: freeing it is not part of loading.
        var catalog: IAMCatalog?
        var table: APIMapping?
        let cold = try time { catalog = try IAMCatalog(contentsOf: path) }
        var load: [Double] = [], floor: [Double] = [], mapping: [Double] = []
        for _ in 0..<iterations {
            catalog = nil
            load.append(try time { catalog = try IAMCatalog(contentsOf: path) })
            floor.append(try time { _ = try readAndDecompress(path) })
            table = nil
            mapping.append(try time { table = try APIMapping(contentsOf: mappingPath) })
        }
        let actions = catalog?.allActions.count ?? 0
        _ = table
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        lines.append("iam-catalog: \(actions) actions, resource \(size) bytes, \(iterations) runs")
        lines.append(String(format: "  load whole catalog: median %.1f ms, min %.1f ms (first run %.1f ms); limit < 100 ms",
                            median(load), load.min() ?? 0, cold))
        lines.append(String(format: "  physical floor (read file + LZ4 decompress, same run): median %.1f ms", median(floor)))
        lines.append(String(format: "  load API mapping: median %.1f ms", median(mapping)))

        let shared = try IAMCatalog.load()
        let patterns = shared.services.flatMap { ["\($0.prefix):Get*", "\($0.prefix):*Tag?", "\($0.prefix):List*"] }
            + ["*:Describe*", "s3*:*Object", "*"]
        var matched = 0
        let expand = time { for p in patterns { matched += shared.expand(pattern: p).count } }
        lines.append(String(format: "  expand %d patterns (%d actions matched): %.1f ms", patterns.count, matched, expand))
        return lines
    }

    static func readAndDecompress(_ path: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { throw TallyError(.io, "cannot read \(path)") }
        let bytes = [UInt8](data)
        guard let nl = bytes.firstIndex(of: 0x0A),
              let header = try JSONSerialization.jsonObject(with: Data(bytes[..<nl])) as? [String: Any],
              let size = header["originalSize"] as? Int else { throw TallyError(.badInput, "\(path): bad header") }
        return try LZ4.decompress(bytes[(nl + 1)...], originalSize: size).count
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
