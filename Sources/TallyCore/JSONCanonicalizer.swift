#if canImport(Glibc)
import Glibc
#endif

/// Turns JSON text straight into the ledger's canonical bytes without building a `JSONValue`
/// tree: the hot path of `ledger append`. Produces exactly `JSONValue(parsing:).canonicalBytes()`
/// and rejects exactly what `JSONValue(parsing:)` rejects. Reuse one instance (it keeps scratch
/// buffers); it is not thread-safe, give each thread its own.
public struct JSONCanonicalizer {
    /// What the top-level object's "type" member was (for event validation).
    public enum TypeMember: Sendable, Equatable { case missing, notString, string }

    private struct Member {
        var keyStart: Int
        var keyEnd: Int
        var outStart: Int
        var outEnd: Int
    }

    private var keyArena: [UInt8] = []
    private var members: [Member] = []
    private var temp: [UInt8] = []
    private var orderScratch: [Member] = []
    /// Per member count: the last key sequence seen (bytes, lengths), its sorting permutation, and whether it was already sorted.
    private var permutationCache = [(keys: [UInt8], lengths: [Int], permutation: [Int], identity: Bool)?](repeating: nil, count: 65)
    /// Set by ``canonicalizeEvent(_:into:)``.
    public private(set) var typeMember: TypeMember = .missing

    public init() {}

