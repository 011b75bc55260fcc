#!/usr/bin/env python3
"""test_reload: SIGHUP re-reads ferryd's JSON file while transfers run.

    test_reload.py FERRYD FERRY_PERF

FTP (loopback): while ftplib downloads a large file slowly, SIGHUP with
(a) an account added: it logs in, the running download ends byte-identical;
(b) an account removed: its new logins get 530, its running session goes on;
(c) an invalid file: refused with file:line:col in the log, old accounts work;
(d) a higher log level: new sessions' commands appear in the log;
(f) a changed listen address or worker count: "needs a restart", the rest
applied; a root outside the start-up roots: refused (the sandbox).
Proxy (in a network namespace of its own, unshare -rn): (e) a response
proxy's -C list changed: the REGISTERs of the next session follow it;
(g) its -S list changed: a server it refused is accepted, and the public
address is joined again for the new source (/proc/net/mcfilter); and
a ferryd started with flags only says SIGHUP just reopened the logs.
Ends with "N passed, N failed".
"""
import ftplib
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, Ferryd, crypt_hash, tempdir  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
from uftpmsg import announce  # noqa: E402
from ownns import loopback_multicast, rerun_inside  # noqa: E402

SSM_PRIV = "232.5.5.1"      # with -S the private address is source-specific (232/8)

BIG = 24 << 20


