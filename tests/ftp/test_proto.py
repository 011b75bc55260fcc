"""test_proto.py — issue 10 items 6, 10-18 and issue 11 item 5 against a
running ferryd, with real clients (lftp, curl, Python ftplib) where they
exist and raw sockets for the bytes on the wire: long command lines and a
deep lftp mirror, RFC 2640 names, IPv6 listeners and PASV, 421 on SIGTERM,
--check-config, SITE CHMOD/UMASK, umask, MFMT/MDTM, HASH and X* digests,
AVBL, CLNT, FEAT, the upload-only drop box, xferlog and its reopen on
SIGHUP, IAC doubling, escaped log lines, the pre-login limits."""
import ftplib
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, FdBaseline, Ferryd, crypt_hash, free_port, ftp_session, tempdir, wait_for  # noqa: E402
from ftpd import reply_code as code  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check


class Raw:
    """A control connection as bytes: replies are returned raw."""

    def __init__(self, port, host="127.0.0.1", family=socket.AF_INET):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect((host, port))
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        first = self.f.readline()
        out = first
        if len(first) >= 4 and first[3:4] == b"-":
            while True:
                line = self.f.readline()
                if not line:
                    break
                out += line
                if line[:4] == first[:3] + b" ":
                    break
        return out

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def login(self, user=b"alice", pw=b"pw"):
        self.cmd(b"USER " + user)
        return self.cmd(b"PASS " + pw)

    def closed(self):
        try:
            return self.s.recv(100) == b""
        except OSError:
            return True

    def close(self):
        self.s.close()


def login(port, user="alice", pw="pw", host="127.0.0.1"):
    return ftp_session(port, user, pw, host)


# ---- item 6: long command lines, lftp mirror of a deep tree ---------------

def long_lines(d, root):
    deep = os.path.join(root, "alice")
    parts = []
    for i in range(40):           # 40 x 99 characters: a ~4,000-byte path
        parts.append(("d%02d" % i) + "x" * 96)
    path = os.path.join(deep, *parts)
    os.makedirs(path)
    with open(os.path.join(path, "leaf.txt"), "wb") as fh:
        fh.write(b"deep leaf\n")
    vpath = "/" + "/".join(parts) + "/leaf.txt"
    check("the test path is longer than 1024 and near PATH_MAX", 3900 < len(vpath) < 4096,
          str(len(vpath)))
    r = Raw(d.port)
    r.login()
    r.cmd(b"TYPE I")
    reply = r.cmd(b"SIZE " + vpath.encode())
    check("6: a ~4,000-byte SIZE line is accepted: 213 10", reply == b"213 10\r\n", reply)
    reply = r.cmd(b"SIZE /" + b"y" * 4200)
    check("6: a line longer than PATH_MAX + verb: 500 Command line too long",
          reply.startswith(b"500 Command line too long"), reply)
    check("6: the session goes on", r.cmd(b"NOOP").startswith(b"200"))
    r.close()
    out = tempdir("ferry-mirror-")
    res = subprocess.run(["lftp", "-c",
                          f"set net:max-retries 1; set net:timeout 20; "
                          f"open -u alice,pw ftp://127.0.0.1:{d.port}; "
                          f"mirror {parts[0]} {out}/m"],
                         capture_output=True, text=True, timeout=120)
    got = os.path.join(out, "m", *parts[1:], "leaf.txt")
    check("6: lftp mirror of the deep tree succeeds", res.returncode == 0, res.stderr[-500:])
    check("6: and fetched the deepest file intact",
          os.path.exists(got) and open(got, "rb").read() == b"deep leaf\n")


# ---- item 10: RFC 2640 names, digits in verbs, MLST, RNFR NOOP RNTO -------

