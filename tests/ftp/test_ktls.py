"""test_ktls.py — ftp.tls.ktls (kernel TLS for PROT P downloads and
uploads) on the machine it runs on: the start-up probe's log line,
"required" refused at start-up and by --check-config when the kernel has no
TLS, and the path taken ("auto": the kernel's when it has the tls ULP, else
user space; "off": user space) shown by ferry_ftp_tls_downloads_total and
ferry_ftp_tls_uploads_total, with PROT P downloads byte for byte over TLS
1.2 and 1.3 (binary, REST, ASCII) and the server's close_notify (ftplib's
unwrap needs it), and PROT P uploads byte for byte (TLS 1.2 and 1.3, a
burst of Finished, file and close_notify, and one cut without close_notify:
426, nothing in place). A kernel with kTLS runs the kernel path here; one
without runs the fallback, also from the receiving side's hand-over: told
that the kernel opens every cipher (tests only), ferryd stops the upload at
a record boundary, fails TLS_RX and goes on in user space."""
import ftplib
import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (BioTLS, Checks, FdBaseline, Ferryd, crypt_hash, free_port, ftps_session,  # noqa: E402
                  same_bytes, self_signed, tempdir, tls_bio_upload, wait_for)

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check
PW = "ktls-s3cret"


def login(port, version):
    return ftps_session(port, "alice", PW, version=version)


def metric(port, labels, family="downloads"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r"^ferry_ftp_tls_%s_total\{tls=\"%s\"\} (\d+)$" % (family, labels), text,
                  re.M)
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
    return {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root,
                       "write": True}],
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


def uploads(port, root, label):
    """PROT P STOR of 3 MB over TLS 1.2 and 1.3 and a burst upload (Finished,
    file, close_notify and FIN at once): bytes equal, 226; an upload cut
    without close_notify: 426 and no file in place. Returns how many
    uploads ended with close_notify."""
    data = os.urandom(3 << 20)
    n = 0
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        f = login(port, ver)
        dest = f"up-{label[:4]}-{ver.name}.bin".replace(" ", "")
        try:
            reply = f.storbinary(f"STOR {dest}", io.BytesIO(data))
        except (ftplib.Error, OSError) as e:
            reply = repr(e)
        check(f"{label}: {name} PROT P STOR 3 MB: 226, byte for byte",
              reply.startswith("226") and same_bytes(os.path.join(root, dest), data), reply)
        n += 1
        f.quit()
    f = login(port, ssl.TLSVersion.TLSv1_3)
    small = os.urandom(70000)
    resp, _ = tls_bio_upload(f, "STOR burst.bin", small, burst=True)
    check(f"{label}: Finished, 70000 bytes, close_notify and FIN at once: 226, byte for byte",
          resp.startswith("226") and same_bytes(os.path.join(root, "burst.bin"), small), resp)
    n += 1
    conn = f.transfercmd("STOR cut.bin")
    conn.sendall(data[:1 << 20])
    raw = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()                   # the TLS object only: no close_notify
    raw.close()
    resp = f.getline()
    check(f"{label}: an upload cut without close_notify: 426", resp.startswith("426"), resp)
    check(f"{label}: ... and no file in place, no temporary file left",
          not os.path.exists(os.path.join(root, "cut.bin")) and
          wait_for(lambda: not [x for x in os.listdir(root) if ".ferry-" in x], 10),
          os.listdir(root))
    f.quit()
    return n


