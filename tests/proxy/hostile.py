#!/usr/bin/env python3
"""hostile: forged and malformed UFTP against ferryd; it stays up, bounded,
and serves a normal session after.

    hostile.py FERRYD FERRY_PERF

Runs in a network namespace of its own (unshare -rn: loopback only, with
multicast on). Two parts:

1. Group bounds (issue 9 item 4): a client proxy started with
   --max-groups 300 --max-groups-per-source 100 --group-idle-max 10 gets
   4,000 forged ANNOUNCEs (GRTT byte 255, ROBUST 255: uncapped, each group
   would live 11.8 days) from 20 source addresses. Exactly 300 groups are
   made (counted as the ANNOUNCEs it re-multicasts), at most 100 from one
   source; the refusals are logged rate-limited with a count; RSS grows by
   less than 64 MiB; every group times out within the 10 s cap; a new
   ANNOUNCE is then accepted; a ferry-perf client-mode session completes.
2. Peers' breakers (issue 11 item 8) against a response proxy: a 20-byte
   ANNOUNCE (and other truncations), 150 concurrent groups (uftpproxyd has
   100 slots), STATUS shorter and longer than its NAK bitmap and with a
   lying header length, HB_REQ whose key and signature lengths run past
   the datagram, a flood of 20,000 KEY_REQs (refusals logged rate-limited).
   ferryd must still be running, aggregate a registered client's STATUS,
   and carry a ferry-perf session after.

Exit 0 pass, 1 fail, 77 (skip) when no namespace can be made.
"""

import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ownns import loopback_multicast, main_inside  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from foreground import LogFileProc  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks  # noqa: E402
from uftpmsg import ANNOUNCE, REGISTER, STATUS, HB_REQ, KEY_REQ, announce, hdr  # noqa: E402


def register(uid, gid):
    now = time.time()
    body = struct.pack(">BBHII", REGISTER, 11, 0, int(now), int((now % 1) * 1e6))
    return hdr(REGISTER, uid, gid, grtt=0, gsize=0) + body + bytes(32)


def status(uid, gid, naks, hlen=2):
    body = struct.pack(">BBHHH", STATUS, hlen, 1, 0, 0)
    return hdr(STATUS, uid, gid, grtt=0, gsize=0) + body + naks


class Proxy(LogFileProc):
    """ferryd -d, 2 workers, 4 MiB socket buffers, logging to a file."""

    def __init__(self, ferryd, args):
        super().__init__([ferryd, "--allow-root", "-d", "-x", "2", "--workers", "2",
                          "-B", "4194304"] + args, prefix="hostile-")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as fh:
            return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))