def rfc2640(d, root):
    r = Raw(d.port)
    r.login()
    reply = r.cmd(b"MKD cr\r\x00name")
    check("10: MKD with CR NUL in the name: 257 with CR NUL in the reply",
          reply == b'257 "/cr\r\x00name" created\r\n', reply)
    check("10: the directory's name holds a CR",
          os.path.isdir(os.path.join(root, "alice", "cr\rname")))
    reply = r.cmd(b"XSHA3 hello.txt")
    check("10: an unknown verb with digits: 502, not 500", reply.startswith(b"502"), reply)
    reply = r.cmd(b"MLST hello.txt")
    lines = reply.split(b"\r\n")
    check("10: MLST: three lines", len(lines) == 4 and lines[0].startswith(b"250-"), reply)
    check("10: MLST entry line starts with exactly one space",
          lines[1].startswith(b" type=file;") and not lines[1].startswith(b"  "), reply)
    r.cmd(b"RNFR hello.txt")
    r.cmd(b"NOOP")
    reply = r.cmd(b"RNTO hello2.txt")
    check("10: RNFR NOOP RNTO: 250", reply.startswith(b"250"), reply)
    r.cmd(b"RNFR hello2.txt")
    r.cmd(b"RNTO hello.txt")
    reply = r.cmd(b"MKD ff\xff\xffname")     # a 0xFF data byte is sent as IAC IAC
    check("11.5: 0xFF in a reply is doubled (IAC IAC)",
          reply == b'257 "/ff\xff\xffname" created\r\n', reply)
    check("11.5: the name on disk has one 0xFF",
          os.path.isdir(os.path.join(root.encode(), b"alice", b"ff\xffname")))
    r.close()


# ---- item 11: IPv6, PASV on IPv6 -----------------------------------------

def ipv6(binary, root, users):
    port = free_port()
    with Ferryd(binary, {"users": users, "listen": [f"127.0.0.1:{port}", f"[::1]:{port}"]},
                port=port):
        f = ftplib.FTP()
        f.af = socket.AF_INET6
        f.connect("::1", port, timeout=20)
        f.login("alice", "pw")
        got = []
        f.retrbinary("RETR hello.txt", got.append)   # ftplib uses EPSV on IPv6
        check("11: IPv6 control connection, EPSV transfer works",
              b"".join(got) == open(os.path.join(root, "alice", "hello.txt"), "rb").read())
        reply = code(f.sendcmd, "PASV")
        check("11: PASV on IPv6: 425 pointing to EPSV", reply == "425")
        try:
            f.sendcmd("PASV")
        except ftplib.error_temp as e:
            check("11: and the text says to use EPSV", "EPSV" in str(e), str(e))
        f.quit()
        f4 = login(port)
        check("11: the IPv4 listener on the same port serves too", f4.pwd() == "/")
        f4.quit()
    # "[::]" listens for IPv6 only; listing "0.0.0.0" too gives both
    port = free_port()
    with Ferryd(binary, {"users": users, "listen": [f"0.0.0.0:{port}", f"[::]:{port}"]},
                port=port) as d2:
        ok4 = login(port).pwd() == "/"
        ok6 = login(port, host="::1").pwd() == "/"
        check("11: 0.0.0.0:P and [::]:P together serve IPv4 and IPv6", ok4 and ok6)
        r = Raw(port)
        r.login()
        check("11: PASV works for IPv4", r.cmd(b"PASV").startswith(b"227"))
        r.close()
        check("11: ferryd serving both still runs", d2.proc.poll() is None)


# ---- item 12: SIGTERM sends 421 ------------------------------------------

def sigterm(binary, users):
    d = Ferryd(binary, {"users": users})
    a, b = Raw(d.port), Raw(d.port)
    a.login()
    d.proc.send_signal(signal.SIGTERM)
    ra = a.f.readline()
    rb = b.f.readline()
    check("12: SIGTERM: a logged-in session gets 421", ra.startswith(b"421 Service shutting down"), ra)
    check("12: a session before login too", rb.startswith(b"421"), rb)
    check("12: then the connection closes", a.closed() and b.closed())
    t.stopped(d, "12: ferryd exits 6, no sanitizer report")


# ---- item 13: --check-config ---------------------------------------------

