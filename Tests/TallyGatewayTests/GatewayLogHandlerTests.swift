import Foundation
import Logging
import Synchronization
import Testing
@testable import TallyGateway

@Suite struct GatewayLogHandlerTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    func logger(_ lines: Lines) -> Logger {
        Logger(label: "tally.gateway") { label in GatewayLogHandler(label: label) { line in lines.all.withLock { $0.append(line) } } }
    }

    /// Agent-supplied text can neither end the line (and forge the next one) nor reach the terminal as a control
    /// sequence: newlines, carriage returns, ESC, DEL, C1 controls and U+2028 are written escaped, backslashes doubled.
    @Test func agentTextStaysOnItsLine() {
        let lines = Lines()
        let log = logger(lines)
        let forged = "x\n2026-11-27T18:40:00.000Z info tally.gateway: outcome=ok call\r\u{1B}[31m\u{7F}\u{85}\u{2028}\\n"
        log.notice("denied \(forged)", metadata: ["reason": "\(forged)", "key\nname": "v"])
        let line = lines.all.withLock { $0 }.joined()
        #expect(line.hasSuffix("\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F..<0xA0).contains($0.value) || $0.value == 0x2028 })
        #expect(line.contains(#"denied x\n2026-11-27T18:40:00.000Z info tally.gateway: outcome=ok call\r\u{1B}[31m\u{7F}\u{85}\u{2028}\\n"#))
        // A value with spaces is quoted (its quotes escaped), so key=value pairs read back unambiguously.
        #expect(line.contains(#"reason="x\n2026-11-27T18:40:00.000Z info tally.gateway: outcome=ok call\r"#))
        #expect(line.contains(#"key\nname=v"#))
    }

    @Test func plainLinesReadAsBefore() {
        let lines = Lines()
        logger(lines).info("call", metadata: ["status": "200", "operation": "GetObject", "errorCode": "-", "empty": ""])
        let line = lines.all.withLock { $0 }[0]
        let parts = line.split(separator: " ", maxSplits: 2)
        #expect(parts[0].count == 24 && parts[0].hasSuffix("Z"))   // 2026-11-27T18:40:00.123Z
        #expect(parts[1] == "info")
        #expect(parts[2] == "tally.gateway: empty=\"\" errorCode=- operation=GetObject status=200 call\n")
    }
}

/// `--log-format json`: one JSON object per line, which a JSON parser reads back field for field, with agent text
/// kept on its line and free of raw control characters.
@Suite struct GatewayJSONLogTests {
    func lines(_ body: (Logger) -> Void) -> [String] {
        let collected = GatewayLogHandlerTests.Lines()
        let log = Logger(label: "tally.gateway") { label in
            GatewayLogHandler(label: label, format: .json) { line in collected.all.withLock { $0.append(line) } }
        }
        body(log)
        return collected.all.withLock { $0 }
    }

    @Test func aLineIsOneJSONObject() throws {
        let out = lines { $0.info("call", metadata: ["status": "200", "operation": "GetObject", "ids": ["a", "b"], "nested": ["k": "v"]]) }
        #expect(out.count == 1 && out[0].hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out[0].utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "tally.gateway")
        #expect(object["message"] as? String == "call")
        #expect((object["time"] as? String)?.count == 24)
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["status"] as? String == "200")
        #expect(metadata["operation"] as? String == "GetObject")
        #expect(metadata["ids"] as? [String] == ["a", "b"])
        #expect(metadata["nested"] as? [String: String] == ["k": "v"])
    }

    @Test func agentTextStaysOnItsLineAndReadsBackExactly() throws {
        let forged = "x\"}\n{\"level\":\"info\",\"message\":\"forged\"}\r\u{1B}[31m\u{7F}\u{85}\u{2028}\\"
        let out = lines { $0.notice("denied \(forged)", metadata: ["reason": "\(forged)"]) }
        let line = try #require(out.first)
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F..<0xA0).contains($0.value) || $0.value == 0x2028 })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "denied \(forged)")
        #expect((object["metadata"] as? [String: Any])?["reason"] as? String == forged)
    }
}
