"""test_ftps_data.py — PROT P data connections (RFC 4217) on ferryd with real
clients: curl --ssl-reqd (PASV, EPSV, PORT; two RETRs and two STORs on one
control connection, whose TLS 1.3 tickets OpenSSL uses once), lftp (ftp:ssl-protect-data,
passive and active, verifying against a test CA), Python's ftplib.FTP_TLS as
it is (no session passed to the data connection) and a subclass that passes
session=, SPSV and SPDT over TLS, gnutls-cli (a second TLS stack), each with
the resumption check (ftp.tls.require_reuse) on and off; 5 MB files compared
byte for byte; ABOR during a TLS transfer, close_notify, a client that drops
TLS mid-upload, an uploading client that closes on the server's first bytes
(no session ticket after the handshake), the ftp.tls.data policy; hostile
input: a data handshake that never finishes, garbage instead of a
ClientHello, AUTH twice, PBSZ/PROT before AUTH, a TLS 1.2 renegotiation,
10,000 half-open handshakes. The CA and certificates are made here with
openssl and removed afterwards."""
import ftplib
import io
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, Ferryd, SessionFTP, clear_login, crypt_hash, ftps_session, lftp_ftps,  # noqa: E402
                  read_reply, recv_to_eof, reply_text, retr_bytes, same_bytes, same_files,
                  tempdir, tls_bio_upload, tls_ctx, wait_for)
from ftpd import run_client as run  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check
PW = "prot-p-s3cret"
TABLE = {}          # (client, reuse on/off) -> result text


