"""test_bridge_tls.py — `ferry-ftp bridge --local-cert`: the bridge serves
explicit FTPS (and implicit with --local-implicit) to unmodified local
clients while its leg to ferryd (SPSV) is in clear or in TLS, independently.
Real clients through the bridge, files compared byte for byte both ways:
curl --ssl-reqd (PASV, EPSV; TLS 1.3 with two RETRs and two STORs on one
control connection, whose tickets OpenSSL uses once), lftp (ftp:ssl-force, the test CA verified,
passive and active), Python's ftplib.FTP_TLS with prot_p as shipped and with
session= (TLS 1.2 and 1.3, PASV and PORT), with the data connection's
resumption check on and off (--local-no-reuse); curl ftps:// (implicit);
an uploading client that closes its data connection on the bridge's first
bytes unread, and one that sends its Finished, file, close_notify and FIN
at once (the bridge's data connections send no session ticket).
Hostile input: TLS garbage toward the local listener, AUTH TLS twice,
PBSZ/PROT before AUTH — clean replies, and the bridge serves on. Without
--local-cert the bridge refuses AUTH (502) and its FEAT lists no TLS.
--local-tls-required login/data: curl without --ssl-reqd and ftplib's plain
login get 530, transfers without PROT P 521, PROT C 534. A local handshake
that never finishes (control after AUTH TLS, implicit, a trickled data
handshake) is closed after -t while another session is served meanwhile.
The CA and certificates are made here with openssl and removed afterwards."""
import ftplib
import io
import os
import select
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Bridge, Checks, Ferryd, SessionFTP, crypt_hash, ftps_session, lftp_ftps,  # noqa: E402
                  read_reply, recv_until_close, reply_text, retr_bytes, run_client, same_bytes,
                  same_files, tempdir, tls_bio_upload, tls_ctx)

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
PW = "bridge-tls-pw"
TABLE = {}            # (client, check on/off) -> what happened
# ferryd's own PROT P upload race (tests/ftp/test_ftps_client.py): an upload
# into ferryd's TLS can fail now and then for reasons outside the bridge;
# such a failure is retried (at most twice), and only when ferryd logged it.
KNOWN_FERRYD_RACE_LOGS = ("handshake input", "without close_notify: upload truncated")


def run(cmd, timeout=120, **kw):
    return run_client(cmd, timeout, **kw)


