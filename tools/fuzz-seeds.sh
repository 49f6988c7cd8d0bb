#!/usr/bin/env bash
# Builds the libFuzzer seed corpora under tests/fuzz/corpus/<target>/ from the third-party data
# in ../shared (pcaps in testdata/pcaps, feeds in intel-samples) and from rules/ in this repo.
#
# The output is derived from third-party files: tests/fuzz/corpus is gitignored and must never
# be committed. Hand-built seeds of our own live in tests/fuzz/seeds/<target>/ (committed) and
# are copied in as well, so the corpus works without ../shared too.
#
# Usage: tools/fuzz-seeds.sh [SHARED_DIR]   (default: ../shared next to the repository)
# Needs: python3; tshark (Wireshark) for the per-protocol payload seeds (skipped without it).
# Re-running replaces the generated seeds and keeps whatever libFuzzer added to the corpus.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${1:-$ROOT/../shared}
OUT=$ROOT/tests/fuzz/corpus
OWN=$ROOT/tests/fuzz/seeds

mkdir -p "$OUT"
if [ -d "$OWN" ]; then
    for d in "$OWN"/*/; do
        t=$(basename "$d")
        mkdir -p "$OUT/$t"
        cp -f "$d"* "$OUT/$t/" 2>/dev/null || true
    done
fi
if [ ! -d "$SHARED/testdata/pcaps" ]; then
    echo "fuzz-seeds: $SHARED/testdata/pcaps not found; only the committed seeds were copied" >&2
    exit 0
fi

TSHARK=$(command -v tshark || true)
export SHARED OUT ROOT TSHARK
exec python3 - <<'PY'
import hashlib, json, os, struct, subprocess, sys
from pathlib import Path

SHARED, OUT, ROOT, TSHARK = (Path(os.environ[k]) if os.environ[k] else None
                             for k in ("SHARED", "OUT", "ROOT", "TSHARK"))
PCAPS = sorted((SHARED / "testdata" / "pcaps").glob("*.pcap*"))
INTEL = SHARED / "intel-samples"

# Caps keep the corpus small and the executions fast: libFuzzer's default -max_len follows the
# largest seed.
MAX_FRAMES_PER_FILE = 300
MAX_CAPTURE_SEED = 64 * 1024
MAX_STREAM_SEED = 16 * 1024
MAX_TEXT_SEED = 8 * 1024
MAX_JSON_ITEMS = 5

counts = {}


def put(target, data, prefix=b""):
    if not data:
        return
    data = prefix + data
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()
    p = d / name
    if not p.exists():
        p.write_bytes(data)
        counts[target] = counts.get(target, 0) + 1


# --- frames, read with a minimal pcap / pcapng walker --------------------------------------
def frames(path):
    b = path.read_bytes()
    if len(b) < 24:
        return
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        o = 24
        while o + 16 <= len(b):
            caplen = struct.unpack_from(e + "I", b, o + 8)[0]
            yield b[o + 16:o + 16 + caplen]
            o += 16 + caplen
    elif magic == b"\x0a\x0d\x0d\x0a":
        o, e = 0, "<"
        while o + 12 <= len(b):
            if b[o:o + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if b[o + 8:o + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype, total = struct.unpack_from(e + "II", b, o)
            if total < 12:
                return
            if btype == 6 and o + 28 <= len(b):
                caplen = struct.unpack_from(e + "I", b, o + 20)[0]
                yield b[o + 28:o + 28 + caplen]
            elif btype == 3:
                yield b[o + 12:o + total - 4]
            o += total


for p in PCAPS:
    put("capture_reader", p.read_bytes()[:MAX_CAPTURE_SEED])
    for i, f in enumerate(frames(p)):
        if i >= MAX_FRAMES_PER_FILE:
            break
        put("wire_decode", f)

# --- L4 payloads per protocol, through tshark ---------------------------------------------
TLS_START = (b"\x16\x03", b"\x15\x03", b"\x17\x03")
HTTP_START = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"HTTP/")

if TSHARK is None:
    print("fuzz-seeds: tshark not found; dns/tls/http/quic/ssh/socks seeds skipped", file=sys.stderr)
else:
    for p in PCAPS:
        cmd = [str(TSHARK), "-n", "-r", str(p), "-T", "fields", "-E", "occurrence=l",
               "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.payload",
               "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload"]
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        streams = {}
        for line in out.splitlines():
            f = (line.split("\t") + [""] * 7)[:7]
            stream, tsp, tdp, tpl, usp, udp_, upl = f
            if tpl:
                key = (stream, tsp, tdp)
                buf = streams.setdefault(key, bytearray())
                if len(buf) < MAX_STREAM_SEED:
                    buf += bytes.fromhex(tpl)[:MAX_STREAM_SEED - len(buf)]
            elif upl:
                data = bytes.fromhex(upl)
                ports = {usp, udp_}
                if ports & {"53", "5353", "5355"}:
                    put("dns", data)
                if "443" in ports:
                    put("quic", data)
        for (stream, sp, dp), buf in streams.items():
            data = bytes(buf)
            ports = {sp, dp}
            if ports & {"53"}:
                put("dns", data)
            if data.startswith(TLS_START):
                put("tls", data)
            if data.startswith(HTTP_START):
                put("http", data)
            if data.startswith(b"SSH-"):
                put("ssh", data)
            if ports & {"1080"} or data[:1] in (b"\x04", b"\x05"):
                put("socks", data)

# --- intel feeds --------------------------------------------------------------------------
def head_lines(path, limit=MAX_TEXT_SEED):
    b = path.read_bytes()[:limit]
    cut = b.rfind(b"\n")
    return b[:cut + 1] if cut > 0 else b


def trimmed_json(path):
    """The document with every long list cut to its first few items, so it stays valid JSON."""
    def trim(v):
        if isinstance(v, list):
            return [trim(x) for x in v[:MAX_JSON_ITEMS]]
        if isinstance(v, dict):
            return {k: trim(x) for k, x in list(v.items())[:64]}
        return v
    try:
        return json.dumps(trim(json.loads(path.read_bytes())), indent=1).encode()
    except ValueError:
        return path.read_bytes()[:MAX_TEXT_SEED]


ABUSECH = ["feodo", "sslbl-ja3", "sslbl-cert", "sslbl-ip", "urlhaus", "threatfox-csv"]
if INTEL.is_dir():
    for p in sorted(INTEL.iterdir()):
        n = p.name
        if n.endswith(".md"):
            continue
        data = trimmed_json(p) if n.endswith(".json") else head_lines(p)
        put("intel_auto", data)
        if n.startswith("abusech-"):
            which = ("feodo" if "feodo" in n else "sslbl-ja3" if "ja3" in n else
                     "sslbl-ip" if "sslipblacklist" in n else "sslbl-cert" if "sslbl" in n else
                     "urlhaus" if "urlhaus" in n else "threatfox-csv")
            put("intel_abusech_csv", data, bytes([ABUSECH.index(which)]))
            put("intel_csv", data)
        elif "warninglist" in n:
            put("intel_misp_warninglist", data)
        elif n.startswith("misp-event"):
            put("intel_misp_event", data)
        elif n.startswith("stix21"):
            put("intel_stix", data)
            try:
                for o in json.loads(p.read_bytes()).get("objects", []):
                    for k in ("pattern", "valid_from", "valid_until", "created"):
                        if isinstance(o.get(k), str):
                            put("intel_fields", o[k].encode())
            except ValueError:
                pass
        elif n.endswith(".intel"):
            put("intel_zeek", data)
        elif "hosts" in n:
            put("intel_hosts", data)
        else:
            # intel_list: first byte = IndicatorKind (0 domain, 1 ip, 2 ja3, 3 ja4).
            kind = 1 if ("iplist" in n or n.endswith(".netset")) else 0
            put("intel_list", data, bytes([kind]))

# --- pattern files and intel lists in this repository (our own) ----------------------------
for p in sorted((ROOT / "rules" / "patterns").glob("patterns*")):
    data = head_lines(p)
    put("patterns", data, b"\x01" if p.suffix == ".rules" else b"\x00")
    for line in data.splitlines():
        if line.strip() and not line.lstrip().startswith(b"#"):
            put("patterns", line, b"\x01")
for kind, name in enumerate(["domains", "ips", "ja3", "ja4"]):
    p = ROOT / "rules" / "intel" / f"{name}.txt"
    if p.is_file():
        put("intel_list", head_lines(p), bytes([kind]))

for t in sorted(counts):
    print(f"{t:24} {counts[t]:5} new seeds")
PY