def make_ca(d):
    """A test CA and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, cert = (os.path.join(d, n) for n in ("srv.key", "srv.csr", "srv.crt"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    assert run(["openssl", "req", "-x509", "-nodes", *ec, "-keyout", ca_key, "-out", ca,
                "-days", "2", "-subj", "/CN=ferry test CA"]).returncode == 0
    assert run(["openssl", "req", "-new", "-nodes", *ec, "-keyout", key, "-out", csr,
                "-subj", "/CN=127.0.0.1"]).returncode == 0
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    assert run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]).returncode == 0
    return ca, cert, key


def login(d, cls=SessionFTP, version=None, pasv=True):
    return ftps_session(d.port, "alice", PW, cls, version, pasv)


def record(client, reuse, ok, detail=""):
    """ok: the client transferred; else detail says what happened (a
    refusal the check is there for, or a client's own bug)."""
    TABLE[(client, reuse)] = ("works" if ok else "no") + (f": {detail}" if detail else "")


# ---- clients ------------------------------------------------------------------

def curl_tests(d, root, work, reuse):
    big = os.path.join(root, "big.bin")
    url = f"ftp://alice:{PW}@127.0.0.1:{d.port}"
    results = []
    for name, extra in (("PASV", ["--disable-epsv"]), ("EPSV", [])):
        out = os.path.join(work, f"curl-{name}.bin")
        r = run(["curl", "-sS", "--ssl-reqd", "-k", *extra, "-o", out, f"{url}/big.bin"])
        ok = r.returncode == 0 and same_files(out, big)
        check(f"curl --ssl-reqd {name} RETR 5 MB (reuse {reuse})", ok)
        up = f"curl-up-{name}.bin"
        r = run(["curl", "-sS", "--ssl-reqd", "-k", *extra, "-T", big, f"{url}/{up}"])
        ok2 = r.returncode == 0 and same_files(os.path.join(root, up), big)
        check(f"curl --ssl-reqd {name} STOR 5 MB (reuse {reuse})", ok2)
        results.append(ok and ok2)
    r = run(["curl", "-sS", "--ssl-reqd", "-k", f"{url}/"])
    check(f"curl --ssl-reqd LIST (reuse {reuse})", r.returncode == 0 and b"big.bin" in r.stdout,
          r.stdout[-300:])
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "-l", f"{url}/"])
    check(f"curl --ssl-reqd NLST (reuse {reuse})", r.returncode == 0 and b"big.bin" in r.stdout)
    # REST+RETR: the second half of the file
    out = os.path.join(work, "curl-rest.bin")
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "-r", "2500000-", "-o", out, f"{url}/big.bin"])
    with open(big, "rb") as f:
        tail = f.read()[2500000:]
    check(f"curl --ssl-reqd REST+RETR (reuse {reuse})",
          r.returncode == 0 and open(out, "rb").read() == tail)
    # APPE and REST+STOR (-C -): a file completed in two steps
    part = os.path.join(work, "half.bin")
    with open(big, "rb") as f, open(part, "wb") as g:
        g.write(f.read()[:1000000])
    name = f"appe-{reuse}.bin"
    r1 = run(["curl", "-sS", "--ssl-reqd", "-k", "-T", part, f"{url}/{name}"])
    r2 = run(["curl", "-sS", "--ssl-reqd", "-k", "-C", "-", "-T", big, f"{url}/{name}"])
    check(f"curl --ssl-reqd REST+STOR completes a file (reuse {reuse})",
          r1.returncode == 0 and r2.returncode == 0 and same_files(os.path.join(root, name), big))
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "--append", "-T", part, f"{url}/{name}"])
    with open(big, "rb") as f:
        want = f.read() + open(part, "rb").read()
    check(f"curl --ssl-reqd APPE (reuse {reuse})", r.returncode == 0 and
          open(os.path.join(root, name), "rb").read() == want)
    # Several transfers on one control connection, TLS 1.3: OpenSSL's
    # client cache (so curl's) uses a ticket once, and data connections
    # send none: each resumes the ticket the control connection gave after
    # the data connection before it.
    outs = [os.path.join(work, f"curl-two-{i}.bin") for i in (1, 2)]
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "--tlsv1.3", "-o", outs[0], f"{url}/big.bin",
             "-o", outs[1], f"{url}/big.bin"])
    check(f"curl --ssl-reqd TLS 1.3: two RETRs on one control connection (reuse {reuse})",
          r.returncode == 0 and all(same_files(o, big) for o in outs), r.stderr[-300:])
    ups = [f"curl-two-up-{reuse}-{i}.bin" for i in (1, 2)]
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "--tlsv1.3", "-T", part, f"{url}/{ups[0]}",
             "-T", part, f"{url}/{ups[1]}"])
    check(f"curl --ssl-reqd TLS 1.3: two STORs on one control connection (reuse {reuse})",
          r.returncode == 0 and all(same_files(os.path.join(root, u), part) for u in ups),
          r.stderr[-300:])
    record("curl --ssl-reqd (PASV, EPSV)", reuse, all(results))
    # Active mode: curl 7.87 to 7.88 never starts TLS on an active data
    # connection (curl/curl#10666, fixed in 8.0): run it only where fixed.
    ver = run(["curl", "--version"]).stdout.decode().split()[1]
    if tuple(int(x) for x in re.findall(r"\d+", ver)[:2]) >= (8, 0):
        out = os.path.join(work, "curl-port.bin")
        r = run(["curl", "-sS", "--ssl-reqd", "-k", "-P", "-", "-o", out, f"{url}/big.bin"])
        ok = r.returncode == 0 and same_files(out, big)
        check(f"curl --ssl-reqd -P - (PORT/EPRT) RETR (reuse {reuse})", ok)
        record("curl --ssl-reqd -P - (active)", reuse, ok)
    else:
        record("curl --ssl-reqd -P - (active)", reuse, False,
               f"not run: curl {ver} bug #10666")


def lftp_tests(d, root, work, reuse, ca):
    big = os.path.join(root, "big.bin")
    ok_all = True
    for passive in ("on", "off"):
        out = os.path.join(work, f"lftp-{passive}.bin")
        up = f"lftp-up-{passive}-{reuse}.bin"
        r = run(lftp_ftps(d.port, "127.0.0.1", f"alice,{PW}",
                          f"get big.bin -o {out}; put {big} -o {up}; cls -1; bye", ca=ca,
                          settings=f"set net:timeout 15; set ftp:passive-mode {passive}; "), timeout=120)
        ok = r.returncode == 0 and same_files(out, big) and same_files(os.path.join(root, up), big)
        check(f"lftp PROT P passive={passive} get+put 5 MB, CA verified (reuse {reuse})", ok,
              r.stderr[-300:])
        check(f"lftp PROT P passive={passive} listing (reuse {reuse})",
              b"big.bin" in r.stdout, r.stdout[-200:])
        ok_all = ok_all and ok
    record("lftp (passive and active)", reuse, ok_all)


