#!/usr/bin/env python3
"""memberships: a server proxy with more live sessions than the kernel lets
one socket join multicast groups (net.ipv4.igmp_max_memberships, 20 by
default: uftpproxyd 4.10.2 then answers "Error joining multicast group").

    memberships.py FERRYD

Runs in a network namespace of its own (unshare -rn: loopback only, with
multicast on, the namespace's default limit of 20). A simulated server
announces sessions to a ferryd server proxy (-s 127.0.0.1), each on a
private multicast address of its own, and then sends a DONE to that
address; the proxy must forward both downstream.

1. 30 sessions back to back, each still alive (idle timeout 10 s) when
   the next begins: all 30 ANNOUNCEs and DONEs forwarded, more than 20
   private groups joined at once.
2. They time out: every private membership is left (/proc/net/igmp) and the
   extra sockets are closed again (/proc/net/udp).
3. 25 sessions at once: the same.

Exit 0 pass, 1 fail, 77 (skip) when no namespace can be made.
"""

import os
import re
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ownns import igmp_users, loopback_multicast, main_inside, udp_ports  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from foreground import LogFileProc  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, wait_for  # noqa: E402
import uftpmsg  # noqa: E402
from uftpmsg import ANNOUNCE, DONE  # noqa: E402
SERVER_ID = 0x0A000001
PORT, DOWN_PORT = 1044, 2045


def announce(gid, priv, pub="230.4.4.1"):
    return uftpmsg.announce(SERVER_ID, gid, pub=pub, priv=priv)


def done(gid, client=0x0B000001):
    return uftpmsg.hdr(DONE, SERVER_ID, gid, seq=1) + struct.pack(">BBHHH", DONE, 2, 1, 0, 0) + \
        struct.pack(">I", client)


def private(i):
    return "230.6.%d.%d" % (i // 200, 1 + i % 200)


def igmp_groups():
    """Private groups (230.6.x.x) joined in this namespace."""
    return sum(1 for g in igmp_users() if g.startswith("230.6."))


def udp_sockets(port=PORT):
    return udp_ports().get(port, 0)


class Lab:
    def __init__(self):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton("127.0.0.1"))
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.down.bind(("127.0.0.1", DOWN_PORT))
        self.seen = set()      # (func, gid) forwarded downstream
        self.most = 0          # private groups joined at once, seen

    def send(self, data, addr):
        self.srv.sendto(data, (addr, PORT))

    def wait_seen(self, want, seconds=10):
        """Reads downstream until every (func, gid) of want was forwarded."""
        deadline = time.monotonic() + seconds
        while not want <= self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.down], [], [], left)
            if r:
                data, _ = self.down.recvfrom(65536)
                if len(data) >= 16:
                    self.seen.add((data[1], struct.unpack(">I", data[8:12])[0]))
        return True


def sessions(t, lab, name, gids, at_once):
    """ANNOUNCE then DONE for each gid; both must come out downstream."""
    if at_once:
        for gid in gids:
            lab.send(announce(gid, private(gid & 0xff)), "230.4.4.1")
        ok = lab.wait_seen({(ANNOUNCE, g) for g in gids})
        t.check("%s: %d ANNOUNCEs forwarded" % (name, len(gids)), ok,
                "missing %s" % sorted(g for g in gids if (ANNOUNCE, g) not in lab.seen))
        # The membership follows the ANNOUNCE on the proxy's worker: give
        # it the time to be made before the first DONE (no datagram says
        # it is done, so the DONEs are repeated until all came through).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for gid in gids:
                if (DONE, gid) not in lab.seen:
                    lab.send(done(gid), private(gid & 0xff))
            if lab.wait_seen({(DONE, g) for g in gids}, 0.5):
                break
    else:
        for gid in gids:
            lab.most = max(lab.most, igmp_groups())
            lab.send(announce(gid, private(gid & 0xff)), "230.4.4.1")
            lab.wait_seen({(ANNOUNCE, gid)})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (DONE, gid) not in lab.seen:
                lab.send(done(gid), private(gid & 0xff))
                lab.wait_seen({(DONE, gid)}, 0.3)
    missing = sorted("%08X" % g for g in gids if (DONE, g) not in lab.seen)
    t.check("%s: the DONEs on all %d private addresses forwarded" % (name, len(gids)),
            not missing, "missing %s" % missing)


def inner(ferryd):
    loopback_multicast()
    t = Checks()
    with open("/proc/sys/net/ipv4/igmp_max_memberships") as fh:
        limit = int(fh.read())
    t.check("the namespace's limit is the kernel default (20)", limit == 20, str(limit))
    p = LogFileProc([ferryd, "--allow-root", "-d", "-x", "2", "--workers", "2", "-s",
                     "127.0.0.1", "-q", str(DOWN_PORT), "-U", "0x0E000001",
                     "--group-idle-max", "10"], prefix="memberships-")
    try:
        lab = Lab()
        started = p.wait_started()
        t.check("ferryd starts", started, p.text()[-500:])
        if not started:
            return 1
        base = udp_sockets()
        sessions(t, lab, "30 back to back", [0x100 + i for i in range(30)], False)
        lab.most = max(lab.most, igmp_groups())
        t.check("30 back to back: more than 20 private groups joined at once",
                lab.most > 20, "at most %d joined" % lab.most)
        t.check("30 back to back: extra sockets opened", udp_sockets() > base,
                "%d sockets on port %d, %d at start" % (udp_sockets(), PORT, base))
        gone = wait_for(lambda: p.count(r"Group timed out") >= 30, 30)
        t.check("30 back to back: all time out", gone, "%d" % p.count(r"Group timed out"))
        left = wait_for(lambda: igmp_groups() == 0 and udp_sockets() == base, 5)
        t.check("30 back to back: every group left, extra sockets closed", left,
                "%d groups, %d sockets (%d at start)" % (igmp_groups(), udp_sockets(), base))
        sessions(t, lab, "25 at once", [0x200 + i for i in range(25)], True)
        t.check("25 at once: all 25 private groups joined", igmp_groups() == 25,
                "%d joined" % igmp_groups())
        gone = wait_for(lambda: p.count(r"Group timed out") >= 55, 30)
        left = wait_for(lambda: igmp_groups() == 0 and udp_sockets() == base, 5)
        t.check("25 at once: all time out, every group left, extra sockets closed",
                gone and left, "%d timed out, %d groups, %d sockets (%d at start)" %
                (p.count(r"Group timed out"), igmp_groups(), udp_sockets(), base))
        t.check("no join refused", "Error joining" not in p.text(),
                re.findall(r".*Error joining.*", p.text())[:3])
    finally:
        rc, text = p.stop()
    t.check("ferryd stopped cleanly (exit 6, no sanitizer report)",
            rc == 6 and "Sanitizer" not in text and "runtime error" not in text,
            "exit %s: %s" % (rc, text[-800:]))
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0



if __name__ == "__main__":
    sys.exit(main_inside(__file__, __doc__, inner, 1))
