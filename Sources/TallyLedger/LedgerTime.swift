/// Record times: milliseconds since the Unix epoch, written as RFC 3339 UTC with exactly three
/// fractional digits, e.g. `2026-11-26T16:13:33.123Z`.
enum LedgerTime {
    /// Current wall-clock time in milliseconds since the Unix epoch.
    static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Appends the RFC 3339 text of `ms` (years 0000–9999) to `out`.
    static func append(_ ms: Int64, to out: inout [UInt8]) {
        let days = floorDiv(ms, 86_400_000)
        let msOfDay = ms - days * 86_400_000
        let (y, m, d) = civil(fromDays: days)
        func put(_ v: Int64, _ width: Int) {
            var digits = [UInt8](repeating: 0x30, count: width)
            var x = v
            for i in stride(from: width - 1, through: 0, by: -1) { digits[i] = UInt8(0x30 + x % 10); x /= 10 }
            out.append(contentsOf: digits)
        }
        put(y, 4); out.append(UInt8(ascii: "-")); put(m, 2); out.append(UInt8(ascii: "-")); put(d, 2)
        out.append(UInt8(ascii: "T"))
        put(msOfDay / 3_600_000, 2); out.append(UInt8(ascii: ":"))
        put(msOfDay / 60_000 % 60, 2); out.append(UInt8(ascii: ":"))
        put(msOfDay / 1000 % 60, 2); out.append(UInt8(ascii: "."))
        put(msOfDay % 1000, 3); out.append(UInt8(ascii: "Z"))
    }

    static func string(_ ms: Int64) -> String {
        var out: [UInt8] = []
        append(ms, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Howard Hinnant's days-to-civil algorithm.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

#if canImport(Glibc)
import Glibc
#endif
