"""test_spdt.py — ferryd's FTP server takes the SPSV draft's -00 data login,
"SPDT <identifier>", beside -01's USER DATACONN / PASS: the exchange as
bytedance's g3 sends it (FEAT, EPSV, PASV, SPSV, then a new connection that
waits for 220 and sends SPDT with the bracket contents), the bare token, and
the refusals (unknown, used twice, after USER, from another address); the
token never reaches the log."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, tempdir  # noqa: E402
from rawftp import Ctl, Session, identifier, token_of  # noqa: E402

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
H = "127.0.0.1"


def g3_exchange(port, want):
    c = Session(H, port)
    c.login("u001", "xyz")
    feat = c.cmd("FEAT")
    check("FEAT lists SPSV", "\n SPSV" in feat, feat)
    r = c.cmd("SPSV")
    ident = identifier(r)
    check("SPSV: 227 with an identifier in brackets", ident is not None and ident.startswith("DATACONN:"), r)
    d = Ctl(H, port)
    check("data connection: 220 greeting first", d.greeting.startswith("220"), d.greeting)
    r = d.cmd("SPDT " + ident)
    check("SPDT <bracket contents> -> 200", r.startswith("200"), r)
    c.cmd("RETR f.bin")
    got = d.read_all()
    check("RETR over the SPDT data connection: byte-identical", got == want, f"{len(got)} bytes")
    check("226 after the transfer", c.reply().startswith("226"))
    d.close()
    # the bare token is accepted too
    tok = token_of(c.cmd("SPSV"))
    d = Ctl(H, port)
    check("SPDT <bare token> -> 200 DATA", d.cmd("SPDT " + tok) == "200 DATA")
    c.cmd("RETR f.bin")
    check("and its transfer is byte-identical", d.read_all() == want and c.reply().startswith("226"))
    d.close()
    # used twice
    d = Ctl(H, port)
    r = d.cmd("SPDT " + tok)
    check("a token used twice: 504 and closed", r.startswith("504") and d.closed(), r)
    # unknown token
    d = Ctl(H, port)
    r = d.cmd("SPDT DATACONN:" + "A" * 20)
    check("an unknown token: 504 and closed", r.startswith("504") and d.closed(), r)
    # another client address
    r = c.cmd("SPSV")
    d = Ctl(H, port, src="127.0.0.3")
    r2 = d.cmd("SPDT " + identifier(r))
    check("a token shown from another address: 504", r2.startswith("504"), r2)
    d = Ctl(H, port)
    check("... and it still works from the client's own", d.cmd("SPDT " + identifier(r)).startswith("200"))
    c.cmd("ABOR")
    d.close()
    # SPDT is a first command only
    x = Ctl(H, port)
    x.cmd("USER u001")
    r = x.cmd("SPDT " + identifier(c.cmd("SPSV")))
    check("SPDT after USER: 503", r.startswith("503"), r)
    r = c.cmd("SPDT abc")
    check("SPDT on a logged-in session: 503", r.startswith("503"), r)
    x.close()
    c.cmd("QUIT")
    return tok


def ferry_ftp_spdt(port, root, want):
    h = subprocess.run([ferry_ftp, "--help"], capture_output=True, timeout=30)
    if b"--spsv-form" not in h.stdout + h.stderr:
        print("# ferry-ftp of this tree has no --spsv-form yet: raw SPDT only")
        return
    out = os.path.join(tempdir("ferry-spdt-"), "got")
    r = subprocess.run([ferry_ftp, "-q", "-t", "10", "-u", "u001:xyz", "--spsv-form", "spdt",
                        f"{H}:{port}", "get", "/f.bin", out], capture_output=True, timeout=120)
    check("ferry-ftp --spsv-form spdt get: exit 0 and byte-identical",
          r.returncode == 0 and open(out, "rb").read() == want, r.stderr.decode())


def main():
    root = tempdir("ferry-spdt-root-")
    want = os.urandom(300000)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(want)
    ftp = {"users": [{"name": "u001", "password": crypt_hash("xyz"), "root": root}],
           "max_login_failures": 1000, "login_delay_ms": 0}
    d = Ferryd(ferryd_bin, ftp, workers=2, level=4)
    try:
        tok = g3_exchange(d.port, want)
        ferry_ftp_spdt(d.port, root, want)
        time.sleep(0.2)
        log = d.logtext()
        check("no token in the debug log", tok not in log)
    finally:
        rc, clean = d.stop()
    check("ferryd stopped cleanly, sanitizers quiet", clean, d.logtext()[-2000:])


t.run("spdt", main)
t.finish()
