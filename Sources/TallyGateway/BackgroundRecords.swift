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
