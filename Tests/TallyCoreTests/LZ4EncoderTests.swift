import Testing
@testable import TallyCore

/// Tally's own LZ4 block encoder (CTallyShim/lz4_block.c) behind `LZ4.compress`: liblz4's decoder
/// must read back every input exactly, every block must keep the format's rules (checked here by an
/// independent walk over the sequences, not only by the decoder), the output must fit
/// `compressBound`, and on ledger-like JSON it must be smaller than liblz4's LZ4_compress_default
/// for large blocks and within 1% of it for blocks of a few records.
@Suite struct LZ4EncoderTests {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    }

    /// Walks `block`'s sequences and checks the LZ4 block format rules for an input of `size` bytes:
    /// offsets 1...65,535 and not before the start, the last sequence literals only, at least 5
    /// literals at the end and every match starting at least 12 bytes before the end.
    static func formatProblem(_ block: [UInt8], size: Int) -> String? {
        var i = 0, produced = 0
        func length(_ nibble: Int) -> Int? {
            var n = nibble
            guard nibble == 15 else { return n }
            while true {
                guard i < block.count else { return nil }
                let b = Int(block[i]); i += 1; n += b
                if b != 255 { return n }
            }
        }
        while i < block.count {
            let token = Int(block[i]); i += 1
            guard let literals = length(token >> 4) else { return "literal length runs off the block" }
            guard i + literals <= block.count else { return "literals run off the block" }
            i += literals; produced += literals
            if i == block.count {
                guard token & 0x0F == 0 else { return "the last sequence has a match nibble" }
                break
            }
            guard i + 2 <= block.count else { return "offset runs off the block" }
            let offset = Int(block[i]) | Int(block[i + 1]) << 8; i += 2
            guard offset >= 1, offset <= produced else { return "offset \(offset) at output \(produced)" }
            guard produced <= size - 12 else { return "a match starts \(size - produced) bytes before the end" }
            guard let extra = length(token & 0x0F) else { return "match length runs off the block" }
            produced += extra + 4
            guard produced <= size - 5 else { return "a match ends \(size - produced) bytes before the end" }
        }
        guard produced == size else { return "the block describes \(produced) bytes, not \(size)" }
        return nil
    }

    static func check(_ input: [UInt8], _ label: String) throws {
        let block = try LZ4.compress(input)
        #expect(block.count <= LZ4.compressBound(input.count), "\(label): \(block.count) bytes > bound")
        #expect(formatProblem(block, size: input.count) == nil, "\(label): \(formatProblem(block, size: input.count) ?? "")")
        #expect(try LZ4.decompress(block, originalSize: input.count) == input, "\(label): round trip")
    }

    @Test func shortInputsOfEveryLength() throws {
        var rng = Rng(state: 1)
        let pattern = Array("abcabcabcd{\"type\":\"x\"}".utf8)
        for n in 0...300 {
            try Self.check((0..<n).map { pattern[$0 % pattern.count] }, "pattern \(n)")
            try Self.check((0..<n).map { _ in rng.byte() }, "random \(n)")
            try Self.check([UInt8](repeating: 0x41, count: n), "one byte \(n)")
        }
    }

    /// Long literal runs (incompressible), long matches (one byte repeated: offset 1, overlapping),
    /// matches just inside and just outside the 65,535-byte window, and sizes around the 16 KiB
    /// and table-size thresholds.
    @Test func edgeShapes() throws {
        var rng = Rng(state: 7)
        let noise = (0..<300_000).map { _ in rng.byte() }
        try Self.check(noise, "incompressible 300,000")
        try Self.check([UInt8](repeating: 0, count: 1 << 20), "1 MiB of zeros")
        for gap in [65_530, 65_531, 65_532, 65_535, 65_536, 65_537, 70_000] {
            let head: [UInt8] = Array(noise[0..<64])
            var input: [UInt8] = head
            input += noise[1000..<(1000 + gap - 64)]
            input += head
            input += noise[0..<40]
            try Self.check(input, "a repeat \(gap) bytes back")
        }
        for n in [4095, 4096, 8191, 16_383, 16_384, 16_385, 65_535, 65_536, 131_072, 262_145] {
            var mixed: [UInt8] = []
            for i in 0..<n { mixed.append(i % 7 == 0 ? rng.byte() : UInt8(65 + (i / 3) % 26)) }
            try Self.check(mixed, "mixed \(n)")
        }
    }

    /// Random inputs built from random bytes and copies of earlier bytes at random distances (some
    /// beyond the 64 KiB window) and lengths: every block keeps the rules and round-trips.
    @Test func randomRepeats() throws {
        var rng = Rng(state: 21)
        for round in 0..<150 {
            let size = Int(rng.next() % 300_000)
            var input: [UInt8] = []
            input.reserveCapacity(size + 300)
            while input.count < size {
                if input.count > 8 && rng.next() % 3 != 0 {
                    let distance = 1 + Int(rng.next() % UInt64(min(input.count, 100_000)))
                    let length = Int(rng.next() % 300)
                    for _ in 0..<length { input.append(input[input.count - distance]) }
                } else {
                    for _ in 0..<Int(rng.next() % 40) { input.append(rng.byte() % (round % 2 == 0 ? 4 : 255)) }
                }
            }
            try Self.check(input, "random repeats, round \(round), \(input.count) bytes")
        }
    }

    /// A full destination works; one too small fails with an error instead of writing past it.
    @Test func destinationCapacity() throws {
        var rng = Rng(state: 9)
        let noise = (0..<5000).map { _ in rng.byte() }
        try noise.withUnsafeBytes { src in
            var exact = [UInt8](repeating: 0, count: LZ4.compressBound(noise.count))
            let n = try exact.withUnsafeMutableBytes { try LZ4.compress(src, into: $0) }
            #expect(n > noise.count)  // incompressible: literals plus the length bytes
            var short = [UInt8](repeating: 0, count: n - 1)
            #expect(throws: TallyError.self) { try short.withUnsafeMutableBytes { try LZ4.compress(src, into: $0) } }
        }
    }

    /// Ledger-like JSON events in blocks of every size the ledger writes (one record to megabytes):
    /// exact round trips, and sizes compared with LZ4_compress_default's blocks.
    @Test func ledgerLikeJSONSizesAgainstLiblz4() throws {
        var rng = Rng(state: 3)
        var lines: [[UInt8]] = []
        let actions = ["s3:GetObject", "s3:PutObject", "dynamodb:PutItem", "sqs:SendMessage", "kms:Decrypt", "iam:CreateUser"]
        for i in 0..<20_000 {
            let a = actions[Int(rng.next() % 6)]
            lines.append(Array(#"{"action":"\#(a)","callId":"\#(String(rng.next(), radix: 16))","principal":"agent-\#(i % 13)","resource":"arn:aws:s3:::bucket-\#(i % 97)/logs/\#(rng.next() % 100000).json","status":\#(200 + Int(rng.next() % 3) * 100),"type":"call.requested"}"#.utf8) + [0x0A])
        }
        for perBlock in [1, 16, 512, 20_000] {
            var ours = 0, theirs = 0
            for start in stride(from: 0, to: min(lines.count, perBlock * 40), by: perBlock) {
                let block = Array(lines[start..<min(start + perBlock, lines.count)].joined())
                try Self.check(block, "\(perBlock) lines from \(start)")
                ours += try LZ4.compress(block).count
                theirs += try block.withUnsafeBytes { src in
                    var out = [UInt8](repeating: 0, count: LZ4.compressBound(block.count))
                    return try out.withUnsafeMutableBytes { try LZ4.compressReference(src, into: $0) }
                }
            }
            // Blocks of hundreds of records and more (the CLI's batches) come out smaller than liblz4's;
            // blocks of a few records (the gateway's) within 1% of it.
            if perBlock >= 512 {
                #expect(ours < theirs, "\(perBlock) lines per block: \(ours) bytes vs liblz4's \(theirs)")
            } else {
                #expect(Double(ours) <= Double(theirs) * 1.01, "\(perBlock) lines per block: \(ours) bytes vs liblz4's \(theirs)")
            }
        }
    }
}