def check_config(binary, root, users):
    tmp = tempdir("ferry-check-")

    def run(ftp):
        path = os.path.join(tmp, "c.json")
        with open(path, "w") as fh:
            json.dump({"ftp": dict({"listen": ["127.0.0.1:2121"]}, **ftp),
                       "log": {"file": os.path.join(tmp, "log")}}, fh)
        return subprocess.run([binary, "-f", path, "--check-config"], capture_output=True,
                              text=True, timeout=30)

    r = run({"users": users})
    check("13: a good config: OK", r.returncode == 0 and "configuration OK" in r.stdout,
          r.stdout + r.stderr)
    bad = [dict(users[0], root=os.path.join(tmp, "missing"))]
    r = run({"users": bad})
    check("13: a missing root: refused, naming it", r.returncode != 0 and "missing" in r.stderr,
          r.stderr)
    r = run({"users": users, "xferlog": os.path.join(tmp, "nodir", "xfer.log")})
    check("13: a missing transfer-log directory: refused",
          r.returncode != 0 and "nodir" in r.stderr, r.stderr)
    check("13: and nothing was created", not os.path.exists(os.path.join(tmp, "nodir")))
    r = run({"users": users, "xferlog": os.path.join(tmp, "x.log")})
    check("13: a transfer log in an existing directory: OK and not created",
          r.returncode == 0 and not os.path.exists(os.path.join(tmp, "x.log")), r.stderr)
    r = run({"users": users, "tls": {"cert": os.path.join(tmp, "none.pem"),
                                     "key": os.path.join(tmp, "none.key")}})
    check("13: an unreadable certificate: refused, naming it",
          r.returncode != 0 and "none.pem" in r.stderr, r.stderr)


# ---- item 14: SITE CHMOD, umask, SITE UMASK, MFMT, MDTM ------------------

def perms_and_times(d, root):
    home = os.path.join(root, "alice")
    f = login(d.port)
    f.storbinary("STOR secret", io.BytesIO(b"s"))
    check("14: default umask 022: STOR makes 0644",
          os.stat(os.path.join(home, "secret")).st_mode & 0o777 == 0o644)
    check("14: SITE CHMOD 600: 200", f.sendcmd("SITE CHMOD 600 secret").startswith("200"))
    check("14: the mode on disk is 0600", os.stat(os.path.join(home, "secret")).st_mode & 0o777 == 0o600)
    check("14: SITE CHMOD on a missing file: 550", code(f.sendcmd, "SITE CHMOD 600 nothing") == "550")
    check("17: audit lines for the change and the failed one",
          wait_for(lambda: "chmod /secret by 'alice' from 127.0.0.1" in d.logtext() and
                   "chmod /nothing by 'alice' from 127.0.0.1: No such file or directory"
                   in d.logtext(), 5))
    check("14: SITE CHMOD 9z: 501", code(f.sendcmd, "SITE CHMOD 9z secret") == "501")
    check("14: SITE CHMOD 4755 (setuid): 501", code(f.sendcmd, "SITE CHMOD 4755 secret") == "501")
    check("14: and the mode is unchanged",
          os.stat(os.path.join(home, "secret")).st_mode & 0o7777 == 0o600)
    check("14: SITE UMASK shows 0022", f.sendcmd("SITE UMASK") == "200 Your current UMASK is 0022.")
    check("14: SITE UMASK 077: 200", f.sendcmd("SITE UMASK 077").startswith("200"))
    f.storbinary("STOR private", io.BytesIO(b"p"))
    f.mkd("privdir")
    check("14: after SITE UMASK 077, STOR makes 0600 and MKD 0700",
          os.stat(os.path.join(home, "private")).st_mode & 0o777 == 0o600 and
          os.stat(os.path.join(home, "privdir")).st_mode & 0o777 == 0o700)
    check("14: SITE HELP lists CHMOD", "CHMOD" in f.sendcmd("SITE HELP"))
    check("14: SITE NOPE: 500", code(f.sendcmd, "SITE NOPE") == "500")
    r = f.sendcmd("MFMT 20200102030405 secret")
    check("14: MFMT: 213 Modify=...", r == "213 Modify=20200102030405; /secret", r)
    check("14: the mtime on disk", int(os.stat(os.path.join(home, "secret")).st_mtime) == 1577934245)
    r = f.sendcmd("MDTM 20210102030405 private")
    check("14: MDTM with a time sets it: 213", r.startswith("213"), r)
    check("14: MDTM reads it back", f.sendcmd("MDTM private") == "213 20210102030405")
    check("14: MFMT with a bad time: 501", code(f.sendcmd, "MFMT 2020 secret") == "501")
    f.quit()
    # bob cannot write
    b = login(d.port, "bob", "pw2")
    check("14: SITE CHMOD by a read-only account: 550", code(b.sendcmd, "SITE CHMOD 777 secret") == "550")
    check("14: MFMT by a read-only account: 550", code(b.sendcmd, "MFMT 20200102030405 secret") == "550")
    b.quit()
    # carol's account umask 027; lftp mirror -R keeps a 0600 file 0600 and its mtime
    src = tempdir("ferry-up-")
    os.makedirs(os.path.join(src, "tree"))
    sec = os.path.join(src, "tree", "key.pem")
    with open(sec, "w") as fh:
        fh.write("secret\n")
    os.chmod(sec, 0o600)
    os.utime(sec, (1500000000, 1500000000))
    with open(os.path.join(src, "tree", "pub.txt"), "w") as fh:
        fh.write("pub\n")
    os.chmod(os.path.join(src, "tree", "pub.txt"), 0o644)
    res = subprocess.run(["lftp", "-c", f"set net:max-retries 1; open -u carol,pw3 "
                          f"ftp://127.0.0.1:{d.port}; mirror -R {src}/tree tree"],
                         capture_output=True, text=True, timeout=60)
    up = os.path.join(root, "carol", "tree")
    check("14: lftp mirror -R: ok", res.returncode == 0, res.stderr[-300:])
    check("14: the 0600 secret stays 0600", os.path.exists(os.path.join(up, "key.pem")) and
          os.stat(os.path.join(up, "key.pem")).st_mode & 0o777 == 0o600)
    check("14: its mtime is preserved", os.path.exists(os.path.join(up, "key.pem")) and
          int(os.stat(os.path.join(up, "key.pem")).st_mtime) == 1500000000)
    c = login(d.port, "carol", "pw3")
    c.storbinary("STOR plain", io.BytesIO(b"x"))
    c.quit()
    check("14: carol's account umask 027: STOR makes 0640",
          os.stat(os.path.join(root, "carol", "plain")).st_mode & 0o777 == 0o640)


