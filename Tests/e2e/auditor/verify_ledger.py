#!/usr/bin/env python3
"""Independent auditor's verifier for Tally ledgers.

Written from docs/LEDGER-FORMAT.md ALONE (no look at the Swift sources or at any other verifier):
section numbers in comments refer to that document.

    verify_ledger.py HOME [--public-key FILE] [--witness FILE ...]

prints {"ok":bool,"records":N,"segments":N,"checkpoints":N,"witnesses":N,
        "problems":[{"kind","seq","last_seq","file","offset","message"}],"warnings":[...]}
and exits 0 when there are no problems, 1 otherwise, 2 when the inputs are unusable.

Also usable as a library (the tests use `canonical_json`, `record_bytes`, `leaf_hash`,
`mth`, `read_segment_blocks`, `verify_bundle`, ...).

Needs: Python 3.11, `cryptography` (Ed25519), `lz4` (lz4.block).
"""
from __future__ import annotations

import argparse
import base64
import binascii
import datetime as _dt
import hashlib
import json
import os
import re
import struct
import sys
import unicodedata
import zlib
from decimal import Decimal, InvalidOperation

import lz4.block
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"
SIG_PREFIX = (EM_DASH + " ").encode()
MAX_U = 256 * 1024 * 1024


def sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


class FormatError(Exception):
    pass


# ---------------------------------------------------------------- base64 (conventions) ---------