def make_ca(d):
    """A test CA; a certificate for the bridge and one for ferryd, both for
    localhost and 127.0.0.1, signed by it (EC P-256)."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    assert run(["openssl", "req", "-x509", "-nodes", *ec, "-keyout", ca_key, "-out", ca,
                "-days", "2", "-subj", "/CN=ferry bridge test CA"]).returncode == 0
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    out = [ca]
    for name in ("bridge", "srv"):
        key, csr, cert = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "crt"))
        assert run(["openssl", "req", "-new", "-nodes", *ec, "-keyout", key, "-out", csr,
                    "-subj", "/CN=localhost"]).returncode == 0
        assert run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", cert, "-days", "2",
                    "-extfile", ext]).returncode == 0
        out += [cert, key]
    return out


def start_bridge(server_port, extra=(), name="bridge"):
    return Bridge(ferry_ftp, f"localhost:{server_port}", extra, name=name, verbose=True)


def login(port, cls=SessionFTP, version=None, pasv=True, ca=None):
    return ftps_session(port, "alice", PW, cls, version, pasv, ca)


def slug(leg):
    return leg.replace(" ", "-")


def retry_upload(d, fn):
    """fn() -> bool; retried when it failed and ferryd logged its own known
    PROT P upload race (only with TLS toward ferryd)."""
    for attempt in range(3):
        before = sum(d.logtext().count(m) for m in KNOWN_FERRYD_RACE_LOGS)
        try:
            if fn():
                return True
        except (ftplib.Error, OSError) as e:
            print(f"# upload failed: {e!r}")
        if sum(d.logtext().count(m) for m in KNOWN_FERRYD_RACE_LOGS) == before:
            return False
        print("# KNOWN ferryd PROT P upload race, retrying")
    return False


# ---- clients -------------------------------------------------------------------

def curl_tests(b, d, root, work, leg):
    big = os.path.join(root, "big.bin")
    url = f"ftp://alice:{PW}@127.0.0.1:{b.port}"
    ok_all = True
    for name, extra in (("PASV", ["--disable-epsv"]), ("EPSV", [])):
        out = os.path.join(work, f"curl-{slug(leg)}-{name}.bin")
        r = run(["curl", "-sS", "--ssl-reqd", "-k", *extra, "-o", out, f"{url}/big.bin"])
        ok = r.returncode == 0 and same_files(out, big)
        check(f"curl --ssl-reqd {name} RETR 5 MB through the bridge ({leg}): bytes equal", ok)
        up = f"curl-up-{slug(leg)}-{name}.bin"
        ok2 = retry_upload(d, lambda: run(["curl", "-sS", "--ssl-reqd", "-k", *extra, "-T", big,
                                           f"{url}/{up}"]).returncode == 0 and
                           same_files(os.path.join(root, up), big))
        check(f"curl --ssl-reqd {name} STOR 5 MB through the bridge ({leg}): bytes equal", ok2)
        ok_all = ok_all and ok and ok2
    r = run(["curl", "-sS", "--ssl-reqd", "-k", f"{url}/"])
    check(f"curl --ssl-reqd LIST through the bridge ({leg})",
          r.returncode == 0 and b"big.bin" in r.stdout, r.stdout[-300:])
    out = os.path.join(work, f"curl-rest-{slug(leg)}.bin")
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "-r", "2500000-", "-o", out, f"{url}/big.bin"])
    with open(big, "rb") as f:
        tail = f.read()[2500000:]
    check(f"curl --ssl-reqd REST+RETR through the bridge ({leg})",
          r.returncode == 0 and open(out, "rb").read() == tail)
    TABLE[(f"curl --ssl-reqd, PASV and EPSV ({leg})", "on")] = "works" if ok_all else "FAILS"


def lftp_tests(b, d, root, work, leg, ca):
    big = os.path.join(root, "big.bin")
    ok_all = True
    for passive in ("on", "off"):
        out = os.path.join(work, f"lftp-{slug(leg)}-{passive}.bin")
        up = f"lftp-up-{slug(leg)}-{passive}.bin"
        cmd = lftp_ftps(b.port, "localhost", f"alice,{PW}",
                        f"get big.bin -o {out}; put {big} -o {up}; cls -1; bye", ca=ca,
                        settings=f"set net:timeout 15; set ftp:passive-mode {passive}; ")
        holder = {}

        def go():
            holder["r"] = run(cmd, timeout=120)
            return holder["r"].returncode == 0 and same_files(out, big) and \
                same_files(os.path.join(root, up), big)
        ok = retry_upload(d, go)
        r = holder["r"]
        check(f"lftp ftp:ssl-force, CA verified, passive={passive}: get+put 5 MB through the "
              f"bridge ({leg})", ok, r.stderr[-300:])
        check(f"lftp passive={passive} listing in TLS ({leg})", b"big.bin" in r.stdout,
              r.stdout[-200:])
        ok_all = ok_all and ok
    TABLE[(f"lftp ftp:ssl-force, passive and active ({leg})", "on")] = \
        "works" if ok_all else "FAILS"


def ftplib_session_tests(b, d, root, leg, ca):
    data = open(os.path.join(root, "big.bin"), "rb").read()
    ok_all = True
    for name, ver, pasv in (("TLS 1.2", ssl.TLSVersion.TLSv1_2, True),
                            ("TLS 1.3", ssl.TLSVersion.TLSv1_3, True),
                            ("active (PORT) TLS 1.3", ssl.TLSVersion.TLSv1_3, False)):
        f = login(b.port, SessionFTP, ver, pasv, ca=ca)
        fn = f"py-{slug(leg)}-{ver.name}-{pasv}.bin"
        ok = retry_upload(d, lambda: (f.storbinary(f"STOR {fn}", io.BytesIO(data)) and
                                      same_files(os.path.join(root, fn), os.path.join(root, "big.bin"))))
        check(f"ftplib session= {name}: STOR 5 MB through the bridge ({leg}): bytes equal", ok)
        got = retr_bytes(f, fn)
        check(f"ftplib session= {name}: RETR 5 MB through the bridge ({leg}): bytes equal",
              bytes(got) == data)
        names = f.nlst()
        check(f"ftplib session= {name}: NLST ({leg})", fn in names, names[:5])
        f.sendcmd("REST 4000000")
        got2 = retr_bytes(f, fn)
        check(f"ftplib session= {name}: REST+RETR ({leg})", bytes(got2) == data[4000000:])
        f.quit()
        ok_all = ok_all and ok and bytes(got) == data
    TABLE[(f"ftplib FTP_TLS + session= ({leg})", "on")] = "works" if ok_all else "FAILS"


def ftplib_plain_tests(port, reuse, data, leg):
    """ftplib.FTP_TLS as shipped: each data connection is a new TLS session."""
    outcome = []
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = login(port, ftplib.FTP_TLS, ver)
        got = bytearray()
        err = ""
        try:
            f.retrbinary("RETR big.bin", got.extend)
        except (ftplib.Error, ssl.SSLError, OSError) as e:
            err = str(e)[:80]
        ok = bytes(got) == data
        if reuse == "on":
            check(f"ftplib prot_p as shipped, {name}: refused by the resumption check", not ok)
            resp = ""
            if not err.startswith("522"):
                try:
                    resp = f.getresp()
                except (ftplib.Error, OSError) as e:
                    resp = str(e)
            else:
                resp = err
            check(f"ftplib prot_p as shipped, {name}: 522 on the control connection",
                  resp.startswith("522"), f"{err!r} {resp!r}")
            check(f"ftplib prot_p as shipped, {name}: the session goes on",
                  f.sendcmd("NOOP").startswith("200"))
            outcome.append(f"{name}: 522")
        else:
            check(f"ftplib prot_p as shipped, {name}: RETR bytes equal (--local-no-reuse)", ok, err)
            outcome.append(f"{name}: {'works' if ok else 'FAILS'}")
        f.close()
    TABLE[(f"ftplib FTP_TLS prot_p as shipped ({leg})", reuse)] = ", ".join(outcome)


def mixed_tests(b, root, leg):
    """The client's PROT C beside the server leg's own PROT: data in clear
    locally, commands in TLS; and ABOR of a PROT P download; and several TLS
    sessions at once."""
    data = open(os.path.join(root, "big.bin"), "rb").read()
    f = SessionFTP(context=tls_ctx(), timeout=20)
    f.connect("127.0.0.1", b.port)
    f.auth()
    f.login("alice", PW)
    f.prot_c()
    got = retr_bytes(f, "big.bin")
    check(f"control in TLS, PROT C: RETR in clear through the bridge ({leg})", bytes(got) == data)
    f.prot_p()
    conn = f.transfercmd("RETR huge.bin")
    first = conn.recv(65536)
    codes = []
    try:
        codes.append(f.abort()[:3])
        if codes[0] == "426":            # the RETR's end, then the ABOR's
            codes.append(f.getresp()[:3])
    except ftplib.Error as e:
        codes.append(str(e))
    conn.close()
    check(f"ABOR of a PROT P download through the bridge: 426, then 225/226 ({leg})",
          first and codes[0] in ("426", "225", "226") and codes[-1] in ("225", "226"), codes)
    check(f"after ABOR the TLS session goes on ({leg})", f.sendcmd("NOOP").startswith("200"))
    got = retr_bytes(f, "big.bin")
    check(f"after ABOR a PROT P RETR works ({leg})", bytes(got) == data)
    f.quit()
    results = []

    def one(i):
        try:
            g = login(b.port)
            buf = retr_bytes(g, "big.bin")
            g.storbinary(f"STOR many-{slug(leg)}-{i}.bin", io.BytesIO(data[:100000 + i]))
            g.quit()
            results.append(bytes(buf) == data and
                           open(os.path.join(root, f"many-{slug(leg)}-{i}.bin"), "rb").read() ==
                           data[:100000 + i])
        except (ftplib.Error, OSError) as e:
            print(f"# session {i}: {e!r}")
            results.append(False)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    check(f"8 TLS sessions at once through one bridge, RETR+STOR each ({leg})",
          len(results) == 8 and all(results), results)


def curl_two_tests(b, d, root, work, leg, reuse):
    """Two RETRs, then two STORs, on one control connection, TLS 1.3:
    OpenSSL's client cache (so curl's) uses a ticket once, and the bridge's
    data connections send none: each resumes the ticket the control
    connection got after the data connection before it."""
    big = os.path.join(root, "big.bin")
    part = os.path.join(work, "part.bin")
    with open(big, "rb") as x, open(part, "wb") as y:
        y.write(x.read(1 << 20))
    url = f"ftp://alice:{PW}@127.0.0.1:{b.port}"
    tag = f"{slug(leg)}-{reuse}"
    outs = [os.path.join(work, f"curl-two-{tag}-{i}.bin") for i in (1, 2)]
    r = run(["curl", "-sS", "--ssl-reqd", "-k", "--tlsv1.3", "-o", outs[0], f"{url}/big.bin",
             "-o", outs[1], f"{url}/big.bin"])
    ok = r.returncode == 0 and all(same_files(o, big) for o in outs)
    check(f"curl TLS 1.3: two RETRs on one control connection through the bridge "
          f"(reuse check {reuse}, {leg})", ok, r.stderr[-300:])
    ups = [f"curl-two-up-{tag}-{i}.bin" for i in (1, 2)]
    ok2 = retry_upload(d, lambda: run(
        ["curl", "-sS", "--ssl-reqd", "-k", "--tlsv1.3", "-T", part, f"{url}/{ups[0]}",
         "-T", part, f"{url}/{ups[1]}"]).returncode == 0 and
        all(same_files(os.path.join(root, u), part) for u in ups))
    check(f"curl TLS 1.3: two STORs on one control connection through the bridge "
          f"(reuse check {reuse}, {leg})", ok2)
    TABLE[(f"curl TLS 1.3, two RETRs + two STORs per session ({leg})", reuse)] = \
        "works" if ok and ok2 else "FAILS"


def late_ticket_tests(b, d, root, leg):
    """An uploading client that reads its data connection only at its end
    and closes it with what the bridge sent unread (curl reads once, just
    before its close_notify): a TLS 1.3 ticket from the bridge's data
    connection made its kernel reset the connection and lose the upload's
    tail. And the client's Finished, a small file, close_notify and FIN in
    one burst."""
    data = os.urandom(2 << 20)
    for name, ver in (("TLS 1.3", ssl.TLSVersion.TLSv1_3), ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
        f = login(b.port, SessionFTP, ver)
        f.voidcmd("TYPE I")
        for what, size, burst in (("closes on the bridge's first bytes", len(data), False),
                                  ("Finished, file, close_notify and FIN in one burst",
                                   5000, True)):
            fn = f"unread-{slug(leg)}-{ver.name}-{burst}.bin"
            got = {}

            def go():
                got["r"] = tls_bio_upload(f, f"STOR {fn}", data[:size], burst)
                return got["r"][0].startswith("226") and \
                    same_bytes(os.path.join(root, fn), data[:size])
            ok = retry_upload(d, go)
            resp, came = got.get("r", ("", False))
            check(f"{name}: an upload whose client {what}: 226, bytes equal ({leg})", ok, resp)
            check(f"{name}: ... the bridge's close_notify came ({leg})", came)
            check(f"{name}: ... session still usable ({leg})", f.sendcmd("NOOP").startswith("200"))
        f.quit()


def local_off_tests(srv_port, root):
    """Without --local-cert: AUTH/PBSZ/PROT refused with 502, FEAT lists no
    TLS (even though the server's does), plain FTP works as before."""
    b = start_bridge(srv_port, ["--ca", CA], name="plain")
    try:
        f = ftplib.FTP()
        f.connect("127.0.0.1", b.port, timeout=20)
        feat = f.sendcmd("FEAT")
        check("no --local-cert: FEAT lists no AUTH/PBSZ/PROT", "AUTH" not in feat and
              "PBSZ" not in feat and "PROT" not in feat and feat.startswith("211"), feat)
        for cmd in ("AUTH TLS", "PBSZ 0", "PROT P"):
            r = reply_text(f.sendcmd, cmd)
            check(f"no --local-cert: {cmd} refused with 502", r.startswith("502"), r)
        f.login("alice", PW)
        got = retr_bytes(f, "big.bin")
        check("no --local-cert: plain RETR through a bridge with TLS toward ferryd",
              bytes(got) == open(os.path.join(root, "big.bin"), "rb").read())
        f.quit()
    finally:
        t.stopped(b, "no --local-cert bridge: exit 0, no sanitizer reports", want=0)


def hostile_tests(b, root):
    data = open(os.path.join(root, "big.bin"), "rb").read()
    # PBSZ and PROT before AUTH; then AUTH twice.
    s = socket.create_connection(("127.0.0.1", b.port), 10)
    greet = read_reply(s)
    s.sendall(b"PBSZ 0\r\n")
    r1 = read_reply(s)
    s.sendall(b"PROT P\r\n")
    r2 = read_reply(s)
    check("PBSZ before AUTH: 503", r1.startswith("503"), r1)
    check("PROT P before AUTH: 503", r2.startswith("503"), r2)
    s.sendall(b"AUTH KERBEROS\r\n")
    r3 = read_reply(s)
    check("AUTH of an unknown mechanism: 504", r3.startswith("504"), r3)
    s.sendall(b"AUTH TLS\r\n")
    r4 = read_reply(s)
    check("AUTH TLS: 234", greet.startswith("220") and r4.startswith("234"), r4)
    ss = tls_ctx().wrap_socket(s)
    ss.sendall(b"AUTH TLS\r\n")
    r5 = read_reply(ss)
    check("AUTH TLS twice: 503 inside TLS", r5.startswith("503"), r5)
    ss.sendall(b"PROT P\r\n")
    r6 = read_reply(ss)
    check("PROT P before PBSZ (inside TLS): 503", r6.startswith("503"), r6)
    ss.sendall(b"CCC\r\n")
    r7 = read_reply(ss)
    check("CCC: 534, the control connection stays in TLS", r7.startswith("534"), r7)
    ss.sendall(b"FEAT\r\n")
    r8 = read_reply(ss)
    check("FEAT lists AUTH TLS, PBSZ and PROT once each", r8.count(" AUTH TLS\r\n") == 1 and
          r8.count(" PBSZ\r\n") == 1 and r8.count(" PROT\r\n") == 1, r8)
    ss.close()
    # TLS garbage: a ClientHello without AUTH, and garbage after AUTH TLS.
    s = socket.create_connection(("127.0.0.1", b.port), 10)
    read_reply(s)
    s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(160) + b"\r\n")
    r = read_reply(s)
    check("a ClientHello instead of a command (no AUTH): an FTP reply in clear",
          r[:1] in "45" and r[:3].isdigit(), repr(r[:80]))
    s.close()
    s = socket.create_connection(("127.0.0.1", b.port), 10)
    read_reply(s)
    s.sendall(b"AUTH TLS\r\n")
    read_reply(s)
    s.sendall(b"\x16\x03\x01\x00\x10" + b"garbage garbage!" + os.urandom(200))
    s.settimeout(10)
    closed = False
    try:
        while s.recv(4096):        # an alert at most, then EOF
            pass
        closed = True
    except socket.timeout:
        closed = False             # still open after 10 s: the check fails
    except OSError:
        closed = True              # reset
    check("garbage instead of a ClientHello after AUTH TLS: connection closed", closed)
    s.close()
    # Half a handshake, then the client goes away.
    s = socket.create_connection(("127.0.0.1", b.port), 10)
    read_reply(s)
    s.sendall(b"AUTH TLS\r\n")
    read_reply(s)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    s.close()
    # A PROT P data connection whose handshake never starts: the bridge's
    # -t (10 s) ends the transfer, the session goes on.
    f = login(b.port)
    host, port = ftplib.parse227(f.sendcmd("PASV"))
    ds = socket.create_connection((host, port), 10)
    t0 = time.time()
    r = f.sendcmd("RETR big.bin")
    r = reply_text(f.getresp)
    took = time.time() - t0
    check("a local data handshake that never starts: 150, then 425/426", r[:3] in ("425", "426"),
          r)
    check("... bounded by the bridge's -t (10 s)", 8 < took < 30, f"{took:.1f}s")
    ds.close()
    check("... and the session goes on", f.sendcmd("NOOP").startswith("200"))
    f.quit()
    # The bridge serves on.
    f = login(b.port)
    got = retr_bytes(f, "big.bin")
    check("after the hostile input the bridge serves a PROT P RETR", bytes(got) == data)
    f.quit()