def udp(bind_addr, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((bind_addr, port))
    return s


def mcast_listener(group, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return s


def drain(sock, seconds):
    """Datagrams received until seconds pass with nothing new."""
    got = []
    while True:
        r, _, _ = select.select([sock], [], [], seconds)
        if not r:
            return got
        got.append(sock.recvfrom(65536))


def perf_session(t, perf, name, args):
    run = subprocess.run([perf, "clients", "--clients", "50", "--json",
                          "--timeout", "10"] + args,
                         capture_output=True, text=True, timeout=120)
    try:
        ok = json.loads(run.stdout)["end"]["ok"]
    except (ValueError, KeyError):
        ok = False
    t.check(name, run.returncode == 0 and ok,
            "exit %d: %s" % (run.returncode, run.stderr.strip()[-300:]))


def part_bounds(t, ferryd, perf):
    p = Proxy(ferryd, ["-c", "-U", "0C000001", "-q", "1045", "-O", "127.0.0.1",
                       "--max-groups", "300", "--max-groups-per-source", "100",
                       "--group-idle-max", "10"])
    try:
        if not p.wait_started():
            t.check("bounds: ferryd starts", False, p.text()[-500:])
            return
        lst = mcast_listener("230.4.4.1", 1045)
        rss0 = p.rss_kib()
        gid = 0x10000000
        per_source = {}
        for s in range(20):
            src_addr = "127.0.1.%d" % (s + 1)
            sock = udp(src_addr)
            for i in range(200):
                gid += 1
                sock.sendto(announce(0x5E000000 + s, gid, grtt=255, robust=255),
                            ("127.0.0.1", 1044))
                if i % 50 == 49:
                    time.sleep(0.01)      # what a socket buffer holds
            sock.close()
        got = drain(lst, 2.0)
        gids = {}
        for data, _a in got:
            if len(data) >= 16 and data[1] == ANNOUNCE:
                g = struct.unpack(">I", data[8:12])[0]
                src = struct.unpack(">I", data[4:8])[0]
                gids[g] = src
        for src in gids.values():
            per_source[src] = per_source.get(src, 0) + 1
        t.check("bounds: exactly 300 groups made of 4,000 forged ANNOUNCEs",
                len(gids) == 300, "%d groups" % len(gids))
        t.check("bounds: at most 100 from one source",
                per_source and max(per_source.values()) <= 100, str(per_source))
        text = p.text()
        lines = re.findall(r"refusing ANNOUNCE from .*?: (max_groups\w*) \((\d+)\) reached; "
                           r"(\d+) refused in all", text)
        t.check("bounds: refusals logged, rate-limited, with a count",
                0 < len(lines) <= 8 and {l[0] for l in lines} <= {"max_groups",
                                                                   "max_groups_per_source"},
                "%d lines: %s" % (len(lines), lines[:3]))
        grew = p.rss_kib() - rss0
        t.check("bounds: RSS grew by less than 64 MiB (%d KiB)" % grew, grew < 65536)
        n = p.wait_count(r"Group timed out", count=300, timeout=30)
        t.check("bounds: every group ends within the 10 s idle cap (not 11.8 days)",
                n >= 300, "%d timed out" % n)
        sock = udp("127.0.1.1")
        sock.sendto(announce(0x5E000000, 0x2F000001, grtt=255, robust=255),
                    ("127.0.0.1", 1044))
        again = [d for d, _a in drain(lst, 1.0) if len(d) >= 16 and d[1] == ANNOUNCE]
        t.check("bounds: a new ANNOUNCE is accepted once the groups ended",
                len(again) >= 1, "nothing re-multicast")
        sock.close()
        lst.close()
        perf_session(t, perf, "bounds: a normal client-mode session after the flood",
                     ["--mode", "client", "--proxy", "127.0.0.1:1044", "--dest-port",
                      "1045", "--mcast-if", "127.0.0.1"])
    finally:
        rc, text = p.stop()
        t.check("bounds: ferryd stopped cleanly (exit 6, no sanitizer report)",
                rc == 6 and "Sanitizer" not in text and "runtime error" not in text,
                "exit %s: %s" % (rc, text[-800:]))


def part_breakers(t, ferryd, perf):
    p = Proxy(ferryd, ["-r", "-U", "0D000001"])
    try:
        if not p.wait_started():
            t.check("breakers: ferryd starts", False, p.text()[-500:])
            return
        srv = udp("127.0.2.1")
        cli = udp("127.0.2.2")
        proxy = ("127.0.0.1", 1044)
        # 20-byte ANNOUNCE (crashes uftpproxyd 5.0.1) and other truncations.
        full = announce(0x5E0000AA, 0x30000001)
        for n in (20, 16, 17, 24, 39):
            srv.sendto(full[:n], proxy)
        srv.sendto(full[:16] + bytes([ANNOUNCE, 0]) + full[18:], proxy)   # hlen 0
        srv.sendto(full[:16] + bytes([ANNOUNCE, 255]) + full[18:], proxy)  # hlen too long
        # 150 concurrent groups (uftpproxyd has 100 slots).
        for i in range(150):
            srv.sendto(announce(0x5E0000AA, 0x31000000 + i), proxy)
        n = p.wait_count(r"\[310000..\/00:0\]: Received request", count=150, timeout=10)
        t.check("breakers: 150 concurrent groups are all made", n == 150, "%d" % n)
        # A group with a registered client, for the STATUS cases.
        gid = 0x32000001
        srv.sendto(announce(0x5E0000AA, gid), proxy)   # GRTT 0.5 s: lives 40 s
        p.wait_count(r"32000001/00:0\]: Received request")
        cli.sendto(register(0x0C100001, gid), proxy)
        reg = [d for d, _a in drain(srv, 1.5) if len(d) > 16 and d[1] == REGISTER]
        t.check("breakers: the proxy aggregates a client's REGISTER, and logs it at level 2",
                len(reg) >= 1 and "Client 0C100001 registered" in p.text(),
                p.text()[-400:])
        for naks, hlen in ((b"\xff" * 3, 2), (b"", 2), (b"\xff" * 8000, 2),
                           (b"", 255), (b"\x01", 200)):
            cli.sendto(status(0x0C100001, gid, naks, hlen), proxy)
        st = [d for d, _a in drain(srv, 1.5) if len(d) > 16 and d[1] == STATUS]
        t.check("breakers: STATUS shorter/longer than its bitmap is merged or dropped, "
                "never read past", len(st) >= 1,
                "no STATUS aggregated: " + " | ".join(p.text().splitlines()[-6:]))
        # HB_REQ whose key and signature lengths run past the datagram.
        for keylen, siglen in ((0xffff, 0xffff), (64, 0), (0, 64), (0xffff, 0)):
            body = struct.pack(">BBHHHI", HB_REQ, 3, 0, keylen, siglen, 1234)
            srv.sendto(hdr(HB_REQ, 0x5E0000BB, 0) + body + bytes(8), proxy)
        # A KEY_REQ flood: a response proxy answers with its PROXY_KEY at
        # most once per 5 s (protocol.txt), and never logs per request.
        kr = hdr(KEY_REQ, 0x0C100002, gid) + struct.pack(">BBH", KEY_REQ, 1, 0)
        for i in range(20000):
            cli.sendto(kr, proxy)
            if i % 500 == 499:
                time.sleep(0.005)
        time.sleep(1.0)
        lines = re.findall(r"KEY_REQ", p.text())
        t.check("breakers: KEY_REQ flood: at most a few log lines, not one per request",
                len(lines) <= 4, "%d lines" % len(lines))
        t.check("breakers: ferryd is still running", p.proc.poll() is None,
                "exit %s" % p.proc.returncode)
        srv.close()
        cli.close()
        perf_session(t, perf, "breakers: a normal response-proxy session after",
                     ["--proxy", "127.0.0.1:1044"])
    finally:
        rc, text = p.stop()
        t.check("breakers: ferryd stopped cleanly (exit 6, no sanitizer report)",
                rc == 6 and "Sanitizer" not in text and "runtime error" not in text,
                "exit %s: %s" % (rc, text[-800:]))


def inner(ferryd, perf):
    loopback_multicast()
    t = Checks()
    part_bounds(t, ferryd, perf)
    part_breakers(t, ferryd, perf)
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main_inside(__file__, __doc__, inner, 2))
