import Synchronization

/// `call.completed` records are appended after the response has been sent, without holding up the
/// connection's next request (a deferred group commit); this tracks them so graceful shutdown waits
/// for every one to be durable before the ledger is closed.
final class BackgroundRecords: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// A record is pending: `drain` waits until the matching `leave`.
    func enter() { state.withLock { $0.running += 1 } }

    /// A pending record is durable (or failed).
    func leave() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.running -= 1
            guard s.running == 0 else { return [] }
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Runs `work` in a task that shutdown will wait for.
    func spawn(_ work: @escaping @Sendable () async -> Void) {
        enter()
        Task {
            await work()
            leave()
        }
    }

    /// Returns once no record is pending.
    func drain() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.running == 0 { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}

/// Calls waiting for (or relaying) the upstream's answer, each with a way to cut it off: graceful shutdown waits for
/// them at most the drain limit (``GatewayConfiguration/drainTimeout``), then aborts the rest (``expire()``), so the
/// gateway stops and closes its ledger even when an upstream never answers.
final class InFlightCalls: Sendable {
    private struct State {
        var next = 0
        var aborts: [Int: @Sendable () -> Void] = [:]
        /// Why the calls were cut off, once they were (`expire(reason:)`).
        var cutOff: String?
    }
    private let state = Mutex(State())

    /// Registers a call's abort; returns its token for ``remove(_:)``. After ``expire()`` the abort runs at once.
    func add(_ abort: @escaping @Sendable () -> Void) -> Int {
        let (token, late) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            if s.cutOff == nil { s.aborts[s.next] = abort }
            return (s.next, s.cutOff != nil)
        }
        if late { abort() }
        return token
    }

    func remove(_ token: Int) { _ = state.withLock { $0.aborts.removeValue(forKey: token) } }

    /// How many calls are registered (waiting for or relaying the upstream's answer).
    var count: Int { state.withLock { $0.aborts.count } }

    /// Whether the drain limit has passed (a call made durable after it is not forwarded).
    var expired: Bool { state.withLock { $0.cutOff != nil } }

    /// Why calls were cut off, for their records: `drain limit`, or `second signal` when the operator asked again.
    var reason: String { state.withLock { $0.cutOff ?? "drain limit" } }

    /// The drain limit has passed (or a second SIGTERM/SIGINT came: `reason`): aborts every registered call; returns
    /// how many.
    @discardableResult
    func expire(reason: String = "drain limit") -> Int {
        let aborts = state.withLock { s -> [@Sendable () -> Void] in
            if s.cutOff == nil { s.cutOff = reason }
            defer { s.aborts.removeAll() }
            return Array(s.aborts.values)
        }
        for abort in aborts { abort() }
        return aborts.count
    }
}
