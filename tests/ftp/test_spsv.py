"""test_spsv.py — SPSV as the Internet-Draft describes it: the transcript of
its section 4, one-time and expiring DATACONN credentials that belong to
their session, data connections landing on other workers, and the "Service
not ready" behaviour of section 5 at the session limit."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, tempdir  # noqa: E402
import rawftp  # noqa: E402
from rawftp import token_of  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check


class Ctl(rawftp.Ctl):
    """A raw control (or would-be data) connection to ferryd on loopback."""

    def __init__(self, port, src="127.0.0.1"):
        super().__init__("127.0.0.1", port, src, timeout=10)

    def closed(self):
        """True when the server has closed the connection with nothing more sent."""
        self.s.settimeout(5)
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False


def data_conn(port, token, src="127.0.0.1"):
    d = Ctl(port, src)
    r1 = d.cmd("USER DATACONN")
    r2 = d.cmd("PASS " + token)
    return d, r1, r2


def transcript(port, root):
    c = Ctl(port)
    check("4: greeting '220 FTP server ready'", c.greeting == "220 FTP server ready", c.greeting)
    check("4: USER u001 -> '331 Enter password'", c.cmd("USER u001") == "331 Enter password")
    check("4: PASS xyz -> '230 You are logged in'", c.cmd("PASS xyz") == "230 You are logged in")
    r = c.cmd("SPSV")
    tok = token_of(r)
    check("4: SPSV -> '227 Entering single-port mode (DATACONN:<password>)'", tok is not None, r)
    check("token: 20 characters of [A-Za-z0-9] (119 bits)",
          tok and re.fullmatch(r"[A-Za-z0-9]{20}", tok) is not None, tok)
    d = Ctl(port)
    check("4: data connection greeted '220 FTP server ready'", d.greeting == "220 FTP server ready")
    check("4: USER DATACONN -> '331 Preparing for a data connection'",
          d.cmd("USER DATACONN") == "331 Preparing for a data connection")
    check("4: PASS <password> -> '200 DATA'", d.cmd("PASS " + tok) == "200 DATA")
    r = c.cmd("RETR contents.txt")
    check("4: RETR -> 150", r.startswith("150 "), r)
    data = d.read_all()
    want = open(os.path.join(root, "contents.txt"), "rb").read()
    # no TYPE was sent: ferryd serves binary until TYPE A (man ferryd.json(5))
    check("4: contents arrive on the data connection (binary before any TYPE)", data == want)
    check("4: the server closes the data connection, then 226", c.reply().startswith("226 "))
    print("--- transcript (control) ---\n" + "\n".join(c.transcript))
    print("--- transcript (data) ---\n" + "\n".join(d.transcript))
    # the token was for one connection only
    d2, _, r = data_conn(port, tok)
    check("token reuse: 504", r.startswith("504 "), r)
    check("token reuse: connection closed", d2.closed())
    # STOR and MLSD over SPSV
    c.cmd("TYPE I")
    payload = os.urandom(2 << 20)
    tok = token_of(c.cmd("SPSV"))
    d, _, r = data_conn(port, tok)
    check("SPSV again: new token works", r == "200 DATA")
    check("STOR over SPSV: 150", c.cmd("STOR up.bin").startswith("150"))
    d.s.sendall(payload)
    d.s.shutdown(socket.SHUT_WR)
    check("STOR over SPSV: 226", c.reply().startswith("226"))
    check("STOR over SPSV: bytes equal", open(os.path.join(root, "up.bin"), "rb").read() == payload)
    d.close()
    tok = token_of(c.cmd("SPSV"))
    check("MLSD over SPSV: 150 before the data connection", c.cmd("MLSD").startswith("150"))
    d, _, r = data_conn(port, tok)    # the connection may come after the command
    listing = d.read_all().decode()
    check("MLSD over SPSV: facts", "type=file;size=" in listing and "contents.txt" in listing)
    check("MLSD over SPSV: 226", c.reply().startswith("226"))
    # a new SPSV replaces the old token
    old = token_of(c.cmd("SPSV"))
    new = token_of(c.cmd("SPSV"))
    _, _, r = data_conn(port, old)
    check("superseded token: 504", r.startswith("504"))
    # PASV also cancels it
    c.cmd("PASV")
    _, _, r = data_conn(port, new)
    check("token cancelled by PASV: 504", r.startswith("504"))
    # a token dies with its session
    tok = token_of(c.cmd("SPSV"))
    c.cmd("QUIT")
    c.closed()          # the server closes, then tears the session down at once
    _, _, r = data_conn(port, tok)
    check("token of a closed session: 504", r.startswith("504"))


def expiry(port):
    c = Ctl(port)
    c.cmd("USER u001")
    c.cmd("PASS xyz")
    tok = token_of(c.cmd("SPSV"))
    time.sleep(2.5)                  # spsv_timeout is 2 s here
    d, _, r = data_conn(port, tok)
    check("expired token: 504", r.startswith("504"), r)
    check("expired token: connection closed", d.closed())
    c.cmd("QUIT")


def guessed(port):
    c = Ctl(port)
    c.cmd("USER u001")
    c.cmd("PASS xyz")
    tok = token_of(c.cmd("SPSV"))
    for i, guess in enumerate([tok[:-1] + ("A" if tok[-1] != "A" else "B"), "0" * 20, "", "x" * 200]):
        d, _, r = data_conn(port, guess, "127.0.0.3")
        check(f"guessed token {i}: 504 and closed", r.startswith("504") and d.closed(), r)
    d, _, r = data_conn(port, tok)
    check("the real token still works after wrong guesses", r == "200 DATA")
    c.cmd("ABOR")
    c.cmd("QUIT")


def other_workers(port, root, log):
    c = Ctl(port)
    c.cmd("USER u001")
    c.cmd("PASS xyz")
    c.cmd("TYPE I")
    want = open(os.path.join(root, "contents.txt"), "rb").read()
    ok = 0
    for _ in range(16):
        tok = token_of(c.cmd("SPSV"))
        d, _, r = data_conn(port, tok)
        c.cmd("RETR contents.txt")
        if r == "200 DATA" and d.read_all() == want and c.reply().startswith("226"):
            ok += 1
        d.close()
    check("16 SPSV transfers on 4 workers all correct", ok == 16, str(ok))
    check("some data connections landed on another worker and were handed over",
          "SPSV data connection handed from worker" in log())
    c.cmd("QUIT")


def normal_session(port):
    """A session with a slot: the start-up probe's connection may still hold
    one for a moment (it is then refused with 421 at once)."""
    deadline = time.time() + 10
    while True:
        c = Ctl(port)
        if c.greeting == "220 FTP server ready" or time.time() > deadline:
            return c
        c.s.close()
        time.sleep(0.05)


def not_ready(port, root):
    """max_sessions is 2 in this server."""
    a, b = normal_session(port), normal_session(port)
    for x in (a, b):
        x.cmd("USER u001")
        x.cmd("PASS xyz")
    tok = token_of(a.cmd("SPSV"))
    full = Ctl(port)
    check("5: at the limit: '220 Too many users; only SPSV connections allowed'",
          full.greeting == "220 Too many users; only SPSV connections allowed", full.greeting)
    check("5: USER DATACONN -> 331 Preparing for a data connection",
          full.cmd("USER DATACONN") == "331 Preparing for a data connection")
    check("5: the data user still logs in: 200 DATA", full.cmd("PASS " + tok) == "200 DATA")
    a.cmd("TYPE I")
    a.cmd("RETR contents.txt")
    check("5: and the transfer works",
          full.read_all() == open(os.path.join(root, "contents.txt"), "rb").read() and a.reply().startswith("226"))
    tok = token_of(a.cmd("SPSV"))    # a DATACONN login could follow again
    other = Ctl(port)
    check("5: with a token outstanding: the SPSV-only greeting",
          other.greeting == "220 Too many users; only SPSV connections allowed", other.greeting)
    r = other.cmd("USER u001")
    check("5: a real user at the limit: '421 Too many users connected. Try later.'",
          r == "421 Too many users connected. Try later.", r)
    check("5: and the connection is dropped", other.closed())
    other = Ctl(port)
    check("5: other commands at the limit: 530", other.cmd("PWD").startswith("530"))
    a.cmd("PASV")                     # replaces SPSV: no token outstanding now
    other = Ctl(port)
    check("12: no token outstanding: 421 at once instead of 220",
          other.greeting == "421 Too many users connected. Try later.", other.greeting)
    check("12: and the connection is dropped", other.closed())
    b.cmd("QUIT")
    b.closed()
    # Its slot is released when ferryd frees the session, which may come a
    # moment after the client reads the end of the connection.
    again = normal_session(port)
    check("a slot freed: normal greeting again", again.greeting == "220 FTP server ready",
          again.greeting)
    a.cmd("QUIT")


def main():
    root = tempdir("ferry-spsv-")
    with open(os.path.join(root, "contents.txt"), "wb") as f:
        f.write(b"Contents of contents.txt\n" * 1000)
    users = [{"name": "u001", "password": crypt_hash("xyz"), "root": root, "write": True}]
    base = {"users": users, "spsv_timeout": 2, "max_login_failures": 1000}
    servers = []
    try:
        d = Ferryd(ferryd_bin, dict(base), workers=4)
        servers.append(d)
        t.run_closing(d.proc.pid, "transcript", transcript, d.port, root)
        t.run_closing(d.proc.pid, "expiry", expiry, d.port)
        t.run_closing(d.proc.pid, "guessed", guessed, d.port)
        t.run_closing(d.proc.pid, "other_workers", other_workers, d.port, root, d.logtext)
        d2 = Ferryd(ferryd_bin, dict(base, max_sessions=2), workers=2)
        servers.append(d2)
        t.run_closing(d2.proc.pid, "not_ready", not_ready, d2.port, root)
    finally:
        for s in servers:
            t.stopped(s, f"ferryd on port {s.port}: exit 6, no sanitizer reports")
    t.finish()


main()
