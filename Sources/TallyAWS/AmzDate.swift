public import Foundation

/// The SigV4 timestamp format `yyyyMMdd'T'HHmmss'Z'` (UTC), converted without DateFormatter.
public enum AmzDate {
    /// Parses `20261126T143900Z`; nil when malformed.
    public static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8),
              let h = num(9..<11), let mi = num(11..<13), let s = num(13..<15),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        let days = daysFromCivil(y, mo, d)
        // A day the month does not have (`20261131`, `20260230`) is malformed, not rolled over into the next month.
        guard civilFromDays(days) == (y, mo, d) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(days * 86400 + h * 3600 + mi * 60 + s))
    }

    /// Formats a date as `20261126T143900Z` (UTC, whole seconds).
    public static func format(_ date: Date) -> String {
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let (y, m, d) = civilFromDays(days)
        if (0...9999).contains(y) {
            // Digits written in place (this runs for every re-signed request).
            var b = [UInt8](repeating: 0, count: 16)
            func put(_ value: Int, at: Int, width: Int) {
                var v = value
                for i in stride(from: at + width - 1, through: at, by: -1) { b[i] = UInt8(48 + v % 10); v /= 10 }
            }
            put(y, at: 0, width: 4); put(m, at: 4, width: 2); put(d, at: 6, width: 2)
            b[8] = UInt8(ascii: "T")
            put(secs / 3600, at: 9, width: 2); put(secs % 3600 / 60, at: 11, width: 2); put(secs % 60, at: 13, width: 2)
            b[15] = UInt8(ascii: "Z")
            return String(decoding: b, as: UTF8.self)
        }
        func p(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return p(y, 4) + p(m, 2) + p(d, 2) + "T" + p(secs / 3600, 2) + p(secs % 3600 / 60, 2) + p(secs % 60, 2) + "Z"
    }

    /// Formats a date as an RFC 1123 HTTP date, `Mon, 09 Sep 2011 23:36:00 GMT` (the `Date` header).
    public static func formatHTTPDate(_ date: Date) -> String {
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let (y, m, d) = civilFromDays(days)
        // 1970-01-01 was a Thursday.
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(y)
        return "\(weekday), \(two(d)) \(month) \(String(repeating: "0", count: max(0, 4 - year.count)) + year) "
            + "\(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60)) GMT"
    }

    /// Parses an RFC 1123 HTTP date (`Mon, 09 Sep 2011 23:36:00 GMT`), the SigV4 fallback when `X-Amz-Date`
    /// is absent; nil when malformed.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT" || parts[5] == "UTC",
              let d = Int(parts[1]), let y = Int(parts[3]),
              let m = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (1...31).contains(d), hms[0] < 24, hms[1] < 60, hms[2] < 61 else { return nil }
        let days = daysFromCivil(y, m + 1, d)
        return Date(timeIntervalSince1970: TimeInterval(days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2]))
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
