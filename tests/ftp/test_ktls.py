"""test_ktls.py — ftp.tls.ktls (kernel TLS for PROT P downloads) on the
machine it runs on: the start-up probe's log line, "required" refused at
start-up and by --check-config when the kernel has no TLS, and the path
taken ("auto": the kernel's when it has the tls ULP, else user space;
"off": user space) shown by ferry_ftp_tls_downloads_total, with PROT P
downloads byte for byte over TLS 1.2 and 1.3 (binary, REST, ASCII) and the
server's close_notify (ftplib's unwrap needs it). A kernel with kTLS runs
the kernel path here; one without runs the fallback."""
import ftplib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, free_port, ftps_session, self_signed, tempdir  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check
PW = "ktls-s3cret"


def login(port, version):
    return ftps_session(port, "alice", PW, version=version)


def metric(port, labels):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r"^ferry_ftp_tls_downloads_total\{tls=\"%s\"\} (\d+)$" % labels, text, re.M)
    return int(m.group(1)) if m else None


def wait_log(d, pattern, secs=10):
    end = time.time() + secs
    while time.time() < end:
        m = re.search(pattern, d.logtext())
        if m:
            return m
        time.sleep(0.05)
    return re.search(pattern, d.logtext())


def ftp_conf(root, cert, key, mode):
    tls = {"cert": cert, "key": key}
    if mode:
        tls["ktls"] = mode
    return {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root}],
            "tls": tls}


def downloads(port, root, label):
    """Binary (TLS 1.2, 1.3), REST and ASCII PROT P downloads: bytes equal."""
    data = open(os.path.join(root, "big.bin"), "rb").read()
    n = 0
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = login(port, ver)
        got = bytearray()
        try:
            reply = f.retrbinary("RETR big.bin", got.extend)
        except (ftplib.Error, OSError) as e:
            reply = repr(e)
        check(f"{label}: {name} PROT P RETR 3 MB byte for byte, close_notify, 226",
              got == data and reply.startswith("226"), f"{len(got)} bytes, {reply}")
        got = bytearray()
        try:
            reply = f.retrbinary("RETR big.bin", got.extend, rest=1000001)
        except (ftplib.Error, OSError) as e:
            reply = repr(e)
        check(f"{label}: {name} PROT P REST+RETR gives the tail",
              got == data[1000001:] and reply.startswith("226"), reply)
        lines = []
        try:
            reply = f.retrlines("RETR text.txt", lines.append)
        except (ftplib.Error, OSError) as e:
            reply = repr(e)
        check(f"{label}: {name} PROT P ASCII RETR", lines == ["line one", "line two"] and
              reply.startswith("226"), f"{lines[:3]} {reply}")
        f.quit()
        n += 2                     # binary ones; ASCII is always user space
    return n, 2


