#!/usr/bin/env python3
"""Independent RFC 6962 Merkle reference (a few lines, straight from RFC 6962 section 2.1).

Writes Tests/TallyLedgerTests/Fixtures/merkle_known_answers.json: roots, inclusion paths and
consistency proofs for every tree over the first n of the RFC 6962 / certificate-transparency
test leaves (n = 1..8), plus a 13-leaf tree. The Swift tests check Tally's Merkle code against it.
"""
import hashlib, json, sys, os

H = lambda b: hashlib.sha256(b).digest()
LEAVES = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f"]]
LEAVES13 = LEAVES + [bytes([0x70 + i]) * (i + 1) for i in range(5)]

def k_of(n):  # largest power of two < n
    k = 1
    while k * 2 < n: k *= 2
    return k

def mth(d):
    if len(d) == 0: return H(b"")
    if len(d) == 1: return H(b"\x00" + d[0])
    k = k_of(len(d))
    return H(b"\x01" + mth(d[:k]) + mth(d[k:]))

def path(m, d):
    if len(d) <= 1: return []
    k = k_of(len(d))
    return path(m, d[:k]) + [mth(d[k:])] if m < k else path(m - k, d[k:]) + [mth(d[:k])]

def subproof(m, d, b):
    if m == len(d): return [] if b else [mth(d)]
    k = k_of(len(d))
    return subproof(m, d[:k], b) + [mth(d[k:])] if m <= k else subproof(m - k, d[k:], False) + [mth(d[:k])]

def cases(leaves):
    out = []
    for n in range(1, len(leaves) + 1):
        d = leaves[:n]
        out.append({
            "size": n, "root": mth(d).hex(),
            "inclusion": [[p.hex() for p in path(i, d)] for i in range(n)],
            "consistency": {str(m): [p.hex() for p in subproof(m, d, True)] for m in range(1, n)},
        })
    return out

if __name__ == "__main__":
    doc = {"leaves": [l.hex() for l in LEAVES13], "trees": cases(LEAVES13)}
    # Published value (certificate-transparency test vectors): the root of the 8-leaf tree.
    assert doc["trees"][7]["root"] == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "TallyLedgerTests", "Fixtures", "merkle_known_answers.json")
    with open(out, "w") as f: json.dump(doc, f, indent=1, sort_keys=True); f.write("\n")
    print("wrote", out)
