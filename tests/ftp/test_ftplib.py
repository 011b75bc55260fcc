"""test_ftplib.py — every FTP command ferryd implements, driven by Python's
ftplib: replies, MLSD facts, REST (also past 4 GiB), RNFR/RNTO, ASCII mode,
active and passive modes, ABOR, accounts and permissions, error replies."""
import ftplib
import io
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, ftp_session, recv_to_eof, tempdir  # noqa: E402
from ftpd import reply_code as code  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check


def make_tree(root):
    os.makedirs(os.path.join(root, "alice", "docs", "deep"), exist_ok=True)
    os.makedirs(os.path.join(root, "pub"), exist_ok=True)
    with open(os.path.join(root, "alice", "hello.txt"), "wb") as f:
        f.write(b"line one\nline two\r\nline three\n")
    with open(os.path.join(root, "alice", "big.bin"), "wb") as f:
        f.write(os.urandom(8 << 20))
    with open(os.path.join(root, "alice", "docs", "deep", "x"), "wb") as f:
        f.write(b"deep")
    with open(os.path.join(root, "pub", "readme"), "wb") as f:
        f.write(b"public\n")


def login(port, user="alice", pw="wonderland"):
    return ftp_session(port, user, pw)


def basics(d, root):
    f = ftplib.FTP()
    f.connect("127.0.0.1", d.port, timeout=20)
    check("greeting 220", f.getwelcome().startswith("220 "))
    check("PWD before login: 530", code(f.sendcmd, "PWD") == "530")
    check("LIST before login: 530", code(f.sendcmd, "LIST") == "530")
    check("PASS before USER: 503", code(f.sendcmd, "PASS x") == "503")
    check("USER: 331", code(f.sendcmd, "USER alice") == "331")
    t0 = time.time()
    check("wrong password: 530", code(f.sendcmd, "PASS nope") == "530")
    check("failed login is delayed", time.time() - t0 >= 0.15, f"{time.time() - t0:.3f}s")
    check("unknown user: 530", code(f.login, "mallory", "x") == "530")
    check("yescrypt login: 230", f.login("alice", "wonderland").startswith("230"))
    check("SYST: 215", f.sendcmd("SYST").startswith("215 UNIX"))
    check("NOOP: 200", f.sendcmd("NOOP").startswith("200"))
    feat = f.sendcmd("FEAT")
    check("FEAT multi-line 211", feat.startswith("211-") and feat.endswith("211 End"))
    for x in ["SPSV", "EPSV", "MLST type*", "REST STREAM", "SIZE", "MDTM", "UTF8"]:
        check(f"FEAT lists {x}", x in feat)
    check("HELP: 214 multi-line", f.sendcmd("HELP").startswith("214-"))
    check("OPTS UTF8 ON: 200", f.sendcmd("OPTS UTF8 ON").startswith("200"))
    check("OPTS nonsense: 501", code(f.sendcmd, "OPTS FOO") == "501")
    st = f.sendcmd("STAT")
    check("STAT: 211 multi-line", st.startswith("211-") and "Logged in as alice" in st)
    st = f.sendcmd("STAT /docs")
    check("STAT dir: 213 listing", st.startswith("213-") and "deep" in st)
    check("TYPE I: 200", f.sendcmd("TYPE I").startswith("200"))
    check("TYPE A: 200", f.sendcmd("TYPE A").startswith("200"))
    check("TYPE E: 504", code(f.sendcmd, "TYPE E") == "504")
    check("MODE S: 200", f.sendcmd("MODE S").startswith("200"))
    check("MODE B: 504", code(f.sendcmd, "MODE B") == "504")
    check("STRU F: 200", f.sendcmd("STRU F").startswith("200"))
    check("STRU R: 504", code(f.sendcmd, "STRU R") == "504")
    check("ALLO: 202", f.sendcmd("ALLO 1000").startswith("202"))
    check("ACCT: 202", f.sendcmd("ACCT x").startswith("202"))
    check("unknown verb: 502", code(f.sendcmd, "XYZZY") == "502")
    check("garbage line: 500", code(f.sendcmd, "12 34") == "500")
    check("CWD no arg goes home", f.sendcmd("CWD").startswith("250") and f.pwd() == "/")
    check("RETR without arg: 501", code(f.sendcmd, "RETR") == "501")
    check("PASV with arg: 501", code(f.sendcmd, "PASV x") == "501")
    check("REST garbage: 501", code(f.sendcmd, "REST abc") == "501")
    check("RETR without data setup: 425", code(f.sendcmd, "RETR hello.txt") == "425")
    check("REIN: 220", f.sendcmd("REIN").startswith("220"))
    check("after REIN: 530", code(f.sendcmd, "PWD") == "530")
    check("QUIT: 221", f.quit().startswith("221"))


