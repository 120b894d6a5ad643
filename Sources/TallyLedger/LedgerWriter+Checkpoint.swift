import TallyCore

extension LedgerWriter {
    /// Signs and appends the queued checkpoints (data is already durable), then erases the keys
    /// of epochs that can no longer be needed.
    func writePendingCheckpoints() throws {
        guard !pending.isEmpty else { return }
        var text: [UInt8] = []
        var newest = checkpointedSize
        var newestEpoch = 0
        for p in pending where p.size > newest {
            guard let key = try keys.privateKey(p.epoch) else {
                throw TallyError(.integrity, "cannot sign a checkpoint of size \(p.size): the key of epoch \(p.epoch) has been erased")
            }
            var note = SignedNote(text: Checkpoint(origin: epochs.origin, size: p.size, root: p.root).text)
            try note.sign(name: epochs.origin, key: key)
            text.append(contentsOf: note.serialized.utf8)
            newest = p.size
            newestEpoch = p.epoch
        }
        pending.removeAll()
        guard !text.isEmpty else { return }
        try FileIO.writeAll(ckptFD, text, path: paths.checkpoints)
        try FileIO.syncData(ckptFD, path: paths.checkpoints)
        checkpointedSize = newest
        lastCheckpointClock = options.clock()
        // Every record of an epoch before `newestEpoch` is now covered by a checkpoint signed in its epoch.
        try eraseEpochs(below: newestEpoch)
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
