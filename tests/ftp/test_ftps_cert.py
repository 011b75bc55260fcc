"""test_ftps_cert.py — ferryd's FTPS certificates and policies with real
clients: implicit FTPS listeners (curl ftps://, ftplib), TLS policy per
listener and per account, several certificates chosen by SNI (openssl
s_client -servername, curl --resolve), certificates reloaded on SIGHUP
without dropping sessions (and session tickets still resuming), certificate
verification by curl (OpenSSL) and lftp (GnuTLS) against expired, wrong-host
and self-signed certificates, and bad TLS files refused at start-up with
exit 3. Every certificate is made here by openssl and never committed."""
import ftplib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, Ferryd, ImplicitFTP, clear_login, crypt_hash, free_port, lftp_ftps,  # noqa: E402
                  reply_text, retr_bytes, seconds_to_close, tempdir, tls_ctx)
from ftpd import run_client as run  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check
PW = "cert-s3cret"
EXIT_CRYPTO = 3


def out(r):
    return (r.stdout + r.stderr).decode(errors="replace")


# ---- certificates -----------------------------------------------------------

class Certs:
    """A test CA and leaf certificates signed by it, in their own directory
    (not the configuration's, so a reload reads through its own Landlock rule)."""

    def __init__(self):
        self.d = tempdir("ferry-certs-")
        os.chmod(self.d, 0o755)
        self.ca, self.ca_key = self.p("ca.crt"), self.p("ca.key")
        self.openssl(["req", "-x509", *self.ec(), "-nodes", "-keyout", self.ca_key,
                      "-out", self.ca, "-days", "2", "-subj", "/CN=ferry test CA"])
        with open(self.p("index.txt"), "w"):
            pass
        with open(self.p("serial"), "w") as f:
            f.write("1000\n")
        with open(self.p("ca.cnf"), "w") as f:
            f.write(f"[ca]\ndefault_ca = d\n[d]\ndir = {self.d}\ndatabase = {self.p('index.txt')}\n"
                    f"new_certs_dir = {self.d}\nserial = {self.p('serial')}\ndefault_md = sha256\n"
                    "policy = p\nunique_subject = no\ncopy_extensions = copy\n"
                    "[p]\ncommonName = supplied\n")

    def p(self, name):
        return os.path.join(self.d, name)

    @staticmethod
    def ec():
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]

    @staticmethod
    def openssl(args):
        r = run(["openssl", *args])
        assert r.returncode == 0, out(r)

    def leaf(self, name, cn, san, expired=False):
        """name.crt / name.key for CN=cn with subjectAltName san, signed by the CA."""
        crt, key, csr = self.p(name + ".crt"), self.p(name + ".key"), self.p(name + ".csr")
        self.openssl(["req", "-new", *self.ec(), "-nodes", "-keyout", key, "-out", csr,
                      "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}"])
        if expired:   # valid for one day in 2020
            self.openssl(["ca", "-batch", "-config", self.p("ca.cnf"), "-cert", self.ca,
                          "-keyfile", self.ca_key, "-in", csr, "-out", crt,
                          "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                          "-notext"])
        else:
            ext = self.p(name + ".ext")
            with open(ext, "w") as f:
                f.write(f"subjectAltName={san}\n")
            self.openssl(["x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                          "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
        return crt, key

    def selfsigned(self, name, cn, san):
        crt, key = self.p(name + ".crt"), self.p(name + ".key")
        self.openssl(["req", "-x509", *self.ec(), "-nodes", "-keyout", key, "-out", crt,
                      "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}"])
        return crt, key


def served_subject(port, servername=None, cafile=None, extra=()):
    """The subject line of the certificate openssl s_client is served."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *extra]
    if servername:
        cmd += ["-servername", servername]
    else:
        cmd += ["-noservername"]
    if cafile:
        cmd += ["-CAfile", cafile]
    r = run(cmd, input=b"", timeout=20)
    text = out(r)
    for line in text.splitlines():
        if line.startswith("subject="):
            return line[len("subject="):].strip(), text
    return None, text


# ---- clients ------------------------------------------------------------------

def users(root):
    return [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True},
            {"name": "bob", "password": crypt_hash(PW), "root": root, "tls": "login"}]


def wait_log(d, text, after=0, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in d.logtext()[after:]:
            return True
        time.sleep(0.05)
    return False


# ---- implicit FTPS, policies, SNI ---------------------------------------------

def implicit_tests(c, root, work):
    a_crt, a_key = c.leaf("a", "a.test", "DNS:a.test,DNS:localhost,IP:127.0.0.1")
    b_crt, b_key = c.leaf("b", "b.test", "DNS:b.test,DNS:*.b.test")
    ip, strict = free_port(), free_port()
    ftp = {"users": users(root), "login_timeout": 5,
           "tls": {"cert": a_crt, "key": a_key,
                   "certificates": [{"cert": b_crt, "key": b_key}],
                   "implicit_listen": [f"127.0.0.1:{ip}"],
                   "listeners": [{"listen": f"127.0.0.1:{strict}", "policy": "login"}]}}
    port = free_port()
    ftp["listen"] = [f"127.0.0.1:{port}", f"127.0.0.1:{strict}"]
    data = os.urandom(700000)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(data)
    with Ferryd(ferryd_bin, ftp, workers=2, port=port) as d:
        # curl ftps:// (implicit): TLS first, verified against the test CA.
        dst = os.path.join(work, "implicit.bin")
        r = run(["curl", "-sS", "-v", "--cacert", c.ca, "-o", dst,
                 f"ftps://alice:{PW}@localhost:{ip}/f.bin"])
        err = out(r)
        check("implicit: curl ftps:// downloads byte for byte", r.returncode == 0 and
              open(dst, "rb").read() == data, err[-1500:])
        hs = err.find("SSL connection using")
        greet = err.find("< 220")
        check("implicit: the handshake comes before the 220", 0 <= hs < greet, err[:1500])
        check("implicit: curl sent PBSZ 0 and PROT itself", "> PBSZ 0" in err and "> PROT" in err,
              err[-1500:])
        r = run(["curl", "-sS", "--cacert", c.ca, "-T", "-", f"ftps://alice:{PW}@localhost:{ip}/up.bin"],
                input=data[:300000])
        check("implicit: curl ftps:// uploads byte for byte", r.returncode == 0 and
              open(os.path.join(root, "up.bin"), "rb").read() == data[:300000], out(r)[-800:])
        # ftplib, implicit: PBSZ/PROT accepted, AUTH refused (already TLS).
        f = ImplicitFTP(context=tls_ctx(ca=c.ca), timeout=10)
        welcome = f.connect("localhost", ip)
        check("implicit: ftplib greeted inside TLS", welcome.startswith("220") and
              f.sock.version() in ("TLSv1.2", "TLSv1.3"), welcome)
        f.login("alice", PW)
        check("implicit: PBSZ 0 accepted", f.sendcmd("PBSZ 0").startswith("200"))
        check("implicit: PROT C accepted", f.sendcmd("PROT C").startswith("200"))
        r = reply_text(f.sendcmd, "AUTH TLS")
        check("implicit: AUTH TLS answered 503", r.startswith("503"), r)
        got = retr_bytes(f, "f.bin")
        check("implicit: ftplib RETR (PROT C) byte for byte", bytes(got) == data)
        resp = f.sendcmd("SPSV")
        check("implicit: SPSV answered with a DATACONN credential",
              resp.startswith("227") and "DATACONN:" in resp, resp)
        f.quit()
        # A clear-text client on the implicit port is not greeted in clear.
        s = socket.create_connection(("127.0.0.1", ip), 5)
        s.settimeout(1.5)
        try:
            first = s.recv(100)
        except socket.timeout:
            first = b""
        check("implicit: nothing in clear before the handshake", b"220" not in first, first)
        s.close()
        # A handshake that never starts is bounded by login_timeout (5 s).
        s = socket.create_connection(("127.0.0.1", ip), 5)
        took = seconds_to_close(s, 30)
        check("implicit: a silent client is closed by login_timeout", took < 20, f"{took:.1f}s")
        s.close()
        # Per account on the explicit listener: bob needs TLS, alice not.
        r = clear_login(port, "bob", PW)
        check("account tls=login: clear login gets 530", r.startswith("530") and "TLS" in r, r)
        f = ftplib.FTP(timeout=10)
        f.connect("127.0.0.1", port)
        f.login("alice", PW)
        check("another account on the same listener logs in clear", f.pwd() == "/")
        f.quit()
        f = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        f.connect("127.0.0.1", port)
        f.login("bob", PW)
        check("account tls=login: login after AUTH TLS", f.pwd() == "/")
        f.quit()
        # Per listener: alice is refused in clear on the strict listener.
        r = clear_login(strict, "alice", PW)
        check("listener policy login: clear login gets 530", r.startswith("530"), r)
        f = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        f.connect("127.0.0.1", strict)
        f.login("alice", PW)
        check("listener policy login: login after AUTH TLS", f.pwd() == "/")
        f.quit()
        # SNI: the certificate whose names match, the first otherwise.
        for name, want in ((None, "a.test"), ("a.test", "a.test"), ("x.b.test", "b.test"),
                           ("b.test", "b.test"), ("unknown.example", "a.test")):
            subj, text = served_subject(ip, name, c.ca)
            check(f"SNI {name or '(none)'}: served CN={want}", subj and subj.endswith(want),
                  f"{subj} {text[-600:]}")
        r = run(["curl", "-sS", "-v", "--cacert", c.ca, "--resolve", f"x.b.test:{ip}:127.0.0.1",
                 "-o", os.devnull, f"ftps://alice:{PW}@x.b.test:{ip}/f.bin"])
        err = out(r)
        check("SNI: curl --resolve x.b.test verifies the wildcard certificate",
              r.returncode == 0 and "CN=b.test" in err and "certificate verify ok" in err,
              err[-1200:])
        r = run(["curl", "-sS", "-v", "--ftp-ssl-control", "--cacert", c.ca, "--resolve",
                 f"x.b.test:{port}:127.0.0.1", "-o", os.devnull,
                 f"ftp://alice:{PW}@x.b.test:{port}/f.bin"])
        err = out(r)
        check("SNI: explicit AUTH TLS picks the certificate too",
              r.returncode == 0 and "CN=b.test" in err, err[-1200:])
    code, clean = d.stop()
    check("implicit: sanitizers quiet", clean, d.logtext()[-2000:])


# ---- reload -----------------------------------------------------------------------

def reload_tests(c, root, work):
    a_crt, a_key = c.leaf("ra", "reload-a.test", "DNS:reload-a.test,DNS:localhost")
    b_crt, b_key = c.leaf("rb", "reload-b.test", "DNS:reload-b.test,DNS:localhost")
    live = tempdir("ferry-live-")
    os.chmod(live, 0o755)
    cur_crt, cur_key = os.path.join(live, "cur.crt"), os.path.join(live, "cur.key")
    shutil.copy(a_crt, cur_crt)
    shutil.copy(a_key, cur_key)
    ip = free_port()
    ftp = {"users": users(root), "tls": {"cert": cur_crt, "key": cur_key,
                                         "implicit_listen": [f"127.0.0.1:{ip}"]}}
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("before and after\n")
    with Ferryd(ferryd_bin, ftp, workers=2) as d:
        subj, text = served_subject(d.port, None, None, ["-starttls", "ftp"])
        check("reload: cert A served at first", subj and "reload-a.test" in subj, text[-500:])
        sessions = {}
        for ver in ("1_2", "1_3"):
            sess = sessions[ver] = os.path.join(work, f"tls{ver}.sess")
            r = run(["openssl", "s_client", "-connect", f"127.0.0.1:{ip}", f"-tls{ver}",
                     "-sess_out", sess, "-ign_eof"], input=b"QUIT\r\n", timeout=20)
            check(f"reload: a TLS {ver.replace('_', '.')} session saved before the reload",
                  os.path.exists(sess) and os.path.getsize(sess) > 0, out(r)[-500:])
        # A transfer running while the reload happens (curl, implicit FTPS).
        big = os.urandom(6 << 20)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(big)
        big_dst = os.path.join(work, "big-during-reload.bin")
        running = subprocess.Popen(["curl", "-sS", "-k", "--limit-rate", "3M", "-o", big_dst,
                                    f"ftps://alice:{PW}@127.0.0.1:{ip}/big.bin"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline and (not os.path.exists(big_dst) or
                                          os.path.getsize(big_dst) < (1 << 20)):
            time.sleep(0.05)
        # A session in progress: explicit AUTH TLS, logged in.
        old = ftplib.FTP_TLS(context=tls_ctx(), timeout=10)
        old.connect("127.0.0.1", d.port)
        old.login("alice", PW)
        old.voidcmd("PBSZ 0")
        old.prot_c()
        # Files replaced (as certbot does: a new file renamed into place).
        for src, dst in ((b_crt, cur_crt), (b_key, cur_key)):
            shutil.copy(src, dst + ".new")
            os.rename(dst + ".new", dst)
        mark = len(d.logtext())
        d.proc.send_signal(signal.SIGHUP)
        check("reload: 'certificates reloaded' logged",
              wait_log(d, "FTPS certificates reloaded", mark), d.logtext()[mark:])
        check("reload: no 'needs a restart' for the TLS keys",
              "tls.cert changed" not in d.logtext()[mark:] and
              "tls.key changed" not in d.logtext()[mark:], d.logtext()[mark:])
        subj, text = served_subject(d.port, None, None, ["-starttls", "ftp"])
        check("reload: a new connection gets cert B", subj and "reload-b.test" in subj, text[-500:])
        subj, text = served_subject(ip)
        check("reload: the implicit listener serves cert B too",
              subj and "reload-b.test" in subj, text[-500:])
        check("reload: the old session answers NOOP", old.voidcmd("NOOP").startswith("200"))
        lines = []
        old.retrlines("LIST", lines.append)
        check("reload: the old session's LIST (PROT C) works",
              any("small.txt" in x for x in lines), lines)
        got = retr_bytes(old, "small.txt")
        check("reload: the old session's RETR works", bytes(got) == b"before and after\n")
        for ver, name in (("1_2", "TLSv1.2"), ("1_3", "TLSv1.3")):
            r = run(["openssl", "s_client", "-connect", f"127.0.0.1:{ip}", f"-tls{ver}",
                     "-sess_in", sessions[ver], "-ign_eof"], input=b"QUIT\r\n", timeout=20)
            check(f"reload: a {name} session from before the reload still resumes",
                  f"Reused, {name}" in out(r), out(r)[-1500:])
        try:
            _, err = running.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            running.kill()
            _, err = running.communicate()
        check("reload: a transfer running across the reload completes byte for byte",
              running.returncode == 0 and open(big_dst, "rb").read() == big, err[-500:])
        # A bad key: refused, named, and cert B stays.
        with open(cur_key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        mark = len(d.logtext())
        d.proc.send_signal(signal.SIGHUP)
        check("reload: a bad key is refused with the file named",
              wait_log(d, "reload refused", mark) and cur_key in d.logtext()[mark:],
              d.logtext()[mark:])
        subj, text = served_subject(d.port, None, None, ["-starttls", "ftp"])
        check("reload: after a refused reload cert B stays", subj and "reload-b.test" in subj,
              text[-500:])
        os.unlink(cur_key)
        mark = len(d.logtext())
        d.proc.send_signal(signal.SIGHUP)
        check("reload: a missing key is refused with the reason",
              wait_log(d, "reload refused", mark) and "No such file" in d.logtext()[mark:],
              d.logtext()[mark:])
        check("reload: the old session still answers", old.voidcmd("NOOP").startswith("200"))
        old.quit()
    code, clean = d.stop()
    check("reload: sanitizers quiet", clean, d.logtext()[-2000:])


# ---- verification by clients ----------------------------------------------------------

def lftp_get(port, cafile, host, dst):
    return run(lftp_ftps(port, host, f"alice,{PW}", f"get f.bin -o {dst}; bye", ca=cafile, protect_data=False,
                         settings="set ssl:check-hostname yes; set net:timeout 5; set cmd:fail-exit true; "),
               timeout=60)


def verify_tests(c, root, work):
    cases = [
        ("good", c.leaf("good", "localhost", "DNS:localhost"), c.ca, True),
        ("expired", c.leaf("old", "localhost", "DNS:localhost", expired=True), c.ca, False),
        ("wrong host", c.leaf("wrong", "wrong.test", "DNS:wrong.test"), c.ca, False),
        ("self-signed, test CA", c.selfsigned("self", "localhost", "DNS:localhost"), c.ca, False),
    ]
    cases.append(("self-signed, itself as CA", cases[3][1], cases[3][1][0], True))
    data = open(os.path.join(root, "f.bin"), "rb").read()
    for name, (crt, key), cafile, ok in cases:
        ip = free_port()
        ftp = {"users": users(root), "tls": {"cert": crt, "key": key,
                                             "implicit_listen": [f"127.0.0.1:{ip}"]}}
        with Ferryd(ferryd_bin, ftp, workers=1) as d:
            dst = os.path.join(work, "v.bin")
            if os.path.exists(dst):
                os.unlink(dst)
            r = run(["curl", "-sS", "--cacert", cafile, "-o", dst,
                     f"ftps://alice:{PW}@localhost:{ip}/f.bin"])
            if ok:
                check(f"curl verifies {name}: passes", r.returncode == 0 and
                      open(dst, "rb").read() == data, out(r)[-500:])
            else:
                check(f"curl verifies {name}: fails with a certificate error",
                      r.returncode == 60 and "certificate" in out(r).lower(), out(r)[-500:])
            if os.path.exists(dst):
                os.unlink(dst)
            r = lftp_get(d.port, cafile, "localhost", dst)
            if ok:
                check(f"lftp verifies {name}: passes", r.returncode == 0 and
                      open(dst, "rb").read() == data, out(r)[-500:])
            else:
                check(f"lftp verifies {name}: fails with a certificate error",
                      r.returncode != 0 and "certificate" in out(r).lower() and
                      not os.path.exists(dst), out(r)[-500:])
        code, clean = d.stop()
        check(f"verify {name}: sanitizers quiet", clean, d.logtext()[-1500:])


# ---- bad files at start-up ----------------------------------------------------------------

def startup_tests(c, root, work):
    good_crt, good_key = c.leaf("s1", "localhost", "DNS:localhost")
    _, other_key = c.leaf("s2", "localhost", "DNS:localhost")
    noread = os.path.join(c.d, "noread.key")
    shutil.copy(good_key, noread)
    os.chmod(noread, 0)
    missing = os.path.join(c.d, "missing.crt")
    cases = [("a key that is not the certificate's", good_crt, other_key, "does not belong"),
             ("a missing certificate", missing, good_key, "No such file"),
             ("an unreadable key", good_crt, noread, "Permission denied")]
    nobody = pwd.getpwnam("nobody")
    for name, crt, key, why in cases:
        conf = os.path.join(work, "bad.json")
        port = free_port()
        with open(conf, "w") as f:
            json.dump({"allow_root": True, "foreground": True, "ftp": {
                "listen": [f"127.0.0.1:{port}"], "anonymous": {"root": root},
                "tls": {"cert": crt, "key": key}}}, f)
        os.chmod(conf, 0o644)
        # As root every file is readable: the unreadable key is tried as nobody.
        pre = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
               "--clear-groups"] if key == noread else []
        named = crt if "certificate" in name else key
        for mode in (["--check-config"], []):
            r = run(pre + [ferryd_bin, *mode, "-f", conf], timeout=30)
            text = out(r)
            what = "--check-config" if mode else "start"
            check(f"{what}: {name}: exit 3 naming the file and the reason",
                  r.returncode == EXIT_CRYPTO and named in text and why in text,
                  f"exit {r.returncode}: {text[-600:]}")
    # A policy without a certificate is refused; "data" with one is fine.
    for name, tls, why in (("a policy without a certificate", {"policy": "login"}, "needs a certificate"),
                           ("policy data with a certificate",
                            {"cert": good_crt, "key": good_key, "policy": "data"}, None)):
        with open(conf, "w") as f:
            json.dump({"allow_root": True, "ftp": {"listen": ["127.0.0.1:2121"],
                       "anonymous": {"root": root}, "tls": tls}}, f)
        r = run([ferryd_bin, "--check-config", "-f", conf])
        if why:
            check(f"--check-config: {name} refused", r.returncode == 1 and why in out(r),
                  out(r)[-400:])
        else:
            check(f"--check-config: {name} accepted", r.returncode == 0, out(r)[-400:])


def main():
    root = tempdir("ferry-ftpsc-root-")
    os.chmod(root, 0o755)
    work = tempdir("ferry-ftpsc-work-")
    os.chmod(work, 0o755)
    c = Certs()
    t.run("implicit", implicit_tests, c, root, work)
    t.run("reload", reload_tests, c, root, work)
    t.run("verify", verify_tests, c, root, work)
    t.run("startup", startup_tests, c, root, work)
    t.finish()


main()
