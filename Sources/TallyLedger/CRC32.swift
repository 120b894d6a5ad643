import TallyCore

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF):
/// the same function as zlib's `crc32` and Python's `zlib.crc32`. Carry-less-multiply folding
/// (`CRC32Fold`) where the CPU has it, slicing-by-8 for the tail and elsewhere.
enum CRC32 {
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB88320 ^ (c >> 1)) : (c >> 1) }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t
    }()

    /// Continues a CRC over `bytes` (pass the previous result as `crc`, 0 to start).
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var register = ~crc
        let folded = CRC32Fold.advance(&register, over: bytes)
        return tableUpdate(~register, UnsafeRawBufferPointer(rebasing: bytes[folded...]))
    }

    /// The table-driven CRC alone (the reference the folding path is tested against).
    static func tableUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        let n = bytes.count
        guard n > 0 else { return crc }
        let p = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        return tables.withUnsafeBufferPointer { tp in
            let t0 = tp[0], t1 = tp[1], t2 = tp[2], t3 = tp[3], t4 = tp[4], t5 = tp[5], t6 = tp[6], t7 = tp[7]
            return t0.withUnsafeBufferPointer { T0 in t1.withUnsafeBufferPointer { T1 in t2.withUnsafeBufferPointer { T2 in
                t3.withUnsafeBufferPointer { T3 in t4.withUnsafeBufferPointer { T4 in t5.withUnsafeBufferPointer { T5 in
                    t6.withUnsafeBufferPointer { T6 in t7.withUnsafeBufferPointer { T7 in
                        var i = 0
                        while i + 8 <= n {
                            let lo = UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24
                            let a = c ^ lo
                            c = T7[Int(a & 0xFF)] ^ T6[Int((a >> 8) & 0xFF)] ^ T5[Int((a >> 16) & 0xFF)] ^ T4[Int(a >> 24)]
                                ^ T3[Int(p[i + 4])] ^ T2[Int(p[i + 5])] ^ T1[Int(p[i + 6])] ^ T0[Int(p[i + 7])]
                            i += 8
                        }
                        while i < n {
                            c = T0[Int((c ^ UInt32(p[i])) & 0xFF)] ^ (c >> 8)
                            i += 1
                        }
                        return ~c
                    } }
                } } }
            } } }
        }
    }

    static func checksum<C: ContiguousBytes>(_ bytes: C) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}

