import ArgumentParser
import TallyCore
import TallyLedger

/// `tally ledger prove --seq N` — an offline proof bundle (JSON) on stdout.
struct LedgerProveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prove", abstract: "Print a proof bundle (record, inclusion proof, signed checkpoint, epoch certificate) for one record.")
    @OptionGroup var home: HomeOptions
    @Option(help: "The record's seq (inclusion proof).") var seq: UInt64?
    @Option(name: .customLong("consistency-from"), help: "Instead: prove the newest checkpoint extends the tree of this many records (RFC 9162 consistency).")
    var consistencyFrom: UInt64?

    func validate() throws {
        guard (seq == nil) != (consistencyFrom == nil) else { throw TallyError(.badUsage, "give exactly one of --seq or --consistency-from") }
    }

    func run() async throws {
        if let seq {
            print(try LedgerProofs.prove(home: home.homePath, seq: seq).description)
        } else if let consistencyFrom {
            print(try LedgerProofs.proveConsistency(home: home.homePath, oldSize: consistencyFrom).description)
        }
    }
}

/// `tally ledger verify-proof FILE --public-key F` — 0 valid, 1 invalid.
struct LedgerVerifyProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-proof", abstract: "Check a proof bundle with the public key alone; exit 0 valid, 1 invalid.")
    @Argument(help: "The proof bundle (JSON).") var file: String
    @Option(name: .customLong("public-key"), help: "The ledger's public key (ledger.pub).") var publicKey: String
    @OptionGroup var json: JSONOption

    func run() async throws {
        do { try check() } catch let e as TallyError where e.code == .invalidProof && json.json {
            // With --json an invalid proof is said on stdout too (exit 1 as without).
            print(JSONValue.object(["valid": false, "reason": .string(e.reason)]).description)
            throw e
        }
    }

    private func check() throws {
        let keyText = try readText(publicKey, what: "public key")
        let key = try NoteVerifierKey(parsing: keyText)
        let text = try readText(file, what: "proof bundle")
        let bundle: JSONValue
        do { bundle = try JSONValue(parsing: text) } catch let e as TallyError {
            throw TallyError(.invalidProof, "invalid proof: the bundle is not JSON (\(e.reason))")
        }
        if bundle["format"]?.stringValue == LedgerProofs.consistencyFormat {
            let (old, oldRoot, new) = try LedgerProofs.verifyConsistency(bundle: bundle, rootKey: key)
            // The old root is printed: the auditor compares it with the checkpoint of that size they kept (a difference is a fork).
            let root = Data(oldRoot.bytes).base64EncodedString()
            if json.json {
                print(#"{"valid":true,"old_size":\#(old),"old_root":"\#(root)","tree_size":\#(new)}"#)
            } else {
                print("valid: the checkpoint of size \(new) extends the tree of size \(old) with root \(root) (compare it with the checkpoint of size \(old) you kept)")
            }
            return
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
