#!/usr/bin/env python3
"""Writes the hand-built seeds in tests/fuzz/seeds/<target>/ (committed; no third-party data).

Each seed is built from the wire format's spec (cited inline) or taken from an RFC test vector.
Run from anywhere: `python3 tests/fuzz/seeds/gen.py`. Output is deterministic.
"""
import re
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent


def put(target, name, data):
    d = HERE / target
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data)


def be16(n):
    return struct.pack(">H", n)


def be32(n):
    return struct.pack(">I", n)


# --- DNS (RFC 1035 §4.1) -----------------------------------------------------------------------
def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


q = be16(0x1234) + be16(0x0100) + be16(1) + be16(0) * 3 + qname("www.example.com") + be16(1) + be16(1)
# Response: the question, then an A answer whose name is a compression pointer to offset 12.
r = (be16(0x1234) + be16(0x8180) + be16(1) + be16(1) + be16(0) * 2 + qname("www.example.com")
     + be16(1) + be16(1) + b"\xc0\x0c" + be16(1) + be16(1) + be32(300) + be16(4) + bytes([192, 0, 2, 1]))
put("dns", "query-a", q)
put("dns", "response-a-compressed", r)
put("dns", "tcp-two-messages", be16(len(q)) + q + be16(len(r)) + r)  # RFC 1035 §4.2.2 framing

# --- TLS ClientHello (RFC 8446 §4.1.2, extensions §4.2; SNI RFC 6066 §3; ALPN RFC 7301) ---------
def ext(t, body):
    return be16(t) + be16(len(body)) + body


sni = ext(0, be16(14) + b"\0" + be16(11) + b"example.com")
alpn = ext(16, be16(3) + b"\x02h2")
versions = ext(43, b"\x04\x03\x04\x03\x03")
groups = ext(10, be16(4) + be16(0x001d) + be16(0x0017))
sigalgs = ext(13, be16(4) + be16(0x0403) + be16(0x0804))
exts = sni + alpn + versions + groups + sigalgs
ch = (b"\x03\x03" + bytes(range(32)) + b"\x00" + be16(6) + be16(0x1301) + be16(0xc02f) + be16(0x0a0a)
      + b"\x01\x00" + be16(len(exts)) + exts)
hs = b"\x01" + struct.pack(">I", len(ch))[1:] + ch
put("tls", "client-hello", b"\x16\x03\x01" + be16(len(hs)) + hs)
# The same handshake split over two records (RFC 8446 §5.1 allows fragmentation).
put("tls", "client-hello-two-records",
    b"\x16\x03\x01" + be16(10) + hs[:10] + b"\x16\x03\x01" + be16(len(hs) - 10) + hs[10:])
sh_body = (b"\x03\x03" + bytes(32) + b"\x00" + be16(0xc02f) + b"\x00" + be16(0))
sh = b"\x02" + struct.pack(">I", len(sh_body))[1:] + sh_body
put("tls", "server-hello", b"\x16\x03\x03" + be16(len(sh)) + sh + b"\x15\x03\x03\x00\x02\x02\x28")

# --- HTTP/1.1 (RFC 9112) ------------------------------------------------------------------------
put("http", "get", b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz/1.0\r\n"
    b"Cookie: a=1; b=2\r\n\r\nGET /2 HTTP/1.1\r\nHost: example.com\r\n\r\n")
