"""test_hostile.py — hostile input against ferryd: path traversal and
symlink escapes, over-long lines, commands before login, PORT to a third
address, guessed SPSV tokens and lockout, Telnet and binary garbage, and a
flood of connections; each with its expected reply, and afterwards no crash,
no descriptor leak and no sanitizer report."""
import ftplib
import io
import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, FdBaseline, Ferryd, crypt_hash, ftp_session, tempdir  # noqa: E402
from ftpd import reply_code as code  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check


def until(fn, timeout):
    """fn's first truthy result within timeout seconds (exceptions: retry)."""
    deadline = time.time() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except (OSError, EOFError, ftplib.Error):
            pass
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def raw(port, src="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), 10, source_address=(src, 0))
    f = s.makefile("rb")
    f.readline()
    return s, f


def pass_reply(port, src, user, password):
    """The reply to USER user, PASS password on a new connection from src
    (then closed)."""
    s, f = raw(port, src)
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (user, password))
    reply(f)
    r = reply(f)
    s.close()
    return r


def reply(f):
    line = f.readline().decode(errors="replace")
    while len(line) >= 4 and line[3] == "-":
        nxt = f.readline().decode(errors="replace")
        if nxt[:4] == line[:3] + " ":
            return nxt
        if not nxt:
            return ""
    return line


def login(port, user="alice", pw="pw"):
    return ftp_session(port, user, pw)


def escapes(d, base):
    f = login(d.port)
    check("RETR ../../etc/passwd: 550", code(f.sendcmd, "RETR ../../../../etc/passwd") in ("550", "425"))
    f.sendcmd("PASV")
    check("RETR ../../etc/passwd after PASV: 550", code(f.sendcmd, "RETR ../../../../etc/passwd") == "550")
    check("CWD ../../..: stays at /", f.cwd("../../..").startswith("250") and f.pwd() == "/")
    check("SIZE ../outside/secret: 550", code(f.size, "../outside/secret") == "550")
    check("RETR absolute symlink: 550", code(lambda: f.retrbinary("RETR abs", lambda b: None)) == "550")
    check("RETR symlink pointing out: 550", code(lambda: f.retrbinary("RETR up/secret", lambda b: None)) == "550")
    check("RETR deep symlink out: 550", code(lambda: f.retrbinary("RETR d/deep", lambda b: None)) == "550")
    check("RETR /proc magic link: 550", code(lambda: f.retrbinary("RETR proc/etc/passwd", lambda b: None)) == "550")
    check("RETR symlink inside root works", code(lambda: f.retrbinary("RETR in", lambda b: None)) == "226")
    check("CWD symlink out: 550", code(f.cwd, "up") == "550")
    check("LIST symlink out: 550", code(lambda: f.retrlines("LIST up/", lambda x: None)) == "550")
    check("STOR through a symlink out: 550", code(f.storbinary, "STOR up/planted", io.BytesIO(b"x")) == "550")
    check("nothing planted outside", not os.path.exists(os.path.join(base, "outside", "planted")))
    check("STOR onto absolute symlink: 550", code(f.storbinary, "STOR abs", io.BytesIO(b"x")) == "550")
    check("MKD through a symlink out: 550", code(f.mkd, "up/newdir") == "550")
    check("DELE through a symlink out: 550", code(f.delete, "up/secret") == "550")
    check("secret still there", os.path.exists(os.path.join(base, "outside", "secret")))
    check("RNFR outside: 550", code(f.sendcmd, "RNFR up/secret") == "550")
    f.sendcmd("RNFR f")
    check("RNTO through a symlink out: 550", code(f.sendcmd, "RNTO up/stolen") == "550")
    check("MLST symlink out: 550", code(f.sendcmd, "MLST up/secret") == "550")
    facts = dict(f.mlsd("/"))
    check("MLSD shows escaping links without their targets' facts",
          facts.get("abs", {}).get("type") == "OS.unix=special" and facts["up"]["type"] == "OS.unix=special")
    check("STAT symlink out: 550", code(f.sendcmd, "STAT up") == "550")
    f.quit()