def ftplib_tests(d, root, work, reuse):
    big = os.path.join(root, "big.bin")
    data = open(big, "rb").read()
    # ftplib as it is: the data connection is a new TLS session.
    outcome = []
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = login(d, ftplib.FTP_TLS, ver)
        got = bytearray()
        try:
            f.retrbinary("RETR big.bin", got.extend)
            ok = bytes(got) == data
            outcome.append(f"{name} ok")
        except (ftplib.Error, ssl.SSLError, OSError) as e:
            ok = False
            outcome.append(f"{name}: {str(e)[:60]}")
        if reuse == "on":
            check(f"ftplib prot_p without session, {name}: refused by the reuse check", not ok)
            try:
                resp = f.getresp() if not ok and not got else ""
            except (ftplib.Error, OSError) as e:
                resp = str(e)
            if resp:
                check(f"ftplib prot_p without session, {name}: 522 on the control connection",
                      resp.startswith("522"), resp)
            check(f"ftplib without session, {name}: session still usable",
                  f.sendcmd("NOOP").startswith("200"))
        else:
            check(f"ftplib prot_p without session, {name}: RETR bytes equal (reuse off)", ok)
        f.close()
    record("ftplib.FTP_TLS prot_p (no session=)", reuse, reuse == "off" and
           all(o.endswith("ok") for o in outcome),
           "522, client raises SSL SHUTDOWN_WHILE_IN_INIT" if reuse == "on" else "")
    # The subclass that passes session=: every transfer kind.
    ok_all = True
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3),
                      ("active TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = login(d, SessionFTP, ver, pasv=not name.startswith("active"))
        # TLS 1.3: the ticket went out with the handshake's last flight, so
        # the client holds it once it has read the replies to its login.
        sess = f.sock.session
        check(f"ftplib {name}: a resumable session before the first data connection",
              sess is not None and (sess.has_ticket or ver == ssl.TLSVersion.TLSv1_2),
              repr(sess))
        fn = f"py-{ver.name}-{reuse}-{len(name)}.bin"
        f.storbinary(f"STOR {fn}", io.BytesIO(data))
        ok = same_files(os.path.join(root, fn), big)
        check(f"ftplib session= {name}: STOR 5 MB bytes equal (reuse {reuse})", ok)
        got = retr_bytes(f, fn)
        ok = ok and bytes(got) == data
        check(f"ftplib session= {name}: RETR 5 MB bytes equal (reuse {reuse})", bytes(got) == data)
        f.sendcmd("REST 4000000")
        got = retr_bytes(f, fn)
        check(f"ftplib session= {name}: REST+RETR", bytes(got) == data[4000000:])
        names = f.nlst()
        check(f"ftplib session= {name}: NLST", fn in names, names)
        lines = []
        f.retrlines("LIST", lines.append)
        check(f"ftplib session= {name}: LIST", any(fn in x for x in lines))
        facts = dict(f.mlsd())
        check(f"ftplib session= {name}: MLSD", fn in facts)
        f.storlines(f"STOR {fn}.txt", io.BytesIO(b"one\ntwo\r\nthree\n" * 20000))
        check(f"ftplib session= {name}: ASCII STOR in TLS",
              open(os.path.join(root, fn + ".txt"), "rb").read() == b"one\ntwo\nthree\n" * 20000)
        text = []
        f.retrlines(f"RETR {fn}.txt", text.append)
        check(f"ftplib session= {name}: ASCII RETR in TLS", text == ["one", "two", "three"] * 20000,
              len(text))
        f.quit()
        ok_all = ok_all and ok
    record("ftplib FTP_TLS + session= (subclass)", reuse, ok_all)


class OtherSessionFTP(SessionFTP):
    """Offers another control connection's session on data connections."""
    other = None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                        session=self.other or self.sock.session)
        return conn, size