def dirs(d, root):
    f = login(d.port)
    check("PWD: 257 /", f.sendcmd("PWD") == '257 "/" is the current directory')
    check("CWD docs: 250", f.cwd("docs").startswith("250") and f.pwd() == "/docs")
    check("CDUP: 250", f.sendcmd("CDUP").startswith("250") and f.pwd() == "/")
    check("CWD .. at root stays at /", f.cwd("..").startswith("250") and f.pwd() == "/")
    check("CWD to a file: 550", code(f.cwd, "hello.txt") == "550")
    check("CWD missing: 550", code(f.cwd, "nowhere") == "550")
    check("MKD: 257 quoted", f.sendcmd("MKD new dir") == '257 "/new dir" created')
    check("MKD made it", os.path.isdir(os.path.join(root, "alice", "new dir")))
    check("MKD existing: 550", code(f.sendcmd, "MKD docs") == "550")
    check("MKD quote doubling", f.sendcmd('MKD q"d') == '257 "/q""d" created')
    check("RMD: 250", f.rmd('q"d').startswith("250"))
    check("RMD non-empty: 550", code(f.rmd, "docs") == "550")
    f.storbinary("STOR new dir/f", io.BytesIO(b"abc"))
    check("RNFR: 350", f.sendcmd("RNFR new dir/f").startswith("350"))
    check("RNTO: 250", f.sendcmd("RNTO new dir/g").startswith("250"))
    check("renamed on disk", os.path.exists(os.path.join(root, "alice", "new dir", "g")))
    check("RNTO without RNFR: 503", code(f.sendcmd, "RNTO x") == "503")
    check("RNFR missing: 550", code(f.sendcmd, "RNFR nothing") == "550")
    f.sendcmd("RNFR new dir/g")
    f.sendcmd("NOOP")
    check("RNFR kept across NOOP (as vsftpd)", code(f.sendcmd, "RNTO new dir/h") == "250")
    f.sendcmd("RNFR new dir/h")
    f.sendcmd("PWD")
    check("RNFR forgotten after another command", code(f.sendcmd, "RNTO new dir/g") == "503")
    check("DELE: 250", f.delete("new dir/h").startswith("250"))
    check("DELE missing: 550", code(f.delete, "new dir/h") == "550")
    check("DELE a directory: 550", code(f.delete, "new dir") == "550")
    check("RMD: 250", f.rmd("new dir").startswith("250"))
    check("SIZE binary", f.sendcmd("TYPE I") and f.size("hello.txt") == 30)
    f.sendcmd("TYPE A")
    check("SIZE in ASCII mode: the byte size, as vsftpd", f.sendcmd("SIZE hello.txt") == "213 30")
    f.sendcmd("TYPE I")
    check("SIZE of a directory: 550", code(f.sendcmd, "SIZE docs") == "550")
    mt = f.sendcmd("MDTM hello.txt")
    want = time.strftime("%Y%m%d%H%M%S", time.gmtime(os.stat(os.path.join(root, "alice", "hello.txt")).st_mtime))
    check("MDTM: 213 UTC time", mt == "213 " + want, mt)
    ml = f.sendcmd("MLST hello.txt")
    check("MLST: 250 multi-line with facts",
          ml.startswith("250-") and "type=file;size=30;" in ml and "perm=adfrw" in ml and ml.endswith("250 End"), ml)
    facts = dict(f.mlsd("/"))
    check("MLSD lists entries", set(facts) >= {"hello.txt", "big.bin", "docs"}, str(facts.keys()))
    check("MLSD type=file/dir", facts["hello.txt"]["type"] == "file" and facts["docs"]["type"] == "dir")
    check("MLSD size", facts["big.bin"]["size"] == str(8 << 20))
    check("MLSD modify", len(facts["hello.txt"]["modify"]) == 14)
    check("MLSD perm", facts["docs"]["perm"] == "cdeflmp" and facts["hello.txt"]["perm"] == "adfrw")
    check("MLSD unix.mode", facts["hello.txt"]["unix.mode"] == "0644")
    check("MLSD on a file: 550", code(lambda: list(f.mlsd("hello.txt"))) == "550")
    lines = []
    f.retrlines("LIST", lines.append)
    check("LIST long format", any(x.startswith("-rw") and x.endswith(" hello.txt") for x in lines), str(lines))
    check("LIST dirs start with d", any(x.startswith("d") and x.endswith(" docs") for x in lines))
    lines = []
    f.retrlines("LIST -la docs", lines.append)
    check("LIST with options and path", len(lines) == 1 and lines[0].endswith(" deep"), str(lines))
    lines = []
    f.retrlines("LIST hello.txt", lines.append)
    check("LIST of a file: one line", len(lines) == 1 and "hello.txt" in lines[0])
    check("NLST names", sorted(f.nlst()) == ["big.bin", "docs", "hello.txt"], str(f.nlst()))
    check("LIST missing: 550", code(f.sendcmd, "LIST nowhere") == "550")
    f.quit()


