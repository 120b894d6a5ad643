#!/usr/bin/env python3
"""An independent verifier for Tally ledgers, written from docs/LEDGER-FORMAT.md alone.

Usage: independent_verifier.py HOME [--public-key F] [--witness F ...] [--json]
Exit 0 when the ledger verifies, 1 when a problem was found, 2 on unusable input.
Needs: Python 3.9+, `cryptography` (Ed25519), `lz4` (lz4.block).
"""
import argparse, base64, hashlib, json, os, re, struct, sys, zlib

import lz4.block
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


def sha(b):
    return hashlib.sha256(b).digest()


def b64(text):
    """Canonical standard base64 or None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except Exception:
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def node(l, r):
    return sha(b"\x01" + l + r)


def leaf(record):
    return sha(b"\x00" + record)


def key_id(name, pk):
    return sha(name.encode() + b"\n\x01" + pk)[:4]


def mth(leaves):
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


class Frontier:
    def __init__(self, size=0, hashes=None):
        self.size, self.hashes = size, list(hashes or [])

    def append(self, h):
        s = self.size
        while s & 1:
            h = node(self.hashes.pop(), h)
            s >>= 1
        self.hashes.append(h)
        self.size += 1

    def root(self):
        if not self.hashes:
            return sha(b"")
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node(h, r)
        return r

    def copy(self):
        return Frontier(self.size, self.hashes)


def rfc3339(ms):
    import datetime
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second, ms % 1000)


def record_bytes(event, seq, ms):
    return b'{"event":' + event + b',"seq":' + str(seq).encode() + b',"time":"' + rfc3339(ms).encode() + b'"}'


def parse_note(text):
    """Returns (body, [(name, keyid, sig)]) or raises ValueError."""
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise ValueError("control character in note")
    i = text.rfind("\n\n")
    if i < 0 or not text.endswith("\n"):
        raise ValueError("not a signed note")
    body, sigs = text[: i + 1], []
    for line in text[i + 2:-1].split("\n"):
        if not line.startswith(DASH):
            raise ValueError("bad signature line")
        parts = line[2:].split(" ")
        raw = b64(parts[1]) if len(parts) == 2 else None
        if raw is None or len(raw) < 5 or "+" in parts[0] or not parts[0]:
            raise ValueError("bad signature line")
        sigs.append((parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise ValueError("no signature")
    return body, sigs


def signed_by(body, sigs, name, pk):
    kid = key_id(name, pk)
    for n, k, s in sigs:
        if n == name and k == kid:
            try:
                Ed25519PublicKey.from_public_bytes(pk).verify(s, body.encode())
                return True
            except InvalidSignature:
                pass
    return False


def parse_checkpoint(body):
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "" or not lines[0]:
        raise ValueError("checkpoint must have exactly 3 lines")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise ValueError("bad size")
    root = b64(lines[2])
    if root is None or len(root) != 32:
        raise ValueError("bad root")
    return lines[0], int(lines[1]), root


def split_notes(data):
    """Split a checkpoint log into (offset, text) notes; returns (notes, tail_offset_or_None)."""
    notes, pos = [], 0
    while pos < len(data):
        lines, p = [], pos
        ok = False
        while p < len(data):
            nl = data.find(b"\n", p)
            if nl < 0:
                break
            lines.append(data[p:nl])
            p = nl + 1
            if len(lines) >= 5 and lines[3] == b"" and lines[-1].startswith(DASH.encode()):
                nxt = data[p:p + 4]
                if not nxt.startswith(DASH.encode()):
                    ok = True
                    break
        if not ok:
            return notes, pos
        notes.append((pos, data[pos:p]))
        pos = p
    return notes, None


def plausible_tail(tail, origin):
    cut = 0
    lead = max((i for i, b in enumerate(tail) if b & 0xC0 != 0x80), default=None)
    if lead is not None and 0xC2 <= tail[lead] <= 0xF4:
        need = 4 if tail[lead] >= 0xF0 else 3 if tail[lead] >= 0xE0 else 2
        if len(tail) - lead < need:
            cut = len(tail) - lead
    try:
        text = tail[: len(tail) - cut].decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        return False
    lines = text.split("\n")
    b64chars = re.compile(r"[A-Za-z0-9+/=]*")
    for i, line in enumerate(lines):
        complete = i < len(lines) - 1
        if i == 0 and not (line == origin if complete else origin.startswith(line)):
            return False
        if i == 1 and not (re.fullmatch(r"[0-9]*", line) and (line or not complete)):
            return False
        if i == 2 and not (b64chars.fullmatch(line) and (len(line) == 44 if complete else len(line) <= 44)):
            return False
        if i == 3 and line != "":
            return False
        if i == 4:
            if complete:
                return False
            prefix = DASH + origin
            if len(line) <= len(prefix):
                if not prefix.startswith(line):
                    return False
            elif not (line.startswith(prefix + " ") and len(line) - len(prefix) - 1 <= 92 and b64chars.fullmatch(line[len(prefix) + 1:])):
                return False
        if i > 4:
            return False
    return True


def varint(buf, pos):
    v = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, pos
        shift += 7
    raise ValueError("bad varint")


class Verifier:
    def __init__(self, home, public_key=None, witnesses=()):
        self.home, self.problems, self.warnings = home.rstrip("/"), [], []
        self.public_key, self.witnesses = public_key or os.path.join(home, "ledger.pub"), list(witnesses)

    def problem(self, kind, **kw):
        self.problems.append(dict(kind=kind, **kw))

    def load_epochs(self):
        line = open(self.public_key, "rb").read().decode()
        if line.endswith("\n"):
            line = line[:-1]
        name, kid, key = line.split("+", 2)
        raw = b64(key)
        if raw is None or len(raw) != 33 or raw[0] != 1 or key_id(name, raw[1:]).hex() != kid or not name or any(c.isspace() for c in line):
            raise ValueError("malformed ledger.pub")
        root_pk = raw[1:]
        body, sigs = parse_note(open(os.path.join(self.home, "ledger/epochs.note"), "rb").read().decode())
        if not signed_by(body, sigs, name, root_pk):
            raise ValueError("epochs.note is not signed by the root key")
        lines = body.split("\n")
        if lines[0] != "tally-epoch-keys/v1":
            raise ValueError("unknown epochs.note format")
        f = dict(l.split(" ", 1) for l in lines[1:] if l)
        self.origin, self.start, self.length, count = f["origin"], int(f["start"]), int(f["length"]), int(f["count"])
        keys = []
        for l in open(os.path.join(self.home, "ledger/epochs.pub"), "rb").read().decode().split("\n"):
            if not l:
                continue
            k = b64(l)
            if k is None or len(k) != 32:
                raise ValueError("bad epochs.pub line")
            keys.append(k)
        if len(keys) != count or mth([leaf(k) for k in keys]) != b64(f["root"]):
            raise ValueError("epochs.pub does not match epochs.note")
        self.epoch_keys = keys

    def epoch_of(self, ms):
        if ms < self.start:
            return None
        e = (ms - self.start) // self.length
        return e if e < len(self.epoch_keys) else None

    def read_checkpoints(self, path, label):
        data = open(path, "rb").read()
        notes, tail = split_notes(data)
        good = []
        for off, raw in notes:
            try:
                body, sigs = parse_note(raw.decode("utf-8"))
                origin, size, root = parse_checkpoint(body)
                epochs = [e for e, pk in enumerate(self.epoch_keys) if signed_by(body, sigs, self.origin, pk)] if self.epoch_keys else []
                if origin != self.origin or not epochs:
                    raise ValueError("not signed by a certified epoch key of this ledger")
                good.append(dict(size=size, root=root, epochs=epochs, offset=off))
            except (ValueError, UnicodeDecodeError) as e:
                self.problem(label, file=os.path.relpath(path, self.home) if path.startswith(self.home) else path, offset=off, message=str(e))
        if tail is not None:
            if plausible_tail(data[tail:], self.origin or ""):
                self.warnings.append(dict(kind="torn-tail", offset=tail))
            else:
                self.problem(label, file=os.path.relpath(path, self.home) if path.startswith(self.home) else path, offset=tail, message="damaged tail")
        return good

    def verify_segment(self, path, index, targets, coverage, start=None, newest=False):
        rel = os.path.relpath(path, self.home)
        data = open(path, "rb").read()
        res = dict(header=None, end=None, roots={}, tail=None)
        pos = 0
        if len(data) < 64 and index > 1:
            res["tail"] = 0  # a segment whose creation was cut short (torn unless checkpoints cover more)
            return res
        if len(data) < 64:
            self.problem("segment-header", file=rel, offset=0, message="segment 1 is shorter than a header")
            return res
        magic, ver, idx, first = data[:8], *struct.unpack_from("<IIQ", data, 8)
        (c,) = struct.unpack_from("<I", data, 56)
        hlen = 64 + 32 * c
        if magic == b"TALLYSEG" and c <= 64 and len(data) < hlen and index > 1:
            res["tail"] = 0
            return res
        if magic == b"TALLYSEG" and c <= 64 and len(data) >= hlen and zlib.crc32(data[: hlen - 4]) == struct.unpack_from("<I", data, hlen - 4)[0] \
                and ver == 1 and first >= 1 and c == bin(first - 1).count("1") and idx == index:
            chain = data[24:56]
            frontier = Frontier(first - 1, [data[60 + 32 * i: 92 + 32 * i] for i in range(c)])
            res["header"] = dict(first=first, chain=chain, frontier=frontier.copy())
            pos, expected, chain_known, fvalid = hlen, first, True, True
        else:
            nxt = self.next_block(data, 8)
            if nxt is None and index > 1:
                # a header that fails its checks with no block after it: an unreadable end (a rollover cut short
                # when this is the last segment and no checkpoint reaches into it; segment 1's header is init's)
                res["tail"] = 0
                return res
            if nxt is None:
                self.problem("segment-header", file=rel, offset=0, message="bad segment header")
                return res
            self.problem("segment-header", file=rel, offset=0, message="bad segment header")
            pos, expected, chain, chain_known, frontier, fvalid = nxt, None, None, False, Frontier(), False
        if start is not None:
            expected, chain, chain_known, frontier, fvalid = start["size"] + 1, start["chain"], True, start["frontier"].copy(), start["fvalid"]
        cov = 0
        last_time = None
        while pos < len(data):
            blk = self.block_at(data, pos)
            if blk is None:
                if not any(data[pos:]):
                    break  # zero bytes a writer preallocated (format §4.5): not data
                nxt = self.next_block(data, pos)
                if nxt is None or (newest and self.zero_page(data, pos, nxt)):
                    res["tail"] = pos  # torn, or an unsynced append whose pages reached the disk out of order
                    break
                self.problem("damaged-block", file=rel, offset=pos, seq=expected, message="unreadable block")
                chain_known = fvalid = False
                expected = None
                pos = nxt
                continue
            C, U, K, bfirst, base, endchain = blk
            if expected is not None and bfirst != expected:
                self.problem("seq-gap" if bfirst > expected else "seq-order", file=rel, offset=pos, seq=min(expected, bfirst))
                chain_known = fvalid = False
            try:
                content = lz4.block.decompress(data[pos + 68: pos + 68 + C], uncompressed_size=U)
                if len(content) != U:
                    raise ValueError("size")
                p, runs, total, t = 0, [], 0, base
                while total < K:
                    d, p = varint(content, p)
                    n, p = varint(content, p)
                    if n == 0 or total + n > K:
                        raise ValueError("bad runs")
                    t += d
                    runs.append((t, n))
                    total += n
                times = [t for t, n in runs for _ in range(n)]
                events = content[p:].split(b"\n")
                if len(events) != K + 1 or events[-1] != b"" or any(not e for e in events[:-1]):
                    raise ValueError("bad events")
                c_chain = chain
                for j in range(K):
                    seq, ms = bfirst + j, times[j]
                    lf = leaf(record_bytes(events[j], seq, ms))
                    if chain_known:
                        c_chain = sha(b"\x02" + c_chain + lf)
                    if fvalid:
                        frontier.append(lf)
                        if frontier.size in targets:
                            res["roots"][frontier.size] = frontier.root()
                    if last_time is not None and ms < last_time:
                        self.problem("time-order", file=rel, offset=pos, seq=seq)
                    if res.get("first_time") is None:
                        res["first_time"] = (seq, ms, pos)
                    last_time = ms
                    res["last_time"] = ms
                    while cov < len(coverage) and coverage[cov][0] < seq:
                        cov += 1
                    if cov < len(coverage) and self.epoch_of(ms) not in coverage[cov][1]:
                        self.problem("epoch-mismatch", file=rel, offset=pos, seq=seq)
                if chain_known and c_chain != endchain:
                    self.problem("chain-mismatch", file=rel, offset=pos, seq=bfirst)
            except Exception as e:  # noqa: BLE001 - any decoding failure is damage
                self.problem("damaged-block", file=rel, offset=pos, seq=bfirst, message=str(e))
                fvalid = False
            chain, chain_known, expected = endchain, True, bfirst + K
            pos += 68 + C
        if expected is not None and chain_known:
            res["end"] = dict(size=expected - 1, chain=chain, frontier=frontier, fvalid=fvalid)
        return res

    @staticmethod
    def block_at(data, pos):
        if pos + 68 > len(data) or data[pos:pos + 4] != b"TBLK":
            return None
        C, U, K, first, base = struct.unpack_from("<IIIQq", data, pos + 4)
        if K == 0 or U > (256 << 20) or pos + 68 + C > len(data):
            return None
        if zlib.crc32(data[pos + 68: pos + 68 + C], zlib.crc32(data[pos:pos + 64])) != struct.unpack_from("<I", data, pos + 64)[0]:
            return None
        return C, U, K, first, base, data[pos + 32: pos + 64]

    @staticmethod
    def zero_page(data, start, end):
        """A 4096-byte page of the file, ending at or before the page that holds `end`, zero from `start` (or its
        own start) to its end."""
        page_end = (start // 4096 + 1) * 4096
        while page_end <= end - end % 4096:
            if not any(data[start:page_end]):
                return True
            start, page_end = page_end, page_end + 4096
        return False

    def next_block(self, data, after):
        p = data.find(b"TBLK", after + 1)
        while p >= 0:
            if self.block_at(data, p):
                return p
            p = data.find(b"TBLK", p + 1)
        return None

    def run(self):
        self.origin, self.epoch_keys = None, []
        try:
            self.load_epochs()
        except (ValueError, KeyError, OSError, UnicodeDecodeError) as e:
            self.problem("epoch-keys", message=str(e))
        trusted = self.read_checkpoints(os.path.join(self.home, "ledger/checkpoints.log"), "checkpoint-invalid")
        for a, b in zip(trusted, trusted[1:]):
            if b["size"] < a["size"] or max(b["epochs"]) < min(a["epochs"]):
                self.problem("checkpoint-order", offset=b["offset"], seq=b["size"])
        witnessed = []
        for w in self.witnesses:
            witnessed += [(w, c) for c in self.read_checkpoints(w, "witness-invalid")]
        segdir = os.path.join(self.home, "ledger/segments")
        idx = sorted(int(n[4:12]) for n in os.listdir(segdir) if re.fullmatch(r"seg-\d{8}\.tseg", n))
        for missing in sorted(set(range(1, (idx[-1] if idx else 0) + 1)) - set(idx)):
            self.problem("missing-segment", file="ledger/segments/seg-%08d.tseg" % missing)
        targets = {c["size"] for c in trusted} | {c["size"] for _, c in witnessed}
        coverage = [(c["size"], set(c["epochs"])) for c in trusted]
        results, roots, records = [], {}, 0
        for n, i in enumerate(idx):
            path = os.path.join(segdir, "seg-%08d.tseg" % i)
            newest = n == len(idx) - 1
            r = self.verify_segment(path, i, targets, coverage, newest=newest)
            prev = results[-1]["end"] if results else None
            if r["header"] is None and prev is not None:
                self.problems = [p for p in self.problems if not (p.get("file") == os.path.relpath(path, self.home) and p["kind"] != "segment-header")]
                r = self.verify_segment(path, i, targets, coverage, start=prev, newest=newest)
            h = r["header"]
            prev_tail = bool(results) and results[-1]["tail"] is not None
            if n == 0 and h and h["first"] != 1:
                self.problem("seq-gap", seq=1)
            if results and r.get("first_time") and results[-1].get("last_time") is not None \
                    and r["first_time"][1] < results[-1]["last_time"]:
                seq, _, off = r["first_time"]
                self.problem("time-order", file=os.path.relpath(path, self.home), offset=off, seq=seq)
            if h and prev:
                if prev_tail and h["first"] > prev["size"] + 1:
                    pass  # the records lost at the end of the previous segment are reported there
                elif h["first"] != prev["size"] + 1:
                    self.problem("seq-gap", seq=prev["size"] + 1, file=os.path.relpath(path, self.home), offset=0)
                elif h["chain"] != prev["chain"] or (prev["fvalid"] and h["frontier"].hashes != prev["frontier"].hashes):
                    self.problem("segment-link", seq=h["first"], file=os.path.relpath(path, self.home), offset=0)
            roots.update(r["roots"])
            if r["end"]:
                records = max(records, r["end"]["size"])
            results.append(r)
            if r["tail"] is not None:
                covered = max([c["size"] for c in trusted], default=0) > records
                if n < len(idx) - 1:
                    nxt_first = None
                    try:
                        with open(os.path.join(segdir, "seg-%08d.tseg" % idx[n + 1]), "rb") as f:
                            hd = f.read(64)
                        if len(hd) == 64 and hd[:8] == b"TALLYSEG":
                            nxt_first = struct.unpack_from("<Q", hd, 16)[0]
                    except OSError:
                        pass
                    first = (r["end"]["size"] if r["end"] else records) + 1
                    if nxt_first is not None and nxt_first == first:
                        self.problem("damaged-block", file=os.path.relpath(path, self.home), offset=r["tail"])
                    elif nxt_first is not None and nxt_first > first:
                        self.problem("damaged-block", file=os.path.relpath(path, self.home), offset=r["tail"], seq=first, last_seq=nxt_first - 1)
                    else:
                        self.problem("damaged-block", file=os.path.relpath(path, self.home), offset=r["tail"], seq=first)
                elif covered:
                    self.problem("damaged-block", file=os.path.relpath(path, self.home), offset=r["tail"], seq=records + 1)
                else:
                    self.warnings.append(dict(kind="torn-tail", offset=r["tail"]))
        for c in trusted:
            if c["size"] > records:
                self.problem("truncated", seq=records + 1, offset=c["offset"])
            elif c["size"] == 0 and c["root"] != sha(b""):
                self.problem("checkpoint-mismatch", seq=0, offset=c["offset"])
            elif c["size"] in roots and roots[c["size"]] != c["root"]:
                self.problem("checkpoint-mismatch", seq=c["size"], offset=c["offset"])
        for w, c in witnessed:
            if c["size"] > records:
                self.problem("witness-truncation", file=w, seq=records + 1)
            elif c["size"] in roots and roots[c["size"]] != c["root"]:
                self.problem("witness-fork", file=w, seq=c["size"])
        return dict(ok=not self.problems, records=records, checkpoints=len(trusted), problems=self.problems, warnings=self.warnings)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--public-key")
    ap.add_argument("--witness", action="append", default=[])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.home, "ledger.pub")):
        print("not a Tally home: " + a.home, file=sys.stderr)
        return 2
    report = Verifier(a.home, a.public_key, a.witness).run()
    if a.json:
        print(json.dumps(report, default=lambda b: b.hex() if isinstance(b, bytes) else str(b)))
    else:
        for p in report["problems"]:
            print("DAMAGE", p)
        print(("ok: %d records" % report["records"]) if report["ok"] else "FAILED")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