put("http", "post", b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloHEAD / HTTP/1.0\r\n\r\n")
put("http", "response-chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: x\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n")
put("http", "response-length", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
put("http", "connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x01\x01")

# --- QUIC: RFC 9001 A.2 and RFC 9369 A.2 client Initials, as the proto tests hold them -----------
qt = (REPO / "sensor/proto/tests/quic_unit.rs").read_text()
for const, name in (("V1_PACKET", "rfc9001-a2-client-initial"), ("V2_PACKET", "rfc9369-a2-client-initial")):
    m = re.search(const + r': &str = "([^"]*)"', qt)
    if m:
        put("quic", name, bytes.fromhex("".join(m.group(1).split())))

# --- SSH (RFC 4253 §4.2 banner, §6 binary packet, §7.1 KEXINIT) -----------------------------------
def namelist(s):
    return be32(len(s)) + s.encode()


kex = (b"\x14" + bytes(16) + namelist("curve25519-sha256,diffie-hellman-group14-sha256")
       + namelist("ssh-ed25519,rsa-sha2-512") + namelist("aes128-ctr,chacha20-poly1305@openssh.com") * 2
       + namelist("hmac-sha2-256") * 2 + namelist("none,zlib@openssh.com") * 2 + namelist("") * 2
       + b"\x00" + be32(0))
pad = 8 - (len(kex) + 5) % 8
pad += 8 if pad < 4 else 0
pkt = be32(1 + len(kex) + pad) + bytes([pad]) + kex + bytes(pad)
put("ssh", "client", b"SSH-2.0-OpenSSH_9.6p1 Debian\r\n" + pkt)
put("ssh", "server-with-preamble", b"hello\r\nSSH-2.0-srv\r\n" + pkt)

# --- SOCKS (RFC 1928 v5, RFC 1929 auth; SOCKS4/4a from the OpenSSH socks4.protocol text) --------
put("socks", "v5-connect-domain", b"\x05\x02\x00\x02" + b"\x05\x01\x00\x03\x0bexample.com\x01\xbb")
put("socks", "v5-auth", b"\x05\x01\x02" + b"\x01\x04user\x04pass" + b"\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x50")
put("socks", "v5-reply", b"\x05\x00" + b"\x05\x00\x00\x04" + bytes(16) + b"\x01\xbb" + b"tunnel")
put("socks", "v4-connect", b"\x04\x01\x00\x50\xc0\x00\x02\x01user\x00GET / HTTP/1.0\r\n\r\n")
put("socks", "v4a-connect", b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00example.com\x00")

# --- frames (Ethernet II, IPv4 RFC 791, IPv6 RFC 8200, UDP RFC 768, TCP RFC 9293, 802.1Q) --------
def ipv4(proto, payload, mf=0, off=0, ident=1):
    h = (b"\x45\x00" + be16(20 + len(payload)) + be16(ident) + be16((mf << 13) | off) + bytes([64, proto])
         + b"\x00\x00" + bytes([192, 0, 2, 1]) + bytes([198, 51, 100, 2]))
    return h + payload


udp = be16(5353) + be16(53) + be16(8 + len(q)) + b"\x00\x00" + q
tcp = be16(40000) + be16(443) + be32(1000) + be32(0) + b"\x50\x02" + be16(65535) + b"\0\0\0\0"
eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
put("wire_decode", "eth-ipv4-udp-dns", eth + b"\x08\x00" + ipv4(17, udp))
put("wire_decode", "eth-vlan-ipv4-tcp-syn", eth + b"\x81\x00\x00\x64\x08\x00" + ipv4(6, tcp))
ip6 = b"\x60\x00\x00\x00" + be16(len(tcp)) + b"\x06\x40" + bytes(15) + b"\x01" + bytes(15) + b"\x02"
put("wire_decode", "eth-ipv6-tcp", eth + b"\x86\xdd" + ip6 + tcp)
put("wire_decode", "eth-ipv4-first-fragment", eth + b"\x08\x00" + ipv4(17, udp[:16], mf=1))
put("wire_decode", "eth-ipv4-last-fragment", eth + b"\x08\x00" + ipv4(17, udp[16:], off=2))
put("wire_decode", "raw-ipv4-udp", ipv4(17, udp))

# --- flow_stream: see tapir_flow::stream::fuzz_run (9-byte header, 4-byte records) --------------
hdr = be32(1000) + be16(0xffff) + be16(0x1000) + b"\x08"
recs = [(0, 0, 10), (0, 20, 10), (0, 10, 10), (0, 5, 30), (0x80, 0, 0), (0, 100, 50), (0, 60, 40)]
put("flow_stream", "in-order-gap-overlap-flush", hdr + b"".join(struct.pack(">BhB", f, o, l) for f, o, l in recs))
put("flow_stream", "small-caps", be32(0xfffffff0) + be16(64) + be16(32) + b"\x02"
    + b"".join(struct.pack(">BhB", f, o, l) for f, o, l in [(0, 40, 20), (0, 80, 20), (0, 0, 255), (0x80, 0, 0)]))

# --- capture files (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng) -------------
frame = eth + b"\x08\x00" + ipv4(17, udp)
pcap = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
for i in range(2):
    pcap += struct.pack("<IIII", 1700000000 + i, 250, len(frame), len(frame)) + frame
put("capture_reader", "tiny.pcap", pcap)
put("capture_reader", "tiny-nanosecond-be.pcap", struct.pack(">IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 65535, 1)
    + struct.pack(">IIII", 1, 999999999, len(frame), 1500) + frame)


def block(t, body):
    body += bytes(-len(body) % 4)
    return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


shb = block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))
idb = block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HH", 9, 1) + b"\x09\0\0\0" + b"\0\0\0\0")
idb_sll = block(1, struct.pack("<HHI", 113, 0, 0))
epb = block(6, struct.pack("<IIIII", 0, 0x00060000, 0x12345678, len(frame), len(frame)) + frame)
epb1 = block(6, struct.pack("<IIIII", 1, 0, 0, 20, 20) + b"\x00\x04\x00\x01\x00\x06" + bytes(8) + b"\x08\x00" + bytes(4))
spb = block(3, struct.pack("<I", len(frame)) + frame)
put("capture_reader", "tiny.pcapng", shb + idb + idb_sll + epb + epb1 + spb + block(5, b"stats"))
# Regressions (found by this target's first run): blocks with no body after the header.
put("capture_reader", "regress-idb-no-body.pcapng", shb + block(1, b"") + bytes(8))
put("capture_reader", "regress-spb-no-body.pcapng", shb + idb + block(3, b"") + bytes(8))

# --- intel feeds (syntax from the format docs each loader cites) ---------------------------------
put("intel_list", "domains", b"\x00example.com\n*.Evil.Example.\nhxxp://bad[.]example/x\n# c\n192.0.2.1\n")
put("intel_list", "ips", b"\x01192.0.2.1\n10.9.8.7/8\n2001:db8::/32\n::ffff:198.51.100.0/120\n0.0.0.0/0\n")
put("intel_list", "ja3", b"\x02e7eca2baf4458d095b7f45da28c16c34\nE7ECA2BAF4458D095B7F45DA28C16C34\n")
put("intel_list", "ja4", b"\x03t13d1516h2_8daaf6152771_e5627efa2ab1\n")
put("intel_hosts", "hosts", b"# hosts\n0.0.0.0 ads.example localhost\n127.0.0.1\tTracker.Example.\n:: v6.example\n")
put("intel_csv", "header", b"value,type,first_seen,last_seen,conf,tags,desc,reference\n"
    b"192.0.2.7,ip,2024-01-01,2024-02-01 10:00:00,80,a;b,d,https://r.example/\n"
    b"\"evil.example\",domain,,,\"50\",\"x|y\",\"quoted, comma\",\n# comment\n")
put("intel_zeek", "intel", b"#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"
    b"192.0.2.9\tIntel::ADDR\tfeed\td\nevil.example\tIntel::DOMAIN\tfeed\t-\n"
    b"http://evil.example/p\tIntel::URL\tfeed\t-\n")
put("intel_stix", "bundle", b'{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1",'
    b'"id":"indicator--1","pattern_type":"stix","pattern":"[ipv4-addr:value = \'192.0.2.3\'] OR '
    b'[domain-name:value = \'c2.example\']","valid_from":"2024-01-01T00:00:00Z","valid_until":"2030-01-01T00:00:00Z",'
    b'"confidence":80,"labels":["c2"],"kill_chain_phases":[{"kill_chain_name":"lockheed","phase_name":"c2"}],'
    b'"external_references":[{"source_name":"mitre-attack","external_id":"T1071"}]}]}')
put("intel_misp_event", "event", b'{"Event":{"info":"x","Tag":[{"name":"misp-galaxy:mitre-attack-pattern=\\"X - T1071\\""}],'
    b'"Attribute":[{"type":"ip-dst","value":"192.0.2.4","to_ids":true},'
    b'{"type":"domain|ip","value":"m.example|192.0.2.5","to_ids":"1"},'
    b'{"type":"ip-dst|port","value":"192.0.2.6|443","to_ids":true}],'
    b'"Object":[{"Attribute":[{"type":"url","value":"http://m.example/a","to_ids":true}]}]}}')
put("intel_misp_warninglist", "cidr", b'{"name":"w","type":"cidr","list":["192.0.2.0/24","2001:db8::/32"]}')
put("intel_misp_warninglist", "hostname", b'{"name":"w","type":"hostname","list":["example.com",".example.org"]}')
put("intel_abusech_csv", "feodo", b"\x00# abuse.ch Feodo Tracker\n"
    b'"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'
    b'"2024-01-01 00:00:00","192.0.2.5","443","online","2024-01-02","QakBot"\n')
put("intel_abusech_csv", "sslbl-ja3", b"\x01# ja3_md5,Firstseen,Lastseen,Listingreason\n"
    b"e7eca2baf4458d095b7f45da28c16c34,2017-07-13 18:06:09,2019-05-31 05:43:02,Adware\n")
put("intel_abusech_csv", "urlhaus", b"\x04# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
    b'"1","2024-01-01 00:00:00","http://192.0.2.6/a.sh","online","","malware_download","elf",'
    b'"https://urlhaus.abuse.ch/url/1/","r"\n')
put("intel_threatfox_json", "export", b'{"1":[{"ioc_value":"192.0.2.8:8080","ioc_type":"ip:port",'
    b'"threat_type":"botnet_cc","malware":"x","confidence_level":75,"first_seen_utc":"2024-01-01 00:00:00"}]}')
put("intel_threatfox_json", "api", b'{"query_status":"ok","data":[{"id":"2","ioc":"evil.example",'
    b'"ioc_type":"domain","confidence_level":50}]}')
for t in ("intel_hosts", "intel_zeek", "intel_stix", "intel_misp_event", "intel_threatfox_json"):
    for f in (HERE / t).iterdir():
        put("intel_auto", t + "-" + f.name, f.read_bytes())
put("intel_fields", "duration", b"90d")
put("intel_fields", "timestamp", b"2024-01-01T00:00:00.123Z")
put("intel_fields", "pattern", b"[file:hashes.'SHA-256' = 'ab' OR url:value = 'http://x/'] OR [x509-certificate:hashes.'SHA-1' = 'cd']")

# --- pattern files (rules/README.md, "Payload patterns") -----------------------------------------
put("patterns", "rules", b"\x01# c\nid=1001 name=\"ua\" content=\"MSIE 9.0|3b| Windows NT 6.1\" nocase proto=tcp "
    b"dir=to-server depth=4096 severity=1 mitre=T1071.001 ref=https://attack.mitre.org/\n"
    b"id=1002 name=\"session\" regex=\"/X-Session: [0-9a-f]{8}\\r\\n/i\" proto=tcp ports=80,8000-8100\n"
    b"id=1003 name=\"magic\" content=\"|de ad be ef|MZ\" proto=udp dport=53 # trailing\n")
put("patterns", "plain", b"\x00# web shells\n/wp-admin/shell.php\nEICAR|2d|TEST\n|23|hash\n")