def implicit_tests(srv_port, root, work):
    b = start_bridge(srv_port, ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
                          "--local-implicit"], name="implicit")
    try:
        big = os.path.join(root, "big.bin")
        out = os.path.join(work, "implicit.bin")
        r = run(["curl", "-sS", "-k", "-o", out, f"ftps://alice:{PW}@127.0.0.1:{b.port}/big.bin"])
        check("curl ftps:// (implicit FTPS) RETR through the bridge: bytes equal",
              r.returncode == 0 and same_files(out, big))
        r = run(["curl", "-sS", "-k", "-T", big,
                 f"ftps://alice:{PW}@127.0.0.1:{b.port}/implicit-up.bin"])
        check("curl ftps:// (implicit FTPS) STOR through the bridge: bytes equal",
              r.returncode == 0 and same_files(os.path.join(root, "implicit-up.bin"), big))
        s = socket.create_connection(("127.0.0.1", b.port), 10)
        s.sendall(b"USER alice\r\n")
        s.settimeout(10)
        try:
            got = s.recv(100)
        except OSError:
            got = b""
        check("implicit FTPS: a client in clear gets no FTP reply (a TLS alert at most)",
              got[:1] in (b"", b"\x15"), got)
        s.close()
    finally:
        t.stopped(b, "implicit bridge: exit 0, no sanitizer reports", want=0)