def long_lines(d):
    s, f = raw(d.port)
    s.sendall(b"USER alice\r\nPASS pw\r\n")   # past the pre-login command limit
    reply(f)
    check("logged in for the long-line checks", reply(f).startswith("230"))
    s.sendall(b"A" * 5000 + b"\r\n")
    check("over-long line: 500", reply(f).startswith("500 Command line too long"))
    s.sendall(b"NOOP\r\n")
    check("then the session works", reply(f).startswith("200"))
    s.sendall(b"USER " + b"x" * 1000 + b"\r\n")
    check("over-long user name: not accepted", reply(f)[:3] in ("530", "500"))
    s.sendall(b"B" * 200000)
    s.sendall(b"\r\nNOOP\r\n")
    r = reply(f)
    check("200 kB without a newline: 500, not a crash", r.startswith("500"), r)
    check("followed by a working NOOP", reply(f).startswith("200"))
    s.sendall(b"NOOP\r\n" * 2000)
    n = sum(1 for _ in range(2000) if reply(f).startswith("200"))
    check("2000 pipelined commands answered in order", n == 2000, str(n))
    s.close()


def before_login(d):
    s, f = raw(d.port)
    for cmd in ["RETR f", "STOR x", "CWD /", "LIST", "NLST", "MLSD", "MKD x", "DELE f",
                "PASV", "EPSV", "PORT 127,0,0,1,200,1", "SPSV", "SIZE f", "RNFR f", "REST 1"]:
        s.sendall(cmd.encode() + b"\r\n")
        r = reply(f)
        check(f"{cmd.split()[0]} before login: 530", r.startswith("530"), r)
    s.sendall(b"PASS x\r\n")
    check("PASS before USER: 503", reply(f).startswith("503"))
    s.close()


def third_address(d):
    f = login(d.port)
    for cmd in ["PORT 10,0,0,1,40,1", "PORT 198,18,0,1,40,1", "EPRT |1|192.0.2.1|5000|",
                "EPRT |2|::1|5000|", "PORT 127,0,0,1,0,80"]:
        check(f"{cmd}: 504", code(f.sendcmd, cmd) == "504")
    f.quit()


def tokens_and_lockout(d):
    """Lockout after 5 failures here; from 127.0.0.9 so other tests go on."""
    for i in range(5):
        r = pass_reply(d.port, "127.0.0.9", b"DATACONN", b"%020d" % i)
        check(f"guessed token {i}: 504", r.startswith("504"), r)
    r = pass_reply(d.port, "127.0.0.9", b"DATACONN", b"0" * 20)
    check("after 5 guessed tokens DATACONN is locked out for the address", r.startswith("504"), r)
    r = pass_reply(d.port, "127.0.0.9", b"alice", b"pw")
    check("token guessing does not lock out a real user behind that address",
          r.startswith("230"), r)
    f2 = login(d.port)
    check("other addresses are not locked out", f2.pwd() == "/")
    f2.quit()
    # password guessing for alice from 127.0.0.10 (a NAT address shared with bob)
    for i in range(5):
        check(f"wrong password {i}: 530",
              pass_reply(d.port, "127.0.0.10", b"alice", b"wrong%d" % i).startswith("530"))
    s, f = raw(d.port, "127.0.0.10")
    s.sendall(b"USER alice\r\nPASS pw\r\n")
    reply(f)
    r = reply(f)
    m = re.match(r"421 Too many failed logins; try again in (\d+) seconds\.", r)
    check("password guessing locks alice out there: 421 with the time left",
          m is not None and 50 <= int(m.group(1)) <= 60, r)
    check("and the connection is closed", f.readline() == b"")
    s.close()
    r = pass_reply(d.port, "127.0.0.10", b"bob", b"pw2")
    check("bob behind the same address still logs in", r.startswith("230"), r)
    r = pass_reply(d.port, "127.0.0.10", b"anonymous", b"guest@")
    check("anonymous behind the same address still logs in", r.startswith("230"), r)
    want = ("login ok for 'bob' from 127.0.0.10",
            "login ok (anonymous) for 'anonymous' from 127.0.0.10")
    deadline = time.time() + 5       # the log thread writes within 20 ms
    log = d.logtext()
    while not all(w in log for w in want) and time.time() < deadline:
        time.sleep(0.02)
        log = d.logtext()
    check("audit: failed login with user and address at the default level",
          "login failed: wrong password for 'alice' from 127.0.0.10" in log)
    check("audit: locked-out attempt logged",
          "login refused: locked out for 'alice' from 127.0.0.10" in log)
    check("audit: successful login with the address",
          "login ok for 'bob' from 127.0.0.10" in log and
          "login ok (anonymous) for 'anonymous' from 127.0.0.10" in log)


