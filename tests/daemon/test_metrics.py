#!/usr/bin/env python3
"""/metrics: Prometheus text that promtool accepts, counters that move
with real traffic (an FTP download scraped while it runs, an SPSV login, a
UFTP datagram), the other paths refused, and scrapes that do not hold up a
session on the same worker.

usage: test_metrics.py FERRYD
"""
import ftplib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, Ferryd, free_port, recv_to_eof, tempdir, tls_ctx  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
from uftpmsg import STATUS, announce, hdr  # noqa: E402

c = Checks()


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def value(text, name, labels=""):
    m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else None


def total(text, name):
    return sum(int(v) for v in re.findall(r"^%s\{[^}]*\} (\d+)$" % re.escape(name), text, re.M))


def unknown_group_status():
    """A well-formed STATUS for a group the proxy never heard of."""
    return hdr(STATUS, 0x0C100002, 0x5EED0001) + struct.pack(">BBHHH", STATUS, 2, 1, 0, 0)


def encrypted_announce(gid):
    """An ANNOUNCE of an RSA key exchange whose server key blob is junk:
    the proxy begins the key exchange and must fail it."""
    junk = bytes([1]) + os.urandom(11)          # an RSA blob type, then garbage
    ext_len = 44 + len(junk)
    ext = struct.pack(">BBBBBBHHH", 1, ext_len // 4, 0, (1 << 4) | 1, 3, 3,
                      len(junk), 0, 0) + os.urandom(32) + junk
    return announce(0x0A0B0C0D, gid, ext=ext)


def wait_metric(port, pred, seconds=10):
    deadline = time.time() + seconds
    while True:
        _, text = scrape(port)
        if pred(text) or time.time() > deadline:
            return text
        time.sleep(0.05)


def reasons(text):
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^ferry_proxy_datagrams_dropped_total\{[^}]*reason="([a-z_]+)"\} (\d+)$', text, re.M)}


def kx(text, peer, result):
    return sum(int(v) for v in re.findall(
        r'^ferry_proxy_key_exchanges_total\{[^}]*peer="%s",result="%s"\} (\d+)$'
        % (peer, result), text, re.M))


