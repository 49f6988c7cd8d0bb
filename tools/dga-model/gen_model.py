#!/usr/bin/env python3
"""Builds the benign character-trigram model that tapir-detect's DGA detector ships.

Input: an English word list, one word a line. The committed table was built from Debian's
`wamerican` package (SCOWL "american" list, 2020.12.07-2, /usr/share/dict/words). SCOWL's
licence is permissive (Kevin Atkinson's "permission to use, copy, modify, distribute and sell
these word lists ... and the output created from the scripts", with public-domain parts from
Moby Words); only derived counts ship, not the words.

Output: 27*27*27 bytes. Symbol 0 is the word boundary, 1..26 are 'a'..'z'. Cell
[a][b][c] (index a*729 + b*27 + c) is -log2 P(c | a b) in 1/16 bit steps, clamped to 255,
with add-k smoothing so unseen trigrams cost a finite (large) number of bits.

Usage: python3 tools/dga-model/gen_model.py [/usr/share/dict/words] > sensor/detect/src/dga_trigram.bin
Deterministic: the same word list gives the same bytes (sha256 of input printed to stderr).
"""
import hashlib
import math
import sys

K = 0.05  # add-k smoothing: small, so unseen English trigrams stay clearly unlikely
N = 27


def sym(ch):
    return ord(ch) - ord("a") + 1


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dict/words"
    raw = open(path, "rb").read()
    words = set()
    for line in raw.decode("utf-8", "replace").splitlines():
        w = line.strip().lower()
        # Possessives ("'s") and accented loan words are not domain-name material.
        if len(w) >= 2 and all("a" <= c <= "z" for c in w):
            words.add(w)
    counts = [0] * (N * N * N)
    for w in sorted(words):
        s = [0, 0] + [sym(c) for c in w] + [0]
        for i in range(len(s) - 2):
            counts[s[i] * N * N + s[i + 1] * N + s[i + 2]] += 1
    out = bytearray(N * N * N)
    for a in range(N):
        for b in range(N):
            base = a * N * N + b * N
            total = sum(counts[base:base + N]) + K * N
            for c in range(N):
                p = (counts[base + c] + K) / total
                q = round(-math.log2(p) * 16)
                out[base + c] = max(0, min(255, q))
    sys.stdout.buffer.write(bytes(out))
    print(
        f"gen_model: {len(words)} words from {path} sha256={hashlib.sha256(raw).hexdigest()}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