def origin_tests(d, root, reuse):
    """TLS 1.2: a data connection must resume its own control connection's
    session (the session's master secret is compared, crypto_tls_resumed_from);
    another one's, of the same server, is refused."""
    data = open(os.path.join(root, "big.bin"), "rb").read()
    a = login(d, OtherSessionFTP, ssl.TLSVersion.TLSv1_2)
    b = SessionFTP(context=a.context, timeout=20)    # sessions of one context
    b.connect("127.0.0.1", d.port)
    b.login("alice", PW)
    a.other = b.sock.session
    got = bytearray()
    try:
        a.retrbinary("RETR big.bin", got.extend)
        ok, resp = True, ""
    except (ftplib.Error, ssl.SSLError, OSError) as e:
        ok, resp = False, str(e)
        try:
            resp = a.getresp() if not resp.startswith("522") else resp
        except (ftplib.Error, OSError) as e2:
            resp = str(e2)
    if reuse == "on":
        check("TLS 1.2: a data connection resuming another control connection's session: 522",
              not ok and resp.startswith("522"), resp)
    else:
        check("TLS 1.2: another control connection's session: accepted (reuse off)",
              ok and bytes(got) == data)
    a.other = None
    got = retr_bytes(a, "big.bin")
    check(f"TLS 1.2: ... its own session: RETR bytes equal (reuse {reuse})", bytes(got) == data)
    a.quit()
    b.quit()


def spsv_tests(d, root, work, reuse):
    """The CONTRACT order: new connection, 220, AUTH TLS, 234, handshake
    offering the control session, USER DATACONN/PASS (or SPDT), data."""
    big = os.path.join(root, "big.bin")
    data = open(big, "rb").read()
    results = {}
    for form in ("USER/PASS", "SPDT"):
        for offer in (True, False):
            f = login(d, SessionFTP)
            resp = f.sendcmd("SPSV")
            token = resp[resp.index("DATACONN:") + 9:].split(")")[0]
            s = socket.create_connection(("127.0.0.1", d.port), 10)
            sf = s.makefile("rb")
            greet = sf.readline()
            s.sendall(b"AUTH TLS\r\n")
            auth = sf.readline()
            ss = f.context.wrap_socket(s, session=f.sock.session if offer else None)
            sf = ss.makefile("rb")
            if form == "SPDT":
                ss.sendall(f"SPDT DATACONN:{token}\r\n".encode())
            else:
                ss.sendall(b"USER DATACONN\r\n")
                sf.readline()
                ss.sendall(f"PASS {token}\r\n".encode())
            reply = sf.readline().decode(errors="replace")
            what = f"SPSV over TLS, {form}, {'session offered' if offer else 'no session'}"
            check(f"{what}: 220 then 234", greet.startswith(b"220") and auth.startswith(b"234"))
            if reuse == "on" and not offer:
                check(f"{what}: refused with 522 (reuse on)", reply.startswith("522"), reply)
                results[(form, offer)] = reply.startswith("522")
                ss.close()
                f.close()
                continue
            check(f"{what}: 200 DATA", reply.startswith("200"), reply)
            f.voidcmd("TYPE I")
            if offer:        # upload then download
                f.putcmd("STOR spsv-tls.bin")
                r150 = f.getresp()
                ss.sendall(data)
                ss.unwrap().close()
                r226 = f.getresp()
                ok = r150.startswith("150") and r226.startswith("226") and \
                    same_files(os.path.join(root, "spsv-tls.bin"), big)
                check(f"{what}: STOR 5 MB, 226 after close_notify, bytes equal", ok, r226)
            else:
                f.putcmd("RETR big.bin")
                f.getresp()
                got = recv_to_eof(ss)
                r226 = f.getresp()
                ok = got == data and r226.startswith("226")
                check(f"{what}: RETR 5 MB bytes equal", ok, r226)
                ss.close()
            results[(form, offer)] = ok
            f.quit()
    # The transfer command first, the DATACONN login after (another worker
    # may adopt it later than the command arrives): the transfer waits.
    f = login(d, SessionFTP)
    f.voidcmd("TYPE I")
    resp = f.sendcmd("SPSV")
    token = resp[resp.index("DATACONN:") + 9:].split(")")[0]
    f.putcmd("RETR big.bin")
    r150 = f.getresp()
    time.sleep(0.3)
    s = socket.create_connection(("127.0.0.1", d.port), 10)
    sf = s.makefile("rb")
    sf.readline()
    s.sendall(b"AUTH TLS\r\n")
    sf.readline()
    ss = f.context.wrap_socket(s, session=f.sock.session)
    sf = ss.makefile("rb")
    ss.sendall(f"SPDT {token}\r\n".encode())
    login_reply = sf.readline()
    got = recv_to_eof(ss)
    r226 = f.getresp()
    check(f"SPSV over TLS: RETR before the DATACONN login waits, then bytes equal (reuse {reuse})",
          r150.startswith("150") and login_reply.startswith(b"200") and got == data
          and r226.startswith("226"), (r150, login_reply, len(got), r226))
    ss.close()
    f.quit()
    record("SPSV/SPDT over TLS, session offered", reuse,
           results.get(("USER/PASS", True), False) and results.get(("SPDT", True), False))
    record("SPSV over TLS, no session offered", reuse, reuse == "off" and
           results.get(("USER/PASS", False), False) and results.get(("SPDT", False), False),
           "522 at the DATACONN login" if reuse == "on" else "")