    /// Appends the canonical form of the JSON text `input` to `out`.
    public mutating func canonicalize(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) throws {
        var scanner = JSONScanner(input)
        scanner.skipWhitespace()
        try value(&scanner, &out)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("unexpected \(scanner.describeCurrent()) after the JSON value") }
    }

    /// Canonicalises an event: a JSON object with a string member "type". Appends to `out`.
    /// Throws `TallyError(.badInput)` for invalid JSON, a non-object, or a missing/non-string "type".
    public mutating func canonicalizeEvent(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) throws {
        // Fast path: an event already in canonical form is its own canonical form.
        if CanonicalEventCheck.isCanonicalEvent(input) {
            out.append(contentsOf: input)
            typeMember = .string
            return
        }
        var scanner = JSONScanner(input)
        scanner.skipWhitespace()
        guard !scanner.atEnd, scanner.current == UInt8(ascii: "{") else {
            if scanner.atEnd { throw TallyError(.badInput, "empty input: an event is a JSON object") }
            // Validate first so that malformed JSON is reported as such.
            var sink: [UInt8] = []
            try value(&scanner, &sink)
            throw TallyError(.badInput, "an event must be a JSON object, got \(JSONCanonicalizer.kindName(sink.first))")
        }
        typeMember = .missing
        try value(&scanner, &out, topLevelObject: true)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("unexpected \(scanner.describeCurrent()) after the JSON value") }
        switch typeMember {
        case .missing: throw TallyError(.badInput, "the event has no \"type\" member")
        case .notString: throw TallyError(.badInput, "the event's \"type\" member must be a string")
        case .string: break
        }
    }

    static func kindName(_ first: UInt8?) -> String {
        switch first {
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }

    private mutating func value(_ s: inout JSONScanner, _ out: inout [UInt8], topLevelObject: Bool = false) throws {
        guard !s.atEnd else { throw s.error("expected a value, found end of input") }
        switch s.current {
        case UInt8(ascii: "{"): try object(&s, &out, topLevel: topLevelObject)
        case UInt8(ascii: "["):
            try s.enter()
            s.pos += 1
            out.append(UInt8(ascii: "["))
            s.skipWhitespace()
            if !s.atEnd, s.current == UInt8(ascii: "]") { s.pos += 1; s.leave(); out.append(UInt8(ascii: "]")); return }
            while true {
                s.skipWhitespace()
                try value(&s, &out)
                s.skipWhitespace()
                guard !s.atEnd else { throw s.error("unterminated array") }
                if s.current == UInt8(ascii: ",") { s.pos += 1; out.append(UInt8(ascii: ",")); continue }
                if s.current == UInt8(ascii: "]") { s.pos += 1; break }
                throw s.error("expected ',' or ']' in an array, found \(s.describeCurrent())")
            }
            s.leave()
            out.append(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            if let close = s.plainStringEnd() {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: s.buf[s.pos...close]))
                s.pos = close + 1
            } else {
                out.append(0x22)
                try s.scanString(into: &out, canonical: true)
                out.append(0x22)
            }
        case UInt8(ascii: "t"): try s.literal("true"); out.append(contentsOf: "true".utf8)
        case UInt8(ascii: "f"): try s.literal("false"); out.append(contentsOf: "false".utf8)
        case UInt8(ascii: "n"): try s.literal("null"); out.append(contentsOf: "null".utf8)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try s.scanNumber()
            let ok = JSONCanonicalForm.appendNumber(UnsafeBufferPointer(rebasing: s.buf[range]), to: &out)
            if !ok { throw s.error("invalid number (its canonical exponent would be out of range)", at: range.lowerBound) }
        default:
            throw s.error("expected a value, found \(s.describeCurrent())")
        }
    }

    private mutating func object(_ s: inout JSONScanner, _ out: inout [UInt8], topLevel: Bool) throws {
        try s.enter()
        s.pos += 1
        out.append(UInt8(ascii: "{"))
        let memberBase = members.count
        let arenaBase = keyArena.count
        var anyNonASCII = false
        s.skipWhitespace()
        if !s.atEnd, s.current == UInt8(ascii: "}") {
            s.pos += 1; s.leave(); out.append(UInt8(ascii: "}")); return
        }
        while true {
            s.skipWhitespace()
            guard !s.atEnd, s.current == UInt8(ascii: "\"") else {
                throw s.error("expected a string key, found \(s.describeCurrent())")
            }
            let keyPos = s.pos
            let keyStart = keyArena.count
            var plainKey = false
            if let close = s.plainStringEnd() {
                keyArena.append(contentsOf: UnsafeBufferPointer(rebasing: s.buf[(keyPos + 1)..<close]))
                s.pos = close + 1
                plainKey = true
            } else if !(try s.scanString(into: &keyArena, canonical: false)) {
                anyNonASCII = true
            }
            let keyInputEnd = s.pos
            let keyEnd = keyArena.count
            s.skipWhitespace()
            try s.expect(UInt8(ascii: ":"), "':' after an object key")
            s.skipWhitespace()
            if members.count > memberBase { out.append(UInt8(ascii: ",")) }
            let outStart = out.count
            // Without a backslash in the input, the key's canonical form is its input bytes.
            let rawKey = UnsafeBufferPointer(rebasing: s.buf[keyPos..<keyInputEnd])
            if plainKey || memchr(rawKey.baseAddress!, 0x5C, rawKey.count) == nil {
                out.append(contentsOf: rawKey)
            } else {
                JSONCanonicalForm.appendString(keyArena[keyStart..<keyEnd], to: &out)
            }
            out.append(UInt8(ascii: ":"))
            let valueStart = out.count
            try value(&s, &out)
            if topLevel, keyEnd - keyStart == 4, keyArena[keyStart..<keyEnd].elementsEqual("type".utf8) {
                typeMember = out[valueStart] == 0x22 ? .string : .notString
            }
            members.append(Member(keyStart: keyStart, keyEnd: keyEnd, outStart: outStart, outEnd: out.count))
            s.skipWhitespace()
            guard !s.atEnd else { throw s.error("unterminated object") }
            if s.current == UInt8(ascii: ",") { s.pos += 1; continue }
            if s.current == UInt8(ascii: "}") { s.pos += 1; break }
            throw s.error("expected ',' or '}' in an object, found \(s.describeCurrent())")
        }
        s.leave()
        try finishObject(memberBase: memberBase, out: &out, objectEnd: s.pos, anyNonASCII: anyNonASCII)
        out.append(UInt8(ascii: "}"))
        members.removeSubrange(memberBase...)
        keyArena.removeSubrange(arenaBase...)
    }

    @inline(__always)
    private static func compare(_ arena: UnsafeBufferPointer<UInt8>, _ a: Member, _ b: Member) -> Int32 {
        let la = a.keyEnd - a.keyStart, lb = b.keyEnd - b.keyStart
        let n = min(la, lb)
        if n > 0 {
            let c = memcmp(arena.baseAddress! + a.keyStart, arena.baseAddress! + b.keyStart, n)
            if c != 0 { return c < 0 ? -1 : 1 }
        }
        return la == lb ? 0 : (la < lb ? -1 : 1)
    }

    private func keyString(_ m: Member) -> String { String(decoding: keyArena[m.keyStart..<m.keyEnd], as: UTF8.self) }

    /// Sorts the members written since `memberBase` into canonical order; rejects duplicates.
    private mutating func finishObject(memberBase: Int, out: inout [UInt8], objectEnd: Int, anyNonASCII: Bool) throws {
        let count = members.count - memberBase
        guard count > 1 else { return }
        var order = orderScratch
        orderScratch = []  // keep a single reference so the buffer is reused, not copied
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: members[memberBase...])
        defer { orderScratch = order }
        var duplicateAt: Int?
        var sorted = true
        // Objects from one producer share a schema: reuse the last permutation for the same key sequence.
        if count <= 64, let cached = permutationCache[count], cached.keys.count == keyArena.count - order[0].keyStart,
           keyArena.withUnsafeBufferPointer({ arena in
               cached.keys.withUnsafeBufferPointer { ck in
                   var off = 0
                   for (i, m) in order.enumerated() {
                       let n = m.keyEnd - m.keyStart
                       guard n == cached.lengths[i], memcmp(arena.baseAddress! + m.keyStart, ck.baseAddress! + off, n) == 0 else { return false }
                       off += n
                   }
                   return true
               }
           }) {
            if cached.identity { return try checkNonASCII(memberBase: memberBase, objectEnd: objectEnd, anyNonASCII: anyNonASCII) }
            let base = order
            for (i, p) in cached.permutation.enumerated() { order[i] = base[p] }
            rebuild(order, memberBase: memberBase, out: &out)
            return try checkNonASCII(memberBase: memberBase, objectEnd: objectEnd, anyNonASCII: anyNonASCII)
        }
        let unsortedOrder = order
        keyArena.withUnsafeBufferPointer { arena in
            for i in 1..<order.count {
                let c = Self.compare(arena, order[i - 1], order[i])
                if c == 0 { duplicateAt = i; return }
                if c > 0 { sorted = false }
            }
            guard !sorted else { return }
            // Insertion sort: objects are small.
            for i in 1..<order.count {
                let m = order[i]
                var j = i - 1
                while j >= 0 && Self.compare(arena, order[j], m) > 0 { order[j + 1] = order[j]; j -= 1 }
                order[j + 1] = m
            }
            for i in 1..<order.count where Self.compare(arena, order[i - 1], order[i]) == 0 { duplicateAt = i; return }
        }
        if let d = duplicateAt { throw duplicate(order[d], objectEnd) }
        // Remember this key sequence's permutation (only for objects without duplicates).
        if count <= 64 {
            let keys = Array(keyArena[unsortedOrder[0].keyStart..<unsortedOrder[count - 1].keyEnd])
            var perm: [Int] = []
            if !sorted {
                perm = order.map { m in unsortedOrder.firstIndex { $0.keyStart == m.keyStart }! }
            }
            permutationCache[count] = (keys, unsortedOrder.map { $0.keyEnd - $0.keyStart }, perm, sorted)
        }
        if !sorted { rebuild(order, memberBase: memberBase, out: &out) }
        try checkNonASCII(memberBase: memberBase, objectEnd: objectEnd, anyNonASCII: anyNonASCII)
    }

    private mutating func rebuild(_ order: [Member], memberBase: Int, out: inout [UInt8]) {
        let regionStart = members[memberBase].outStart
        temp.removeAll(keepingCapacity: true)
        temp.append(contentsOf: out[regionStart...])
        out.removeSubrange(regionStart...)
        for (i, m) in order.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: temp[(m.outStart - regionStart)..<(m.outEnd - regionStart)])
        }
    }

    private func checkNonASCII(memberBase: Int, objectEnd: Int, anyNonASCII: Bool) throws {
        if anyNonASCII {
            // Swift strings compare by canonical equivalence: keys that differ in bytes but are
            // canonically equivalent would collide in a JSONValue object, so they are duplicates here too.
            var seen = Set<String>()
            for m in members[memberBase...] where !seen.insert(keyString(m)).inserted {
                throw duplicate(m, objectEnd)
            }
        }
    }

    private func duplicate(_ m: Member, _ objectEnd: Int) -> TallyError {
        TallyError(.badInput, "invalid JSON: duplicate key \"\(keyString(m))\" in the object ending at byte \(objectEnd)")
    }
}

extension JSONCanonicalizer {
    /// Convenience: the canonical bytes of `input`.
    public static func canonicalBytes(of input: some Collection<UInt8>) throws -> [UInt8] {
        var c = JSONCanonicalizer()
        var out: [UInt8] = []
        let bytes = Array(input)
        try bytes.withUnsafeBufferPointer { try c.canonicalize($0, into: &out) }
        return out
    }
}
