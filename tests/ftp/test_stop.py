#!/usr/bin/env python3
"""SIGTERM with connections that are not sessions yet: a balancer's
connection still reading its PROXY header (which would wait 5 s for it)
and an implicit-FTPS connection in the middle of its handshake. ferryd
closes both at once and exits well within the header's timeout, while a
logged-in session still gets its 421.

usage: test_stop.py FERRYD [FERRY_FTP]"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftpd import Checks, Ferryd, crypt_hash, free_port, self_signed, tempdir  # noqa: E402

BALANCER = "127.0.0.2"
# A healthy stop takes a few tenths of a second (the workers notice the
# flag within 200 ms); before the fix the PROXY connection held the drain
# for its whole 2 s bound, and its header timeout is 5 s.
EXIT_WITHIN = 1.5


def read_reply(s, deadline):
    buf = b""
    while time.time() < deadline and not buf.endswith(b"\r\n"):
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
    return buf.decode("latin-1")


def stop_tests(t, binary):
    work = tempdir("ferry-stop-")
    root = os.path.join(work, "root")
    os.mkdir(root, 0o755)
    cert, key = self_signed(work)
    iport = free_port()
    d = Ferryd(binary, {
        "users": [{"name": "alice", "password": crypt_hash("secret"), "root": root}],
        "proxy_protocol": [BALANCER],
        "tls": {"cert": cert, "key": key, "implicit_listen": [f"127.0.0.1:{iport}"]},
    }, workers=1)
    stopped = False
    try:
        # a session that logged in: it must get its 421
        sess = socket.create_connection(("127.0.0.1", d.port), 5)
        sess.settimeout(0.2)
        deadline = time.time() + 5
        t.check("greeting", read_reply(sess, deadline).startswith("220"))
        sess.sendall(b"USER alice\r\n")
        t.check("331", read_reply(sess, deadline).startswith("331"))
        sess.sendall(b"PASS secret\r\n")
        t.check("230", read_reply(sess, deadline).startswith("230"))
        # the balancer's connection: half a PROXY header, then nothing
        bal = socket.socket()
        bal.bind((BALANCER, 0))
        bal.connect(("127.0.0.1", d.port))
        bal.sendall(b"PROXY TCP4 198.18.0.5 ")
        # implicit FTPS: the first bytes of a ClientHello, then nothing
        tls = socket.create_connection(("127.0.0.1", iport), 5)
        tls.sendall(b"\x16\x03\x01\x01\x00\x01\x00\x00\xfc\x03\x03")
        # both are accepted before the session's next reply (one worker)
        sess.sendall(b"NOOP\r\n")
        t.check("NOOP answered", read_reply(sess, time.time() + 5).startswith("200"))
        start = time.time()
        d.proc.send_signal(15)
        try:
            d.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        took = time.time() - start
        t.check(f"exits within {EXIT_WITHIN} s of SIGTERM (took {took:.2f} s)",
                d.proc.poll() is not None and took < EXIT_WITHIN)
        t.check("the logged-in session got 421",
                read_reply(sess, time.time() + 2).startswith("421"))
        code, clean = d.stop()
        stopped = True
        t.check("exit status 0 (or 6, interrupted)", code in (0, 6), str(code))
        t.check("sanitizers quiet", clean, d.logtext()[-2000:])
    finally:
        if not stopped:
            d.stop()


def main():
    t = Checks()
    t.run("stop", stop_tests, t, sys.argv[1])
    t.finish()


main()
