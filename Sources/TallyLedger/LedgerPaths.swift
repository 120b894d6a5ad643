import Foundation
import TallyCore

/// The files of a ledger inside a Tally home H (docs/LEDGER-FORMAT.md, "Files").
struct LedgerPaths: Sendable {
    let home: String
    var publicKey: String { home + "/ledger.pub" }
    var dir: String { home + "/ledger" }
    var epochsNote: String { dir + "/epochs.note" }
    var epochsPub: String { dir + "/epochs.pub" }
    var keysDir: String { dir + "/keys" }
    var epochKeys: String { keysDir + "/epoch-keys.bin" }
    var segmentsDir: String { dir + "/segments" }
    var checkpoints: String { dir + "/checkpoints.log" }
    var lock: String { dir + "/lock" }

    init(home: String) {
        var h = home
        while h.count > 1 && h.hasSuffix("/") { h.removeLast() }
        self.home = h
    }

    static func segmentName(_ index: UInt32) -> String {
        let s = String(index)
        return "seg-" + String(repeating: "0", count: max(0, 8 - s.count)) + s + ".tseg"
    }

    func segmentPath(_ index: UInt32) -> String { segmentsDir + "/" + Self.segmentName(index) }

    /// Segment indexes present on disk, sorted.
    func segmentIndexes() throws -> [UInt32] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: segmentsDir) } catch {
            // Foundation's text for these says only "The operation could not be completed" (session 12 probe).
            var isDir: ObjCBool = false
            let why = !FileManager.default.fileExists(atPath: segmentsDir, isDirectory: &isDir) ? "it does not exist"
                : !isDir.boolValue ? "it is not a directory"
                : opendir(segmentsDir).map { closedir($0); return error.localizedDescription } ?? FileIO.errorText()
            throw TallyError(.io, "cannot list \(segmentsDir): \(why)")
        }
        return names.compactMap { n -> UInt32? in
            guard n.hasPrefix("seg-"), n.hasSuffix(".tseg"), n.count == 17 else { return nil }
            return UInt32(n.dropFirst(4).prefix(8))
        }.sorted()
    }

    /// Throws a clear error unless H looks like a Tally home with a ledger.
    func checkIsHome() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: home, isDirectory: &isDir) else {
            throw TallyError(.notFound, "no Tally home at \(home) (run `tally init --home \(home)`)")
        }
        guard isDir.boolValue else { throw TallyError(.badInput, "\(home) is not a directory") }
        guard FileManager.default.isReadableFile(atPath: home) else { throw TallyError(.io, "\(home) is not readable") }
        guard FileManager.default.fileExists(atPath: publicKey) else {
            throw TallyError(.badInput, "\(home) is not a Tally home: it has no ledger.pub (run `tally init --home \(home)`)")
        }
        guard FileManager.default.fileExists(atPath: epochsNote), FileManager.default.fileExists(atPath: segmentsDir) else {
            throw TallyError(.badInput, "\(home) is not a complete Tally home: ledger/epochs.note or ledger/segments is missing")
        }
    }
}