# ---- item 15: HASH, X*, AVBL, CLNT, FEAT ----------------------------------

def digests(d, root):
    data = bytes(range(256)) * 4000 + b"tail"
    with open(os.path.join(root, "alice", "blob"), "wb") as fh:
        fh.write(data)
    f = login(d.port)
    feat = f.sendcmd("FEAT")
    check("15: FEAT lists HASH with SHA-256 selected",
          " HASH SHA-256*;SHA-1;SHA-512;MD5" in feat, feat)
    listed = [line.strip() for line in feat.splitlines()[1:-1]]
    want = ["AVBL", "EPRT", "EPSV", "HASH SHA-256*;SHA-1;SHA-512;MD5", "MDTM", "MFMT",
            "MLST type*;size*;modify*;perm*;unix.mode*;", "PASV", "REST STREAM", "SIZE",
            "SPSV", "TVFS", "UTF8"]
    check("15: FEAT lists exactly what works", listed == want, listed)
    n = len(data)
    r = f.sendcmd("HASH blob")
    check("15: HASH (SHA-256 by default)",
          r == f"213 SHA-256 0-{n - 1} {hashlib.sha256(data).hexdigest()} blob", r)
    check("15: OPTS HASH shows the choice", f.sendcmd("OPTS HASH") == "200 SHA-256")
    for name, h in (("SHA-1", hashlib.sha1), ("MD5", hashlib.md5), ("SHA-512", hashlib.sha512)):
        check(f"15: OPTS HASH {name}: 200", f.sendcmd(f"OPTS HASH {name}") == f"200 {name}")
        r = f.sendcmd("HASH blob")
        check(f"15: HASH with {name}", r == f"213 {name} 0-{n - 1} {h(data).hexdigest()} blob", r)
    check("15: FEAT marks the new choice", "SHA-512*" in f.sendcmd("FEAT"))
    check("15: OPTS HASH CRC99: 501", code(f.sendcmd, "OPTS HASH CRC99") == "501")
    f.sendcmd("OPTS HASH SHA-256")
    check("15: RANG 10 109: 350", f.sendcmd("RANG 10 109").startswith("350"))
    r = f.sendcmd("HASH blob")
    check("15: HASH after RANG covers bytes 10-109",
          r == f"213 SHA-256 10-109 {hashlib.sha256(data[10:110]).hexdigest()} blob", r)
    r = f.sendcmd("HASH blob")
    check("15: the range applied once", r.startswith(f"213 SHA-256 0-{n - 1} "), r)
    f.sendcmd("RANG 0 9")
    check("15: RETR right after RANG is refused, not silently whole",
          code(f.sendcmd, "RETR blob") == "503")
    check("15: HASH of a directory: 550", code(f.sendcmd, "HASH /") == "550")
    check("15: HASH of a missing file: 550", code(f.sendcmd, "HASH nothing") == "550")
    check("15: XCRC", f.sendcmd("XCRC blob") == "250 %08X" % zlib.crc32(data))
    check("15: XMD5", f.sendcmd("XMD5 blob") == "250 " + hashlib.md5(data).hexdigest().upper())
    check("15: XSHA1", f.sendcmd("XSHA1 blob") == "250 " + hashlib.sha1(data).hexdigest().upper())
    check("15: XSHA256", f.sendcmd("XSHA256 blob") == "250 " + hashlib.sha256(data).hexdigest().upper())
    check("15: XSHA512", f.sendcmd("XSHA512 blob") == "250 " + hashlib.sha512(data).hexdigest().upper())
    check("15: XMD5 with a quoted path and a range",
          f.sendcmd('XMD5 "blob" 5 50') == "250 " + hashlib.md5(data[5:50]).hexdigest().upper())
    r = f.sendcmd("AVBL")
    st = os.statvfs(os.path.join(root, "alice"))
    free = st.f_bavail * st.f_frsize
    check("15: AVBL: 213 with the free bytes",
          r.startswith("213 ") and abs(int(r[4:]) - free) < 64 * 1024 * 1024, r)
    check("15: CLNT: 200", f.sendcmd("CLNT lftp 4.9").startswith("200"))
    f.quit()
    b = login(d.port, "bob", "pw2")
    check("15: AVBL for a read-only account: 550", code(b.sendcmd, "AVBL") == "550")
    b.quit()