def transfers(d, root):
    f = login(d.port)
    big = open(os.path.join(root, "alice", "big.bin"), "rb").read()
    for mode, pasv in (("PASV/EPSV", True), ("PORT/EPRT", False)):
        f.set_pasv(pasv)
        b = io.BytesIO()
        r = f.retrbinary("RETR big.bin", b.write)
        check(f"RETR binary over {mode}: 226, bytes equal", r.startswith("226") and b.getvalue() == big)
        data = os.urandom(3 << 20)
        r = f.storbinary("STOR up.bin", io.BytesIO(data))
        with open(os.path.join(root, "alice", "up.bin"), "rb") as fh:
            check(f"STOR binary over {mode}: 226, bytes equal", r.startswith("226") and fh.read() == data)
    f.set_pasv(True)
    # the verbs by hand
    check("PASV reply", f.sendcmd("PASV").startswith("227 Entering Passive Mode (127,0,0,1,"))
    check("EPSV reply", f.sendcmd("EPSV").startswith("229 Entering Extended Passive Mode (|||"))
    check("EPSV 2 on IPv4: 522", code(f.sendcmd, "EPSV 2") == "522")
    check("EPRT proto 3: 522", code(f.sendcmd, "EPRT |3|x|1|") == "522")
    check("EPRT garbage: 501", code(f.sendcmd, "EPRT |1|300.1.1.1|5000|") == "501")
    check("PORT garbage: 501", code(f.sendcmd, "PORT 1,2,3") == "501")
    check("PORT to port < 1024: 504", code(f.sendcmd, "PORT 127,0,0,1,0,21") == "504")
    check("PORT to a third address: 504", code(f.sendcmd, "PORT 10,1,2,3,40,1") == "504")
    check("EPRT to a third address: 504", code(f.sendcmd, "EPRT |1|198.18.0.9|5000|") == "504")
    # ASCII
    lines = []
    f.retrlines("RETR hello.txt", lines.append)
    check("RETR ascii lines", lines == ["line one", "line two", "line three"], str(lines))
    f.sendcmd("TYPE A")
    conn = f.transfercmd("RETR hello.txt")
    raw = recv_to_eof(conn)
    conn.close()
    f.voidresp()
    check("ASCII mode sends CRLF (CRLF kept)", raw == b"line one\r\nline two\r\nline three\r\n", repr(raw))
    f.storlines("STOR lines.txt", io.BytesIO(b"a\nb\r\nc\n"))
    with open(os.path.join(root, "alice", "lines.txt"), "rb") as fh:
        check("STOR ascii: CRLF to LF", fh.read() == b"a\nb\nc\n")
    f.sendcmd("TYPE I")
    # APPE and STOU
    f.storbinary("APPE lines.txt", io.BytesIO(b"more"))
    with open(os.path.join(root, "alice", "lines.txt"), "rb") as fh:
        check("APPE appends", fh.read() == b"a\nb\nc\nmore")
    conn, _ = f.ntransfercmd("STOU")
    conn.sendall(b"unique")
    conn.close()
    check("STOU completes", f.voidresp().startswith("226"))
    conn, _ = f.ntransfercmd("STOU lines.txt")
    conn.close()
    f.voidresp()
    check("STOU picks a new name", os.path.exists(os.path.join(root, "alice", "lines.txt.1")))
    # REST
    b = io.BytesIO()
    f.retrbinary("RETR big.bin", b.write, rest=1000000)
    check("REST + RETR resumes", b.getvalue() == big[1000000:])
    part = os.urandom(100000)
    with open(os.path.join(root, "alice", "resume.bin"), "wb") as fh:
        fh.write(part[:40000])
    f.storbinary("STOR resume.bin", io.BytesIO(part[40000:]), rest=40000)
    with open(os.path.join(root, "alice", "resume.bin"), "rb") as fh:
        check("REST + STOR resumes", fh.read() == part)
    f.quit()


