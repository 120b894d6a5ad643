import TallyCore

extension LedgerWriter {
    /// Signs and appends the queued checkpoints (data is already durable), then erases the keys
    /// of epochs that can no longer be needed.
    func writePendingCheckpoints() throws { try writePendingCheckpoints(durableUpTo: size) }

    /// Writes the queued checkpoints that cover only records known to be durable (`durableUpTo`);
    /// later ones stay queued until their records are.
    func writePendingCheckpoints(durableUpTo durable: UInt64) throws {
        guard let first = pending.first, first.size <= durable else { return }
        let ready = pending.prefix { $0.size <= durable }
        var text: [UInt8] = []
        var newest = checkpointedSize
        var newestEpoch = 0
        for p in ready where p.size > newest {
            guard let key = try keys.privateKey(p.epoch) else {
                throw TallyError(.integrity, "cannot sign a checkpoint of size \(p.size): the key of epoch \(p.epoch) has been erased")
            }
            var note = SignedNote(text: Checkpoint(origin: epochs.origin, size: p.size, root: p.root).text)
            try note.sign(name: epochs.origin, key: key)
            text.append(contentsOf: note.serialized.utf8)
            newest = p.size
            newestEpoch = p.epoch
        }
        pending.removeFirst(ready.count)
        guard !text.isEmpty else { return }
        try FileIO.writeAll(ckptFD, text, path: paths.checkpoints)
        try FileIO.syncData(ckptFD, path: paths.checkpoints)
        checkpointedSize = newest
        lastCheckpointClock = options.clock()
        // Every record of an epoch before `newestEpoch` is now covered by a checkpoint signed in its epoch.
        try eraseEpochs(below: newestEpoch)
    }

    /// Makes the current segment's written data durable, then writes the queued checkpoints.
    func syncAndCheckpoint() throws {
        try FileIO.syncData(segFD, path: paths.segmentPath(segIndex))
        try writePendingCheckpoints()
    }

    /// Whether a timed checkpoint or an epoch duty (key erasure, an epoch-boundary checkpoint) is due now.
    /// (The every-N-records checkpoints are queued by `prepare` at exact multiples and written by
    /// `writePendingCheckpoints(durableUpTo:)` once their records are durable.)
    func timedDutyDue() -> Bool {
        let now = options.clock()
        if size > checkpointedSize && pending.isEmpty
            && Double(now - lastCheckpointClock) >= options.checkpointInterval * 1000 { return true }
        let t = max(now, lastTime)
        let current = epochs.epoch(at: t) ?? (t < epochs.start ? 0 : epochs.publicKeys.count)
        return current > firstLiveEpoch
    }

    /// Writes a checkpoint when one is due: `force` (close), N records, or T seconds with records pending.
    func checkpointIfDue(force: Bool) throws {
        guard size > checkpointedSize else { return }
        let now = options.clock()
        let due = force || size - checkpointedSize >= options.checkpointEveryRecords
            || Double(now - lastCheckpointClock) >= options.checkpointInterval * 1000
        guard due, let e = epochs.epoch(at: lastTime) else { return }
        pending.append((size, frontier.root, e))
        try writePendingCheckpoints()
    }

    /// Erases the keys of epochs that have ended (covering their records with a checkpoint first).
    func eraseExpiredKeys() throws {
        let now = max(options.clock(), lastTime)
        let current = epochs.epoch(at: now) ?? (now < epochs.start ? 0 : epochs.publicKeys.count)
        guard current > firstLiveEpoch else { return }
        if size > checkpointedSize, let last = epochs.epoch(at: lastTime), last < current {
            try checkpointIfDue(force: true)
        }
        if size == checkpointedSize || (epochs.epoch(at: lastTime) ?? 0) >= current {
            try eraseEpochs(below: current)
        }
    }

    func eraseEpochs(below e: Int) throws {
        guard e > firstLiveEpoch else { return }
        try keys.erase(firstLiveEpoch..<e)
        if keyCheckedEpoch < e { keyCheckedEpoch = -1 }
        firstLiveEpoch = e
    }

    /// Milliseconds until the next timed duty (checkpoint interval or epoch end), for the commit thread.
    func millisecondsUntilNextDuty() -> Int64 {
        let now = options.clock()
        var wait: Int64 = 60_000
        if size > checkpointedSize {
            wait = min(wait, max(0, lastCheckpointClock + Int64(options.checkpointInterval * 1000) - now))
        }
        if let e = epochs.epoch(at: max(now, lastTime)) {
            wait = min(wait, max(0, epochs.window(e).end - now))
        }
        return max(wait, 1)
    }
}