def hash_bound(binary, root, users):
    """max_hash_jobs 1: a second HASH while one runs gets 450."""
    big = os.path.join(root, "alice", "big")
    with open(big, "wb") as fh:
        fh.truncate(1024 * 1024 * 1024)     # sparse: reading is cheap, hashing is not
    with Ferryd(binary, {"users": users, "max_hash_jobs": 1}) as d:
        a, b = Raw(d.port), Raw(d.port)
        a.login()
        b.login()
        a.s.sendall(b"OPTS HASH SHA-512\r\nHASH big\r\n")
        a.reply()
        time.sleep(0.3)
        rb = b.cmd(b"XSHA256 hello.txt")
        check("15: a second digest while the first runs: 450", rb.startswith(b"450"), rb)
        a.s.settimeout(300)
        ra = a.reply()
        check("15: the first one completes", ra.startswith(b"213 SHA-512 0-1073741823 "), ra)
        rb = b.cmd(b"XSHA256 hello.txt")
        check("15: then digests are served again", rb.startswith(b"250 "), rb)
        a.close()
        b.close()
    os.unlink(big)


# ---- item 16: anonymous upload-only ---------------------------------------

def dropbox(binary, root, users):
    drop = os.path.join(root, "drop")
    os.makedirs(drop)
    with open(os.path.join(drop, "existing"), "w") as fh:
        fh.write("keep me")
    with Ferryd(binary, {"users": users, "anonymous": {"root": drop, "upload_only": True}}) as d:
        res = subprocess.run(["curl", "-sS", "-T", "-", f"ftp://127.0.0.1:{d.port}/new.txt"],
                             input=b"dropped\n", capture_output=True, timeout=30)
        check("16: curl uploads a new file anonymously", res.returncode == 0, res.stderr)
        check("16: it is there", open(os.path.join(drop, "new.txt"), "rb").read() == b"dropped\n")
        res = subprocess.run(["curl", "-sS", "-T", "-", f"ftp://127.0.0.1:{d.port}/existing"],
                             input=b"overwrite", capture_output=True, timeout=30)
        check("16: curl cannot overwrite", res.returncode != 0)
        check("16: the old content is intact", open(os.path.join(drop, "existing")).read() == "keep me")
        res = subprocess.run(["curl", "-sS", f"ftp://127.0.0.1:{d.port}/existing"],
                             capture_output=True, timeout=30)
        check("16: curl cannot download", res.returncode != 0 and res.stdout == b"")
        res = subprocess.run(["curl", "-sS", f"ftp://127.0.0.1:{d.port}/"],
                             capture_output=True, timeout=30)
        check("16: curl cannot list", res.returncode != 0 and b"existing" not in res.stdout)
        f = login(d.port, "anonymous", "guest@example.org")
        for cmd in ["DELE existing", "RNFR existing", "RMD x", "MKD x", "SIZE existing",
                    "MDTM existing", "MLST existing", "STAT /", "HASH existing",
                    "SITE CHMOD 777 existing", "APPE existing", "NLST", "RETR existing"]:
            check(f"16: {cmd.split()[0]} in the drop box: 550", code(f.sendcmd, cmd) == "550", cmd)
        check("16: STOR of an existing name: 550",
              code(f.storbinary, "STOR existing", io.BytesIO(b"x")) == "550")
        check("16: STOR of a new name: 226",
              f.storbinary("STOR second", io.BytesIO(b"2")).startswith("226"))
        check("16: PWD and CWD / work", f.pwd() == "/" and f.cwd("/").startswith("250"))
        # STOU creates its file before 150; the upload must write to that
        # one (not open it again: O_EXCL in a drop box) and close it
        fds = FdBaseline(d.proc.pid)
        for i in range(1, 4):
            r = f.storbinary("STOU existing", io.BytesIO(b"unique %d" % i))
            path = os.path.join(drop, "existing.%d" % i)
            check("16: STOU in the drop box: 226, a new name, its bytes (%d)" % i,
                  r.startswith("226") and os.path.exists(path)
                  and open(path, "rb").read() == b"unique %d" % i, r)
        check("16: the old content is still intact",
              open(os.path.join(drop, "existing")).read() == "keep me")
        check("16: STOU leaves no descriptor open", *fds.back(5))
        f.quit()
        alice = login(d.port)
        check("16: a named account is not affected", alice.size("hello.txt") > 0)
        alice.quit()


