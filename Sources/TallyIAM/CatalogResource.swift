import Foundation
public import TallyCore

/// Reading Tally's generated resources (a JSON header line, then one LZ4 block).
///
/// Layout, shared by `iam-catalog.tlz` and `api-mapping.tlz`: line 1 is a JSON object ending in
/// "\n" with at least `compression` ("lz4-block"), `originalSize` (bytes after decompression) and
/// `sha256` (hex of the decompressed bytes); the remaining bytes are one LZ4 block.
enum TallyResource {
    /// The path of a resource file of this module, e.g. "iam-catalog.tlz": $TALLY_IAM_RESOURCES/NAME,
    /// else the SwiftPM resource bundle next to the executable, else the source tree this module was
    /// built from. A missing file is an I/O error naming every place looked at (never a crash).
    static func path(_ name: String) throws -> String {
        let fm = FileManager.default
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["TALLY_IAM_RESOURCES"], !dir.isEmpty {
            candidates.append(dir + "/" + name)
        }
        let executableDir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
            .deletingLastPathComponent().path
        for dir in [Bundle.main.bundlePath, executableDir] {
            for bundle in ["Tally_TallyIAM.resources", "TallyIAM_TallyIAM.resources"] {
                candidates.append(dir + "/" + bundle + "/Resources/" + name)
            }
        }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Resources/" + name)
        if let hit = candidates.first(where: { fm.fileExists(atPath: $0) }) { return hit }
        throw TallyError(.io, "the TallyIAM resource \(name) is missing (looked in \(candidates.joined(separator: ", ")))")
    }

    /// The decompressed payload and the parsed header of a resource file.
    static func read(path: String) throws -> (header: [String: Any], payload: [UInt8]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TallyError(.io, "cannot read \(path)")
        }
        let bytes = [UInt8](data)
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            throw TallyError(.badInput, "\(path): no header line")
        }
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[..<newline])) as? [String: Any] else {
            throw TallyError(.badInput, "\(path): the header line is not a JSON object")
        }
        guard header["compression"] as? String == "lz4-block", let size = header["originalSize"] as? Int,
              let digest = header["sha256"] as? String else {
            throw TallyError(.badInput, "\(path): the header lacks compression=lz4-block, originalSize or sha256")
        }
        let payload = try LZ4.decompress(bytes[(newline + 1)...], originalSize: size)
        guard Hex.encode(SHA256.hash(payload)) == digest.lowercased() else {
            throw TallyError(.integrity, "\(path): the payload's SHA-256 does not match the header")
        }
        return (header, payload)
    }
}