def gnutls_tests(d, root, work, reuse):
    """gnutls-cli: AUTH TLS on the control connection (--starttls-proto=ftp),
    and the data connection of a PASV transfer (no session to offer)."""
    log = os.path.join(work, "gnutls.log")
    out = os.path.join(work, "gnutls.out")
    with open(out, "wb") as fo:
        p = subprocess.Popen(["gnutls-cli", "--insecure", "--starttls-proto=ftp", "-p",
                              str(d.port), f"--logfile={log}", "127.0.0.1"],
                             stdin=subprocess.PIPE, stdout=fo, stderr=subprocess.STDOUT)
        for line in ("USER alice", f"PASS {PW}", "PWD", "QUIT"):
            p.stdin.write(f"{line}\r\n".encode())
            p.stdin.flush()
            wait_for(lambda: open(out, "rb").read().count(b"\r\n") >= 0, 1)
            time.sleep(0.3)
        wait_for(lambda: b"221" in open(out, "rb").read(), 10)
        try:
            p.stdin.close()
            p.wait(10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            p.kill()
            p.wait()
    text = open(out, "rb").read().decode(errors="replace")
    hs = "Handshake was completed" in open(log, errors="replace").read()
    check(f"gnutls-cli --starttls-proto=ftp: handshake, login, PWD (reuse {reuse})",
          hs and "230" in text and "257" in text, text[-300:])
    check("gnutls-cli: the server ends with close_notify (no 'non-properly terminated')",
          "221" in text and "non-properly" not in text, text[-200:])
    record("gnutls-cli control (AUTH TLS)", reuse, hs and "230" in text)
    # The data connection from gnutls-cli (a new session: nothing to resume).
    f = login(d, SessionFTP)
    f.voidcmd("TYPE I")
    host, port = ftplib.parse227(f.sendcmd("PASV"))
    out = os.path.join(work, "gnutls-data.bin")
    with open(out, "wb") as fo:
        p = subprocess.Popen(["gnutls-cli", "--insecure", "-p", str(port),
                              f"--logfile={log}.d", "127.0.0.1"],
                             stdin=subprocess.PIPE, stdout=fo, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(log + ".d") and
                 "Handshake" in open(log + ".d", errors="replace").read(), 10)
        f.putcmd("RETR big.bin")
        replies = [f.getresp()]
        try:
            replies.append(f.getresp())
        except ftplib.Error as e:
            replies.append(str(e))
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    ok = same_files(out, os.path.join(root, "big.bin"))
    if reuse == "on":
        check("gnutls-cli data connection without resumption: 522 (reuse on)",
              not ok and any(x.startswith("522") for x in replies), replies)
        record("gnutls-cli data connection (new session)", reuse, False, "522: not resumed")
    else:
        check("gnutls-cli data connection: RETR 5 MB bytes equal (reuse off)", ok, replies)
        record("gnutls-cli data connection (new session)", reuse, ok)
    f.quit()


# ---- transfers that end badly -------------------------------------------------

def abort_tests(d, root):
    f = login(d, SessionFTP)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR huge.bin")
    first = conn.recv(65536)
    time.sleep(0.3)                # the server blocks on the unread data
    f.putline("ABOR")
    r1 = f.getline()
    r2 = f.getline() if r1.startswith("426") else ""
    conn.close()
    check("ABOR during a TLS download: 426 then 226", r1.startswith("426") and
          r2.startswith("226"), (r1, r2))
    check("ABOR: bytes had flowed", len(first) > 0)
    got = retr_bytes(f, "big.bin")
    check("after ABOR: the next TLS transfer works",
          bytes(got) == open(os.path.join(root, "big.bin"), "rb").read())
    # close_notify at the end of a download: Python's recv returns b"" only
    # after one (an EOF without it raises SSLEOFError).
    conn = f.transfercmd("RETR big.bin")
    n = 0
    clean = True
    try:
        n = len(recv_to_eof(conn))
    except ssl.SSLError:
        clean = False
    f.voidresp()
    check("download ends with the server's close_notify", clean and n == 5 << 20, n)
    conn.close()
    # A client that drops TLS mid-upload (TCP close, no close_notify): 426,
    # and the atomic upload's temporary file is not renamed into place.
    conn = f.transfercmd("STOR dropped.bin")
    conn.sendall(os.urandom(1 << 20))
    conn.close()                   # no unwrap: no close_notify
    resp = f.getline()
    check("upload without close_notify: 426", resp.startswith("426"), resp)
    check("upload without close_notify: no file in place",
          not os.path.exists(os.path.join(root, "dropped.bin")))
    check("upload without close_notify: temporary file removed",
          wait_for(lambda: not [x for x in os.listdir(root) if ".ferry-" in x], 10),
          os.listdir(root))
    # Reset mid-upload (RST): 426 as well.
    conn = f.transfercmd("STOR reset.bin")
    conn.sendall(os.urandom(1 << 20))
    raw = socket.socket(fileno=os.dup(conn.fileno()))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()
    conn.close()
    resp = f.getline()
    check("upload reset mid-way: 426", resp.startswith("426"), resp)
    check("upload reset: no file in place", not os.path.exists(os.path.join(root, "reset.bin")))
    check("session still usable after failed uploads", f.sendcmd("NOOP").startswith("200"))
    f.quit()


def late_ticket_tests(d, root):
    """An uploading client that does not read its data connection until its
    close_notify (curl reads once, right before it) and closes it while
    something the server sent is unread, or arrives after: the client's
    kernel resets the connection, and what it had not sent yet is lost. A
    TLS 1.3 session ticket sent after the handshake was such bytes: under
    load it came after curl's last read, and curl's implicit-FTPS upload got
    426. The server sends nothing on an upload's data connection before its
    own close_notify, which answers the client's once the file is whole."""
    data = os.urandom(2 << 20)
    for name, ver in (("TLS 1.3", ssl.TLSVersion.TLSv1_3), ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
        f = login(d, SessionFTP, ver)
        f.voidcmd("TYPE I")
        fn = f"unread-{ver.name}.bin"
        resp, came = tls_bio_upload(f, f"STOR {fn}", data)
        check(f"{name}: an upload whose client closes on the server's first bytes: 226",
              resp.startswith("226"), resp)
        check(f"{name}: ... bytes equal", same_bytes(os.path.join(root, fn), data))
        check(f"{name}: ... the server's close_notify came", came)
        check(f"{name}: ... session still usable", f.sendcmd("NOOP").startswith("200"))
        # The client's Finished, a small file, close_notify and FIN at once:
        # all of it arrives while the server's handshake job still runs.
        small = data[:5000]
        resp, _ = tls_bio_upload(f, f"STOR burst-{fn}", small, burst=True)
        check(f"{name}: Finished, file, close_notify and FIN in one burst: 226",
              resp.startswith("226"), resp)
        check(f"{name}: ... bytes equal", same_bytes(os.path.join(root, "burst-" + fn), small))
        f.quit()


def policy_tests(binary, root, cert, key):
    ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}],
           "tls": {"cert": cert, "key": key, "policy": "data"}}
    with Ferryd(binary, ftp, workers=2) as d:
        r = clear_login(d.port, "alice", PW)
        check("data required: USER before AUTH gets 530", r.startswith("530"), r)
        f = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        f.connect("127.0.0.1", d.port)
        f.login("alice", PW)
        f.sendcmd("PBSZ 0")
        r = reply_text(f.sendcmd, "PROT C")
        check("data required: PROT C refused with 534", r.startswith("534"), r)
        r = reply_text(f.retrbinary, "RETR big.bin", lambda b: None)
        check("data required: RETR without PROT P gets 521", r.startswith("521"), r)
        r = reply_text(f.nlst)
        check("data required: NLST without PROT P gets 521", r.startswith("521"), r)
        f.quit()
        f = login(d, SessionFTP)
        check("data required: PROT P transfers work", "big.bin" in f.nlst())
        f.quit()