# ---- item 17: xferlog, SIGHUP ---------------------------------------------

def xferlog(binary, root, users):
    tmp = tempdir("ferry-xlog-")
    xl = os.path.join(tmp, "xferlog")
    pub = os.path.join(root, "pub")
    os.makedirs(pub, exist_ok=True)
    with open(os.path.join(pub, "f.txt"), "wb") as fh:
        fh.write(b"x" * 1000)
    with Ferryd(binary, {"users": users, "anonymous": {"root": pub}, "xferlog": xl},
                level=2) as d:
        f = login(d.port, "anonymous", "guest@example.org")
        f.retrbinary("RETR f.txt", lambda b: None)
        check("17: a RETR without a data connection: 425",
              code(f.sendcmd, "RETR f.txt") in ("425", "150"))
        f.quit()
        assert wait_for(lambda: os.path.exists(xl) and os.path.getsize(xl) > 0)
        lines = open(xl).read().splitlines()
        check("17: exactly one line: the refused transfer is not logged", len(lines) == 1, lines)
        m = re.match(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} (\d+\.\d{3}) 127\.0\.0\.1 1000 "
                     r"/f\.txt b _ o a guest@example\.org ftp 0 \* c$", lines[0] if lines else "")
        check("17: standard fields, ms transfer time, the anonymous ident", m is not None, lines)
        os.rename(xl, xl + ".1")
        d.proc.send_signal(signal.SIGHUP)
        check("17: SIGHUP reopens the transfer log",
              wait_for(lambda: os.path.exists(xl)), d.logtext()[-500:])
        f = login(d.port)
        f.retrbinary("RETR hello.txt", lambda b: None)
        f.quit()
        check("17: the next transfer goes to the new file",
              wait_for(lambda: " /hello.txt b _ o r alice ftp 0 * c" in open(xl).read()))
        check("17: the old file got nothing more", len(open(xl + ".1").read().splitlines()) == 1)


