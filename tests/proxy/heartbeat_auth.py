#!/usr/bin/env python3
"""heartbeat_auth.py — signed heartbeats and -s fp= on loopback (issue 13
item 1): a server proxy started -s fp= challenges an unsigned HB_REQ with a
nonce, verifies a signed one against the fingerprint (RSA and ECDSA keys),
takes its sender as downstream, follows it when the sender's port changes,
and answers a wrong key with AUTH_FAILED; the same against uftpproxyd on
either side when it is installed.
Usage: heartbeat_auth.py PATH_TO_FERRYD"""

import os
import re
import shutil
import socket
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
from foreground import Proc, free_port  # noqa: E402
from ftpd import Checks  # noqa: E402

checks = Checks()

HB_REQ, HB_RESP = 14, 15
AUTH_FAILED, AUTH_OK, AUTH_CHALLENGE = 0, 1, 2


def ferryd(binary, port, role_args, extra=()):
    return Proc([binary, "--allow-root", "-d", "-p", str(port), "-U", "0x0A0B0C%02X" % (port % 256)]
                + list(role_args) + list(extra))


def uftpproxyd(port, role_args, extra=()):
    return Proc(["uftpproxyd", "-d", "-p", str(port), "-U", "0x0B0B0C%02X" % (port % 256)]
                + list(role_args) + list(extra))


def make_key(binary, path, spec):
    """Writes a key file with ferryd -K spec -k path; its fingerprint."""
    p = ferryd(binary, free_port(), ["-c"], ["-K", spec, "-k", path])
    line = p.wait_line(r"fingerprint ([0-9A-F:]{59})")
    p.stop()
    if not line:
        raise RuntimeError("ferryd -K %s: no fingerprint logged:\n%s" % (spec, p.text()))
    return re.search(r"([0-9A-F:]{59})", line).group(1)