def garbage(d):
    rnd = random.Random(5)
    for i in range(30):
        s, f = raw(d.port)
        blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000)))
        try:
            s.sendall(blob + b"\r\n\xff\xff\xff\xf4\xff\xf2" + b"\x00NOOP\x00\r\n")
        except OSError:
            pass
        s.close()
    s, f = raw(d.port)
    s.sendall(b"\xff\xfb\x01\xff\xfd\x03NO\xff\xffOP\r\nNOOP\r\n")
    r = reply(f)
    check("IAC in a verb: rejected, not a crash", r[:3] in ("500", "502"), r)
    check("Telnet negotiation is ignored", reply(f).startswith("200"))
    s.sendall(b"RETR a\x00b\r\n")
    check("NUL in a line: 500", reply(f).startswith("500"))
    s.close()
    f = login(d.port)
    check("server still serves after 30 garbage sessions", f.pwd() == "/")
    f.quit()


def flood(d):
    fds = FdBaseline(d.proc.pid)
    socks, greet = [], {}
    for i in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", d.port), 5)
            s.settimeout(5)
            socks.append(s)
        except OSError:
            greet["refused"] = greet.get("refused", 0) + 1
    for s in socks:
        try:
            line = s.recv(200).decode(errors="replace").split("\r\n")[0]
        except OSError:
            line = "error"
        greet[line] = greet.get(line, 0) + 1
    print(f"# flood greetings: {greet}")
    check("flood: the first 20 get a normal greeting", greet.get("220 FTP server ready", 0) == 20)
    check("flood: no SPSV token outstanding, so no 'only SPSV' greeting",
          greet.get("220 Too many users; only SPSV connections allowed", 0) == 0)
    check("flood: the rest get 421 at once",
          greet.get("421 Too many users connected. Try later.", 0) == 280, str(greet))
    for s in socks:
        s.close()
    f = until(lambda: login(d.port), 10)     # the server has let the flood go
    check("after the flood a normal login works", f is not None and f.pwd() == "/")
    if f:
        f.quit()
    check("no descriptor leak after the flood", *fds.back())


def stalled(d):
    f = login(d.port)
    conn = f.transfercmd("STOR stalled.bin")
    conn.sendall(b"x" * 1000)
    t0 = time.time()
    r = code(f.voidresp)
    check("stalled upload: 426 after data_timeout", r == "426" and 1.5 < time.time() - t0 < 8,
          f"{r} {time.time() - t0:.1f}s")
    conn.close()
    conn = f.transfercmd("RETR f")        # a download nobody reads is fine: small
    conn.close()
    code(f.voidresp)
    check("session usable after a stall", f.pwd() == "/")
    f.quit()


def idle(d):
    s, f = raw(d.port)
    r = reply(f)          # blocks until the server's 421 (socket timeout 10 s)
    check("idle timeout: 421", r.startswith("421"), r)
    s.close()


def main():
    base = tempdir("ferry-hostile-")
    root = os.path.join(base, "root")
    os.makedirs(os.path.join(root, "d"))
    os.makedirs(os.path.join(base, "outside"))
    with open(os.path.join(base, "outside", "secret"), "w") as fh:
        fh.write("secret" * 1000)
    with open(os.path.join(root, "f"), "w") as fh:
        fh.write("file")
    os.symlink("f", os.path.join(root, "in"))
    os.symlink("../outside", os.path.join(root, "up"))
    os.symlink("/etc/passwd", os.path.join(root, "abs"))
    os.symlink("../../outside/secret", os.path.join(root, "d", "deep"))
    os.symlink("/proc/self/root", os.path.join(root, "proc"))
    ftp = {"users": [{"name": "alice", "password": crypt_hash("pw"), "root": root, "write": True},
                     {"name": "bob", "password": crypt_hash("pw2"), "root": root}],
           "anonymous": {"root": root},
           "max_sessions": 20, "max_per_address": 100, "login_delay_ms": 50,
           "max_login_failures": 5, "lockout_seconds": 60, "idle_timeout": 3,
           "data_timeout": 2}
    d = Ferryd(ferryd_bin, ftp, workers=2, level=2)
    try:
        for fn in (escapes, long_lines, before_login, third_address, tokens_and_lockout,
                   garbage, flood, stalled, idle):
            t.run(fn.__name__, fn, d, base) if fn is escapes else t.run(fn.__name__, fn, d)
        check("ferryd still running", d.proc.poll() is None)
    finally:
        t.stopped(d, "ferryd: exit 6, no sanitizer reports or leaks")
    t.finish()


main()