def abort(d, root):
    f = login(d.port)
    f.sendcmd("TYPE I")
    conn = f.transfercmd("RETR big.bin")
    conn.recv(4096)
    r = f.abort()
    check("ABOR mid-transfer: 426", r.startswith("426"), r)
    check("then 226", f.voidresp().startswith("226"))
    conn.close()
    check("ABOR with nothing running: 225", f.abort().startswith("225"))
    check("session usable after ABOR", f.size("big.bin") == 8 << 20)
    # ABOR while the upload is still open
    conn = f.transfercmd("STOR aborted.bin")
    conn.sendall(b"x" * 100000)
    r = f.abort()
    check("ABOR upload: 426", r.startswith("426"), r)
    check("upload abort then 226", f.voidresp().startswith("226"))
    conn.close()
    # the data connection closed by the client mid-download: 426
    conn = f.transfercmd("RETR big.bin")
    conn.recv(1000)
    conn.close()
    r = code(f.voidresp)
    check("client closing mid-RETR: 426 or 226", r in ("426", "226"), r)
    f.quit()


def epsv_all(d, root):
    f = login(d.port)
    check("EPSV ALL: 200", f.sendcmd("EPSV ALL").startswith("200"))
    check("after EPSV ALL, PASV: 503", code(f.sendcmd, "PASV") == "503")
    check("after EPSV ALL, PORT: 503", code(f.sendcmd, "PORT 127,0,0,1,200,1") == "503")
    check("after EPSV ALL, EPRT: 503", code(f.sendcmd, "EPRT |1|127.0.0.1|51000|") == "503")
    f.af = socket.AF_INET6       # makes ftplib use EPSV
    b = io.BytesIO()
    f.retrbinary("RETR hello.txt", b.write)
    check("after EPSV ALL, EPSV transfers work", len(b.getvalue()) == 30)
    f.quit()