def required_tests(srv_port, root, work):
    """--local-tls-required login: nothing but AUTH/FEAT/QUIT/... before AUTH
    TLS (530, as ferryd's policy "login"); data: also PROT C refused (534)
    and transfers without PROT P refused (521, ferryd's policy "data")."""
    big = os.path.join(root, "big.bin")
    data = open(big, "rb").read()
    url = f"ftp://alice:{PW}@127.0.0.1"
    b = start_bridge(srv_port, ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
                          "--no-tls", "--local-tls-required", "login"], name="required")
    try:
        r = run(["curl", "-sS", f"{url}:{b.port}/"])
        check("--local-tls-required login: curl without --ssl-reqd refused: exit 67, 530",
              r.returncode == 67 and b"530" in r.stderr, r.stderr[-300:])
        out = os.path.join(work, "required.bin")
        r = run(["curl", "-sS", "--ssl-reqd", "-k", "-o", out, f"{url}:{b.port}/big.bin"])
        check("--local-tls-required login: curl --ssl-reqd RETR works: bytes equal",
              r.returncode == 0 and same_files(out, big))
        f = ftplib.FTP()
        f.connect("127.0.0.1", b.port, timeout=20)
        feat = f.sendcmd("FEAT")
        check("--local-tls-required: FEAT before AUTH answered, lists AUTH TLS",
              feat.startswith("211") and " AUTH TLS" in feat, feat)
        check("--local-tls-required: NOOP before AUTH answered",
              f.sendcmd("NOOP").startswith("200"))
        for cmd in ("USER alice", f"PASS {PW}", "PASV", "EPSV", "CWD /", "SITE HELP"):
            r = reply_text(f.sendcmd, cmd)
            check(f"--local-tls-required login: {cmd.split()[0]} before AUTH TLS: 530",
                  r.startswith("530 TLS required"), r)
        r = reply_text(f.login, "alice", PW)
        check("--local-tls-required login: ftplib plain login refused with 530",
              r.startswith("530"), r)
        check("... QUIT still answered", f.quit().startswith("221"))
        s = socket.create_connection(("127.0.0.1", b.port), 10)
        read_reply(s)
        s.sendall(b"USER alice\r\n" * 25)
        got = recv_until_close(s, 10)
        lines = got.decode(errors="replace").split("\r\n")
        check("--local-tls-required: 20 commands refused, then 421 and the end",
              lines.count("530 TLS required: send AUTH TLS first.") == 20 and
              lines[20].startswith("421") and lines[21:] == [""], lines[18:])
        s.close()
        g = login(b.port)
        got = retr_bytes(g, "big.bin")
        check("--local-tls-required login: ftplib FTP_TLS login and PROT P RETR work",
              bytes(got) == data)
        g.prot_c()
        got = retr_bytes(g, "big.bin")
        check("--local-tls-required login: PROT C transfers still allowed", bytes(got) == data)
        g.quit()
    finally:
        t.stopped(b, "--local-tls-required login bridge: exit 0, no sanitizer reports", want=0)
    b = start_bridge(srv_port, ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
                          "--no-tls", "--local-tls-required", "data"], name="required-data")
    try:
        r = run(["curl", "-sS", f"{url}:{b.port}/"])
        check("--local-tls-required data: curl without --ssl-reqd refused: exit 67, 530",
              r.returncode == 67 and b"530" in r.stderr, r.stderr[-300:])
        r = run(["curl", "-sS", "--ftp-ssl-control", "-k", f"{url}:{b.port}/"])
        check("--local-tls-required data: curl --ftp-ssl-control (PROT C) refused",
              r.returncode != 0 and b"big.bin" not in r.stdout, r.stderr[-300:])
        out = os.path.join(work, "required-data.bin")
        r = run(["curl", "-sS", "--ssl-reqd", "-k", "-o", out, f"{url}:{b.port}/big.bin"])
        check("--local-tls-required data: curl --ssl-reqd RETR works: bytes equal",
              r.returncode == 0 and same_files(out, big))
        g = SessionFTP(context=tls_ctx(), timeout=20)
        g.connect("127.0.0.1", b.port)
        g.auth()
        g.login("alice", PW)
        for cmd, code in (("PASV", "227"), ("RETR big.bin", "521"), ("NLST", "521"),
                          ("STOR x.bin", "521")):
            r = reply_text(g.sendcmd, cmd)
            check(f"--local-tls-required data: {cmd.split()[0]} without PROT P: {code}",
                  r.startswith(code), r)
        r = reply_text(g.prot_c)
        check("--local-tls-required data: PROT C refused with 534", r.startswith("534"), r)
        g.prot_p()
        got = retr_bytes(g, "big.bin")
        check("--local-tls-required data: after PROT P the RETR works", bytes(got) == data)
        g.quit()
    finally:
        t.stopped(b, "--local-tls-required data bridge: exit 0, no sanitizer reports", want=0)
    r = run([ferry_ftp, "bridge", "--local-tls-required", "login", "127.0.0.1:21"], timeout=20)
    check("--local-tls-required without --local-cert: refused, exit 1",
          r.returncode == 1 and b"--local-cert" in r.stderr, r.stderr)
    r = run([ferry_ftp, "bridge", "--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
             "--local-tls-required", "yes", "127.0.0.1:21"], timeout=20)
    check("--local-tls-required yes: refused, exit 1", r.returncode == 1 and
          b"login" in r.stderr, r.stderr)