def check_proxy_counters(mport, uport):
    """Every drop under one reason; the key-exchange counters move."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(unknown_group_status(), ("127.0.0.1", uport))
        u.sendto(encrypted_announce(0x5EED0002), ("127.0.0.1", uport))
    text = wait_metric(mport, lambda t: reasons(t).get("unknown_group", 0) >= 1
                       and kx(t, "server", "failed") >= 1)
    r = reasons(text)
    c.check("every drop reason is exported", set(r) >= {
        "malformed", "unknown_group", "not_listed", "refused", "limit", "unexpected",
        "auth", "resources", "send_failed"}, sorted(r))
    c.check("the junk datagram is dropped as malformed", r.get("malformed") == 1, r)
    c.check("the STATUS for an unknown group is dropped as unknown_group",
            r.get("unknown_group") == 1, r)
    c.check("an encrypted session began", total(text, "ferry_proxy_encrypted_sessions_total")
            == 1, total(text, "ferry_proxy_encrypted_sessions_total"))
    c.check("its failed key exchange with the server is counted",
            kx(text, "server", "failed") == 1 and kx(text, "server", "ok") == 0,
            [l for l in text.splitlines() if "key_exchanges" in l])


def check_tls_counters(ferryd):
    """AUTH TLS handshakes: one that completes, one fed garbage, one abandoned."""
    keys = tempdir("ferry-metrics-keys-")
    cert, key = os.path.join(keys, "c.crt"), os.path.join(keys, "c.key")
    r = subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1"], capture_output=True)
    if not c.check("a test certificate is made", r.returncode == 0, r.stderr[-300:]):
        return
    mport = free_port()
    d = Ferryd(ferryd, {"anonymous": {"root": tempdir("ferry-metrics-ftps-")},
                        "tls": {"cert": cert, "key": key}},
               workers=1, extra={"metrics": {"listen": "127.0.0.1:%d" % mport}})
    try:
        f = ftplib.FTP_TLS(context=tls_ctx(), timeout=20)
        f.connect("127.0.0.1", d.port)
        f.auth()
        f.quit()
        for garbage in (True, False):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.recv(1000)
            s.sendall(b"AUTH TLS\r\n")
            s.recv(1000)
            if garbage:
                s.sendall(b"\x16\x03\x01\x00\x05hello, not TLS" * 4)
                try:
                    s.recv(1000)
                except OSError:
                    pass
            s.close()

        def tls(text, conn, result):
            return value(text, "ferry_ftp_tls_handshakes_total",
                         '{connection="%s",result="%s"}' % (conn, result))
        text = wait_metric(mport, lambda t: tls(t, "control", "failed") == 2)
        c.check("one control handshake counted ok", tls(text, "control", "ok") == 1,
                tls(text, "control", "ok"))
        c.check("garbage and an abandoned handshake counted failed",
                tls(text, "control", "failed") == 2, tls(text, "control", "failed"))
    finally:
        code, clean = d.stop()
        c.check("the FTPS ferryd stops cleanly", clean, d.logtext()[-1500:])


def main():
    ferryd = sys.argv[1]
    root = tempdir("ferry-metrics-")
    blob = os.urandom(24 << 20)
    with open(os.path.join(root, "blob"), "wb") as f:
        f.write(blob)
    ftp_port, mport, uport = free_port(), free_port(), free_port()
    log = open(os.path.join(root, "..", os.path.basename(root) + ".log"), "w")
    proc = subprocess.Popen([ferryd, "--allow-root", "-d", "--workers", "1", "-c", "-p", str(uport),
                             "-U", "0x00000201", "--ftp-root", root, "--ftp-listen",
                             "127.0.0.1:%d" % ftp_port, "--metrics-listen",
                             "127.0.0.1:%d" % mport], stdout=log, stderr=log)
    try:
        deadline = time.time() + 15
        text = None
        while time.time() < deadline and text is None:
            try:
                ctype, text = scrape(mport)
            except OSError:
                time.sleep(0.05)
        if not c.check("the metrics port answers", text is not None):
            return
        c.check("text format 0.0.4", ctype.startswith("text/plain; version=0.0.4"), ctype)
        if shutil.which("promtool"):
            r = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            c.check("promtool check metrics accepts it", r.returncode == 0,
                    (r.stdout + r.stderr)[-800:])
        else:
            print("SKIP: promtool not installed")
        for name in ("ferry_engine_turns_total", "ferry_proxy_datagrams_in_total",
                     "ferry_proxy_datagrams_dropped_total", "ferry_proxy_key_exchanges_total",
                     "ferry_ftp_sessions", "ferry_ftp_logins_total",
                     "ferry_ftp_bytes_total", "ferry_ftp_spsv_tokens_total",
                     "ferry_ftp_tls_handshakes_total"):
            c.check("family %s is there" % name, "# TYPE %s " % name in text)
        before = text
        # A UFTP datagram into the client proxy (junk: counted and dropped).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"\x40\x01" + bytes(30), ("127.0.0.1", uport))
        # A download, scraped while it runs (the reader is slow on purpose).
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", ftp_port, timeout=30)
        ftp.login()
        ftp.voidcmd("TYPE I")
        sock = ftp.transfercmd("RETR blob")
        got = bytearray()
        chunk = sock.recv(65536)
        got += chunk
        _, during = scrape(mport)
        c.check("during the download, TCP bytes sent have moved",
                total(during, "ferry_engine_tcp_tx_bytes_total") >
                total(before, "ferry_engine_tcp_tx_bytes_total"))
        mid = total(during, "ferry_engine_tcp_tx_bytes_total")
        c.check("during the download, the FTP bytes counter already moves",
                0 < value(during, "ferry_ftp_bytes_total",
                          '{direction="download",mode="binary"}') <= len(blob),
                value(during, "ferry_ftp_bytes_total", '{direction="download",mode="binary"}'))
        c.check("during the download, one session is open",
                value(during, "ferry_ftp_sessions") == 1, value(during, "ferry_ftp_sessions"))
        got += recv_to_eof(sock)
        sock.close()
        ftp.voidresp()
        c.check("the download is whole", bytes(got) == blob)
        after_dl = wait_metric(mport, lambda t: total(t, "ferry_engine_tcp_tx_bytes_total")
                               >= mid + len(blob) // 2)
        c.check("TCP bytes sent count the spliced file",
                total(after_dl, "ferry_engine_tcp_tx_bytes_total") -
                total(before, "ferry_engine_tcp_tx_bytes_total") >= len(blob),
                total(after_dl, "ferry_engine_tcp_tx_bytes_total") -
                total(before, "ferry_engine_tcp_tx_bytes_total"))
        spsv = ftp.sendcmd("SPSV")
        ftp.quit()
        c.check("SPSV answered", spsv.startswith("227"), spsv)
        # Scrapes are served by the same worker as the sessions: fast.
        t0 = time.monotonic()
        for _ in range(50):
            _, after = scrape(mport)
        per = (time.monotonic() - t0) / 50
        c.check("a scrape takes well under 100 ms", per < 0.1, "%.1f ms" % (per * 1000))
        c.check("ferry_ftp_logins_total{result=ok} counts the login",
                value(after, "ferry_ftp_logins_total", '{result="ok"}') == 1)
        c.check("ferry_ftp_bytes_total counts the download",
                value(after, "ferry_ftp_bytes_total",
                      '{direction="download",mode="binary"}') == len(blob))
        c.check("ferry_ftp_transfers_total counts it once",
                value(after, "ferry_ftp_transfers_total",
                      '{direction="download",mode="binary"}') == 1)
        c.check("SPSV tokens issued: 1",
                value(after, "ferry_ftp_spsv_tokens_total", '{event="issued"}') == 1)
        c.check("the proxy counted the datagram",
                total(after, "ferry_proxy_datagrams_in_total") +
                total(after, "ferry_proxy_datagrams_dropped_total") >= 1,
                [l for l in after.splitlines() if l.startswith("ferry_proxy_datagrams")])
        check_proxy_counters(mport, uport)
        c.check("engine turns move",
                total(after, "ferry_engine_turns_total") > total(before, "ferry_engine_turns_total"))
        for path, code in (("/", 404), ("/metricsx", 404)):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=5)
                got_code = 200
            except urllib.error.HTTPError as e:
                got_code = e.code
            c.check("%s answers %d" % (path, code), got_code == code, got_code)
        # A client that never finishes its request is closed (5 s), not kept.
        s = socket.create_connection(("127.0.0.1", mport), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        t0 = time.monotonic()
        try:
            closed = s.recv(100) == b""
        except OSError:
            closed = True
        c.check("an unfinished request is closed after about 5 s",
                closed and 3 < time.monotonic() - t0 < 10, "%.1f s" % (time.monotonic() - t0))
        s.close()
    finally:
        proc.terminate()
        rc = proc.wait(15)
        log.close()
        c.check("ferryd stops with 6", rc == 6, rc)
    check_tls_counters(ferryd)
    c.finish()


if __name__ == "__main__":
    main()