def b64d(text, size=None) -> bytes:
    """Canonical RFC 4648 §4 base64 (standard alphabet, padded); optional exact decoded size."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as e:
            raise FormatError("base64 is not ASCII") from e
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4:
        raise FormatError(f"not padded standard base64: {text[:60]!r}")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise FormatError(f"bad base64: {e}") from e
    if base64.b64encode(raw).decode() != text:
        raise FormatError("non-canonical base64")
    if size is not None and len(raw) != size:
        raise FormatError(f"base64 decodes to {len(raw)} bytes, expected {size}")
    return raw


def b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------- canonical JSON (§2.1) --------

class _Num:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def canonical_number(text: str, input_limit: bool = True) -> str:
    """§2.1 Numbers: exact decimal value, ECMAScript Number::toString layout.

    Rejects exponent parts of more than 9 significant digits and canonical exponents beyond
    ±999,999,999 (so every canonical form is itself accepted input). `input_limit` is kept for
    callers; both limits always apply."""
    m = re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", text)
    if not m:
        raise FormatError(f"bad number {text!r}")
    if m.group(3):
        exp_digits = m.group(3).lstrip("eE+-").lstrip("0")
        if len(exp_digits) > 9:
            raise FormatError(f"number exponent too large: {text!r}")
    try:
        d = Decimal(text)
    except InvalidOperation as e:  # pragma: no cover - regex already checked
        raise FormatError(f"bad number {text!r}") from e
    if d.is_zero():
        return "0"
    sign, digits, exp = d.as_tuple()
    s = "".join(map(str, digits)).lstrip("0")
    # strip trailing zeros into the exponent
    stripped = s.rstrip("0")
    exp += len(s) - len(stripped)
    s = stripped
    k = len(s)
    n = k + exp
    out = "-" if sign else ""
    if k <= n <= 21:
        out += s + "0" * (n - k)
    elif 0 < n <= 21:
        out += s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out += "0." + "0" * (-n) + s
    else:
        e = n - 1
        if abs(e) > 999_999_999:
            raise FormatError(f"canonical exponent of {text!r} exceeds 999,999,999")
        out += s[0] + ("." + s[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return out


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_RE = re.compile('["\\\\\x00-\x1f]')


def _escape(m: re.Match) -> str:
    c = m.group(0)
    return _ESCAPES.get(c) or "\\u%04x" % ord(c)


def canonical_string(s: str) -> bytes:
    """§2.1 Strings: escape only `"`, `\\`, and code points below U+0020 (short forms for b f n r t,
    else lower-case \\u00XX); everything else as raw UTF-8 (lone surrogates raise)."""
    try:
        return b'"' + _ESCAPE_RE.sub(_escape, s).encode("utf-8") + b'"'
    except UnicodeEncodeError as e:
        raise FormatError(f"string is not valid Unicode: {e}") from e


def _no_dups(pairs):
    seen = set()
    for k, _ in pairs:
        nk = unicodedata.normalize("NFC", k)
        if nk in seen:
            raise FormatError(f"duplicate key {k!r}")
        seen.add(nk)
    return pairs  # keep as list of pairs


def canonical_value(v, input_limit: bool = True) -> bytes:
    if v is True:
        return b"true"
    if v is False:
        return b"false"
    if v is None:
        return b"null"
    if isinstance(v, _Num):
        return canonical_number(v.text, input_limit).encode()
    if isinstance(v, str):
        return canonical_string(v)
    if isinstance(v, _Obj):
        members = sorted(v.pairs, key=lambda kv: kv[0].encode("utf-8"))
        return b"{" + b",".join(canonical_string(k) + b":" + canonical_value(x, input_limit) for k, x in members) + b"}"
    if isinstance(v, list):
        return b"[" + b",".join(canonical_value(x, input_limit) for x in v) + b"]"
    raise FormatError(f"unexpected value {type(v)}")


class _Obj:
    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = pairs


def _obj_hook(pairs):
    _no_dups(pairs)
    return _Obj(pairs)


def parse_json_tree(text: bytes | str):
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise FormatError(f"not UTF-8: {e}") from e

    def bad_const(c):
        raise FormatError(f"not JSON: {c}")

    try:
        return json.loads(text, object_pairs_hook=_obj_hook, parse_int=_Num, parse_float=_Num,
                          parse_constant=bad_const)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"not JSON: {e}") from e


def canonical_json(text: bytes | str) -> bytes:
    """The §2.1 canonical form of a JSON text."""
    return canonical_value(parse_json_tree(text))


def check_event(e: bytes) -> None:
    """E must be a canonical JSON object with a string "type" member."""
    tree = parse_json_tree(e)
    if not isinstance(tree, _Obj):
        raise FormatError("event is not an object")
    t = [x for k, x in tree.pairs if k == "type"]
    if len(t) != 1 or not isinstance(t[0], str):
        raise FormatError('event has no string "type"')
    if canonical_value(tree, input_limit=False) != e:
        raise FormatError("event is not in canonical form")


# ---------------------------------------------------------------- records (§2.2) ---------------

def rfc3339_ms(ms: int) -> str:
    secs, milli = divmod(ms, 1000)
    t = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{milli:03d}Z"


def parse_rfc3339_ms(text: str) -> int:
    """Inverse of rfc3339_ms (raises FormatError)."""
    try:
        t = _dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError as e:
        raise FormatError(f"bad time {text!r}") from e
    ms = (t - _dt.datetime(1970, 1, 1)) // _dt.timedelta(seconds=1) * 1000 + int(text[20:23])
    if rfc3339_ms(ms) != text:
        raise FormatError(f"non-canonical time {text!r}")
    return ms


def record_bytes(event: bytes, seq: int, time_ms: int) -> bytes:
    return b'{"event":' + event + b',"seq":' + str(seq).encode() + b',"time":"' + rfc3339_ms(time_ms).encode() + b'"}'


# ---------------------------------------------------------------- hashes (§3) ------------------

def leaf_hash(record: bytes) -> bytes:
    return sha256(b"\x00", record)


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01", left, right)


def chain_next(prev: bytes, leaf: bytes) -> bytes:
    return sha256(b"\x02", prev, leaf)


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


class Frontier:
    """Frontier of a tree (§3): list of (subtree size, hash), largest first."""

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None):
        hashes = hashes or []
        bits = [1 << b for b in range(63, -1, -1) if size >> b & 1]
        if len(bits) != len(hashes):
            raise FormatError(f"frontier of size {size} needs {len(bits)} hashes, got {len(hashes)}")
        self.size = size
        self.items = list(zip(bits, hashes))

    def push(self, leaf: bytes) -> None:
        self.items.append((1, leaf))
        self.size += 1
        while len(self.items) >= 2 and self.items[-1][0] == self.items[-2][0]:
            (s, l), (_, r) = self.items[-2], self.items[-1]
            self.items[-2:] = [(2 * s, node(l, r))]

    def root(self) -> bytes:
        if not self.items:
            return sha256(b"")
        r = self.items[-1][1]
        for _, h in reversed(self.items[:-1]):
            r = node(h, r)
        return r

    def hashes(self) -> list[bytes]:
        return [h for _, h in self.items]

    def copy(self) -> "Frontier":
        f = Frontier()
        f.size, f.items = self.size, list(self.items)
        return f


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) (for the tests)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return inclusion_proof(leaves[:k], index) + [mth(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [mth(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(leaves: list[bytes], m: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) (for the tests)."""
    def sub(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return sub(m, d[:k], b) + [mth(d[k:])]
        return sub(m - k, d[k:], False) + [mth(d[:k])]
    return sub(m, leaves, True)


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first > second or first < 1:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---------------------------------------------------------------- keys and notes (§5, §6) ------

def key_id(name: str, pub: bytes) -> bytes:
    return sha256(name.encode(), b"\n", b"\x01", pub)[:4]


def parse_vkey(text: bytes) -> tuple[str, bytes]:
    """§6.1: `<name>+<8 hex key id>+<base64(0x01 ‖ key)>\\n` -> (name, raw public key)."""
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError("ledger.pub is not UTF-8") from e
    if not s.endswith("\n") or "\n" in s[:-1]:
        raise FormatError("ledger.pub must be exactly one line")
    parts = s[:-1].split("+", 2)
    if len(parts) != 3:
        raise FormatError("ledger.pub is not name+keyid+key")
    name, kid, key = parts
    if not re.fullmatch(r"[0-9a-f]{8}", kid):
        raise FormatError("ledger.pub key id is not 8 lower-case hex digits")
    raw = b64d(key, 33)
    if raw[0] != 1:
        raise FormatError("ledger.pub key type is not Ed25519 (0x01)")
    pub = raw[1:]
    if key_id(name, pub).hex() != kid:
        raise FormatError("ledger.pub key id does not match the key")
    if not name.endswith("/root") or not name or any(c.isspace() for c in name):
        raise FormatError("ledger.pub key name is not <origin>/root")
    return name, pub


def ed25519_ok(pub: bytes, sig: bytes, msg: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def split_note(data: bytes) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    """A whole signed note -> (signed text, [(name, key id, signature)])."""
    i = data.find(b"\n\n")
    if i < 0:
        raise FormatError("note has no blank line")
    text, rest = data[: i + 1], data[i + 2:]
    if not rest.endswith(b"\n"):
        raise FormatError("note does not end with a newline")
    sigs = []
    for line in rest[:-1].split(b"\n"):
        sigs.append(parse_sig_line(line))
    if not sigs:
        raise FormatError("note has no signature")
    return text, sigs


def parse_sig_line(line: bytes) -> tuple[str, bytes, bytes]:
    if not line.startswith(SIG_PREFIX):
        raise FormatError("signature line does not start with an em dash and a space")
    try:
        body = line[len(SIG_PREFIX):].decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError("signature line not UTF-8") from e
    parts = body.split(" ")
    if len(parts) != 2 or not parts[0]:
        raise FormatError("signature line is not `— name base64`")
    raw = b64d(parts[1])
    if len(raw) != 68:
        raise FormatError(f"signature blob is {len(raw)} bytes, expected 4 + 64")
    return parts[0], raw[:4], raw[4:]


class Epochs:
    def __init__(self, origin, start, length, count, keys):
        self.origin, self.start, self.length, self.count, self.keys = origin, start, length, count, keys
        self.by_id: dict[bytes, list[int]] = {}
        for e, k in enumerate(keys):
            self.by_id.setdefault(key_id(origin, k), []).append(e)

    def epoch_of(self, time_ms: int) -> int:
        return (time_ms - self.start) // self.length


def parse_epochs_note(note: bytes, root_name: str, root_pub: bytes) -> tuple[str, int, int, int, bytes]:
    text, sigs = split_note(note)
    if not any(n == root_name and k == key_id(root_name, root_pub) and ed25519_ok(root_pub, s, text)
               for n, k, s in sigs):
        raise FormatError("epochs.note has no valid signature by the root key")
    lines = text.decode("utf-8").split("\n")
    if len(lines) != 7 or lines[6] != "" or lines[0] != "tally-epoch-keys/v1":
        raise FormatError("epochs.note text is not the six documented lines")
    fields = {}
    for line, name in zip(lines[1:6], ["origin", "start", "length", "count", "root"]):
        if not line.startswith(name + " "):
            raise FormatError(f"epochs.note line {line!r} is not `{name} ...`")
        fields[name] = line[len(name) + 1:]
    for n in ("start", "length", "count"):
        if not re.fullmatch(r"0|[1-9][0-9]*", fields[n]):
            raise FormatError(f"epochs.note {n} is not a decimal")
    origin = fields["origin"]
    if origin + "/root" != root_name:
        raise FormatError("epochs.note origin does not match the root key name")
    length, count = int(fields["length"]), int(fields["count"])
    if length <= 0 or count <= 0:
        raise FormatError("epochs.note length/count must be positive")
    return origin, int(fields["start"]), length, count, b64d(fields["root"], 32)


def load_epochs(home: str, root_name: str, root_pub: bytes) -> Epochs:
    with open(os.path.join(home, "ledger", "epochs.note"), "rb") as f:
        note = f.read()
    origin, start, length, count, root = parse_epochs_note(note, root_name, root_pub)
    with open(os.path.join(home, "ledger", "epochs.pub"), "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        raise FormatError("epochs.pub does not end with a newline")
    lines = data[:-1].split(b"\n")
    if len(lines) != count:
        raise FormatError(f"epochs.pub has {len(lines)} keys, epochs.note says {count}")
    keys = [b64d(l, 32) for l in lines]
    if mth([leaf_hash(k) for k in keys]) != root:
        raise FormatError("epochs.pub Merkle root differs from epochs.note root")
    return Epochs(origin, start, length, count, keys)


class Checkpoint:
    def __init__(self, offset, size, root, epoch, text):
        self.offset, self.size, self.root, self.epoch, self.text = offset, size, root, epoch, text


def parse_checkpoint(note: bytes, origin: str, epochs: Epochs) -> tuple[int, bytes, int]:
    """A complete checkpoint note -> (size, root, signing epoch). Raises FormatError."""
    text, sigs = split_note(note)
    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise FormatError("checkpoint is not UTF-8") from e
    if len(lines) != 4 or lines[3] != "":
        raise FormatError("checkpoint text is not exactly three lines (extension lines are rejected)")
    if lines[0] != origin:
        raise FormatError(f"checkpoint origin {lines[0]!r} is not {origin!r}")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise FormatError("checkpoint size is not a decimal without leading zeros")
    root = b64d(lines[2], 32)
    for name, kid, sig in sigs:
        if name != origin:
            continue
        for e in epochs.by_id.get(kid, []):
            if ed25519_ok(epochs.keys[e], sig, text):
                return int(lines[1]), root, e
    raise FormatError("no valid signature by a certified epoch key")


_SHAPE_RE = re.compile(rb"[^\n]*\n[^\n]*\n[^\n]*\n\n\xe2\x80\x94 ")
_NOTE_RE = re.compile(rb"([^\n]*)\n([^\n]*)\n([^\n]*)\n\n((?:\xe2\x80\x94 [^\n]*\n)+)")


def is_torn_prefix(tail: bytes, origin: str) -> bool:
    """§5.2: bytes that could be a prefix of a note Tally writes."""
    if not tail:
        return False
    try:
        s = tail.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(tail) - 3 or e.reason != "unexpected end of data":
            return False
        s = tail[: e.start].decode("utf-8")
    if any(ord(c) < 0x20 and c != "\n" for c in s):
        return False
    o = origin
    pat = (r"(?s)(?:" + re.escape(o) + r"\n[0-9]+\n[A-Za-z0-9+/=]{0,44}\n\n" +
           "\u2014 " + re.escape(o) + r" [A-Za-z0-9+/=]{0,92}")
    if re.fullmatch(pat + ")", s):
        return True
    # shorter prefixes: check that s is a prefix of some string matching the full layout
    full_head = o + "\n"
    if full_head.startswith(s):
        return True
    if not s.startswith(full_head):
        return False
    r = s[len(full_head):]
    m = re.fullmatch(r"([0-9]*)", r) or re.fullmatch(r"([0-9]+)\n([A-Za-z0-9+/=]{0,44})", r) or \
        re.fullmatch(r"([0-9]+)\n([A-Za-z0-9+/=]{0,44})\n", r)
    if m:
        return True
    m = re.fullmatch(r"[0-9]+\n[A-Za-z0-9+/=]{0,44}\n\n(.*)", r, re.S)
    if not m:
        return False
    sig_head = "\u2014 " + o + " "
    rest = m.group(1)
    if sig_head.startswith(rest):
        return True
    return rest.startswith(sig_head) and re.fullmatch(r"[A-Za-z0-9+/=]{0,92}", rest[len(sig_head):]) is not None


def split_notes(data: bytes, origin: str | None = None):
    """Yields (offset, note bytes, True) for each complete-looking note and (offset, bytes, False)
    for a region that is not one. With `origin`, resynchronises after a bad region at the next line
    that starts the shape of a note (§5.2)."""
    pos = 0
    while pos < len(data):
        m = _NOTE_RE.match(data, pos)
        if m:
            yield pos, m.group(0), True
            pos = m.end()
            continue
        nxt = len(data)
        if origin is not None:
            # §5.2: resume at the first later line that starts the shape of a note (a line that is
            # not a signature line, two more lines, an empty line and a signature line)
            q = data.find(b"\n", pos)
            while q >= 0:
                if _SHAPE_RE.match(data, q + 1) and not data.startswith(SIG_PREFIX, q + 1):
                    nxt = q + 1
                    break
                q = data.find(b"\n", q + 1)
        yield pos, data[pos:nxt], False
        pos = nxt


# ---------------------------------------------------------------- segments (§4) ----------------

SEG_RE = re.compile(r"seg-([0-9]{8})\.tseg")


class SegHeader:
    def __init__(self, index, first, chain, frontier: Frontier, length):
        self.index, self.first, self.chain, self.frontier, self.length = index, first, chain, frontier, length


def parse_seg_header(data: bytes, index: int) -> SegHeader:
    if len(data) < 64 or data[:8] != b"TALLYSEG":
        raise FormatError("bad segment magic or too short")
    version, idx, first = struct.unpack_from("<IIQ", data, 8)
    if version != 1:
        raise FormatError(f"segment version {version}")
    if idx != index:
        raise FormatError(f"header index {idx} differs from file name {index}")
    if first < 1:
        raise FormatError("segment first seq < 1")
    chain = data[24:56]
    (c,) = struct.unpack_from("<I", data, 56)
    if c != bin(first - 1).count("1"):
        raise FormatError(f"frontier count {c} != popcount({first - 1})")
    end = 60 + 32 * c
    if len(data) < end + 4:
        raise FormatError("segment header truncated")
    (crc,) = struct.unpack_from("<I", data, end)
    if zlib.crc32(data[:end]) != crc:
        raise FormatError("segment header CRC mismatch")
    hashes = [data[60 + 32 * i: 92 + 32 * i] for i in range(c)]
    return SegHeader(idx, first, chain, Frontier(first - 1, hashes), end + 4)


def _incomplete_header(data: bytes, index: int) -> bool:
    """`data` is a proper prefix of a segment header (the writer died while creating the file)."""
    full = b"TALLYSEG" + struct.pack("<II", 1, index)
    if len(data) <= len(full):
        return full.startswith(data)
    if not data.startswith(full):
        return False
    if len(data) < 60:
        return True
    (c,) = struct.unpack_from("<I", data, 56)
    return len(data) < 64 + 32 * c


class Block:
    def __init__(self, offset, C, U, K, first, base, chain):
        self.offset, self.C, self.U, self.K, self.first, self.base, self.chain = offset, C, U, K, first, base, chain
        self.end = offset + 68 + C


def block_at(data: bytes, off: int) -> Block | None:
    """A block whose framing (magic, lengths, CRC) checks out at `off`, else None."""
    if off + 68 > len(data) or data[off:off + 4] != b"TBLK":
        return None
    C, U, K, first, base = struct.unpack_from("<IIIQq", data, off + 4)
    if U > MAX_U or K < 1 or off + 68 + C > len(data):
        return None
    (crc,) = struct.unpack_from("<I", data, off + 64)
    if zlib.crc32(data[off + 68: off + 68 + C], zlib.crc32(data[off:off + 64])) != crc:
        return None
    return Block(off, C, U, K, first, base, data[off + 32: off + 64])


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    v = shift = 0
    for i in range(10):
        if pos >= len(buf):
            raise FormatError("varint runs past the end")
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if v >= 1 << 64:
                raise FormatError("varint exceeds 64 bits")
            return v, pos
    raise FormatError("varint longer than 10 bytes")


def decode_block(data: bytes, b: Block, check_canonical: bool = True) -> list[tuple[int, int, bytes]]:
    """-> [(seq, time ms, event bytes)] or FormatError (§4.3)."""
    try:
        raw = lz4.block.decompress(data[b.offset + 68: b.end], uncompressed_size=b.U)
    except Exception as e:  # lz4.block.LZ4BlockError
        raise FormatError(f"LZ4 decompression failed: {e}") from e
    if len(raw) != b.U:
        raise FormatError(f"decompressed to {len(raw)} bytes, header says {b.U}")
    pos, total, t = 0, 0, b.base
    times = []
    while total < b.K:
        delta, pos = read_varint(raw, pos)
        count, pos = read_varint(raw, pos)
        if count < 1:
            raise FormatError("time run with count 0")
        t += delta
        total += count
        if total > b.K:
            raise FormatError("time run counts exceed the record count")
        times.extend([t] * count)
    events = raw[pos:].split(b"\n")
    if events[-1] != b"" or len(events) != b.K + 1:
        raise FormatError(f"block holds {len(events) - 1} newline-terminated events, header says {b.K}")
    out = []
    for j, e in enumerate(events[:-1]):
        if check_canonical:
            check_event(e)
        out.append((b.first + j, times[j], e))
    return out


def zero_page(data: bytes, start: int, end: int) -> bool:
    """Whether a 4096-byte page of the file that ends at or before the page holding `end` is zero from `start` (or
    from its own start) to its end: a page of an unsynced append that never reached the disk (format §4.5)."""
    page_end = (start // 4096 + 1) * 4096
    while page_end <= end - end % 4096:
        if not any(data[start:page_end]):
            return True
        start, page_end = page_end, page_end + 4096
    return False


def read_segment_blocks(data: bytes, start: int, newest: bool = False):
    """Yields ("block", Block) or ("damage", offset, next_offset) over the block area. Zero bytes from the last
    block to the end of the file are preallocated space (format §4.5) and yield nothing; in the newest segment,
    unreadable bytes with a zero page before a later block are an unsynced append: damage to the end of the file."""
    off = start
    while off < len(data):
        b = block_at(data, off)
        if b is not None:
            yield "block", b
            off = b.end
            continue
        if not any(data[off:]):
            return
        nxt = off + 1
        while True:
            nxt = data.find(b"TBLK", nxt)
            if nxt < 0:
                nxt = len(data)
                break
            if block_at(data, nxt) is not None:
                break
            nxt += 1
        if newest and nxt < len(data) and zero_page(data, off, nxt):
            yield "damage", off, len(data)
            return
        yield "damage", off, nxt
        off = nxt


# ---------------------------------------------------------------- the verifier (§7) ------------

class Verifier:
    def __init__(self, home: str, public_key: str | None = None, witnesses: list[str] | None = None):
        self.home = home
        self.pub_path = public_key or os.path.join(home, "ledger.pub")
        self.witness_paths = witnesses or []
        self.problems: list[dict] = []
        self.warnings: list[dict] = []

    def problem(self, kind, seq=None, last_seq=None, file=None, offset=None, message="", warning=False):
        p = {"kind": kind}
        if seq is not None:
            p["seq"] = seq
        if last_seq is not None:
            p["last_seq"] = last_seq
        if file is not None:
            p["file"] = file
        if offset is not None:
            p["offset"] = offset
        p["message"] = message
        (self.warnings if warning else self.problems).append(p)

    # -- checkpoints (§5, §7.2)
    def load_checkpoints(self, path: str, rel: str, torn_ok: bool, kind: str) -> list[Checkpoint]:
        out: list[Checkpoint] = []
        if self.epochs is None:  # §7.1: no checkpoint can be trusted; `epoch-keys` says why
            return out
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if kind == "checkpoint-invalid":
                return out
            raise
        items = list(split_notes(data, self.origin))
        if kind == "witness-invalid" and not any(complete for _, _, complete in items):
            # §5.2: a witness file holds one or more checkpoint notes
            self.problem(kind, file=rel, message="no checkpoint note in the witness file")
            return out
        for item in items:
            off, note, complete = item
            if not complete:
                if torn_ok and off + len(note) == len(data) and is_torn_prefix(note, self.origin):
                    self.problem("torn-tail", file=rel, offset=off, message="incomplete last note", warning=True)
                else:
                    self.problem(kind, file=rel, offset=off, message="unparseable bytes in the checkpoint file")
                continue
            try:
                size, root, epoch = parse_checkpoint(note, self.origin, self.epochs)
            except FormatError as e:
                self.problem(kind, file=rel, offset=off, message=str(e))
                continue
            cp = Checkpoint(off, size, root, epoch, note)
            cp.file = rel
            out.append(cp)
        return out

    def _sealed_tail(self, rel: str, offset: int, expected, segdir: str, idx: int) -> None:
        """§7 step 8: unreadable bytes at the end of a segment that is not the last. The records lost
        there are the ones before the next segment's first seq, when its header says so."""
        nxt_first = None
        try:
            with open(os.path.join(segdir, f"seg-{idx + 1:08d}.tseg"), "rb") as f:
                nxt_first = parse_seg_header(f.read(64 + 32 * 64 + 4), idx + 1).first
        except (OSError, FormatError):
            pass
        if expected is None or nxt_first is None:
            self.problem("damaged-block", seq=expected, file=rel, offset=offset,
                         message="damaged bytes at the end of a segment")
        elif nxt_first > expected:
            self.problem("damaged-block", seq=expected, last_seq=nxt_first - 1, file=rel, offset=offset,
                         message=f"damaged bytes at the end of a segment: records {expected}-{nxt_first - 1} unreadable")
        else:
            self.problem("damaged-block", file=rel, offset=offset,
                         message="damaged bytes at the end of a segment (no record lost)")

    def run(self) -> dict:
        with open(self.pub_path, "rb") as f:
            self.root_name, self.root_pub = parse_vkey(f.read())
        self.origin = self.root_name[: -len("/root")]
        ledger = os.path.join(self.home, "ledger")
        if not os.path.isdir(ledger):
            raise FormatError(f"{ledger} is not a directory")
        self.epochs = None
        try:
            self.epochs = load_epochs(self.home, self.root_name, self.root_pub)
        except (FormatError, OSError, UnicodeDecodeError) as e:
            self.problem("epoch-keys", file="ledger/epochs.note", message=str(e))

        cps = self.load_checkpoints(os.path.join(ledger, "checkpoints.log"), "ledger/checkpoints.log",
                                    True, "checkpoint-invalid")
        for a, b in zip(cps, cps[1:]):
            if b.size < a.size or b.epoch < a.epoch:
                self.problem("checkpoint-order", seq=b.size, file="ledger/checkpoints.log", offset=b.offset,
                             message=f"checkpoint size/epoch {b.size}/{b.epoch} after {a.size}/{a.epoch}")
        wits: list[Checkpoint] = []
        for w in self.witness_paths:
            wits += self.load_checkpoints(w, w, False, "witness-invalid")

        needed = {c.size for c in cps} | {c.size for c in wits}
        roots: dict[int, bytes] = {}
        if 0 in needed:
            roots[0] = sha256(b"")

        # §7.3 segment files
        segdir = os.path.join(ledger, "segments")
        idxs = sorted(int(m.group(1)) for n in os.listdir(segdir) if (m := SEG_RE.fullmatch(n)))
        present = set(idxs)
        for i in range(1, (max(idxs) if idxs else 0) + 1):
            if i not in present:
                self.problem("missing-segment", file=f"ledger/segments/seg-{i:08d}.tseg",
                             message=f"segment {i} is missing")
        self.segments = len(idxs)

        records: list[tuple[int, int]] = []  # (seq, time) of every good record
        prev_end = (0, bytes(32), Frontier(), True)  # last seq, chain, frontier, known
        prev_idx = 0
        last_time = None
        max_seq = 0
        last_seg_tail: tuple | None = None  # (file, offset, expected seq) of a damaged tail in the last segment
        prev_tail_lost = False  # the previous segment ended in unreadable bytes (its lost records are reported there)
        for idx in idxs:
            rel = f"ledger/segments/seg-{idx:08d}.tseg"
            with open(os.path.join(segdir, f"seg-{idx:08d}.tseg"), "rb") as f:
                data = f.read()
            is_last = idx == idxs[-1]
            link_known = prev_idx == idx - 1 and prev_end[3]
            try:
                h = parse_seg_header(data, idx)
                chain, frontier, expected, start = h.chain, h.frontier.copy(), h.first, h.length
                frontier_ok = True
                if prev_end[0] is not None and h.first != prev_end[0] + 1:
                    if prev_tail_lost and h.first > prev_end[0] + 1:
                        pass  # §7 step 5: reported once, with the previous segment's damaged end
                    elif h.first > prev_end[0] + 1:
                        self.problem("seq-gap", seq=prev_end[0] + 1, last_seq=h.first - 1, file=rel, offset=0,
                                     message=f"segment starts at seq {h.first}, previous data ended at {prev_end[0]}")
                    else:
                        self.problem("seq-order", seq=h.first, file=rel, offset=0,
                                     message=f"segment starts at seq {h.first}, previous data ended at {prev_end[0]}")
                elif link_known:
                    if h.chain != prev_end[1] or h.frontier.hashes() != prev_end[2].hashes():
                        self.problem("segment-link", seq=h.first, file=rel, offset=0,
                                     message="segment header chain/frontier differ from the previous segment's end")
            except FormatError as e:
                nxt = data.find(b"TBLK", 8)
                while nxt >= 0 and block_at(data, nxt) is None:
                    nxt = data.find(b"TBLK", nxt + 1)
                if idx > 1 and (_incomplete_header(data, idx) or nxt < 0):
                    # §7 step 8 / §10: a header that never completed, or a torn one with no block after it (a
                    # rollover cut short; segment 1's header is written by init, never by a rollover): the whole
                    # file is an unreadable end, like a torn block.
                    after = (prev_end[0] or 0) + 1 if prev_end[0] is not None else None
                    if is_last:
                        last_seg_tail = (rel, 0, after)
                    else:
                        self._sealed_tail(rel, 0, after, segdir, idx)
                    prev_end = (prev_end[0], None, prev_end[2], False)
                    prev_tail_lost = True
                    prev_idx = idx
                    continue
                self.problem("segment-header", file=rel, offset=0, message=str(e))
                if prev_idx == idx - 1 and prev_end[3]:
                    expected, chain, frontier, frontier_ok = prev_end[0] + 1, prev_end[1], prev_end[2].copy(), True
                else:
                    expected, chain, frontier, frontier_ok = None, None, None, False
                start = 8
                # resync to the first block
                nxt = data.find(b"TBLK", 8)
                while nxt >= 0 and block_at(data, nxt) is None:
                    nxt = data.find(b"TBLK", nxt + 1)
                start = nxt if nxt >= 0 else len(data)

            pending_damage = None  # (offset) of a damaged range waiting for the next good block
            tail_damage = None
            for item in read_segment_blocks(data, start, newest=is_last):
                if item[0] == "damage":
                    _, off, nxt = item
                    if nxt >= len(data):
                        tail_damage = off
                    else:
                        pending_damage = off
                    frontier_ok = False
                    continue
                b = item[1]
                if pending_damage is not None:
                    if expected is not None and b.first > expected:
                        self.problem("damaged-block", seq=expected, last_seq=b.first - 1, file=rel,
                                     offset=pending_damage, message="damaged block(s)")
                    else:
                        self.problem("damaged-block", file=rel, offset=pending_damage, message="damaged block(s)")
                    pending_damage = None
                    expected = b.first
                    chain = None
                try:
                    recs = decode_block(data, b)
                except FormatError as e:
                    self.problem("damaged-block", seq=b.first, last_seq=b.first + b.K - 1, file=rel,
                                 offset=b.offset, message=str(e))
                    frontier_ok = False
                    expected = b.first + b.K
                    chain = b.chain
                    continue
                if expected is not None and b.first != expected:
                    if b.first > expected:
                        self.problem("seq-gap", seq=expected, last_seq=b.first - 1, file=rel, offset=b.offset,
                                     message=f"block starts at seq {b.first}, expected {expected}")
                    else:
                        self.problem("seq-order", seq=b.first, last_seq=b.first + b.K - 1, file=rel,
                                     offset=b.offset, message=f"block starts at seq {b.first}, expected {expected}")
                    frontier_ok = False
                    chain = None  # after damage the chain restarts from this block's stored value
                c = chain
                for seq, t, e in recs:
                    if last_time is not None and t < last_time:
                        self.problem("time-order", seq=seq, file=rel, offset=b.offset,
                                     message="record time goes backwards")
                    last_time = t
                    lh = leaf_hash(record_bytes(e, seq, t))
                    if c is not None:
                        c = chain_next(c, lh)
                    if frontier_ok:
                        frontier.push(lh)
                        if frontier.size in needed:
                            roots[frontier.size] = frontier.root()
                    records.append((seq, t, rel, b.offset))
                    max_seq = max(max_seq, seq)
                if c is not None and c != b.chain:
                    self.problem("chain-mismatch", seq=b.first, last_seq=b.first + b.K - 1, file=rel,
                                 offset=b.offset, message="recomputed chain differs from the block header")
                chain = b.chain
                expected = b.first + b.K
            if pending_damage is not None:
                tail_damage = pending_damage
            if tail_damage is not None:
                if is_last:
                    last_seg_tail = (rel, tail_damage, expected)
                else:
                    self._sealed_tail(rel, tail_damage, expected, segdir, idx)
            known = expected is not None and chain is not None and frontier_ok and tail_damage is None
            prev_end = ((expected - 1) if expected is not None else None, chain, frontier, known)
            prev_tail_lost = tail_damage is not None
            prev_idx = idx

        self.records = max_seq  # the ledger length (highest seq read); damaged ranges are problems
        max_cp = max((c.size for c in cps), default=0)
        if last_seg_tail is not None:
            rel, off, expected = last_seg_tail
            if expected is None:
                expected = max_seq + 1
            if max_cp > max_seq:
                self.problem("damaged-block", seq=expected, file=rel, offset=off,
                             message="damaged bytes at the end of the last segment, covered by a checkpoint")
            else:
                self.problem("torn-tail", seq=expected, file=rel, offset=off,
                             message="uncommitted torn append at the end of the last segment", warning=True)

        # §7.6 checkpoints vs the records
        for c in cps:
            if c.size > max_seq:
                self.problem("truncated", seq=max_seq + 1, last_seq=c.size, file="ledger/checkpoints.log",
                             offset=c.offset,
                             message=f"checkpoint covers {c.size} records, ledger holds {max_seq}")
            elif c.size in roots and roots[c.size] != c.root:
                self.problem("checkpoint-mismatch", seq=c.size, file="ledger/checkpoints.log", offset=c.offset,
                             message="checkpoint root differs from the recomputed Merkle root")
        for w in wits:
            if w.size > max_seq:
                self.problem("witness-truncation", seq=max_seq + 1, last_seq=w.size, file=w.file,
                             offset=w.offset, message=f"witness size {w.size} > ledger {max_seq}")
            elif w.size in roots and roots[w.size] != w.root:
                self.problem("witness-fork", seq=w.size, file=w.file, offset=w.offset, message="ledger root at the witness size differs")

        # §6.3 epoch rule
        if self.epochs is not None and cps:
            ci = 0
            for seq, t, rel, boff in sorted(records):
                while ci < len(cps) and cps[ci].size < seq:
                    ci += 1
                if ci == len(cps):
                    break
                e = self.epochs.epoch_of(t)
                if e != cps[ci].epoch:
                    self.problem("epoch-mismatch", seq=seq, file=rel, offset=boff,
                                 message=f"record of epoch {e} first covered by the checkpoint at byte "
                                         f"{cps[ci].offset} of checkpoints.log, signed with epoch {cps[ci].epoch}'s key")
        if max_seq > max_cp:
            self.problem("uncheckpointed", seq=max_cp + 1, last_seq=max_seq,
                         message="records after the newest checkpoint", warning=True)
        self.problems = _collapse(self.problems)
        return {"ok": not self.problems, "records": self.records, "segments": self.segments,
                "checkpoints": len(cps), "witnesses": len(wits), "problems": self.problems,
                "warnings": self.warnings}


def _collapse(problems: list[dict]) -> list[dict]:
    """Merge consecutive epoch-mismatch entries (same file, same covering checkpoint) into a range;
    the offset stays the block of the first record."""
    out: list[dict] = []
    for p in problems:
        q = out[-1] if out else None
        if (q and p["kind"] == "epoch-mismatch" and q["kind"] == "epoch-mismatch"
                and q.get("file") == p.get("file") and q["message"].split(" first covered ")[1] ==
                p["message"].split(" first covered ")[1] and q.get("last_seq", q.get("seq")) + 1 == p.get("seq")):
            q["last_seq"] = p["seq"]
            continue
        out.append(p)
    return out


# ---------------------------------------------------------------- proof bundles (§8) -----------

def verify_consistency_bundle(bundle: dict, root_vkey: bytes) -> tuple[int, bytes]:
    """§8 tally-consistency/v1: key chain as for inclusion bundles, then the RFC 9162 §2.1.4.2
    proof that the checkpoint's tree extends the tree of `old_size` with `old_root`. Returns
    (old_size, old_root) for the auditor to compare with the checkpoint they kept."""
    root_name, root_pub = parse_vkey(root_vkey)
    if bundle.get("format") != "tally-consistency/v1":
        raise FormatError("not a tally-consistency/v1 bundle")
    origin, _start, _length, count, eroot = parse_epochs_note(bundle["epochs_note"].encode(), root_name, root_pub)
    e = bundle["epoch"]
    ekey = b64d(bundle["epoch_key"], 32)
    eproof = [b64d(x, 32) for x in bundle["epoch_inclusion"]]
    if not isinstance(e, int) or not verify_inclusion(leaf_hash(ekey), e, count, eproof, eroot):
        raise FormatError("epoch key inclusion proof fails")
    if bundle["origin"] != origin:
        raise FormatError("bundle origin differs from the epochs note")
    size, root, _ = parse_checkpoint(bundle["checkpoint"].encode(), origin, Epochs(origin, 0, 1, 1, [ekey]))
    if bundle["tree_size"] != size:
        raise FormatError("tree_size differs from the checkpoint size")
    m = bundle["old_size"]
    old_root = b64d(bundle["old_root"], 32)
    proof = [b64d(x, 32) for x in bundle["consistency"]]
    if not isinstance(m, int) or not verify_consistency(m, size, old_root, root, proof):
        raise FormatError("consistency proof fails")
    return m, old_root


def verify_bundle(bundle: dict, root_vkey: bytes) -> None:
    """Raises FormatError unless the §8 bundle is valid under the auditor's ledger.pub."""
    root_name, root_pub = parse_vkey(root_vkey)
    if bundle.get("format") == "tally-consistency/v1":
        verify_consistency_bundle(bundle, root_vkey)
        return
    if bundle.get("format") != "tally-proof/v1":
        raise FormatError("not a tally-proof/v1 bundle")
    origin, start, length, count, eroot = parse_epochs_note(bundle["epochs_note"].encode(), root_name, root_pub)
    e = bundle["epoch"]
    ekey = b64d(bundle["epoch_key"], 32)
    eproof = [b64d(x, 32) for x in bundle["epoch_inclusion"]]
    if not isinstance(e, int) or not verify_inclusion(leaf_hash(ekey), e, count, eproof, eroot):
        raise FormatError("epoch key inclusion proof fails")
    if bundle["origin"] != origin:
        raise FormatError("bundle origin differs from the epochs note")
    ep = Epochs(origin, 0, 1, 1, [ekey])
    size, root, _ = parse_checkpoint(bundle["checkpoint"].encode(), origin, ep)
    if bundle["tree_size"] != size:
        raise FormatError("tree_size differs from the checkpoint size")
    seq = bundle["seq"]
    rec = b64d(bundle["record"])
    proof = [b64d(x, 32) for x in bundle["inclusion"]]
    if not isinstance(seq, int) or seq < 1 or not verify_inclusion(leaf_hash(rec), seq - 1, size, proof, root):
        raise FormatError("record inclusion proof fails")
    tree = parse_json_tree(rec)
    if not isinstance(tree, _Obj) or canonical_value(tree, input_limit=False) != rec:
        raise FormatError("record bytes are not a canonical object")
    members = dict(tree.pairs)
    if set(members) != {"event", "seq", "time"}:
        raise FormatError("record members are not event, seq, time")
    if not isinstance(members["seq"], _Num) or members["seq"].text != str(seq):
        raise FormatError("record seq differs from the bundle seq")
    ev = members["event"]
    if not isinstance(ev, _Obj) or not any(k == "type" and isinstance(v, str) for k, v in ev.pairs):
        raise FormatError('record event has no string "type"')
    if not isinstance(members["time"], str) or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", members["time"]):
        raise FormatError("record time is not RFC 3339 with milliseconds")
    t = parse_rfc3339_ms(members["time"])
    if not start + e * length <= t < start + (e + 1) * length:
        raise FormatError(f"record time {members['time']} is outside the window of epoch {e}, whose key signed")


# ---------------------------------------------------------------- CLI ---------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("home")
    ap.add_argument("--public-key")
    ap.add_argument("--witness", action="append", default=[])
    ap.add_argument("--bundle", help="verify a `tally ledger prove` bundle instead of a home")
    a = ap.parse_args(argv)
    try:
        if a.bundle:
            with open(a.bundle, "rb") as f:
                bundle = json.loads(f.read())
            with open(a.public_key or os.path.join(a.home, "ledger.pub"), "rb") as f:
                vkey = f.read()
            try:
                verify_bundle(bundle, vkey)
            except (FormatError, KeyError, TypeError) as e:
                print(json.dumps({"ok": False, "reason": str(e)}))
                return 1
            print(json.dumps({"ok": True}))
            return 0
        result = Verifier(a.home, a.public_key, a.witness).run()
    except (OSError, FormatError) as e:
        print(f"verify_ledger: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