def hb_req(nonce=0, blob=b"", sig=b""):
    body = struct.pack(">BBHHHI", HB_REQ, 0, 0, len(blob), len(sig), nonce) + blob + sig
    body += b"\0" * (-len(body) % 4)
    body = bytes([HB_REQ, len(body) // 4]) + body[2:]
    hdr = struct.pack(">BBHIIBBBB", 0x40, HB_REQ, 0, 0x0C0C0C0C, 0, 0, 0, 0, 0)
    return hdr + body


def hb_resp_of(data):
    if len(data) < 24 or data[1] != HB_RESP:
        return None
    return data[18], struct.unpack(">I", data[20:24])[0]


def ask(sock, port, msg):
    sock.sendto(msg, ("127.0.0.1", port))
    try:
        data, _ = sock.recvfrom(2048)
    except socket.timeout:
        return None
    return hb_resp_of(data)


def raw_requests(sp_port):
    """Unsigned and wrongly-signed HB_REQs from a plain socket."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    try:
        r1 = ask(s, sp_port, hb_req())
        checks.check("unsigned HB_REQ is challenged with a nonce",
                     r1 is not None and r1[0] == AUTH_CHALLENGE and r1[1] != 0, r1)
        r2 = ask(s, sp_port, hb_req())
        checks.check("the nonce stays until a signature succeeds",
                     r2 is not None and r1 is not None and r2 == r1, (r1, r2))
        if r1:
            r3 = ask(s, sp_port, hb_req(r1[1]))
            checks.check("the nonce without key or signature: AUTH_FAILED",
                         r3 is not None and r3[0] == AUTH_FAILED, r3)
            r4 = ask(s, sp_port, hb_req(r1[1], b"\x01\x00\x00\x00" + b"\xff" * 68, b"\0" * 64))
            checks.check("the nonce with a foreign key: AUTH_FAILED",
                         r4 is not None and r4[0] == AUTH_FAILED, r4)
            r5 = ask(s, sp_port, hb_req(r1[1] ^ 1, b"\x01" * 8, b"\0" * 8))
            checks.check("a stale nonce is challenged again",
                         r5 is not None and r5[0] == AUTH_CHALLENGE and r5[1] == r1[1], r5)
    finally:
        s.close()


def ferry_pair(binary, fp_a, key_a, key_b, fp_b):
    sp_port = free_port()
    sp = ferryd(binary, sp_port, ["-s", "fp=" + fp_a])
    cps = []
    try:
        # the fingerprint line comes while the configuration is read; the
        # sockets take datagrams only from "started" on
        checks.check("-s fp= starts and says what it waits for",
                     sp.wait_line(r"signed by the key with fingerprint " + fp_a) is not None
                     and sp.wait_line(r"ferryd \S+ started: ") is not None,
                     sp.text())
        raw_requests(sp_port)
        # traffic to forward before any downstream is known: dropped, said so
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fileseg = struct.pack(">BBHIIBBBB", 0x40, 9, 1, 0x01010101, 0x1234, 0, 0, 0, 0) + \
            bytes([9, 2]) + b"\0" * 6
        s.sendto(fileseg, ("127.0.0.1", sp_port))
        s.close()
        checks.check("no downstream yet: dropped and logged",
                     sp.wait_line(r"rejecting FILESEG: downstream address not established")
                     is not None, sp.text())
        # the right key: challenge, signed answer, downstream learnt
        p1 = free_port()
        cp = ferryd(binary, p1, ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_a])
        cps.append(cp)
        checks.check("client proxy is challenged",
                     cp.wait_line(r"received HB_RESP from 127\.0\.0\.1:%d: challenge" % sp_port)
                     is not None, cp.text())
        checks.check("client proxy answers with a signed HB_REQ",
                     cp.wait_line(r"sent HB_REQ to 127\.0\.0\.1:%d \(signed\)" % sp_port)
                     is not None, cp.text())
        checks.check("server proxy takes the signed sender as downstream",
                     sp.wait_line(r"from 127\.0\.0\.1:%d verified: using it as downstream "
                                  r"address \(was none\)" % p1) is not None, sp.text())
        checks.check("client proxy: accepted",
                     cp.wait_line(r"received HB_RESP from 127\.0\.0\.1:%d: accepted" % sp_port)
                     is not None, cp.text())
        n = len(cp.lines)
        checks.check("the established sender's next unsigned HB_REQ is accepted",
                     cp.wait_line(r"received HB_RESP .*: accepted", after=n, timeout=10)
                     is not None, cp.text())
        # a wrong key (ECDSA): AUTH_FAILED, downstream unchanged
        p2 = free_port()
        bad = ferryd(binary, p2, ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_b])
        cps.append(bad)
        checks.check("a wrong key gets AUTH_FAILED",
                     bad.wait_line(r"received HB_RESP from .*: authentication failed")
                     is not None, bad.text())
        checks.check("server proxy says why it refused",
                     sp.wait_line(r"from 127\.0\.0\.1:%d refused: its key's fingerprint" % p2)
                     is not None, sp.text())
        bad.stop()
        checks.check("a wrong key does not move the downstream",
                     not any("using it as downstream address (was 127.0.0.1:%d)" % p1 in l
                             for l in sp.lines), sp.text())
        # the mapping changes (a new source port): followed
        cp.stop()
        p3 = free_port()
        cp = ferryd(binary, p3, ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_a])
        cps.append(cp)
        checks.check("a new source port is followed",
                     sp.wait_line(r"from 127\.0\.0\.1:%d verified: using it as downstream "
                                  r"address \(was 127\.0\.0\.1:%d\)" % (p3, p1)) is not None,
                     sp.text())
    finally:
        for p in cps:
            p.stop()
        checks.check("server proxy ends cleanly", sp.stop() in (0, 6), sp.text())
    # ECDSA as the expected key
    sp_port = free_port()
    sp = ferryd(binary, sp_port, ["-s", "fp=" + fp_b])
    cp = ferryd(binary, free_port(), ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_b])
    try:
        checks.check("an ECDSA key signs and verifies",
                     cp.wait_line(r"received HB_RESP .*: accepted") is not None and
                     sp.wait_line(r"verified: using it as downstream") is not None,
                     sp.text() + "\n" + cp.text())
    finally:
        cp.stop()
        sp.stop()


def against_uftpproxyd(binary, fp_a, key_a):
    if not shutil.which("uftpproxyd"):
        print("skip: uftpproxyd not installed: no reference checks", flush=True)
        return
    # uftpproxyd -s fp= <- ferryd -c -k
    sp_port = free_port()
    sp = uftpproxyd(sp_port, ["-s", "fp=" + fp_a])
    cp = ferryd(binary, free_port(), ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_a])
    try:
        checks.check("uftpproxyd -s fp= accepts ferryd's signed HB_REQ",
                     cp.wait_line(r"received HB_RESP .*: challenge") is not None and
                     cp.wait_line(r"received HB_RESP .*: accepted") is not None,
                     cp.text() + "\n" + sp.text())
        checks.check("uftpproxyd takes ferryd as downstream",
                     sp.wait_line(r"Using 127\.0\.0\.1:\d+ as downstream") is not None, sp.text())
    finally:
        cp.stop()
        sp.stop()
    # ferryd -s fp= <- uftpproxyd -c -k
    sp_port = free_port()
    sp = ferryd(binary, sp_port, ["-s", "fp=" + fp_a])
    cp = uftpproxyd(free_port(), ["-c", "-H", "127.0.0.1:%d" % sp_port, "-h", "1", "-k", key_a])
    try:
        checks.check("ferryd -s fp= verifies uftpproxyd's signed HB_REQ",
                     sp.wait_line(r"verified: using it as downstream") is not None, sp.text())
        checks.check("uftpproxyd reads ferryd's HB_RESP OK",
                     cp.wait_line(r"Heartbeat authentication successful") is not None, cp.text())
    finally:
        cp.stop()
        sp.stop()


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ferry-hb-")
    try:
        key_a, key_b = os.path.join(tmp, "a.pem"), os.path.join(tmp, "b.pem")
        fp_a = make_key(binary, key_a, "rsa:512")
        fp_b = make_key(binary, key_b, "ec:prime256v1")
        ferry_pair(binary, fp_a, key_a, key_b, fp_b)
        against_uftpproxyd(binary, fp_a, key_a)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    main()