# ---- hostile input ----------------------------------------------------------------

def hostile_tests(d, work):
    # PBSZ / PROT before AUTH; AUTH twice.
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    read_reply(s, 20)
    s.sendall(b"PBSZ 0\r\n")
    check("PBSZ before AUTH: 503", read_reply(s, 20).startswith("503"))
    s.sendall(b"PROT P\r\n")
    check("PROT before AUTH: 503", read_reply(s, 20).startswith("503"))
    s.sendall(b"AUTH TLS\r\n")
    read_reply(s, 20)
    ss = tls_ctx().wrap_socket(s)
    ss.sendall(b"AUTH TLS\r\n")
    check("AUTH TLS twice: 503", read_reply(ss, 20).startswith("503"))
    ss.close()
    # A data handshake that never finishes: 425 after data_timeout (5 s).
    for what, payload in (("never finishes", b"\x16\x03\x01\x00\x80"),
                          ("garbage instead of ClientHello", b"GET / HTTP/1.1\r\n\r\n" * 8)):
        f = login(d, SessionFTP)
        f.voidcmd("TYPE I")
        host, port = ftplib.parse227(f.sendcmd("PASV"))
        ds = socket.create_connection(("127.0.0.1", port), 5)
        ds.sendall(payload)
        t0 = time.time()
        f.putcmd("RETR big.bin")
        r = f.getline()
        if r.startswith("150"):
            r = f.getline()
        took = time.time() - t0
        want = "425" if what == "never finishes" else "522"
        check(f"data handshake {what}: {want}", r.startswith(want), r)
        check(f"data handshake {what}: bounded in time", took < 20, f"{took:.1f}s")
        ds.settimeout(10)
        try:
            while ds.recv(4096):
                pass
            closed = True
        except OSError:
            closed = True
        check(f"data handshake {what}: connection closed", closed)
        ds.close()
        check(f"data handshake {what}: session goes on", f.sendcmd("NOOP").startswith("200"))
        f.quit()
    # TLS 1.2 renegotiation (openssl s_client's R): refused with an alert,
    # the connection closes, the server serves on.
    p = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-starttls", "ftp",
                          "-connect", f"127.0.0.1:{d.port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.5)
    try:
        p.stdin.write(b"R\n")
        p.stdin.flush()
    except BrokenPipeError:
        pass
    try:
        out = p.communicate(timeout=15)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0].decode(errors="replace")
    check("TLS 1.2 renegotiation: refused with an alert, connection closed",
          "RENEGOTIATING" in out and ("alert" in out or p.returncode != 0), out[-300:])
    f = login(d, SessionFTP)
    check("after renegotiation attempt: server serves", "big.bin" in f.nlst())
    f.quit()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