def wait_log(d, pattern, start=0, seconds=10):
    """The first match of pattern in the log after offset start, or None."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        m = re.search(pattern, d.logtext()[start:])
        if m:
            return m
        time.sleep(0.05)
    return None


def login(d, user, password):
    f = ftplib.FTP()
    f.connect(d.host, d.port, timeout=20)
    f.login(user, password)
    return f


def login_refused(d, user, password):
    f = ftplib.FTP()
    f.connect(d.host, d.port, timeout=20)
    try:
        f.login(user, password)
    except ftplib.error_perm as e:
        return str(e).startswith("530")
    finally:
        f.close()
    return False


class SlowDownload:
    """RETR of /big.bin at a crawl until release(), then at full speed."""

    def __init__(self, d, user, password):
        self.ftp = login(d, user, password)
        self.ftp.voidcmd("TYPE I")
        self.h = hashlib.sha256()
        self.got = 0
        self.go = threading.Event()
        self.error = None
        self.reply = None
        self.t = threading.Thread(target=self._run)
        self.t.start()
        deadline = time.time() + 10
        while self.got < (256 << 10) and time.time() < deadline:
            time.sleep(0.02)

    def _block(self, data):
        self.h.update(data)
        self.got += len(data)
        if not self.go.is_set():
            time.sleep(0.02)

    def _run(self):
        try:
            self.reply = self.ftp.retrbinary("RETR big.bin", self._block, blocksize=16384)
        except Exception as e:  # noqa: BLE001 - reported by the check
            self.error = e

    def finish(self):
        self.go.set()
        self.t.join(120)
        return self.reply, self.h.hexdigest(), self.got


def write_conf(d, ftp, level=2, workers=2, listen=None):
    ftp = dict(ftp)
    ftp["listen"] = listen or [f"{d.host}:{d.port}"]
    conf = {"workers": workers, "foreground": True, "allow_root": True,
            "log": {"level": level}, "ftp": ftp}
    tmp = d.conf_path + ".new"
    with open(tmp, "w") as f:
        json.dump(conf, f, indent=1)
    os.rename(tmp, d.conf_path)     # as editors do: a new file, renamed


def hup(d):
    start = len(d.logtext())
    d.proc.send_signal(signal.SIGHUP)
    return start


def ftp_tests(t, ferryd):
    tmp = tempdir("ferry-reload-")
    for name in ("alice", "bob", "carol"):
        os.makedirs(f"{tmp}/roots/{name}")
    os.makedirs(f"{tmp}/elsewhere")
    data = os.urandom(BIG)
    want = hashlib.sha256(data).hexdigest()
    for name in ("alice", "bob"):
        with open(f"{tmp}/roots/{name}/big.bin", "wb") as f:
            f.write(data)
    with open(f"{tmp}/roots/carol/hello.txt", "w") as f:
        f.write("hello\n")
    users = {
        "alice": {"name": "alice", "password": crypt_hash("a-pass"), "root": f"{tmp}/roots/alice"},
        "bob": {"name": "bob", "password": crypt_hash("b-pass"), "root": f"{tmp}/roots/bob"},
        "carol": {"name": "carol", "password": crypt_hash("c-pass"), "root": f"{tmp}/roots/carol"},
        "dave": {"name": "dave", "password": crypt_hash("d-pass"), "root": f"{tmp}/elsewhere"},
    }
    # The start-up roots: tmp/roots (carol's lies beneath it, for later).
    ftp = {"users": [users["alice"], users["bob"],
                     {"name": "root", "password": crypt_hash("r-pass"), "root": f"{tmp}/roots"}],
           "max_per_address": 64, "login_delay_ms": 100}
    d = Ferryd(ferryd, ftp, level=2)
    check = t.check
    try:
        check("started at level 2: no per-command lines", wait_log(d, r"ftp: session \d+: <", seconds=0.5) is None)

        # (a) an account added while alice downloads.
        dl = SlowDownload(d, "alice", "a-pass")
        check("(a) the download is running before the reload", 0 < dl.got < BIG, dl.got)
        ftp_a = dict(ftp, users=ftp["users"] + [users["carol"]])
        write_conf(d, ftp_a)
        at = hup(d)
        check("(a) reload logged", wait_log(d, r"reload: FTP: 4 account\(s\)", at) is not None,
              d.logtext()[at:][-600:])
        c = login(d, "carol", "c-pass")
        lines = []
        c.retrlines("RETR hello.txt", lines.append)
        check("(a) the new account logs in and downloads", lines == ["hello"], lines)
        c.quit()
        check("(a) the download still runs during the reload", dl.got < BIG and dl.error is None,
              dl.got)
        reply, digest, got = dl.finish()
        check("(a) the running download completes byte-identical",
              reply is not None and reply.startswith("226") and digest == want and got == BIG,
              (reply, got, dl.error))
        dl.ftp.quit()

        # (b) bob removed while bob downloads.
        dl = SlowDownload(d, "bob", "b-pass")
        early = ftplib.FTP()
        early.connect(d.host, d.port, timeout=20)   # connected, not logged in
        ftp_b = dict(ftp_a, users=[users["alice"], ftp["users"][2], users["carol"]])
        write_conf(d, ftp_b)
        at = hup(d)
        check("(b) reload logged", wait_log(d, r"reload: FTP: 3 account\(s\)", at) is not None)
        check("(b) the removed account's new login is refused (530)",
              login_refused(d, "bob", "b-pass"))
        try:
            early.login("bob", "b-pass")
            refused = False
        except ftplib.error_perm as e:
            refused = str(e).startswith("530")
        check("(b) a connection made before the reload cannot log in to the removed account",
              refused)
        early.close()
        reply, digest, got = dl.finish()
        check("(b) the removed account's running download completes byte-identical",
              reply is not None and reply.startswith("226") and digest == want,
              (reply, got, dl.error))
        check("(b) its session still answers commands", dl.ftp.pwd() == "/")
        dl.ftp.quit()

        # (c) an invalid file: refused, where it is wrong, old settings stay.
        dl = SlowDownload(d, "alice", "a-pass")
        with open(d.conf_path, "w") as f:
            f.write('{\n  "workers": 2,\n  "ftp": {"users": [}\n}\n')
        at = hup(d)
        m = wait_log(d, r"reload refused: " + re.escape(d.conf_path) + r":(\d+):(\d+)", at)
        check("(c) an invalid file is refused with file:line:col", m is not None and m.group(1) == "3",
              d.logtext()[at:][-600:])
        check("(c) the old accounts still work (carol logs in)",
              login(d, "carol", "c-pass").quit().startswith("221"))
        check("(c) the removed account stays removed", login_refused(d, "bob", "b-pass"))
        reply, digest, got = dl.finish()
        check("(c) the running download completes byte-identical",
              reply is not None and reply.startswith("226") and digest == want, (reply, got))
        dl.ftp.quit()

        # (d) log level 4: commands of new sessions are logged.
        write_conf(d, ftp_b, level=4)
        at = hup(d)
        check("(d) the new log level is announced", wait_log(d, r"reload: log level 4 \(was 2\)", at) is not None)
        login(d, "carol", "c-pass").quit()
        check("(d) a new session's commands are logged at level 4",
              wait_log(d, r"ftp: session \d+: < USER carol", at) is not None)

        # (f) keys that need a restart; a root outside the sandbox's.
        write_conf(d, dict(ftp_b, users=ftp_b["users"] + [users["dave"]]), level=4,
                   workers=1, listen=[f"{d.host}:{d.port}", f"{d.host}:{d.port + 1}"])
        at = hup(d)
        check("(f) workers: needs a restart", wait_log(d, r"reload: workers changed: needs a restart", at) is not None,
              d.logtext()[at:][-800:])
        check("(f) ftp.listen: needs a restart", wait_log(d, r"reload: ftp.listen changed: needs a restart", at) is not None)
        check("(f) a root outside the start-up roots is refused by name",
              wait_log(d, r"reload: ftp.users 'dave': root \S+/elsewhere is outside", at) is not None)
        check("(f) dave cannot log in", login_refused(d, "dave", "d-pass"))
        check("(f) the accounts in force still work", login(d, "alice", "a-pass").quit().startswith("221"))
    finally:
        rc, clean = d.stop()
    check("ferryd stopped cleanly, sanitizers quiet", rc in (0, 6) and clean, (rc, d.logtext()[-800:]))


# ---- (e) a response proxy's -C list, in a network namespace --------------

PORT = 1044
CLIENTS = 4


def perf_round(perf):
    run = subprocess.run([perf, "clients", "--proxy", f"127.0.0.1:{PORT}", "--clients", str(CLIENTS),
                          "--ports", str(CLIENTS), "--delay", "0", "--closed", "--grtt", "0.2",
                          "--settle", "0.3", "--timeout", "3", "--json", "-i", "0"],
                         capture_output=True, text=True, timeout=120)
    try:
        return json.loads(run.stdout)["end"]["phases"]["register"]["received"]
    except (ValueError, KeyError):
        return f"no JSON (exit {run.returncode}): {run.stderr[-300:]}"


def mcfilter_sources(group_hex):
    """The sources joined for a group (hex as /proc shows it) on lo."""
    with open("/proc/net/mcfilter") as f:
        return {line.split()[3] for line in f.readlines()[1:]
                if line.split()[1] == "lo" and line.split()[2] == group_hex}


def server_list_reload(t, text, wait, p, slist):
    """(g): -S re-read on SIGHUP; new ANNOUNCEs and the SSM joins follow it."""
    group_hex = "0x%08x" % struct.unpack(">I", socket.inet_aton("230.4.4.2"))[0]
    src2, src1 = "0x%08x" % struct.unpack(">I", socket.inet_aton("127.0.0.2"))[0], \
        "0x%08x" % struct.unpack(">I", socket.inet_aton("127.0.0.1"))[0]
    t.check("(g) before: joined for the listed server's source only",
            mcfilter_sources(group_hex) == {src2}, mcfilter_sources(group_hex))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        at = len(text())
        u.sendto(announce(0x0A000002, 0x6A000001, priv=SSM_PRIV), ("127.0.0.1", PORT + 2))
        t.check("(g) before the reload, an unlisted server is refused",
                wait(r"Rejecting ANNOUNCE from 0A000002: server not in server list", at)
                is not None, text()[at:][-500:])
        with open(slist + ".new", "w") as f:
            f.write("0x0A000001|127.0.0.2\n0x0A000002|127.0.0.1\n")
        os.rename(slist + ".new", slist)
        at = len(text())
        p.send_signal(signal.SIGHUP)
        t.check("(g) the reload reads the new -S list",
                wait(r"reload: rs: server list \(-S\): 2 server", at) is not None,
                text()[at:][-500:])
        deadline = time.time() + 10
        while time.time() < deadline and mcfilter_sources(group_hex) != {src1, src2}:
            time.sleep(0.05)
        t.check("(g) after: joined for both servers' sources",
                mcfilter_sources(group_hex) == {src1, src2}, mcfilter_sources(group_hex))
        at = len(text())
        u.sendto(announce(0x0A000002, 0x6A000002, priv=SSM_PRIV), ("127.0.0.1", PORT + 2))
        t.check("(g) after the reload, the newly listed server's session opens",
                wait(r"\[6A000002/00:0\]: Using private multicast address", at) is not None,
                text()[at:][-500:])
        t.check("(g) and is not refused", "Rejecting ANNOUNCE from 0A000002" not in text()[at:])


def proxy_inner(ferryd, perf):
    loopback_multicast()
    t = Checks()
    tmp = tempfile.mkdtemp(prefix="ferry-reload-px-")
    lst = os.path.join(tmp, "clients.txt")
    with open(lst, "w") as f:
        f.write("0xC1000001\n0xC1000002\n")
    slist = os.path.join(tmp, "servers.txt")
    with open(slist, "w") as f:
        f.write("0x0A000001|127.0.0.2\n")
    conf = {"allow_root": True, "foreground": True, "workers": 2, "log": {"level": 2},
            "proxies": [{"name": "rp", "role": "response", "port": PORT, "uid": "0x0B000001",
                         "client_list": lst},
                        {"name": "rs", "role": "response", "port": PORT + 2,
                         "uid": "0x0B000002", "server_list": slist,
                         "interfaces": ["lo"], "public_multicast": ["230.4.4.2"]}]}
    path = os.path.join(tmp, "ferryd.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    log = os.path.join(tmp, "ferryd.log")
    with open(log, "w") as out:
        p = subprocess.Popen([ferryd, "-f", path], stdout=out, stderr=subprocess.STDOUT)

    def text():
        with open(log, errors="replace") as fh:
            return fh.read()

    def wait(pattern, start=0, seconds=15):
        deadline = time.time() + seconds
        while time.time() < deadline and p.poll() is None:
            m = re.search(pattern, text()[start:])
            if m:
                return m
            time.sleep(0.05)
        return None

    try:
        t.check("(e) the response proxy starts", wait(r" started: ") is not None, text()[-500:])
        server_list_reload(t, text, wait, p, slist)
        got = perf_round(perf)
        t.check("(e) before the reload, only the 2 listed clients register", got == 2, got)
        with open(lst + ".new", "w") as f:
            f.write("0xC1000001\n0xC1000002\n0xC1000003\n0xC1000004\n")
        os.rename(lst + ".new", lst)
        at = len(text())
        p.send_signal(signal.SIGHUP)
        t.check("(e) the reload reads the new -C list",
                wait(r"reload: rp: client list \(-C\): 4 client", at) is not None, text()[at:][-500:])
        got = perf_round(perf)
        t.check("(e) after the reload, the next session registers all 4", got == CLIENTS, got)
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    t.check("(e) no sanitizer report", "Sanitizer" not in text() and "runtime error" not in text(),
            text()[-800:])
    # Flags only: SIGHUP reopens the logs and says there is no file to read.
    with open(log, "w") as out:
        p = subprocess.Popen([ferryd, "--allow-root", "-r", "-U", "0B000001", "-d", "-x", "2",
                              "-p", str(PORT + 1)], stdout=out, stderr=subprocess.STDOUT)
    try:
        t.check("flags only: the proxy starts", wait(r" started: ") is not None, text()[-500:])
        p.send_signal(signal.SIGHUP)
        t.check("flags only: SIGHUP says it reopened the logs only",
                wait(r"started without a configuration file \(-f\): reopened the logs only")
                is not None, text()[-500:])
        t.check("flags only: still running after SIGHUP", p.poll() is None)
    finally:
        p.terminate()
        p.wait(15)
    print(f"{t.passed} passed, {t.failed} failed", flush=True)
    return 1 if t.failed else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--inner":
        return proxy_inner(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ferryd, perf = (os.path.abspath(p) for p in sys.argv[1:3])
    t = Checks()
    t.run("ftp", ftp_tests, t, ferryd)
    r = rerun_inside(__file__, [ferryd, perf], capture_output=True, text=True)
    if r is None:
        print("skip - (e) needs a network namespace")
    else:
        sys.stdout.write(r.stdout)
        m = re.search(r"^(\d+) passed, (\d+) failed", r.stdout, re.M)
        t.passed += int(m.group(1)) if m else 0
        t.failed += int(m.group(2)) if m else 1
        if not m:
            print("FAIL - (e) the namespace run printed no result: " + r.stderr[-500:])
    t.finish()


if __name__ == "__main__":
    sys.exit(main())
