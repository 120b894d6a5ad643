import Foundation

/// Parsing of typed condition values (numbers, dates, booleans, base64), shared by the grammar
/// (to reject bad policy values) and the evaluator (to coerce request values).
enum ConditionValueParsing {
    /// A decimal number: optional sign, digits, optional fraction and exponent. No hex, inf or nan.
    static func number(_ text: some StringProtocol) -> Double? {
        var sawDigit = false
        var index = text.startIndex
        if index < text.endIndex, text[index] == "-" || text[index] == "+" { index = text.index(after: index) }
        var sawDot = false
        var sawExponent = false
        while index < text.endIndex {
            let c = text[index]
            if c.isASCIIDigit {
                sawDigit = true
            } else if c == "." && !sawDot && !sawExponent {
                sawDot = true
            } else if (c == "e" || c == "E") && sawDigit && !sawExponent {
                sawExponent = true
                sawDigit = false
                let next = text.index(after: index)
                if next < text.endIndex, text[next] == "-" || text[next] == "+" { index = next }
            } else {
                return nil
            }
            index = text.index(after: index)
        }
        guard sawDigit else { return nil }
        return Double(String(text))
    }

    /// "true" / "false", case-insensitive.
    static func bool(_ text: some StringProtocol) -> Bool? {
        // ASCII case-insensitive "true" / "false" without allocating.
        var folded: UInt64 = 0
        var count = 0
        for byte in text.utf8 {
            count += 1
            if count > 5 { return nil }
            folded = folded << 8 | UInt64(byte | 0x20)
        }
        switch (count, folded) {
        case (4, 0x7472_7565): return true  // "true"
        case (5, 0x66_616C_7365): return false  // "false"
        default: return nil
        }
    }

    /// Decoded base64 bytes.
    static func binary(_ text: String) -> [UInt8]? {
        Data(base64Encoded: text).map { [UInt8]($0) }
    }

    /// A date as seconds since 1970-01-01T00:00:00Z: ISO 8601 (`2020-01-01`, `2020-01-01T12:00:00Z`,
    /// fractional seconds, `+hh:mm` offsets, minutes-only times) or an epoch in seconds.
    static func date(_ text: some StringProtocol) -> Double? {
        let bytes = Array(text.utf8)
        // YYYY-MM, the W3C profile's month precision (AWS takes "one of the W3C implementations of ISO 8601"): the
        // month's first instant. (It was read as a number and refused; session 12 probe. A bare YYYY stays a number
        // of epoch seconds, which it also is.)
        if bytes.count == 7, bytes[4] == 45, bytes.enumerated().allSatisfy({ $0.offset == 4 || ($0.element >= 48 && $0.element <= 57) }) {
            return date(String(decoding: bytes, as: UTF8.self) + "-01")
        }
        if !bytes.isEmpty, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 || $0 == 46 || $0 == 45 }), !bytes.contains(58),
            bytes.count < 10 || bytes[4] != 45
        {
            return number(text)
        }
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= bytes.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard bytes[k] >= 48 && bytes[k] <= 57 else { return nil }
                v = v * 10 + Int(bytes[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86400
        if i == bytes.count { return seconds }
        guard expect(84) || expect(116) || expect(32) else { return nil }  // 'T', 't' or ' '
        guard let hour = digits(2), hour < 24, expect(58), let minute = digits(2), minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(58) {
            guard let second = digits(2), second <= 60 else { return nil }
            seconds += Double(second)
            if expect(46) {
                let start = i
                var fraction = 0.0
                var scale = 0.1
                while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 {
                    fraction += Double(bytes[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start else { return nil }
                seconds += fraction
            }
        }
        if i == bytes.count || expect(90) || expect(122) {  // no zone (UTC), 'Z' or 'z'
            return i == bytes.count ? seconds : nil
        }
        guard i < bytes.count, bytes[i] == 43 || bytes[i] == 45 else { return nil }
        let sign: Double = bytes[i] == 43 ? 1 : -1
        i += 1
        guard let offsetHour = digits(2), offsetHour < 24 else { return nil }
        _ = expect(58)
        guard let offsetMinute = digits(2), offsetMinute < 60, i == bytes.count else { return nil }
        return seconds - sign * Double(offsetHour * 3600 + offsetMinute * 60)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