def closed_within(s, limit):
    """Seconds until the peer closed s (EOF or reset; a TLS alert before it
    is read past), or None when it is still open after limit seconds."""
    t0 = time.time()
    while time.time() - t0 < limit:
        s.settimeout(max(0.1, limit - (time.time() - t0)))
        try:
            if not s.recv(4096):
                return time.time() - t0
        except socket.timeout:
            return None
        except OSError:
            return time.time() - t0
    return None


def still_open(s):
    s.setblocking(False)
    try:
        return s.recv(4096) is None
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def deadline_tests(srv_port, root):
    """A local TLS handshake that never finishes is cut off after -t
    seconds from its start (control: after AUTH TLS, or at once with
    --local-implicit; data: from its first byte, even when the client
    trickles it so that -t's no-progress rule never fires), and the bridge,
    single-threaded, serves another session meanwhile."""
    data = open(os.path.join(root, "big.bin"), "rb").read()
    T = 6
    b = start_bridge(srv_port, ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
                          "--no-tls", "-t", str(T)], name="deadline")
    try:
        a = socket.create_connection(("127.0.0.1", b.port), 10)
        read_reply(a)
        a.sendall(b"AUTH TLS\r\n")
        r = read_reply(a)
        t0 = time.time()
        a.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")   # half a ClientHello
        # Meanwhile another session logs in, lists and downloads.
        g = login(b.port)
        names = g.nlst()
        got = retr_bytes(g, "big.bin")
        g.quit()
        busy = time.time() - t0
        check("a stalled control handshake: 234 first", r.startswith("234"), r)
        check("... another TLS session logs in, lists and downloads meanwhile",
              "big.bin" in names and bytes(got) == data, f"{busy:.1f}s")
        check(f"... and the stalled one is still open when it is done ({busy:.1f}s < {T}s)",
              still_open(a))
        took = closed_within(a, T + 20)
        took = None if took is None else time.time() - t0
        check(f"... the stalled handshake is closed after -t ({T} s), not before",
              took is not None and T - 2 < took < T + 15, took)
        a.close()
        check("... and logged", "TLS handshake on the control connection not done" in b.logtext(),
              b.logtext()[-500:])
        # A data handshake trickled one byte a second: -t's no-progress rule
        # never fires, the handshake's own deadline does.
        f = login(b.port)
        host, port = ftplib.parse227(f.sendcmd("PASV"))
        ds = socket.create_connection((host, port), 10)
        r = f.sendcmd("RETR big.bin")
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200)
        t0 = time.time()
        end = None
        for i in range(T + 20):
            try:
                ds.sendall(hello[i:i + 1])
            except OSError:
                pass
            readable = select.select([f.sock], [], [], 1.0)[0]
            if readable:
                end = reply_text(f.getresp)
                break
        took = time.time() - t0
        ds.close()
        check("a trickled data handshake: 150, then 425/426",
              r.startswith("150") and end is not None and end[:3] in ("425", "426"), (r, end))
        check(f"... after the handshake's deadline (-t {T} s), not before",
              T - 2 < took < T + 15, f"{took:.1f}s")
        check("... logged", "TLS handshake on the client's data connection not done" in
              b.logtext())
        check("... and the session goes on", f.sendcmd("NOOP").startswith("200"))
        got = retr_bytes(f, "big.bin")
        check("... a PROT P RETR after it works", bytes(got) == data)
        f.quit()
    finally:
        t.stopped(b, "deadline bridge: exit 0, no sanitizer reports", want=0)
    # Implicit: the handshake starts with the connection; nothing is sent.
    b = start_bridge(srv_port, ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY,
                          "--no-tls", "--local-implicit", "-t", str(T)], name="deadline-imp")
    try:
        a = socket.create_connection(("127.0.0.1", b.port), 10)
        t0 = time.time()
        out = os.path.join(tempdir("ferry-btls-imp-"), "imp.bin")
        r = run(["curl", "-sS", "-k", "-o", out, f"ftps://alice:{PW}@127.0.0.1:{b.port}/big.bin"])
        check("implicit: a silent client beside curl ftps:// RETR, which works",
              r.returncode == 0 and same_files(out, os.path.join(root, "big.bin")))
        check("... the silent one is still open after it", still_open(a))
        took = closed_within(a, T + 20)
        took = None if took is None else time.time() - t0
        check(f"implicit: a client that never sends its ClientHello is closed after -t ({T} s)",
              took is not None and T - 2 < took < T + 15, took)
        a.close()
    finally:
        t.stopped(b, "implicit deadline bridge: exit 0, no sanitizer reports", want=0)