def concurrent(d, root):
    """Many transfers at once on two workers: 24 downloads and 8 uploads."""
    import threading
    big = open(os.path.join(root, "alice", "big.bin"), "rb").read()
    results = []

    def down():
        try:
            f = login(d.port)
            b = io.BytesIO()
            f.retrbinary("RETR big.bin", b.write)
            f.quit()
            results.append(b.getvalue() == big)
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    def up(i):
        try:
            f = login(d.port)
            data = bytes([i]) * (2 << 20)
            f.storbinary(f"STOR conc{i}.bin", io.BytesIO(data))
            f.quit()
            with open(os.path.join(root, "alice", f"conc{i}.bin"), "rb") as fh:
                results.append(fh.read() == data)
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    threads = [threading.Thread(target=down) for _ in range(24)]
    threads += [threading.Thread(target=up, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    check("32 concurrent transfers, all bytes equal", results.count(True) == 32, str(results))


def large(d, root):
    """Past 4 GiB: a sparse file, SIZE, REST into its tail, STOR beyond."""
    path = os.path.join(root, "alice", "huge.bin")
    size = (4 << 30) + (1 << 20)
    tail = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        fh.truncate(size - len(tail))
        fh.seek(size - len(tail))
        fh.write(tail)
    f = login(d.port)
    f.sendcmd("TYPE I")
    check("SIZE > 4 GiB", f.size("huge.bin") == size)
    b = io.BytesIO()
    f.retrbinary("RETR huge.bin", b.write, rest=4 << 30)
    check("REST past 4 GiB + RETR", b.getvalue() == tail)
    f.storbinary("STOR huge.bin", io.BytesIO(b"END"), rest=(5 << 30))
    check("REST past 5 GiB + STOR", os.path.getsize(path) == (5 << 30) + 3)
    with open(path, "rb") as fh:
        fh.seek(5 << 30)
        check("bytes written at 5 GiB", fh.read() == b"END")
    os.unlink(path)
    f.quit()


def permissions(d, root):
    f = login(d.port, "bob", "builder")
    check("sha512-crypt login", f.pwd() == "/")
    check("read-only: STOR 550", code(f.storbinary, "STOR x", io.BytesIO(b"x")) == "550")
    check("read-only: MKD 550", code(f.sendcmd, "MKD x") == "550")
    check("read-only: DELE 550", code(f.sendcmd, "DELE hello.txt") == "550")
    check("read-only: RNFR 550", code(f.sendcmd, "RNFR hello.txt") == "550")
    check("read-only: RETR works", f.size("hello.txt") == 30)
    f.quit()
    a = ftplib.FTP()
    a.connect("127.0.0.1", d.port, timeout=20)
    check("anonymous login", a.login().startswith("230"))
    check("anonymous sees its own root", a.nlst() == ["readme"])
    check("anonymous: STOR 550", code(a.storbinary, "STOR x", io.BytesIO(b"x")) == "550")
    check("anonymous: ftp works too", True)
    a.quit()
    g = ftplib.FTP()
    g.connect("127.0.0.1", d.port, timeout=20)
    check("user name 'ftp' is anonymous", g.login("ftp", "x").startswith("230"))
    g.quit()


def main():
    tmp = tempdir(prefix="ferry-ftplib-")
    make_tree(tmp)
    ftp = {
        "users": [
            {"name": "alice", "password": crypt_hash("wonderland"), "root": f"{tmp}/alice", "write": True},
            {"name": "bob", "password": crypt_hash("builder", "$6$"), "root": f"{tmp}/alice"},
        ],
        "anonymous": {"root": f"{tmp}/pub"},
        "login_delay_ms": 200,
        "max_login_failures": 50,
        "max_per_address": 64,
        "xferlog": f"{tmp}/xferlog",
    }
    d = Ferryd(ferryd_bin, ftp)
    try:
        for fn in (basics, dirs, transfers, abort, epsv_all, concurrent, large, permissions):
            # every verb's path (STOU, APPE, REST, ABOR, PORT, ...) closes what it opened
            t.run_closing(d.proc.pid, fn.__name__, fn, d, tmp)
        with open(f"{tmp}/xferlog") as fh:
            log = fh.read().splitlines()
        check("xferlog: one line per transfer", len(log) >= 10 and all(len(x.split()) == 18 for x in log), log[:2])
        check("xferlog: completed download logged",
              any(" /big.bin b _ o r alice ftp 0 * c" in x for x in log))
    finally:
        rc, clean = d.stop()
        check("ferryd stops on SIGTERM with status 6", rc == 6, str(rc))
        check("no sanitizer reports", clean, d.logtext()[-3000:])
    t.finish()


main()