def cpu_seconds(pid):
    """User and system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def data_tls(f):
    """A PASV data connection of session f with its TLS (resumed) done in
    memory, so that the test writes whatever bytes it wants after it."""
    raw = socket.create_connection(f.makepasv(), timeout=20)
    raw.sendall(BioTLS(f, raw).records(b"", 1))     # our last handshake flight
    return raw


def stor_records(f, cmd, chunks, pause=0.0):
    """cmd over a PASV data connection whose TLS the test cuts: chunks is a
    list of functions of a BioTLS returning bytes, each sent whole, pause
    seconds after each; then FIN. The final reply."""
    raw = socket.create_connection(f.makepasv(), timeout=20)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f.putcmd(cmd)
    tls = BioTLS(f, raw)
    resp = f.getresp()
    if not resp.startswith("150"):
        return resp
    for chunk in chunks:
        raw.sendall(chunk(tls))
        time.sleep(pause)
    raw.shutdown(socket.SHUT_WR)
    try:
        return f.getresp()
    except ftplib.Error as e:
        return str(e)
    finally:
        raw.close()


def put_file(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def edge_uploads(d, root, label):
    """Uploads where the receiving side's hand-over (or, TLS_RX failing,
    its fall-back) meets the awkward cases: REST and APPE offsets, ASCII,
    records of 1 to 50 bytes sent 7 bytes at a time, the last record and
    close_notify in one segment after the stop, a stream cut mid-record
    after the stop, and SPSV, whose DATACONN login left half a record in
    the layer. Bytes compared, 226 (426 for the cut)."""
    data = os.urandom(300000)
    f = login(d.port, ssl.TLSVersion.TLSv1_3)
    f.voidcmd("TYPE I")
    put_file(os.path.join(root, "rest.bin"), b"x" * 5000)
    reply = f.storbinary("STOR rest.bin", io.BytesIO(data), rest=1000)
    check(f"{label}: REST 1000 + STOR: 226, the file is its head then the data",
          reply.startswith("226") and same_bytes(os.path.join(root, "rest.bin"),
                                                 b"x" * 1000 + data), reply)
    put_file(os.path.join(root, "appe.bin"), b"head")
    reply = f.storbinary("APPE appe.bin", io.BytesIO(data))
    check(f"{label}: APPE: 226, the old bytes then the new",
          reply.startswith("226") and same_bytes(os.path.join(root, "appe.bin"), b"head" + data),
          reply)
    text = b"line one\r\nline two\r\n" * 20000
    reply = f.storlines("STOR text.txt", io.BytesIO(text))
    check(f"{label}: ASCII STOR: 226, CRLF stored as LF",
          reply.startswith("226") and same_bytes(os.path.join(root, "text.txt"),
                                                 text.replace(b"\r\n", b"\n")), reply)
    f.voidcmd("TYPE I")
    small = os.urandom(60000)
    pieces = []
    for i in range(0, len(small), 50):
        pieces.append(small[i:i + 1 + i % 50])
    tiny = b"".join(pieces)

    def trickle(tls):
        out = b"".join(tls.records(p, 64) for p in pieces) + tls.close_notify()
        for i in range(0, len(out) - 7, 7):
            tls.raw.sendall(out[i:i + 7])
        return out[(len(out) - 1) // 7 * 7:]
    reply = stor_records(f, "STOR tiny.bin", [trickle])
    check(f"{label}: {len(pieces)} records of 1-50 bytes, 7 bytes per send: 226, bytes equal",
          reply.startswith("226") and same_bytes(os.path.join(root, "tiny.bin"), tiny), reply)
    reply = stor_records(f, "STOR tail.bin", [lambda t: t.records(data[:-1000], 16384),
                                              lambda t: t.records(data[-1000:], 16384)
                                              + t.close_notify()], pause=0.5)
    check(f"{label}: after the stop, the last record and close_notify in one segment: "
          "226, bytes equal",
          reply.startswith("226") and same_bytes(os.path.join(root, "tail.bin"), data), reply)
    reply = stor_records(f, "STOR half.bin", [lambda t: t.records(data[:200000], 16384),
                                              lambda t: t.records(data[200000:], 16384)[:999]],
                         pause=0.5)
    check(f"{label}: after the stop, a stream cut inside a record: 426, nothing in place",
          reply.startswith("426") and not os.path.exists(os.path.join(root, "half.bin")), reply)
    resp = f.sendcmd("SPSV")
    token = resp[resp.index("DATACONN:") + 9:].split(")")[0]
    f.putcmd("STOR spsv.bin")
    r150 = f.getresp()
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    sf = raw.makefile("rb")
    sf.readline()
    raw.sendall(b"AUTH TLS\r\n")
    sf.readline()
    tls = BioTLS(f, raw)
    raw.sendall(tls.records(b"USER DATACONN\r\n", 100))
    tls.line()
    login_rec = tls.records(f"PASS {token}\r\n".encode(), 100)
    body = tls.records(data, 16384)
    raw.sendall(login_rec + body[:10])
    logged = tls.line()
    raw.sendall(body[10:150000])
    time.sleep(0.5)
    raw.sendall(body[150000:] + tls.close_notify())
    reply = f.getresp()
    raw.close()
    check(f"{label}: SPSV, half a record in the DATACONN login's read: 150, 200, 226, "
          "bytes equal", r150.startswith("150") and logged.startswith("200") and
          reply.startswith("226") and same_bytes(os.path.join(root, "spsv.bin"), data),
          f"{r150!r} {logged!r} {reply!r}")
    f.quit()


def empty_records(d, label):
    """While the kernel could take a data connection its receives end at
    record ends. Two connections each fill ferryd's 64 KiB of held
    ciphertext with empty records (5 bytes each, 13000 receives) before any
    transfer: finding each record's end must cost what arrived, not a walk
    over all that is held (that walk took 2 s of CPU per connection under
    ASan, about 0.05 s without it)."""
    f = login(d.port, ssl.TLSVersion.TLSv1_2)
    before = cpu_seconds(d.proc.pid)
    conns = []
    for _ in range(2):
        conns.append(data_tls(f))
        conns[-1].sendall(b"\x17\x03\x03\x00\x00" * 13200)
        time.sleep(1)
    used = cpu_seconds(d.proc.pid) - before
    check(f"{label}: 2 x 64 KiB of empty records cost ferryd under 1 s of CPU",
          used < 1.0, f"{used:.2f} s")
    check(f"{label}: ... and the session still answers", f.voidcmd("NOOP").startswith("200"))
    for c in conns:
        c.close()
    f.quit()


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
        fds = FdBaseline(d.proc.pid)
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
        rx = bool(re.search(r"kTLS: receiving: [^;]*GCM", d.logtext()))
        n = uploads(d.port, root, "auto")
        want = {"ktls": n, "user": 0} if rx else {"ktls": 0, "user": n}
        got = {k: metric(mport, k, "uploads") for k in want}
        check("auto: PROT P uploads opened by %s (/metrics)" % ("ktls" if rx else "user"),
              got == want, f"{got} != {want}")
        if rx:                    # the kernel's hand-over for real
            empty_records(d, "auto")
            edge_uploads(d, root, "auto")
        # kTLS or user space, sendfile or splice: each transfer closed its file and pipes
        check("auto: ferryd's descriptors back to before the transfers", *fds.back())
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
    def told(mask):
        """ferryd told (tests only) that the kernel takes mask both ways."""
        os.environ["FERRY_TEST_KTLS_MASK"] = mask
        try:
            return Ferryd(ferryd_bin, ftp_conf(root, cert, key, None), workers=2,
                          extra={"metrics": {"listen": f"127.0.0.1:{mport}"}})
        finally:
            del os.environ["FERRY_TEST_KTLS_MASK"]

    if not have:
        d = told("5")
        try:
            check("TLS_TX fails: told, ferryd says the kernel would open uploads",
                  wait_log(d, r"kTLS: receiving: TLS 1\.2 AES-128-GCM, TLS 1\.3 AES-128-GCM;"),
                  d.logtext()[-500:])
            binary, ascii = downloads(d.port, root, "TLS_TX fails")
            m = wait_log(d, r"kTLS: TLS_TX failed: [^;]*; user-space TLS")
            check("TLS_TX fails: logged, user space took over", m, d.logtext()[-500:])
            check("TLS_TX fails: every download counted as user space",
                  metric(mport, "user") == binary + ascii and metric(mport, "ktls") == 0)
        finally:
            rc, clean = d.stop()
            check("TLS_TX fails: sanitizers quiet", clean)
        # Every cipher "opened by the kernel": each upload stops at a
        # record boundary after its file is open, TLS_RX fails and user
        # space opens the rest.
        d = told("63")
        try:
            n = uploads(d.port, root, "TLS_RX fails")
            fails = len(re.findall(r"kTLS: TLS_RX failed: [^;]*; user-space TLS", d.logtext()))
            check("TLS_RX fails: logged for both 3 MB uploads, user space took over",
                  fails >= 2, d.logtext()[-800:])
            check("TLS_RX fails: every upload counted as user space",
                  metric(mport, "user", "uploads") == n and
                  metric(mport, "ktls", "uploads") == 0)
            empty_records(d, "TLS_RX fails")
            edge_uploads(d, root, "TLS_RX fails")
        finally:
            rc, clean = d.stop()
            check("TLS_RX fails: sanitizers quiet", clean)

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