def main():
    root = tempdir("ferry-ktls-")
    keys = tempdir("ferry-ktls-keys-")
    cert, key = self_signed(keys)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(3 << 20))
    with open(os.path.join(root, "text.txt"), "wb") as f:
        f.write(b"line one\nline two\n")

    # "auto": the probe says what it found, once, at start-up.
    mport = free_port()
    d = Ferryd(ferryd_bin, ftp_conf(root, cert, key, None), workers=2,
               extra={"metrics": {"listen": f"127.0.0.1:{mport}"}})
    try:
        m = wait_log(d, r"kTLS: (available for [^;]*|not available: [^;]*);")
        check("auto (the default): the start-up log says what kTLS the kernel has", m,
              d.logtext()[-600:])
        have = bool(m) and m.group(1).startswith("available")
        if not have and m:
            ulp = open("/proc/sys/net/ipv4/tcp_available_ulp").read()
            check("auto: without the tls ULP the log says so and user space serves",
                  "tls" in ulp.split() or
                  "not available: kernel has no tls ULP; PROT P uses user-space TLS"
                  in d.logtext(), d.logtext()[-400:])
        binary, ascii = downloads(d.port, root, "auto")
        want = {"ktls": binary, "user": ascii} if have else {"ktls": 0, "user": binary + ascii}
        end = time.time() + 10
        while time.time() < end and metric(mport, "user") != want["user"]:
            time.sleep(0.05)
        got = {k: metric(mport, k) for k in want}
        check("auto: binary PROT P downloads went by %s, ASCII by user space (/metrics)"
              % ("ktls" if have else "user"), got == want, f"{got} != {want}")
        # a reload cannot change it (probed once, as root): said so
        conf = json.load(open(d.conf_path))
        conf["ftp"]["tls"]["ktls"] = "off"
        json.dump(conf, open(d.conf_path, "w"))
        d.proc.send_signal(signal.SIGHUP)
        check("auto: a reload that turns it off keeps it and says a restart is needed",
              wait_log(d, r"reload: ftp\.tls\.ktls changed: needs a restart"),
              d.logtext()[-400:])
    finally:
        t.stopped(d, "auto: ferryd stops on SIGTERM (exit 6), sanitizers quiet")

    # "off": user space, whatever the kernel has.
    d = Ferryd(ferryd_bin, ftp_conf(root, cert, key, "off"), workers=1,
               extra={"metrics": {"listen": f"127.0.0.1:{mport}"}})
    try:
        check("off: the log says so", wait_log(d, r"kTLS: off \(ftp\.tls\.ktls\)"))
        f = login(d.port, ssl.TLSVersion.TLSv1_3)
        got = bytearray()
        reply = f.retrbinary("RETR big.bin", got.extend)
        f.quit()
        check("off: PROT P RETR byte for byte", got == open(os.path.join(root, "big.bin"),
                                                              "rb").read() and
              reply.startswith("226"))
        check("off: counted as user space", metric(mport, "user") == 1 and
              metric(mport, "ktls") == 0)
    finally:
        d.stop()

    # The hand-over itself as far as this kernel lets it go: told that the
    # kernel takes TLS 1.2 AES-128-GCM and TLS 1.3 AES-128-GCM (tests
    # only), ferryd pauses the data connection, waits for its handshake
    # records to leave, exports the keys and calls TLS_TX; without kTLS
    # that fails and user space sends the file. A TLS 1.2 AES-256-GCM
    # connection is not the kernel's: user space at once.
    if not have:
        os.environ["FERRY_TEST_KTLS_MASK"] = "5"
        try:
            d = Ferryd(ferryd_bin, ftp_conf(root, cert, key, None), workers=2,
                       extra={"metrics": {"listen": f"127.0.0.1:{mport}"}})
        finally:
            del os.environ["FERRY_TEST_KTLS_MASK"]
        try:
            binary, ascii = downloads(d.port, root, "TLS_TX fails")
            m = wait_log(d, r"kTLS: TLS_TX failed: [^;]*; user-space TLS")
            check("TLS_TX fails: logged, user space took over", m, d.logtext()[-500:])
            check("TLS_TX fails: every download counted as user space",
                  metric(mport, "user") == binary + ascii and metric(mport, "ktls") == 0)
        finally:
            rc, clean = d.stop()
            check("TLS_TX fails: sanitizers quiet", clean)

    # "required": refused at start-up (and by --check-config) without kTLS.
    conf = os.path.join(keys, "required.json")
    with open(conf, "w") as f:
        json.dump({"foreground": True, "allow_root": True, "log": {"level": 4},
                   "ftp": dict(ftp_conf(root, cert, key, "required"),
                               listen=[f"127.0.0.1:{free_port()}"])}, f)
    r = subprocess.run([ferryd_bin, "--check-config", "-f", conf], capture_output=True,
                       timeout=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    if have:
        check("required with kTLS: --check-config passes", r.returncode == 0, out[-400:])
    else:
        check("required without kTLS: --check-config fails and says why",
              r.returncode != 0 and "ftp.tls.ktls is \"required\"" in out and
              "kernel TLS is not available" in out, out[-400:])
        try:
            p = subprocess.run([ferryd_bin, "-f", conf], capture_output=True, timeout=60)
            out = (p.stdout + p.stderr).decode(errors="replace")
            check("required without kTLS: ferryd refuses to start, says why",
                  p.returncode != 0 and "ftp.tls.ktls is \"required\"" in out and
                  "not available" in out, out[-400:])
        except subprocess.TimeoutExpired:
            check("required without kTLS: ferryd refuses to start", False, "it ran")

    # Bad values and "required" without a certificate: configuration errors.
    for name, tls in (("a bad value", {"cert": cert, "key": key, "ktls": "maybe"}),
                      ("required without a certificate", {"ktls": "required"})):
        with open(conf, "w") as f:
            json.dump({"foreground": True, "allow_root": True,
                       "ftp": {"listen": ["127.0.0.1:2121"], "tls": tls,
                               "users": [{"name": "alice", "password": crypt_hash(PW),
                                          "root": root}]}}, f)
        r = subprocess.run([ferryd_bin, "--check-config", "-f", conf], capture_output=True,
                           timeout=60)
        out = (r.stdout + r.stderr).decode(errors="replace")
        check(f"ftp.tls.ktls {name}: a configuration error naming the key",
              r.returncode != 0 and "ftp.tls.ktls" in out, out[-300:])
    t.finish()


if __name__ == "__main__":
    main()
