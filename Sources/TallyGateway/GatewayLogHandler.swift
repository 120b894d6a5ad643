import Foundation
public import Logging
import Synchronization

/// The gateway's log lines on standard error: one line per event,
/// `2026-11-27T18:40:00.123Z info tally.gateway: key=value key="a value" message`.
///
/// Much of what is logged comes from the agent before anything about it is verified: an access key id, a scope, an
/// operation name, a refusal's reason quoting a header. A newline in such a value would start a line of the agent's
/// making (a forged `... outcome=ok` call line; session 11 probe), and terminal control sequences would act on whoever
/// reads the log. So every message and metadata value is written escaped: control characters (C0, DEL, C1) and the
/// Unicode line and paragraph separators become `\n`, `\r`, `\t` or `\u{XX}`, and a backslash is doubled, so no
/// logged value can end a line or be mistaken for an escape. Values holding a space, `"` or `=` are quoted, so the
/// `key=value` pairs read back unambiguously.
///
/// With ``Format/json`` each line is instead one JSON object, for log shippers that parse JSON lines:
/// `{"time":"2026-11-27T18:40:00.123Z","level":"info","logger":"tally.gateway","message":"call","metadata":{"status":"200"}}`
/// (metadata values are strings, arrays or objects; every control character, DEL, C1 control and U+2028/U+2029 is an
/// escape, `\n` or `\uXXXX`, so a line is still one line and safe on a terminal).
public struct GatewayLogHandler: LogHandler {
    /// How lines are written: `key=value` text (the default) or JSON objects.
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: Format
    private let write: @Sendable (String) -> Void

    /// One line at a time on standard error: a line longer than a pipe's atomic write (4 KiB) could otherwise be
    /// interleaved with another thread's.
    private static let stderrLock = Mutex(())

    /// A handler writing to standard error.
    public static func standardError(label: String, format: Format = .text) -> GatewayLogHandler {
        GatewayLogHandler(label: label, format: format) { line in
            var line = line
            stderrLock.withLock { _ in line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if n <= 0 {
                        if n < 0 && errno == EINTR { continue }
                        return
                    }
                    offset += n
                }
            } }
        }
    }

    /// A handler passing each formatted line (ending in a newline) to `write` (tests).
    public init(label: String, format: Format = .text, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.format = format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        if format == .json {
            write(Self.jsonLine(level: event.level, label: label, message: event.message.description, metadata: all))
            return
        }
        var line = Self.timestamp()
        line += " \(event.level) "
        Self.appendEscaped(label, to: &line)
        line += ":"
        for key in all.keys.sorted() {
            line += " "
            Self.appendEscaped(key, to: &line)
            line += "="
            Self.appendValue(Self.render(all[key]!), to: &line)
        }
        line += " "
        Self.appendEscaped(event.message.description, to: &line)
        line += "\n"
        write(line)
    }

    /// One JSON object and a newline: time, level, logger, message and (when there is any) metadata, keys sorted.
    static func jsonLine(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"time\":\"" + timestamp() + "\",\"level\":\"\(level)\",\"logger\":"
        appendJSONString(label, to: &line)
        line += ",\"message\":"
        appendJSONString(message, to: &line)
        if !metadata.isEmpty {
            line += ",\"metadata\":"
            appendJSON(.dictionary(metadata), to: &line)
        }
        line += "}\n"
        return line
    }

    static func appendJSON(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let s): appendJSONString(s, to: &line)
        case .stringConvertible(let c): appendJSONString(c.description, to: &line)
        case .array(let a):
            line += "["
            for (i, v) in a.enumerated() {
                if i > 0 { line += "," }
                appendJSON(v, to: &line)
            }
            line += "]"
        case .dictionary(let d):
            line += "{"
            for (i, key) in d.keys.sorted().enumerated() {
                if i > 0 { line += "," }
                appendJSONString(key, to: &line)
                line += ":"
                appendJSON(d[key]!, to: &line)
            }
            line += "}"
        }
    }

    /// A JSON string: `"` and `\` escaped, `\n`, `\r`, `\t`, and every other C0 control, DEL, C1 control and
    /// U+2028/U+2029 as `\uXXXX`.
    static func appendJSONString(_ text: String, to line: inout String) {
        line += "\""
        appendEscaped(text, to: &line, quote: true, json: true)
        line += "\""
    }

    /// A metadata value as text (nested values in a compact bracketed form).
    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return "[" + a.map { render($0) }.joined(separator: ", ") + "]"
        case .dictionary(let d):
            return "[" + d.keys.sorted().map { "\($0): \(render(d[$0]!))" }.joined(separator: ", ") + "]"
        }
    }

    /// `value`, escaped, in double quotes when it is empty or holds a space, `"` or `=`.
    static func appendValue(_ value: String, to line: inout String) {
        let needsQuotes = value.isEmpty || value.utf8.contains { $0 == 0x20 || $0 == 0x22 || $0 == 0x3D }
        if !needsQuotes {
            appendEscaped(value, to: &line)
            return
        }
        line += "\""
        appendEscaped(value, to: &line, quote: true)
        line += "\""
    }

    /// Appends `text` with control characters, line separators and backslashes escaped (and `"` when `quote`); other
    /// controls as `\u{XX}`, or as JSON's `\uXXXX` when `json`.
    static func appendEscaped(_ text: String, to line: inout String, quote: Bool = false, json: Bool = false) {
        // Fast path: printable ASCII without a backslash (or quote) is written as is.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C && !(quote && $0 == 0x22) }) {
            line += text
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: line += "\\n"
            case 0x0D: line += "\\r"
            case 0x09: line += "\\t"
            case 0x5C: line += "\\\\"
            case 0x22 where quote: line += "\\\""
            case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029:
                let hex = String(scalar.value, radix: 16, uppercase: !json)
                line += json ? "\\u" + String(repeating: "0", count: 4 - hex.count) + hex : "\\u{" + hex + "}"
            default: line.unicodeScalars.append(scalar)
            }
        }
    }

    /// UTC, millisecond precision: `2026-11-27T18:40:00.123Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(ts.tv_nsec / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday))T\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)).\(msText)Z"
    }
}