# ---- issue 11 item 5: escaped logs, pre-login timeout, command limit ------

def prelogin(binary, users):
    with Ferryd(binary, {"users": users, "login_timeout": 2, "max_login_commands": 5,
                         "login_delay_ms": 10}, level=4) as d:
        r = Raw(d.port)
        r.cmd(b"USER ev\x1b[2Jil\tx")
        r.cmd(b"PASS nope")
        r.close()
        check("11.5: a control byte in a user name is escaped in the log",
              wait_for(lambda: "'ev\\x1b[2Jil\\x09x'" in d.logtext()), d.logtext()[-800:])
        check("11.5: and never written raw", "\x1b[2J" not in d.logtext())
        r = Raw(d.port)
        for _ in range(5):
            r.cmd(b"NOOP")
        reply = r.cmd(b"NOOP")
        check("11.5: the 6th command before login: 421", reply.startswith(b"421 Too many commands"), reply)
        check("11.5: and the connection closes", r.closed())
        check("11.5: logged with the address",
              wait_for(lambda: "too many commands before login from 127.0.0.1" in d.logtext()))
        r = Raw(d.port)
        t0 = time.time()
        for _ in range(3):
            r.s.sendall(b"NOOP\r\n")
            r.reply()
            time.sleep(0.5)
        line = r.f.readline()
        check("11.5: login_timeout counts from the connection, not the last command",
              line.startswith(b"421") and time.time() - t0 < 5, line)
        f = login(d.port)
        for _ in range(10):
            f.voidcmd("NOOP")
        check("11.5: after login the limit no longer applies", f.pwd() == "/")
        f.quit()


def main():
    root = tempdir("ferry-proto-")
    for u in ("alice", "bob", "carol"):
        os.makedirs(os.path.join(root, u))
    with open(os.path.join(root, "alice", "hello.txt"), "wb") as fh:
        fh.write(b"Hello, world!\r\nfrom ferry\n")
    os.chmod(os.path.join(root, "alice"), 0o755)
    users = [{"name": "alice", "password": crypt_hash("pw"), "root": os.path.join(root, "alice"),
              "write": True},
             {"name": "bob", "password": crypt_hash("pw2"), "root": os.path.join(root, "alice")},
             {"name": "carol", "password": crypt_hash("pw3"), "root": os.path.join(root, "carol"),
              "write": True, "umask": "027"}]
    d = Ferryd(ferryd_bin, {"users": users, "login_delay_ms": 10}, workers=2)
    try:
        t.run_closing(d.proc.pid, "long_lines", long_lines, d, root)
        t.run_closing(d.proc.pid, "rfc2640", rfc2640, d, root)
        t.run_closing(d.proc.pid, "perms_and_times", perms_and_times, d, root)
        t.run_closing(d.proc.pid, "digests", digests, d, root)
        check("ferryd still running", d.proc.poll() is None)
    finally:
        t.stopped(d, "ferryd: exit 6, no sanitizer reports or leaks")
    t.run("ipv6", ipv6, ferryd_bin, root, users)
    t.run("sigterm", sigterm, ferryd_bin, users)
    t.run("check_config", check_config, ferryd_bin, root, users)
    t.run("hash_bound", hash_bound, ferryd_bin, root, users)
    t.run("dropbox", dropbox, ferryd_bin, root, users)
    t.run("xferlog", xferlog, ferryd_bin, root, users)
    t.run("prelogin", prelogin, ferryd_bin, users)
    t.finish()


main()
