"""test_ftps.py — explicit FTPS (RFC 4217, AUTH TLS) on ferryd's control
connection with real clients: curl --ftp-ssl-control, lftp and Python's
ftplib.FTP_TLS, TLS 1.2 and 1.3, files compared byte for byte; the policy
(ftp.tls.required: 530 before AUTH); and hostile input: garbage instead of a
ClientHello, a handshake that never finishes, AUTH twice, PBSZ/PROT before
AUTH, CCC refused. PROT P data connections are tested in test_ftps_data.py.
Certificates are made here."""
import ftplib
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, Ferryd, clear_login, crypt_hash, lftp_ftps, read_reply,  # noqa: E402
                  recv_until_close, reply_text, retr_bytes, seconds_to_close, self_signed,
                  tempdir, tls_ctx)
from ftpd import run_client as run  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check
PW = "tls-s3cret"


def ftplib_tests(d, root, work):
    data = os.urandom(3 << 20)
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = ftplib.FTP_TLS(context=tls_ctx(ver), timeout=20)
        f.connect("127.0.0.1", d.port)
        f.auth()
        check(f"ftplib {name}: AUTH TLS negotiated {name}",
              f.sock.version() == ("TLSv1.2" if ver == ssl.TLSVersion.TLSv1_2 else "TLSv1.3"),
              f.sock.version())
        f.login("alice", PW)
        check(f"ftplib {name}: PWD in TLS", f.pwd() == "/")
        feat = f.sendcmd("FEAT")
        check(f"ftplib {name}: FEAT lists AUTH TLS, PBSZ, PROT",
              all(x in feat for x in ("AUTH TLS", "PBSZ", "PROT")), feat)
        resp = f.sendcmd("PBSZ 0")
        check(f"ftplib {name}: PBSZ 0", resp.startswith("200"), resp)
        resp = f.prot_p()
        check(f"ftplib {name}: PROT P accepted", resp.startswith("200"), resp)
        r = reply_text(f.sendcmd, "PROT S")
        check(f"ftplib {name}: PROT S refused with 536", r.startswith("536"), r)
        f.prot_c()
        f.storbinary(f"STOR up-{ver.name}.bin", __import__("io").BytesIO(data))
        with open(os.path.join(root, f"up-{ver.name}.bin"), "rb") as fh:
            check(f"ftplib {name}: STOR (PROT C) bytes equal", fh.read() == data)
        got = retr_bytes(f, f"up-{ver.name}.bin")
        check(f"ftplib {name}: RETR (PROT C) bytes equal", bytes(got) == data)
        r = reply_text(f.sendcmd, "CCC")
        check(f"ftplib {name}: CCC refused with 534", r.startswith("534"), r)
        resp = f.sendcmd("NOOP")
        check(f"ftplib {name}: still in TLS after CCC", resp.startswith("200"), resp)
        r = reply_text(f.sendcmd, "AUTH TLS")
        check(f"ftplib {name}: AUTH TLS twice refused with 503", r.startswith("503"), r)
        f.quit()


def curl_tests(d, root, work):
    src = os.path.join(root, "curl.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(1 << 20))
    out = os.path.join(work, "curl.bin")
    url = f"ftp://alice:{PW}@127.0.0.1:{d.port}"
    r = run(["curl", "-sS", "-v", "--ftp-ssl-control", "-k", "-o", out, f"{url}/curl.bin"])
    err = r.stderr.decode(errors="replace")
    check("curl --ftp-ssl-control get", r.returncode == 0 and open(out, "rb").read() == open(src, "rb").read())
    check("curl saw AUTH TLS and a TLS handshake",
          ("AUTH TLS" in err or "AUTH SSL" in err) and ("SSL connection using" in err or "TLS" in err), err[-800:])
    up = os.path.join(work, "curl-up.bin")
    with open(up, "wb") as f:
        f.write(os.urandom(300000))
    r = run(["curl", "-sS", "--ftp-ssl-control", "-k", "-T", up, f"{url}/curl-up.bin"])
    check("curl --ftp-ssl-control put", r.returncode == 0 and
          open(os.path.join(root, "curl-up.bin"), "rb").read() == open(up, "rb").read())
    # --ssl-reqd: PROT P (test_ftps_data.py covers it fully)
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "-o", out + ".p", f"{url}/curl.bin"])
    check("curl --ssl-reqd (PROT P) get", r.returncode == 0 and
          open(out + ".p", "rb").read() == open(src, "rb").read())


def lftp_tests(d, root, work):
    out = os.path.join(work, "lftp.bin")
    r = run(lftp_ftps(d.port, "127.0.0.1", f"alice,{PW}", f"get curl.bin -o {out}; put "
                      + os.path.join(root, "curl.bin") + " -o lftp-up.bin; bye", protect_data=False))
    check("lftp ftp:ssl-force get", r.returncode == 0 and
          open(out, "rb").read() == open(os.path.join(root, "curl.bin"), "rb").read())
    check("lftp ftp:ssl-force put", r.returncode == 0 and
          open(os.path.join(root, "lftp-up.bin"), "rb").read() ==
          open(os.path.join(root, "curl.bin"), "rb").read())


