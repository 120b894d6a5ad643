import TallyCore
import Foundation

/// Prints a JSON object with members in the given order (canonical values), one line.
func printJSONObject(_ members: [(String, JSONValue)]) {
    var out = "{"
    for (i, (k, v)) in members.enumerated() {
        if i > 0 { out += "," }
        out += JSONValue.string(k).description + ":" + v.description
    }
    out += "}"
    print(out)
}

/// Writes text to stderr (unbuffered).
func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
}

/// Writes raw bytes to stdout (unbuffered, so a reader sees them at once).
func writeStdout(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { b in
        var off = 0
        while off < b.count {
            let n = write(1, b.baseAddress! + off, b.count - off)
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}
