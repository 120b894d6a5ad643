import ArgumentParser
import TallyCore
import TallyLedger

/// `tally ledger prove --seq N` — an offline proof bundle (JSON) on stdout.
struct LedgerProveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prove", abstract: "Print a proof bundle (record, inclusion proof, signed checkpoint, epoch certificate) for one record.")
    @OptionGroup var home: HomeOptions
    @Option(help: "The record's seq.") var seq: UInt64

    func run() async throws {
        print(try LedgerProofs.prove(home: home.homePath, seq: seq).description)
    }
}

/// `tally ledger verify-proof FILE --public-key F` — 0 valid, 1 invalid.
struct LedgerVerifyProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-proof", abstract: "Check a proof bundle with the public key alone; exit 0 valid, 1 invalid.")
    @Argument(help: "The proof bundle (JSON).") var file: String
    @Option(name: .customLong("public-key"), help: "The ledger's public key (ledger.pub).") var publicKey: String
    @OptionGroup var json: JSONOption

    func run() async throws {
        let keyText = try readText(publicKey, what: "public key")
        let key = try NoteVerifierKey(parsing: keyText)
        let text = try readText(file, what: "proof bundle")
        let bundle: JSONValue
        do { bundle = try JSONValue(parsing: text) } catch let e as TallyError {
            throw TallyError(.invalidProof, "invalid proof: the bundle is not JSON (\(e.reason))")
        }
        let seq = try LedgerProofs.verify(bundle: bundle, rootKey: key)
        if json.json { print(#"{"valid":true,"seq":\#(seq)}"#) } else { print("valid: record \(seq) is in a checkpoint signed under \(key.name)") }
    }

    private func readText(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TallyError(.io, "cannot read the \(what) \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

import Foundation
