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