def startup_tests():
    r = run([ferry_ftp, "bridge", "--local-key", "x.key", "127.0.0.1:21"], timeout=20)
    check("--local-key without --local-cert: refused, exit 1", r.returncode == 1 and
          b"--local-cert" in r.stderr, r.stderr)
    r = run([ferry_ftp, "bridge", "--local-cert", "/nonexistent.pem", "127.0.0.1:21"],
            timeout=20)
    check("--local-cert that cannot be read: refused, exit 9 (TLS)", r.returncode == 9 and
          b"--local-cert" in r.stderr, r.stderr)
    r = run([ferry_ftp, "bridge", "--local-cert", BRIDGE_CERT, "--local-key", SRV_KEY,
             "127.0.0.1:21"], timeout=20)
    check("--local-key of another certificate: refused, exit 9", r.returncode == 9, r.stderr)


def print_table():
    print("# client (leg toward ferryd) x the bridge's resumption check -> result")
    print(f"# {'client':58} {'check on':28} --local-no-reuse")
    for c in sorted({c for c, _ in TABLE}):
        print(f"# {c:58} {TABLE.get((c, 'on'), '-'):28} {TABLE.get((c, 'off'), '-')}")


def main():
    global CA, BRIDGE_CERT, BRIDGE_KEY, SRV_CERT, SRV_KEY
    root = tempdir("ferry-btls-")
    work = tempdir("ferry-btls-work-")
    keys = tempdir("ferry-btls-keys-")
    servers = []
    try:
        CA, BRIDGE_CERT, BRIDGE_KEY, SRV_CERT, SRV_KEY = make_ca(keys)
        data = os.urandom(5 << 20)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(root, "huge.bin"), "wb") as f:
            f.truncate(256 << 20)      # sparse: ABOR needs a long transfer
        os.chmod(root, 0o755)
        users = [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}]
        base = {"users": users, "max_login_failures": 1000, "data_timeout": 30}
        plain = Ferryd(ferryd_bin, dict(base), workers=2)
        servers.append(plain)
        tls = Ferryd(ferryd_bin, dict(base, tls={"cert": SRV_CERT, "key": SRV_KEY}), workers=2)
        servers.append(tls)
        t.run("start-up", startup_tests)
        local = ["--local-cert", BRIDGE_CERT, "--local-key", BRIDGE_KEY]
        for leg, d, extra in (("server leg clear", plain, ["--no-tls"]),
                              ("server leg TLS", tls, ["--tls", "--ca", CA])):
            b = start_bridge(d.port, local + extra, name=slug(leg))
            both = [b.proc.pid, d.proc.pid]    # the bridge and its server close all
            try:
                t.run_closing(both, f"curl ({leg})", curl_tests, b, d, root, work, leg)
                t.run_closing(both, f"lftp ({leg})", lftp_tests, b, d, root, work, leg, CA)
                t.run_closing(both, f"ftplib session= ({leg})", ftplib_session_tests, b, d, root,
                              leg, CA)
                t.run_closing(both, f"ftplib as shipped ({leg})", ftplib_plain_tests, b.port, "on",
                              data, leg)
                t.run_closing(both, f"mixed ({leg})", mixed_tests, b, root, leg)
                t.run_closing(both, f"curl two transfers ({leg})", curl_two_tests, b, d, root, work,
                              leg, "on")
                t.run_closing(both, f"late ticket ({leg})", late_ticket_tests, b, d, root, leg)
                if leg.endswith("TLS"):
                    t.run_closing(both, "hostile", hostile_tests, b, root)
            finally:
                t.stopped(b, f"bridge ({leg}): exit 0 on SIGTERM, no sanitizer reports", want=0)
            text = b.logtext()
            if leg.endswith("TLS"):
                check("the bridge's log names its TLS toward the server and the client",
                      "TLS toward the server: TLSv1.3" in text and
                      "TLS toward the client: TLSv1" in text, text[-800:])
                check("the bridge's log shows resumed client data connections",
                      "client's data connection in TLS" in text and "session resumed" in text)
            b = start_bridge(d.port, local + extra + ["--local-no-reuse"],
                             name=slug(leg) + "-noreuse")
            both = [b.proc.pid, d.proc.pid]
            try:
                t.run_closing(both, f"ftplib as shipped, --local-no-reuse ({leg})",
                              ftplib_plain_tests, b.port, "off", data, leg)
                t.run_closing(both, f"curl two transfers, --local-no-reuse ({leg})",
                              curl_two_tests, b, d, root, work, leg, "off")
            finally:
                t.stopped(b, f"bridge --local-no-reuse ({leg}): exit 0, no sanitizer reports",
                          want=0)
        t.run_closing(plain.proc.pid, "implicit", implicit_tests, plain.port, root, work)
        t.run_closing(plain.proc.pid, "--local-tls-required", required_tests, plain.port, root,
                      work)
        t.run_closing(plain.proc.pid, "handshake deadline", deadline_tests, plain.port, root)
        t.run_closing(tls.proc.pid, "no --local-cert", local_off_tests, tls.port, root)
    except Exception as e:  # noqa: BLE001
        t.raised("bridge TLS test ran", e)
    finally:
        for d in servers:
            t.stopped(d, "ferryd: exit 6 on SIGTERM, no sanitizer reports")
        import shutil
        shutil.rmtree(keys, ignore_errors=True)
    print_table()
    t.finish()


main()