HALF_OPEN = 10000          # issue 14 item 5: attempts
HALF_HELD = 3000           # max_per_address: the rest are refused at once


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))


def half_open_tests(d, root, n=HALF_OPEN):
    """n connections from 127.0.0.1 each send AUTH TLS and then only part
    of a ClientHello. max_per_address holds HALF_HELD of them (each gets
    234 and its handshake waits, bounded by login_timeout); the others get
    421 at once. Memory stays bounded, and a client from another address
    is served meanwhile."""
    raise_nofile(n + 1000)
    base = rss_kb(d.proc.pid)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"   # a ClientHello begun
    socks = []
    t0 = time.time()
    for i in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", d.port), 10)
        except OSError as e:
            print(f"# connect {i}: {e}")
            break
        s.sendall(b"AUTH TLS\r\n")
        socks.append(s)
    answered = refused = 0
    for s in socks:
        try:
            r = read_reply(s, 20)
            if r.startswith("421"):
                refused += 1
                continue
            if "234" not in r:
                r += read_reply(s, 20)
            if "234" in r:
                answered += 1
            s.sendall(hello)
        except OSError:
            pass
    took = time.time() - t0
    check(f"{n} half-open handshakes: {HALF_HELD} held (234), the rest refused (421)",
          answered == HALF_HELD and answered + refused == len(socks) == n,
          f"{answered} held, {refused} refused of {len(socks)}")
    full = rss_kb(d.proc.pid)
    f = SessionFTP(context=tls_ctx(), timeout=20)
    f.connect("127.0.0.1", d.port, source_address=("127.0.0.2", 0))
    f.login("alice", PW)
    f.prot_p()
    got = bytearray()
    t1 = time.time()
    f.retrbinary("RETR big.bin", got.extend)
    served = time.time() - t1
    check(f"while {answered} handshakes hang: a TLS transfer from another address works",
          bytes(got) == open(os.path.join(root, "big.bin"), "rb").read(), f"{served:.1f}s")
    f.quit()
    per = (full - base) / max(1, answered)
    print(f"# half-open: {len(socks)} in {took:.1f}s, {answered} held, {refused} refused; RSS "
          f"{base} -> {full} kB ({per:.1f} kB per held handshake, ASan build); a 5 MB "
          f"PROT P RETR meanwhile {served:.2f}s")
    check("half-open handshakes: memory bounded (< 200 kB each held, ASan build)", per < 200,
          f"{per:.1f} kB")
    for s in socks:
        s.close()
    def lists():
        try:
            g = login(d)
            names = g.nlst()
            g.quit()
            return "big.bin" in names
        except (OSError, ftplib.Error):
            return False
    check("half-open handshakes gone: a new session from the same address works",
          wait_for(lists, 30))