def hostile_tests(d):
    # PBSZ / PROT before AUTH
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    read_reply(s)
    s.sendall(b"PBSZ 0\r\n")
    check("PBSZ before AUTH: 503", read_reply(s).startswith("503"))
    s.sendall(b"PROT P\r\n")
    check("PROT before AUTH: 503", read_reply(s).startswith("503"))
    s.sendall(b"AUTH KERBEROS\r\n")
    check("AUTH KERBEROS: 504", read_reply(s).startswith("504"))
    # Garbage instead of a ClientHello: the connection is closed, bounded.
    s.sendall(b"AUTH TLS\r\n")
    check("AUTH TLS: 234", read_reply(s).startswith("234"))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
    t0 = time.time()
    rest = recv_until_close(s, 10)
    check("garbage instead of ClientHello: closed", time.time() - t0 < 9,
          f"{time.time() - t0:.1f}s")
    check("garbage: no plain text reply after 234", b"500" not in rest and b"502" not in rest, rest[:80])
    s.close()
    # Commands pipelined after AUTH TLS are dropped, never run in clear.
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    read_reply(s)
    s.sendall(b"AUTH TLS\r\nUSER alice\r\n")
    line = read_reply(s)
    check("pipelined after AUTH: only 234", line.startswith("234") and "331" not in line, line)
    ss = tls_ctx().wrap_socket(s)
    ss.sendall(b"NOOP\r\n")
    line = read_reply(ss)
    check("pipelined USER was dropped (NOOP answered next)", line.startswith("200"), line)
    ss.close()
    # A handshake that never finishes: closed by the login timeout.
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    read_reply(s)
    s.sendall(b"AUTH TLS\r\n")
    read_reply(s)
    s.sendall(b"\x16\x03\x01\x00\x80")   # a record header and nothing more
    took = seconds_to_close(s, 20)
    check("stalled handshake closed by login_timeout", took < 15, f"{took:.1f}s")
    s.close()


def required_tests(binary, root, cert, key):
    ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}],
           "tls": {"cert": cert, "key": key, "required": True}}
    with Ferryd(binary, ftp, workers=1) as d:
        r = clear_login(d.port, "alice", PW)
        check("required: USER before AUTH gets 530", r.startswith("530"), r)
        f = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        f.connect("127.0.0.1", d.port)
        f.login("alice", PW)   # AUTH TLS first
        check("required: login after AUTH TLS", f.pwd() == "/")
        resp = f.sendcmd("SPSV")
        token = resp[resp.index("DATACONN:") + 9:].rstrip(")").split(")")[0]
        # A DATACONN login is a data connection: exempt, in clear.
        s = socket.create_connection(("127.0.0.1", d.port), 5)
        read_reply(s)
        s.sendall(b"USER DATACONN\r\n")
        check("required: USER DATACONN without AUTH gets 331", read_reply(s).startswith("331"))
        s.close()
        # DATACONN inside TLS without resuming the control session: 522
        # (ftp.tls.require_reuse; test_ftps_data.py covers SPSV over TLS).
        g = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        g.connect("127.0.0.1", d.port)
        g.auth()
        g.sendcmd("USER DATACONN")
        r = reply_text(g.sendcmd, "PASS " + token)
        check("required: DATACONN in TLS without resumption gets 522", r.startswith("522"), r)
        g.close()
        f.quit()


def config_tests(binary, work, cert, key, other_key):
    import json
    conf = os.path.join(work, "bad.json")
    with open(conf, "w") as f:
        json.dump({"allow_root": True, "ftp": {"listen": ["127.0.0.1:2121"],
                   "anonymous": {"root": work}, "tls": {"cert": cert, "key": other_key}}}, f)
    r = run([binary, "--check-config", "-f", conf])
    check("--check-config: key of another certificate refused", r.returncode != 0 and
          b"does not belong" in r.stdout + r.stderr, (r.stdout + r.stderr)[-300:])
    with open(conf, "w") as f:
        json.dump({"allow_root": True, "ftp": {"listen": ["127.0.0.1:2121"],
                   "anonymous": {"root": work}, "tls": {"cert": cert, "key": key}}}, f)
    r = run([binary, "--check-config", "-f", conf])
    check("--check-config: a good pair passes", r.returncode == 0, (r.stdout + r.stderr)[-300:])


def main():
    root = tempdir("ferry-ftps-")
    work = tempdir("ferry-ftps-work-")
    keys = tempdir("ferry-ftps-keys-")
    cert, key = self_signed(keys, "ec")
    rcert, rkey = self_signed(keys, "rsa", rsa=True)
    config_tests(ferryd_bin, work, cert, key, rkey)
    ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}],
           "login_timeout": 3, "max_login_failures": 1000,
           "tls": {"cert": rcert, "key": rkey}}
    d = Ferryd(ferryd_bin, ftp, workers=2)
    try:
        t.run("ftplib", ftplib_tests, d, root, work)
        t.run("curl", curl_tests, d, root, work)
        t.run("lftp", lftp_tests, d, root, work)
        t.run("hostile", hostile_tests, d)
    finally:
        code, clean = d.stop()
        check("ferryd exits on SIGTERM (0 or 6, interrupted)", code in (0, 6), str(code))
        check("sanitizers quiet", clean, d.logtext()[-2000:])
    t.run("required", required_tests, ferryd_bin, root, cert, key)
    t.finish()


main()
