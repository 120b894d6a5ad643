import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `tally-bench paced-load` — an open-loop load generator for the gateway benchmark's latency figures: requests are
/// sent at a constant rate (the i-th at start + i / rate, spread evenly in time, as `wrk2 -R` does) over a small pool
/// of kept-alive connections, and each latency is measured from the request's *scheduled* send time to
/// the end of its response, so a stall that delays later sends counts against them too (no coordinated omission).
///
/// `wrk`'s per-connection delay (the other latency figure of `Tools/bench-gateway.sh`) paces each connection on its
/// own answers: the connections fall into lockstep and their requests arrive together, a burst of one per
/// connection every delay. That measures latency under bursts of concurrent calls, not at a steady rate.
///
/// One thread per connection, blocking sockets; connection k of n sends requests k, k + n, ... each at its scheduled
/// time (`clock_nanosleep`, timer slack 1 ns), or at once when its previous answer came late. The answer must be
/// an HTTP/1.1 response with a Content-Length (nginx's, or the proxies'). Prints
/// `sent answered p50_ms p90_ms p99_ms p999_ms max_ms` on one line.
struct PacedLoadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paced-load",
        abstract: "Constant-rate (open-loop) HTTP/1.1 GETs over kept-alive connections; latency from the scheduled send time.")
    @Option(help: "Server to call, HOST:PORT (plain HTTP).") var connect: String
    @Option(help: "Request target (path and query), sent as is.") var target: String
    @Option(help: "Requests per second.") var rate = 1000
    @Option(help: "Seconds to measure (after a 1 s warm-up that is not counted).") var duration = 10.0
    @Option(help: "Kept-alive connections; each sends every n-th request (one waits for its connection's previous answer).")
    var connections = 4

    func run() throws {
        let (host, port) = try Self.endpoint(connect, option: "--connect")
        guard rate >= 1, rate <= 100_000 else { throw Self.badInput("--rate \(rate): must be from 1 to 100000") }
        guard duration > 0, duration <= 3600 else { throw Self.badInput("--duration \(duration): must be from 0 to 3600 seconds") }
        guard connections >= 1, connections <= 256 else { throw Self.badInput("--connections \(connections): must be from 1 to 256") }
        guard target.hasPrefix("/"), !target.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " }) else {
            throw Self.badInput("--target '\(target)': must be a path starting with / with no spaces or line breaks")
        }
        let request = Array("GET \(target) HTTP/1.1\r\nHost: \(connect)\r\n\r\n".utf8)
        var pool: [Connection] = []
        for _ in 0..<connections { pool.append(try Connection(host: host, port: port)) }

        let interval = 1_000_000_000 / UInt64(rate)
        let warmup = UInt64(rate)  // one second of requests, not counted
        let total = warmup + UInt64(duration * Double(rate))
        let start = Self.now() + 20_000_000
        let count = UInt64(connections)
        let results = Results()
        var threads: [Thread] = []
        for (k, connection) in pool.enumerated() {
            let t = Thread {
                // Connection k sends requests k, k + n, k + 2n, ...: the pool's requests are evenly spaced in time.
                Self.exactTimers()
                var c = connection
                var mine: [UInt64] = []
                var i = UInt64(k)
                do {
                    while i < total {
                        let scheduled = start + i * interval
                        Self.sleep(until: scheduled)
                        try c.call(request)
                        if i >= warmup { mine.append(Self.now() - scheduled) }
                        i += count
                    }
                    results.add(mine, error: nil)
                } catch {
                    results.add(mine, error: "\(error)")
                }
                close(c.fd)
            }
            t.stackSize = 1 << 20
            threads.append(t)
        }
        for t in threads { t.start() }
        var latencies = results.wait(for: threads.count)
        if let error = results.error { throw Self.badInput(error) }
        latencies.sort()
        func ms(_ q: Double) -> String {
            let i = min(latencies.count - 1, Int(Double(latencies.count) * q))
            return String(format: "%.3f", Double(latencies[i]) / 1e6)
        }
        print("\(total - warmup) \(latencies.count) \(ms(0.5)) \(ms(0.9)) \(ms(0.99)) \(ms(0.999)) \(ms(1.0 - 1e-12))")
    }

    /// The calling thread's sleeps end when asked (Linux's default timer slack lets them run 50 µs late).
    static func exactTimers() {
        let fd = open("/proc/thread-self/timerslack_ns", O_WRONLY)
        if fd >= 0 { _ = write(fd, "1", 1); close(fd) }
    }

    static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// The threads' latencies, gathered.
    final class Results: @unchecked Sendable {
        private let cond = NSCondition()
        private var all: [UInt64] = []
        private var finished = 0
        private(set) var error: String?

        func add(_ latencies: [UInt64], error: String?) {
            cond.lock()
            all += latencies
            finished += 1
            if let error, self.error == nil { self.error = error }
            cond.signal()
            cond.unlock()
        }

        func wait(for threads: Int) -> [UInt64] {
            cond.lock(); defer { cond.unlock() }
            while finished < threads { cond.wait() }
            return all
        }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// One kept-alive connection with at most one request in flight.
    struct Connection {
        let fd: Int32
        private var buffer: [UInt8] = []
        private var chunk = [UInt8](repeating: 0, count: 16384)

        init(host: String, port: Int) throws {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                throw PacedLoadBench.badInput("--connect: '\(host)' is not an IPv4 address")
            }
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { throw PacedLoadBench.badInput("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))") }
        }

        /// Sends `request` and reads until its whole response is in (blocking).
        mutating func call(_ request: [UInt8]) throws {
            let sent = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == request.count else { throw PacedLoadBench.badInput("send failed: \(String(cString: strerror(errno)))") }
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw PacedLoadBench.badInput("the server closed the connection or failed (\(n)): \(String(cString: strerror(errno)))") }
                buffer += chunk[..<n]
                guard let end = Self.headEnd(buffer) else { continue }
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                guard head.hasPrefix("HTTP/1.1 200") else { throw PacedLoadBench.badInput("answer was not 200: \(head.prefix(80))") }
                guard let length = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
                    .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }) else {
                    throw PacedLoadBench.badInput("answer without Content-Length")
                }
                guard buffer.count >= end + length else { continue }
                buffer.removeFirst(end + length)
                return
            }
        }

        /// The index just past the head's blank line, if it is in.
        static func headEnd(_ b: [UInt8]) -> Int? {
            guard b.count >= 4 else { return nil }
            for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
            return nil
        }
    }
}