def print_table():
    clients = sorted({c for c, _ in TABLE})
    print("# client x ftp.tls.require_reuse -> result")
    print(f"# {'client':40} {'reuse on':48} reuse off")
    for c in clients:
        print(f"# {c:40} {TABLE.get((c, 'on'), '-'):48} {TABLE.get((c, 'off'), '-')}")


def main():
    root = tempdir("ferry-ftpsd-")
    work = tempdir("ferry-ftpsd-work-")
    keys = tempdir("ferry-ftpsd-keys-")
    try:
        ca, cert, key = make_ca(keys)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(5 << 20))
        with open(os.path.join(root, "huge.bin"), "wb") as f:
            f.truncate(256 << 20)      # sparse: ABOR needs a long transfer
        for reuse in ("on", "off"):
            ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root,
                              "write": True}],
                   "max_login_failures": 1000, "data_timeout": 5, "login_timeout": 60,
                   "max_sessions": HALF_HELD + 50, "max_per_address": HALF_HELD,
                   "tls": {"cert": cert, "key": key, "require_reuse": reuse == "on"}}
            d = Ferryd(ferryd_bin, ftp, workers=2)
            try:
                t.run_closing(d.proc.pid, f"curl reuse {reuse}", curl_tests, d, root, work, reuse)
                t.run_closing(d.proc.pid, f"lftp reuse {reuse}", lftp_tests, d, root, work, reuse, ca)
                t.run_closing(d.proc.pid, f"ftplib reuse {reuse}", ftplib_tests, d, root, work, reuse)
                t.run_closing(d.proc.pid, f"spsv reuse {reuse}", spsv_tests, d, root, work, reuse)
                t.run_closing(d.proc.pid, f"origin reuse {reuse}", origin_tests, d, root, reuse)
                if shutil.which("gnutls-cli"):
                    t.run_closing(d.proc.pid, f"gnutls reuse {reuse}", gnutls_tests, d, root, work, reuse)
                else:
                    check("gnutls-cli installed (gnutls-bin, contrib/deps.sh)", False)
                if reuse == "on":
                    t.run_closing(d.proc.pid, "abort", abort_tests, d, root)
                    t.run_closing(d.proc.pid, "late ticket", late_ticket_tests, d, root)
                    t.run_closing(d.proc.pid, "hostile", hostile_tests, d, work)
                    t.run_closing(d.proc.pid, "half-open", half_open_tests, d, root)
                    log = d.logtext()
                    check("the log names the reuse refusal",
                          "did not resume the control connection's TLS session" in log)
            finally:
                code, clean = d.stop()
                check(f"ferryd (reuse {reuse}) exits on SIGTERM", code in (0, 6), str(code))
                check(f"sanitizers quiet (reuse {reuse})", clean, d.logtext()[-3000:])
        t.run("policy", policy_tests, ferryd_bin, root, cert, key)
    finally:
        shutil.rmtree(keys, ignore_errors=True)
    print_table()
    t.finish()


main()
