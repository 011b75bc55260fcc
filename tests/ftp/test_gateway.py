"""test_gateway.py — ferryd's SPSV gateway in front of real legacy servers,
vsftpd and pure-ftpd from Debian, each run in the foreground with a
configuration written here, in a network namespace whose nftables input
chain lets only the control ports in: ferry-ftp and a raw-socket client
mirror, get and put through the gateway byte for byte (both data login
forms), the SPDT exchange as bytedance's g3 sends it, direct PASV/EPSV to
the backend failing, and every refusal: tokens naming other ports, expired,
used twice, from another address, of a closed session; the limits on
connections not logged in (count, bytes, time)."""
import ctypes
import filecmp
import hashlib
import ssl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, FdBaseline, control_port_rules, find_pureftpd, make_tree, netns_pair,  # noqa: E402
                  pure_userdb, recv_until_close, same_tree, sanitizers_quiet, self_signed, sh,
                  stop_process, tempdir, vsftpd_anon_conf, vsftpd_tls_conf, wait_for)
from rawftp import Ctl, Session, data_login, identifier, token_of  # noqa: E402

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
SRV = CLI = None        # the namespaces' names, once main() made them
SRV_IP, CLI_IP, CLI_IP2 = "198.18.52.1", "198.18.52.2", "198.18.52.3"
GW_VS, GW_PURE, GW_LIM = 2100, 2102, 2104
GW_TLS_VS, GW_TLS_PURE, GW_TLS_POL = 2106, 2108, 2110
GW_BTLS_VS, GW_BTLS_PURE, GW_BREQ, GW_BAUTO, GW_BBADCA, GW_BINSEC = 2112, 2114, 2116, 2118, 2120, 2126
GW_RELOAD, GW_IMPL, GW_IMPL_TLS, GW_STOP = 2128, 2130, 2131, 2132
GW_DRAIN, GW_DRAIN_HALF, HALF_PORT = 2134, 2136, 2127
VS_TLS_PORT, PURE_TLS_PORT = 2123, 2124
VS_PORT, PURE_PORT, PROBE_PORT, MUTE_PORT = 2121, 2122, 8080, 2125
procs = []


# Only control ports get in: the gateways' and, to show what fails without
# the gateway, the backends'. Their passive ports do not.
RULES = control_port_rules([GW_VS, GW_PURE, GW_LIM, GW_TLS_VS, GW_TLS_PURE, GW_TLS_POL,
                            GW_BTLS_VS, GW_BTLS_PURE, GW_BREQ, GW_BAUTO, GW_BBADCA, GW_BINSEC,
                            GW_RELOAD, GW_IMPL, GW_IMPL_TLS, GW_STOP, GW_DRAIN, GW_DRAIN_HALF,
                            VS_PORT, PURE_PORT, VS_TLS_PORT, PURE_TLS_PORT], established=True)
# Resets the server namespace sends toward the clients (not over loopback,
# where the gateway meets its backends): the gateway's to its clients.
RESET_COUNTER = """
table inet resets {
  counter toward_clients {
  }
  chain output {
    type filter hook output priority 0;
    oifname != "lo" tcp flags & rst == rst counter name toward_clients
  }
}
"""


def enter(ns):
    """This thread (and what it starts) into ns, a name in /run/netns or an
    open namespace file: the clients run in CLI."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = ns if isinstance(ns, int) else os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        if fd is not ns:
            os.close(fd)


def teardown(lab, home):
    """Kills what start() started; back home (lab.close() kills whatever
    still runs in its namespaces, this test too if it stayed in CLI), then
    the namespaces go."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    enter(home)
    if lab:
        lab.close()


def start(cmd, log_path):
    log = open(log_path, "w")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    p = subprocess.Popen(["ip", "netns", "exec", SRV] + cmd, stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    procs.append(p)
    return p


def wait_port(port, proc, log_path):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode}: {open(log_path).read()[-2000:]}")
        try:
            socket.create_connection((SRV_IP, port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# ---- the servers ---------------------------------------------------------

def vsftpd_conf(work, name, port, root, pasv, extra=""):
    """vsftpd's configuration for the anonymous tree at root on port (pasv:
    the first of its 1000 passive ports; anonymous may also make directories
    and rename), written to work/name.conf."""
    conf = os.path.join(work, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(vsftpd_anon_conf(port, root, pasv, pasv + 999, os.path.join(work, "empty")) +
                "anon_mkdir_write_enable=YES\nanon_other_write_enable=YES\n" + extra)
    return conf


def start_vsftpd(work):
    root = os.path.join(work, "vsroot")          # anonymous root: not writable
    os.makedirs(os.path.join(root, "up"))
    make_tree(os.path.join(root, "tree"), 11)
    shutil.chown(os.path.join(root, "up"), "ftp")
    os.chmod(work, 0o755)
    os.makedirs(os.path.join(work, "empty"))
    log = os.path.join(work, "vsftpd.log")
    conf = vsftpd_conf(work, "vsftpd", VS_PORT, root, 30000, f"""xferlog_enable=YES
dual_log_enable=YES
vsftpd_log_file={log}
log_ftp_protocol=YES
""")
    out = os.path.join(work, "vsftpd.out")
    p = start(["vsftpd", conf], out)
    wait_port(VS_PORT, p, out)
    return root, log


def start_vsftpd_tls(work, root, cert, key):
    """A second vsftpd on the same tree, FTPS only, with require_ssl_reuse."""
    conf = vsftpd_conf(work, "vsftpd-tls", VS_TLS_PORT, root, 32000, vsftpd_tls_conf(cert, key))
    out = os.path.join(work, "vsftpd-tls.out")
    p = start(["vsftpd", conf], out)
    wait_port(VS_TLS_PORT, p, out)


def start_pureftpd_tls(work, binary, root, cert, key):
    """A second pure-ftpd on the same tree, -Y 2: TLS for logins and data."""
    pdb = os.path.join(work, "pure.pdb")
    out = os.path.join(work, "pure-ftpd-tls.out")
    p = start([binary, "-S", f",{PURE_TLS_PORT}", "-l", f"puredb:{pdb}", "-E", "-A", "-H",
               "-p", "33000:33999", "-f", "none", "-Y", "2", "-2", f"{cert},{key}"], out)
    wait_port(PURE_TLS_PORT, p, out)


def start_pureftpd(work, binary):
    root = os.path.join(work, "pureroot")
    make_tree(os.path.join(root, "tree"), 12)
    subprocess.run(["chown", "-R", "65534:65534", root], check=True)
    os.chmod(work, 0o755)
    pdb = pure_userdb(work, binary, root)
    out = os.path.join(work, "pure-ftpd.out")
    p = start([binary, "-S", f",{PURE_PORT}", "-l", f"puredb:{pdb}", "-E", "-A", "-H",
               "-p", "31000:31999", "-f", "none", "-O", f"clf:{work}/pure-xfer.log"], out)
    wait_port(PURE_PORT, p, out)
    return root


class Gateway:
    def __init__(self, work, name, port, backend, level=3, **extra):
        self.log_path = os.path.join(work, f"{name}.log")
        gw = {"listen": [f"{SRV_IP}:{port}"], "backend": backend}
        gw.update(extra)
        conf = {"workers": 2, "foreground": True, "allow_root": True,
                "log": {"level": level}, "gateway": gw}
        path = os.path.join(work, f"{name}.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        self.proc = start([ferryd_bin, "--allow-root", "-f", path], self.log_path)
        self.port = port
        wait_port(port, self.proc, self.log_path)
        # the workers listen before start-up ends: its descriptors (a
        # worker's eventfd and listener) are in only once it says "started"
        if not wait_for(lambda: re.search(r"ferryd \S+ started: ", self.logtext()), 20):
            raise RuntimeError(f"{name}: no 'started' line: {self.logtext()[-2000:]}")

    def logtext(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.proc, 20)
        return sanitizers_quiet(self.logtext())


# ---- through the gateway ---------------------------------------------------

def ferry(port, user, *args, opts=(), timeout=180):
    return subprocess.run([ferry_ftp, "-q", "-t", "10", "-u", user, *opts, f"{SRV_IP}:{port}", *args],
                          capture_output=True, timeout=timeout)


def get_each(port, user, root, down):
    """ferry-ftp get of every file: ferry-ftp mirror needs MLSD, which
    vsftpd does not have."""
    for d, _, files in os.walk(os.path.join(root, "tree")):
        rel = os.path.relpath(d, root)
        os.makedirs(os.path.join(down, os.path.relpath(d, os.path.join(root, "tree"))), exist_ok=True)
        for f in files:
            r = ferry(port, user, "get", f"/{rel}/{f}",
                      os.path.join(down, os.path.relpath(d, os.path.join(root, "tree")), f))
            if r.returncode:
                return r
    return r


def replies_to_noop(c):
    """NOOP after an ABOR: the replies up to NOOP's 200 (at most 4)."""
    c.send("NOOP")
    replies = [c.reply()]
    while not replies[-1].startswith("200") and len(replies) < 4:
        replies.append(c.reply())
    return replies


def with_ferry_ftp(name, port, user, root, upload_dir, work, mlsd=True):
    down = os.path.join(work, f"{name}-down")
    r = ferry(port, user, "mirror", "/tree", down) if mlsd else get_each(port, user, root, down)
    check(f"{name}: ferry-ftp {'mirror' if mlsd else 'get of each file'} through the gateway "
          "(SPSV, DATACONN): exit 0", r.returncode == 0, r.stderr.decode()[-800:])
    check(f"{name}: the mirrored tree is byte-identical", r.returncode == 0 and
          same_tree(os.path.join(root, "tree"), down))
    up = os.path.join(work, f"{name}-up")
    make_tree(up, 21)
    r = ferry(port, user, "mirror", "-R", up, f"{upload_dir}/mirrored")
    check(f"{name}: ferry-ftp mirror -R through the gateway: exit 0", r.returncode == 0,
          r.stderr.decode()[-800:])
    check(f"{name}: the uploaded tree is byte-identical", r.returncode == 0 and
          same_tree(up, os.path.join(root, upload_dir.lstrip("/"), "mirrored")))
    h = subprocess.run([ferry_ftp, "--help"], capture_output=True, timeout=30)
    if b"--spsv-form" in h.stdout + h.stderr:
        out = os.path.join(work, f"{name}-spdt.bin")
        r = ferry(port, user, "get", "/tree/file1", out, opts=["--spsv-form", "spdt"])
        check(f"{name}: ferry-ftp --spsv-form spdt get: byte-identical", r.returncode == 0 and
              filecmp.cmp(out, os.path.join(root, "tree/file1"), shallow=False), r.stderr.decode())
    else:
        print("# ferry-ftp of this tree has no --spsv-form yet: SPDT by the raw client only")


def with_raw_client(name, port, user, password, root, upload_dir):
    s = Session(SRV_IP, port)
    s.login(user, password)
    listing = s.listing("/tree")
    check(f"{name}: raw LIST through the gateway", "file0" in listing and "sub" in listing, listing)
    for form in ("dataconn", "spdt"):
        want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
        check(f"{name}: raw RETR ({form} data login): byte-identical",
              s.get("/tree/sub/file2", form) == want)
    blob = os.urandom(3 << 20) + b"\r\n\xff\xf4\xff\xf2 binary, not Telnet"
    s.put(f"{upload_dir}/blob.bin", blob)
    stored = open(os.path.join(root, upload_dir.lstrip("/"), "blob.bin"), "rb").read()
    check(f"{name}: raw STOR of 3 MiB: byte-identical on the server", stored == blob,
          f"{len(stored)} of {len(blob)} bytes")
    check(f"{name}: raw RETR of it back: byte-identical", s.get(f"{upload_dir}/blob.bin") == blob)
    check(f"{name}: REST 1000 then RETR: the rest of the file",
          s.get(f"{upload_dir}/blob.bin", rest=1000) == blob[1000:])
    # ABOR during a transfer the client does not read: back-pressure holds
    # the backend, the abort passes through, the session goes on.
    r = s.cmd("SPSV")
    d, r2 = data_login(SRV_IP, port, r)
    s.cmd(f"RETR {upload_dir}/blob.bin")
    d.s.recv(1000)
    s.send("ABOR")
    d.close()
    # The transfer's end and ABOR's own reply (225/226), in whichever way the
    # server answers, then NOOP's 200: the session goes on. The end is 226
    # (all sent before the ABOR), 426/450/451, or pure-ftpd's TRANSFER_END
    # when the closed data connection broke its write first.
    replies = replies_to_noop(s)
    check(f"{name}: ABOR passes through, the session goes on",
          replies[-1].startswith("200") and
          all(re.match(r"^(225|226|426|450|451)", x) or TRANSFER_END.search(x)
              for x in replies[:-1]), str(replies))
    s.cmd("QUIT")


# pure-ftpd 1.0.50's doretr() adds its 226 only when the whole file was
# written, then its rate line with code 0, which reuses the code of the
# reply it sent last: the 150. A RETR whose data connection breaks ends
# with "150 0.001 seconds (measured here), ..." and no 226 (seen without
# any gateway too). The ABOR check above once failed on it.
TRANSFER_END = re.compile(r"^150 [\d.]+ seconds \(measured here\)", re.M)


def broken_retr(name, port, user, password, upload_dir):
    """The race of the ABOR check made certain: the client resets its data
    connection in the middle of a 64 MiB RETR. Whatever the backend says to
    that is relayed as it is, line for line, and the session goes on."""
    s = Session(SRV_IP, port)
    s.login(user, password)
    s.put(f"{upload_dir}/big64.bin", os.urandom(1 << 20) * 64)
    r = s.cmd("SPSV")
    d, _ = data_login(SRV_IP, port, r)
    s.cmd(f"RETR {upload_dir}/big64.bin")
    d.s.recv(1000)
    d.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    d.close()
    end = s.reply()
    if name == "pure-ftpd":
        check(f"{name}: a RETR whose data connection is reset ends with the backend's "
              "own '150 <rate>' line, relayed unchanged", TRANSFER_END.match(end), end)
    else:
        check(f"{name}: a RETR whose data connection is reset: 426/451", re.match(r"^4[25]\d", end), end)
    r = s.cmd("ABOR")
    check(f"{name}: ... ABOR after it: 225/226", re.match(r"^22[56]", r), r)
    r = s.cmd("NOOP")
    check(f"{name}: ... and the session goes on (NOOP 200)", r.startswith("200"), r)
    s.cmd("QUIT")


def backpressure(port, root, vslog):
    """A client that stops reading holds the backend back: the gateway
    never takes in a whole 64 MiB file it cannot pass on."""
    big = os.urandom(1 << 20) * 64
    with open(os.path.join(root, "up", "big.bin"), "wb") as f:
        f.write(big)
    s = Session(SRV_IP, port)
    s.login("anonymous", "x")
    r = s.cmd("SPSV")
    d, _ = data_login(SRV_IP, port, r)
    s.cmd("RETR /up/big.bin")
    first = d.s.recv(1000)
    time.sleep(3)
    done = [x for x in open(vslog, errors="replace") if "OK DOWNLOAD" in x and "big.bin" in x]
    check("a client that does not read stalls vsftpd's RETR (no unbounded buffering)",
          not done, "".join(done))
    rest = d.read_all()
    check("... and when it reads again the file arrives byte-identical", first + rest == big,
          f"{len(first) + len(rest)} bytes")
    check("... 226", s.reply().startswith("226"))
    d.close()
    s.cmd("QUIT")


def late_byte(port, root, n=3):
    """A client that writes on its data connection after the RETR's 226 but
    before it has read the data (as a TLS client that sends its close_notify
    when the control connection says the transfer is done): by then the
    gateway has ended the link, with most of a 32 KiB file still in its
    socket's send queue, behind the client's small window (4 KiB; the file
    fits the queue, so the gateway's last send is done and it has closed).
    A close() there answered the byte with a reset that dropped that queue
    (4319 bytes arrived, then ECONNRESET, every time); the gateway now reads
    the byte and waits for the client's close, and the whole file arrives."""
    blob = os.urandom(32 << 10)
    with open(os.path.join(root, "up", "late.bin"), "wb") as f:
        f.write(blob)
    s = Session(SRV_IP, port)
    s.login("anonymous", "x")
    bad = []
    for i in range(n):
        r = s.cmd("SPSV")
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the SYN: the window
        raw.settimeout(20)
        raw.connect((SRV_IP, port))
        d = Ctl.__new__(Ctl)
        d.begin(raw, SRV_IP, port)
        d.cmd("USER DATACONN")
        r2 = d.cmd("PASS " + (token_of(r) or ""))
        r3 = s.cmd("RETR /up/late.bin")
        end = s.reply()                   # all sent: vsftpd's 226 is relayed
        d.s.sendall(b"x")
        got, err = b"", ""
        try:
            while chunk := d.f.read1(65536):
                got += chunk
        except OSError as e:
            err = repr(e)
        d.close()
        if r2 != "200 DATA" or not r3.startswith("150") or not end.startswith("226") or got != blob:
            bad.append(f"#{i}: {r2} / {r3} / {end} / {len(got)} bytes {err}")
    s.cmd("QUIT")
    check(f"a client that writes on its data connection after 226, before reading: "
          f"the whole file arrives ({n} RETRs)", not bad, "; ".join(bad))


def g3_exchange(name, port, user, password, root):
    """As g3's FTP client: FEAT, login, EPSV and PASV first (refused here),
    then SPSV; the data connection waits for 220 and sends SPDT with the
    bracket contents, expecting 200."""
    c = Ctl(SRV_IP, port)
    feat = c.cmd("FEAT")
    lines = [x.strip().split(" ")[0].upper() for x in feat.split("\n")[1:-1]]
    check(f"{name}: FEAT through the gateway lists SPSV", "SPSV" in lines, feat)
    check(f"{name}: ... and not PASV, EPSV, EPRT", not {"PASV", "EPSV", "EPRT"} & set(lines), feat)
    c.cmd("USER " + user)
    check(f"{name}: login relayed", c.cmd("PASS " + password).startswith("230"))
    c.cmd("TYPE I")
    for v in ("EPSV", "PASV", "PORT 198,18,52,2,100,1", "EPRT |1|198.18.52.2|25601|"):
        r = c.cmd(v)
        check(f"{name}: {v.split()[0]} refused with a pointer to SPSV", r.startswith("502") and "SPSV" in r, r)
    r = c.cmd("AUTH TLS")
    check(f"{name}: AUTH TLS on a gateway without gateway.tls: 502 (or 503 after USER)",
          re.match(r"^50[23]", r), r)
    for v in ("PBSZ 0", "PROT P"):
        r = c.cmd(v)
        check(f"{name}: {v} without TLS: 503 from the gateway itself", r.startswith("503"), r)
    r = c.cmd("SPSV")
    ident = identifier(r)
    check(f"{name}: SPSV -> 227 (DATACONN:token)", token_of(r) is not None, r)
    d = Ctl(SRV_IP, port)
    check(f"{name}: g3's data connection sees 220", d.greeting.startswith("220"))
    r = d.cmd("SPDT " + ident)
    check(f"{name}: SPDT <identifier> -> 200", r.startswith("200"), r)
    c.cmd("RETR /tree/file2")
    got = d.read_all()
    check(f"{name}: g3 RETR byte-identical", got == open(os.path.join(root, "tree/file2"), "rb").read())
    check(f"{name}: 226", c.reply().startswith("226"))
    c.cmd("QUIT")


def direct_fails(name, port, user, work):
    for mode in ("--pasv", "--epsv"):
        r = ferry(port, user, "get", "/tree/file1", os.path.join(work, "direct.bin"), opts=[mode],
                  timeout=120)
        check(f"{name}: {mode} straight to the backend cannot get through: exit 6",
              r.returncode == 6, f"{r.returncode} {r.stderr.decode()[-300:]}")


# ---- refusals and limits -----------------------------------------------------

def probe_listener(work):
    """A listener in the server namespace that no token may reach."""
    path = os.path.join(work, "probe.txt")
    code = ("import socket,sys\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {PROBE_PORT})); s.listen()\n"
            f"open({path!r}, 'w').close()\n"
            f"while True:\n c, a = s.accept(); open({path!r}, 'a').write('connected\\n'); c.close()\n")
    p = start(["python3", "-c", code], os.path.join(work, "probe.out"))
    deadline = time.time() + 10
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    return p, path


def logged_in(port):
    c = Session(SRV_IP, port)
    c.login("anonymous", "x")
    return c


def refusals(gw, work):
    port = gw.port
    probe, probe_path = probe_listener(work)
    c = logged_in(port)
    for guess in (str(PROBE_PORT), str(VS_PORT), "30000", "DATACONN:8080", "../../x"):
        d = Ctl(SRV_IP, port)
        d.cmd("USER DATACONN")
        r = d.cmd("PASS " + guess)
        check(f"draft 6's naive 'PASS {guess}' (a port, not a token): 504 and closed",
              r.startswith("504") and d.closed(), r)
        d = Ctl(SRV_IP, port)
        r = d.cmd("SPDT " + guess)
        check(f"'SPDT {guess}': 504", r.startswith("504"), r)
    time.sleep(0.3)
    check("no connection ever reached the probe port",
          open(probe_path).read() == "", open(probe_path).read())
    probe.kill()
    # the port a token reaches is the one the backend announced
    r = c.cmd("SPSV")
    d, r2 = data_login(SRV_IP, port, r)
    check("a fresh token: 200 DATA", r2 == "200 DATA", r2)
    time.sleep(0.3)
    log = gw.logtext()
    announced = re.findall(r"SPSV for the backend's port (\d+)", log)
    joined = re.findall(r"joins session \d+ \(backend port (\d+)\)", log)
    check("the data connection went to exactly the port the backend announced",
          announced and joined and announced[-1] == joined[-1], f"{announced} {joined}")
    c.cmd("LIST /")
    d.read_all()
    c.reply()
    d.close()
    # used twice
    d, r2 = data_login(SRV_IP, port, r)
    check("a token used twice: 504", r2.startswith("504") and d.closed(), r2)
    # superseded by the next SPSV
    old = c.cmd("SPSV")
    c.cmd("SPSV")
    d, r2 = data_login(SRV_IP, port, old)
    check("a token replaced by a newer SPSV: 504", r2.startswith("504"), r2)
    # another client address; then the owner still can
    r = c.cmd("SPSV")
    d, r2 = data_login(SRV_IP, port, r, src=CLI_IP2)
    check("a token shown from another client address: 504", r2.startswith("504"), r2)
    d, r2 = data_login(SRV_IP, port, r)
    check("... and it still works from the control connection's address", r2 == "200 DATA", r2)
    d.close()
    # expired (token_timeout is 1 s here)
    r = c.cmd("SPSV")
    time.sleep(2.5)
    d, r2 = data_login(SRV_IP, port, r)
    check("an expired token: 504", r2.startswith("504"), r2)
    # the token of a session that ended
    r = c.cmd("SPSV")
    c.cmd("QUIT")
    c.close()
    time.sleep(0.3)
    d, r2 = data_login(SRV_IP, port, r)
    check("the token of a closed session: 504", r2.startswith("504"), r2)
    log = gw.logtext()
    for why in ("unknown or used token", "expired token", "token of another client address"):
        check(f"the refusal is logged: '{why}'", why in log)


def limits(gw):
    port = gw.port
    # count: max_unauthenticated is 3
    idle = [Ctl(SRV_IP, port) for _ in range(3)]
    x = Ctl(SRV_IP, port)
    check("a 4th connection not logged in: 421", x.greeting.startswith("421"), x.greeting)
    check("... and closed", x.closed())
    for i in idle:
        i.close()
    # time: login_timeout is 3 s
    deadline = time.time() + 15
    while time.time() < deadline:          # the closed ones are released
        y = Ctl(SRV_IP, port)
        if y.greeting.startswith("220"):
            break
        y.close()
        time.sleep(0.2)
    started = time.time()
    y.s.settimeout(20)
    r = y.reply()
    took = time.time() - started
    check("an idle connection is dropped after login_timeout: 421", r.startswith("421") and y.closed(), r)
    check("... not before about 3 s, not much after", 2 <= took < 15, f"{took:.1f} s")
    # bytes: 8 KiB before login
    z = Ctl(SRV_IP, port)
    try:
        z.s.sendall(b"1\r\n" * 4000)
    except OSError:
        pass
    got = recv_until_close(z.s, 10)
    check("more than 8 KiB before login: 421 and closed", b"421 Too much input" in got, got[-200:])
    # One that goes on sending: the gateway's wait for a client's close
    # (link.c) reads at most 64 KiB, then it is reset, not held for 5 s.
    z = Ctl(SRV_IP, port)
    z.s.settimeout(10)
    started, cut = time.time(), None
    try:
        while time.time() - started < 10:
            z.s.sendall(b"x" * 16384)
    except OSError as e:
        cut = e
    took = time.time() - started
    check(f"a client that keeps sending past the limit is reset at once, not after the 5 s "
          f"wait for its close (took {took:.2f} s)",
          isinstance(cut, (ConnectionResetError, BrokenPipeError)) and took < 2.5, repr(cut))


def mapping(gw, vslog):
    log = gw.logtext()
    m = re.search(rf"gateway: session \d+: client {re.escape(CLI_IP)}:\d+ <-> backend 127\.0\.0\.1:{VS_PORT} "
                  r"from 127\.0\.0\.1:(\d+)", log)
    check("ferryd logs client <-> backend session at the default level", m is not None, log[-1500:])
    cmds = [x for x in open(vslog, errors="replace") if "FTP command: Client" in x]
    check("vsftpd sees the gateway's address (127.0.0.1) for every command, "
          "never the client's", cmds and all('Client "127.0.0.1"' in x for x in cmds),
          "".join(x for x in cmds if "127.0.0.1" not in x)[:600])


# ---- FTPS toward the clients (gateway.tls) ----------------------------------

def make_backend_cert(work):
    """The backends' own certificate (RSA, for 127.0.0.1), made here."""
    cert, key = os.path.join(work, "be.crt"), os.path.join(work, "be.key")
    sh("openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout", key, "-out", cert,
       "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    os.chmod(key, 0o600)
    return cert, key


class TlsCtl(Ctl):
    """A raw control (or data) connection that can turn to TLS after AUTH."""

    def starttls(self, ctx, session=None):
        r = self.cmd("AUTH TLS")
        if not r.startswith("234"):
            return r
        self.f.close()
        self.s = ctx.wrap_socket(self.s, server_hostname=SRV_IP, session=session)
        self.f = self.s.makefile("rb")
        return r


def tls_data(port, ctx, reply, session=None, tls=True, form="dataconn"):
    """An SPSV data connection in TLS (or not): (conn, its login reply)."""
    d = TlsCtl(SRV_IP, port)
    if tls:
        d.starttls(ctx, session)
    if form == "spdt":
        return d, d.cmd("SPDT " + identifier(reply))
    d.cmd("USER DATACONN")
    return d, d.cmd("PASS " + (token_of(reply) or ""))


def tls_session(port, ctx, user, password):
    c = TlsCtl(SRV_IP, port)
    r = c.starttls(ctx)
    if not r.startswith("234"):
        raise RuntimeError(f"AUTH TLS: {r}")
    c.cmd("USER " + user)
    r = c.cmd("PASS " + password)
    if not r.startswith("230"):
        raise RuntimeError(f"login: {r}")
    c.cmd("TYPE I")
    c.cmd("PBSZ 0")
    c.cmd("PROT P")
    return c


def get_put_spdt(what, tag, port, user, root, upload_dir, work, opts):
    """ferry-ftp through the gateway with opts: get, put of 3 MiB, the SPDT
    form's get, each byte for byte (what names them, tag their files)."""
    out = os.path.join(work, f"{tag}.bin")
    r = ferry(port, user, "get", "/tree/sub/file2", out, opts=opts)
    check(f"{what} get: byte-identical",
          r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "tree/sub/file2"), shallow=False),
          r.stderr.decode()[-800:])
    blob = os.path.join(work, f"{tag}-up.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(3 << 20))
    r = ferry(port, user, "put", blob, f"{upload_dir}/{tag}-up.bin", opts=opts)
    check(f"{what} put of 3 MiB: byte-identical on the server",
          r.returncode == 0 and filecmp.cmp(blob, os.path.join(root, upload_dir.lstrip("/"), f"{tag}-up.bin"),
                                            shallow=False), r.stderr.decode()[-800:])
    r = ferry(port, user, "get", "/tree/file1", out, opts=opts + ["--spsv-form", "spdt"])
    check(f"{what} --spsv-form spdt get: byte-identical",
          r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "tree/file1"), shallow=False),
          r.stderr.decode()[-800:])


def ftps_ferry_ftp(name, port, user, root, upload_dir, work, cert):
    """ferry-ftp --tls through the gateway: get, put, the SPDT form."""
    get_put_spdt(f"{name} FTPS: ferry-ftp --tls (PROT P, SPSV in TLS)",
                 re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + "-tls", port, user, root,
                 upload_dir, work, ["--tls", "--ca", cert])
    r = ferry(port, user, "ls", "/tree", opts=["--tls"])
    check(f"{name} FTPS: ferry-ftp --tls without the test CA: the certificate is refused (exit 9)",
          r.returncode == 9, f"{r.returncode} {r.stderr.decode()[-300:]}")


def ftps_raw(gw, user, password, root, cert):
    """The data connections' checks, by a raw client on Python's ssl."""
    port = gw.port
    ctx = ssl.create_default_context(cafile=cert)
    c = TlsCtl(SRV_IP, port)
    feat = c.cmd("FEAT")
    check("FTPS: FEAT lists AUTH TLS, PBSZ, PROT and SPSV",
          all(x in feat for x in ("AUTH TLS", "PBSZ", "PROT", "SPSV")), feat)
    r = c.cmd("AUTH NONSENSE")
    check("FTPS: AUTH NONSENSE: 504, the session goes on", r.startswith("504"), r)
    # lftp's order: FEAT (the relay has started), then AUTH TLS, then USER.
    r = c.starttls(ctx)
    c.cmd("USER " + user)
    r2 = c.cmd("PASS " + password)
    check("FTPS: AUTH TLS after FEAT (relay started), then the login in TLS: 234, 230",
          r.startswith("234") and r2.startswith("230"), f"{r} / {r2}")
    c.cmd("QUIT")
    c = tls_session(port, ctx, user, password)
    want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
    for form in ("dataconn", "spdt"):
        r = c.cmd("SPSV")
        d, r2 = tls_data(port, ctx, r, session=c.s.session, form=form)
        check(f"FTPS: a data connection resuming the control session ({form}): 200 DATA",
              r2 == "200 DATA", r2)
        c.cmd("RETR /tree/sub/file2")
        got = d.read_all()
        check(f"FTPS: ... RETR in TLS: byte-identical ({form})", got == want, f"{len(got)} bytes")
        check("FTPS: ... 226", c.reply().startswith("226"))
        d.close()
    r = c.cmd("SPSV")
    d, r2 = tls_data(port, ctx, r, session=None)
    check("FTPS: a data connection with a new TLS session: 522 (require_reuse)",
          r2.startswith("522") and d.closed(), r2)
    r = c.cmd("SPSV")
    d, r2 = tls_data(port, ctx, r, tls=False)
    check("FTPS: a clear data connection for a PROT P session: 522", r2.startswith("522"), r2)
    r = c.cmd("NOOP")
    check("FTPS: ... and the control session goes on", r.startswith("200"), r)
    r = c.cmd("PROT C")
    r = c.cmd("SPSV")
    d, r2 = data_login(SRV_IP, port, r)
    check("FTPS: PROT C: a clear data connection joins (200 DATA)", r2 == "200 DATA", r2)
    c.cmd("RETR /tree/sub/file2")
    check("FTPS: ... its RETR is byte-identical", d.read_all() == want)
    check("FTPS: ... 226", c.reply().startswith("226"))
    d.close()
    r = c.cmd("AUTH TLS")
    check("FTPS: AUTH TLS twice: 503", r.startswith("503"), r)
    r = c.cmd("CCC")
    check("FTPS: CCC: 534, the control connection stays in TLS", r.startswith("534"), r)
    c.cmd("QUIT")
    # Garbage instead of a ClientHello: that connection closes, nothing else.
    g = Ctl(SRV_IP, port)
    r = g.cmd("AUTH TLS")
    g.s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(2000))
    check("FTPS: garbage instead of a ClientHello: the connection is closed", r.startswith("234") and g.closed(), r)
    deadline = time.time() + 10
    while "TLS handshake" not in gw.logtext() and time.time() < deadline:
        time.sleep(0.05)
    check("FTPS: ... and logged as a failed handshake", "TLS handshake" in gw.logtext())
    c = tls_session(port, ctx, user, password)
    r = c.cmd("SPSV")
    d, r2 = tls_data(port, ctx, r, session=c.s.session)
    c.cmd("RETR /tree/sub/file2")
    check("FTPS: ... the gateway goes on serving (a new session's RETR is byte-identical)",
          r2 == "200 DATA" and d.read_all() == want)
    c.reply()
    c.cmd("QUIT")
    log = gw.logtext()
    check("FTPS: the gateway logs the data connections' TLS as resumed",
          re.search(r"TLS established \(TLS[^)]*, resumed\)", log) is not None)


def ftps_reuse_tls12(gw, user, password, root, cert):
    """Under TLS 1.2 a data connection must resume its own control
    connection's session, as ferryd's FTP server requires: another session's
    (issued by the same gateway) gets 522."""
    port = gw.port
    ctx = ssl.create_default_context(cafile=cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    a = tls_session(port, ctx, user, password)
    b = tls_session(port, ctx, user, password)
    check("TLS 1.2 control connections: negotiated 1.2, two sessions",
          a.s.version() == "TLSv1.2" and b.s.version() == "TLSv1.2" and
          a.s.session.id != b.s.session.id, f"{a.s.version()} {b.s.version()}")
    want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
    for form in ("dataconn", "spdt"):
        r = a.cmd("SPSV")
        d, r2 = tls_data(port, ctx, r, session=b.s.session, form=form)
        check(f"TLS 1.2: a data connection resuming another control connection's session "
              f"({form}): 522", r2.startswith("522") and d.closed(), r2)
        check(f"TLS 1.2: ... it did resume (the refusal is the origin check) ({form})",
              d.s.session_reused)
        r = a.cmd("NOOP")
        check(f"TLS 1.2: ... the control session goes on ({form})", r.startswith("200"), r)
        r = a.cmd("SPSV")
        d, r2 = tls_data(port, ctx, r, session=a.s.session, form=form)
        check(f"TLS 1.2: a data connection resuming its own control session ({form}): 200 DATA",
              r2 == "200 DATA" and d.s.session_reused, r2)
        a.cmd("RETR /tree/sub/file2")
        got = d.read_all()
        check(f"TLS 1.2: ... RETR byte-identical ({form})", got == want, f"{len(got)} bytes")
        check(f"TLS 1.2: ... 226 ({form})", a.reply().startswith("226"))
        d.close()
    deadline = time.time() + 10
    while "another connection" not in gw.logtext() and time.time() < deadline:
        time.sleep(0.05)
    check("TLS 1.2: the refusal is logged with its reason",
          "resumed a TLS session of another connection" in gw.logtext())
    a.cmd("QUIT")
    b.cmd("QUIT")


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(pem_path):
    return fingerprint(ssl.PEM_cert_to_DER_cert(open(pem_path).read()))


def new_cert(cert, key, cn):
    """A new certificate and key renamed over cert and key (as certbot does)."""
    sh("openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-keyout", key + ".new", "-out", cert + ".new",
       "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=IP:{SRV_IP}")
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)


def wait_log(gw, text, count=1, secs=10):
    deadline = time.time() + secs
    while gw.logtext().count(text) < count and time.time() < deadline:
        time.sleep(0.05)
    return gw.logtext().count(text) >= count


def ftps_reload(work, user, password, root):
    """SIGHUP with new certificate files: new sessions get the new
    certificate, sessions in progress keep theirs and their data connections
    still resume (the ticket key is inherited), byte for byte."""
    rdir = os.path.join(work, "reload")
    os.makedirs(rdir)
    cert, key = os.path.join(rdir, "gw.crt"), os.path.join(rdir, "gw.key")
    new_cert(cert, key, "first")
    first = file_fingerprint(cert)
    bundle = os.path.join(rdir, "ca.pem")
    gw = Gateway(work, "gw-reload", GW_RELOAD, f"127.0.0.1:{VS_PORT}", level=3,
                 tls={"cert": cert, "key": key}, backend_tls="off")
    want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
    try:
        shutil.copy(cert, bundle)
        ctx = ssl.create_default_context(cafile=bundle)
        ctx12 = ssl.create_default_context(cafile=bundle)
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        old = {v: tls_session(gw.port, c, user, password) for v, c in (("1.3", ctx), ("1.2", ctx12))}
        for v, c in old.items():
            check(f"reload: before, TLS {v}: the first certificate",
                  fingerprint(c.s.getpeercert(binary_form=True)) == first)
        new_cert(cert, key, "second")
        second = file_fingerprint(cert)
        with open(bundle, "a") as f:
            f.write(open(cert).read())
        ctx.load_verify_locations(cafile=cert)
        ctx12.load_verify_locations(cafile=cert)
        gw.proc.send_signal(signal.SIGHUP)
        check("reload: SIGHUP: the gateway logs its new certificate",
              wait_log(gw, "reload: gateway: certificate reloaded"), gw.logtext()[-1500:])
        n = tls_session(gw.port, ctx, user, password)
        check("reload: a new session sees the new certificate (fingerprints compared)",
              first != second and fingerprint(n.s.getpeercert(binary_form=True)) == second)
        r = n.cmd("SPSV")
        d, r2 = tls_data(gw.port, ctx, r, session=n.s.session)
        n.cmd("RETR /tree/sub/file2")
        check("reload: ... its data connection: RETR byte-identical",
              r2 == "200 DATA" and d.read_all() == want, r2)
        check("reload: ... 226", n.reply().startswith("226"))
        n.cmd("QUIT")
        for v, c in old.items():
            r = c.cmd("SPSV")
            d, r2 = tls_data(gw.port, ctx if v == "1.3" else ctx12, r, session=c.s.session)
            check(f"reload: a session from before, TLS {v}: its data connection resumes "
                  "(200 DATA)", r2 == "200 DATA" and d.s.session_reused, r2)
            check("reload: ... and still carries the first certificate",
                  fingerprint(d.s.getpeercert(binary_form=True)) == first)
            c.cmd("RETR /tree/sub/file2")
            got = d.read_all()
            check(f"reload: ... RETR byte-identical (TLS {v})", got == want, f"{len(got)} bytes")
            check(f"reload: ... 226 (TLS {v})", c.reply().startswith("226"))
            d.close()
            c.cmd("QUIT")
        # Keys bound at start-up are named, never silently kept.
        conf_path = os.path.join(work, "gw-reload.json")
        conf = json.load(open(conf_path))
        conf["gateway"]["tls"]["policy"] = "login"
        with open(conf_path, "w") as f:
            json.dump(conf, f)
        gw.proc.send_signal(signal.SIGHUP)
        check("reload: gateway.tls.policy changed: logged as needing a restart",
              wait_log(gw, "reload: gateway.tls.policy changed: needs a restart"),
              gw.logtext()[-1500:])
        check("reload: ... the certificate part still applies",
              wait_log(gw, "reload: gateway: certificate reloaded", count=2))
        p = Ctl(SRV_IP, gw.port)
        r = p.cmd("USER anonymous")
        check("reload: ... and the policy in force stays (USER in clear: relayed, not 530)",
              r[:1] in "23", r)
        p.close()
        # A key that is not one: the reload is refused, the certificate stays.
        with open(key, "w") as f:
            f.write("not a key\n")
        gw.proc.send_signal(signal.SIGHUP)
        check("reload: an unreadable key: refused and logged",
              wait_log(gw, "reload refused: gateway.tls"), gw.logtext()[-1500:])
        n = tls_session(gw.port, ctx, user, password)
        check("reload: ... the certificate in force stays",
              fingerprint(n.s.getpeercert(binary_form=True)) == second)
        n.cmd("QUIT")
    finally:
        check("gw-reload.log: ferryd stopped, sanitizers quiet", gw.stop(), gw.logtext()[-1500:])


class ImplicitCtl(TlsCtl):
    """A connection to an implicit FTPS port: TLS from the first byte."""

    def __init__(self, port, ctx, session=None):
        raw = socket.create_connection((SRV_IP, port), 20)
        self.begin(ctx.wrap_socket(raw, server_hostname=SRV_IP, session=session), SRV_IP, port)


def ftps_implicit(work, user, password, root, cert, key):
    """gateway.tls.implicit_listen: the handshake first, the 220 inside TLS,
    SPSV data connections in the same order (then USER DATACONN)."""
    gw = Gateway(work, "gw-implicit", GW_IMPL, f"127.0.0.1:{VS_PORT}", level=3,
                 tls={"cert": cert, "key": key, "implicit_listen": [f"{SRV_IP}:{GW_IMPL_TLS}"]},
                 backend_tls="off")
    try:
        ctx = ssl.create_default_context(cafile=cert)
        want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
        c = ImplicitCtl(GW_IMPL_TLS, ctx)
        check("implicit: the 220 comes inside TLS", c.greeting.startswith("220"), c.greeting)
        c.cmd("USER " + user)
        r = c.cmd("PASS " + password)
        check("implicit: login in TLS: 230", r.startswith("230"), r)
        r1, r2 = c.cmd("PBSZ 0"), c.cmd("PROT P")
        check("implicit: PBSZ 0, PROT P: 200", r1.startswith("200") and r2.startswith("200"),
              f"{r1} / {r2}")
        c.cmd("TYPE I")
        for form in ("dataconn", "spdt"):
            r = c.cmd("SPSV")
            d = ImplicitCtl(GW_IMPL_TLS, ctx, session=c.s.session)
            if form == "spdt":
                r2 = d.cmd("SPDT " + identifier(r))
            else:
                d.cmd("USER DATACONN")
                r2 = d.cmd("PASS " + (token_of(r) or ""))
            check(f"implicit: a data connection (TLS first, {form}): 220, 200 DATA, resumed",
                  d.greeting.startswith("220") and r2 == "200 DATA" and d.s.session_reused, r2)
            c.cmd("RETR /tree/sub/file2")
            got = d.read_all()
            check(f"implicit: ... RETR byte-identical ({form})", got == want, f"{len(got)} bytes")
            check(f"implicit: ... 226 ({form})", c.reply().startswith("226"))
            d.close()
        r = c.cmd("AUTH TLS")
        check("implicit: AUTH TLS there: 503 (already in TLS)", r.startswith("503"), r)
        c.cmd("QUIT")
        # A plain FTP client on the implicit port hears nothing in clear.
        p = socket.create_connection((SRV_IP, GW_IMPL_TLS), 10)
        p.sendall(b"USER anonymous\r\n")
        heard = recv_until_close(p, 10)
        p.close()
        check("implicit: a clear client gets no 220, only the end (or an alert)",
              b"220" not in heard, heard[:100])
        # The explicit port beside it works as before.
        e = TlsCtl(SRV_IP, GW_IMPL)
        r = e.starttls(ctx)
        check("implicit: the explicit port beside it: 220 in clear, AUTH TLS 234",
              e.greeting.startswith("220") and r.startswith("234"), r)
        e.cmd("QUIT")
        out = os.path.join(work, "implicit-ferry-ftp.bin")
        r = subprocess.run([ferry_ftp, "-q", "-t", "10", "-u", f"{user}:{password}", "--implicit",
                            "--ca", cert, f"{SRV_IP}:{GW_IMPL_TLS}", "get", "/tree/sub/file2", out],
                           capture_output=True, timeout=120)
        check("implicit: ferry-ftp --implicit get (SPSV): byte-identical",
              r.returncode == 0 and open(out, "rb").read() == want, r.stderr.decode()[-800:])
    finally:
        check("gw-implicit.log: ferryd stopped, sanitizers quiet", gw.stop(), gw.logtext()[-1500:])


def backend_tls(name, gw, user, root, upload_dir, work, cert):
    """TLS toward a backend that demands it (logins and data in TLS, data
    connections resuming the control session): plain clients and FTPS
    clients alike, byte for byte."""
    port = gw.port
    get_put_spdt(f"{name} TLS backend: a plain client's", f"{name}-btls-plain", port, user, root,
                 upload_dir, work, [])
    ftps_ferry_ftp(f"{name} TLS backend +", port, user, root, upload_dir, work, cert)
    if name == "vsftpd":
        abor_in_tls(name, port, user.split(":")[0], user.split(":")[1], cert)
        puts_in_a_row(name, port, user, root, upload_dir, work)
    log = gw.logtext()
    check(f"{name} TLS backend: the backend hop is in TLS with PROT P",
          "backend hop in TLS, data PROT P" in log, log[-1500:])
    if name == "vsftpd":
        check(f"{name} TLS backend: its data connections resume the control hop's session "
              "(require_ssl_reuse=YES)",
              re.search(r"backend TLS established \([^)]*, resumed\)", log) is not None, log[-1500:])
    else:
        # pure-ftpd 1.0.50 gives wolfSSL no TLS 1.3 session to resume (ferry-ftp
        # straight to it does full handshakes too) and does not ask for one.
        check(f"{name} TLS backend: its data connections are in TLS (full handshakes: "
              "no session to offer, said in the log)",
              re.search(r"backend TLS established \(TLS", log) is not None and
              "no backend TLS session to offer; a full handshake" in log, log[-1500:])


def resets_on_data():
    """The server namespace's count of connections reset because bytes came
    to a socket already closed (TcpExt TCPAbortOnData): the gateway,
    vsftpd and pure-ftpd all live there."""
    text = subprocess.run(["ip", "netns", "exec", SRV, "cat", "/proc/net/netstat"],
                          capture_output=True, text=True, check=True).stdout.split("\n")
    names, values = next((a.split(), b.split()) for a, b in zip(text, text[1:])
                         if a.startswith("TcpExt:") and b.startswith("TcpExt:"))
    return int(values[names.index("TCPAbortOnData")])


def resets_toward_clients():
    out = subprocess.run(["ip", "netns", "exec", SRV, "nft", "list", "counter", "inet", "resets",
                          "toward_clients"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"packets (\d+)", out).group(1))


def ftps_client_ends(gw, user, password, root, cert, n=10):
    """n RETRs in TLS, each data connection ended as Python's ftplib ends
    it (read to the gateway's close_notify, then unwrap: its own
    close_notify, then close), then QUIT and the same on the control
    connection. The gateway used to close() its side right after its own
    close_notify and FIN, so the client's close_notify met a closed socket:
    every download and every session's end drew a reset toward the client,
    which also drops what of the gateway's last bytes the client has not
    received yet. It now waits for the client's FIN first (link.c)."""
    ctx = ssl.create_default_context(cafile=cert)
    want = open(os.path.join(root, "tree/sub/file2"), "rb").read()
    fds = FdBaseline(gw.proc.pid)
    before = resets_toward_clients()
    c = tls_session(gw.port, ctx, user, password)
    bad = []
    for i in range(n):
        d, r2 = tls_data(gw.port, ctx, c.cmd("SPSV"), session=c.s.session)
        r = c.cmd("RETR /tree/sub/file2")
        got, err = b"", ""
        try:
            while chunk := d.s.recv(65536):
                got += chunk
            d.s.unwrap()
        except OSError as e:
            err = repr(e)
        d.close()
        end = c.reply()
        if r2 != "200 DATA" or not r.startswith("150") or got != want or err or not end.startswith("226"):
            bad.append(f"#{i}: {r2} / {r} / {len(got)} bytes {err} / {end}")
    r = c.cmd("QUIT")
    try:
        c.s.unwrap()
    except OSError as e:
        bad.append(f"QUIT: {e!r}")
    c.close()
    check(f"FTPS client ends: {n} RETRs ended as ftplib does, each byte-identical, 226, "
          "close_notify answered", r.startswith("221") and not bad, "; ".join(bad))
    ok, why = fds.back()
    resets = resets_toward_clients() - before
    # before the fix: n + 1 (one per data connection, one for the session)
    check(f"FTPS client ends: ... and no reset toward the client ({resets} for {n} data "
          "connections and 1 session)", ok and resets <= n // 5, why)


def puts_in_a_row(name, port, user, root, upload_dir, work, n=20):
    """n plain puts through a gateway whose backend hop is in TLS. A gateway
    that closed its backend data connection before the backend's close met
    the backend's late bytes (a TLS 1.3 ticket, its close_notify) with a
    reset, which dropped the upload's unread tail: vsftpd said "426 Failure
    reading network stream" once in tens of puts, and half the puts cost a
    reset. Each put is checked, and the resets counted."""
    blob = os.path.join(work, f"{name}-row.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(3 << 20))
    before = resets_on_data()
    bad = []
    for i in range(n):
        dest = os.path.join(root, upload_dir.lstrip("/"), f"{name}-row{i}.bin")
        r = ferry(port, user, "put", blob, f"{upload_dir}/{name}-row{i}.bin")
        if r.returncode != 0 or not filecmp.cmp(blob, dest, shallow=False):
            bad.append(f"#{i}: {r.returncode} {r.stderr.decode()[-200:]}")
        if os.path.exists(dest):
            os.unlink(dest)
    resets = resets_on_data() - before
    check(f"{name} TLS backend: {n} plain puts of 3 MiB in a row, each byte-identical",
          not bad, "; ".join(bad))
    # Before the fix about n/2; after it, a stray one now and then.
    check(f"{name} TLS backend: ... and no reset of connections closed with bytes "
          f"still coming (TCPAbortOnData: {resets} for {n} puts)", resets <= n // 5, str(resets))


def abor_in_tls(name, port, user, password, cert):
    """ABOR in the middle of a 64 MiB RETR, TLS on both hops: the transfer's
    end and ABOR's reply come back through, and the session goes on."""
    ctx = ssl.create_default_context(cafile=cert)
    c = tls_session(port, ctx, user, password)
    r = c.cmd("SPSV")
    d, r2 = tls_data(port, ctx, r, session=c.s.session)
    r = c.cmd("RETR /up/big.bin")
    got = d.s.recv(1000)
    c.send("ABOR")
    d.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    d.close()
    replies = replies_to_noop(c)
    check(f"{name} TLS backend: ABOR during a RETR in TLS passes through, the session goes on",
          r.startswith("150") and got and replies[-1].startswith("200") and
          all(re.match(r"^(225|226|426|450|451)", x) for x in replies[:-1]), f"{r} {replies}")
    c.cmd("QUIT")


def backend_insecure(gw, root, work):
    out = os.path.join(work, "binsec.bin")
    r = ferry(gw.port, "anonymous:x", "get", "/tree/sub/file2", out)
    check("backend_insecure: an unverified backend certificate is used, get byte-identical",
          r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "tree/sub/file2"), shallow=False),
          r.stderr.decode()[-800:])
    check("... and the start-up log says the certificate is not verified",
          "certificate NOT verified: gateway.backend_insecure" in gw.logtext(), gw.logtext()[-800:])


def backend_refusals(breq, bbadca, bauto, root, work):
    """backend_tls "required" against a backend without TLS, a backend
    whose certificate the CA file does not vouch for, "auto" without TLS."""
    c = Ctl(SRV_IP, breq.port)
    r = c.cmd("USER anonymous")
    check("backend_tls required, backend without TLS: 421 naming the reason",
          r.startswith("421") and "no TLS" in r and c.closed(), r)
    deadline = time.time() + 10
    while "session refused" not in breq.logtext() and time.time() < deadline:
        time.sleep(0.05)
    check("... logged: FEAT without AUTH TLS, gateway.backend_tls \"required\"",
          re.search(r"its FEAT does not list AUTH TLS; session refused \(gateway.backend_tls "
                    r"\"required\"\)", breq.logtext()) is not None, breq.logtext()[-800:])
    c = Ctl(SRV_IP, breq.port)
    check("... and the gateway goes on answering (220, then 421 again)",
          c.greeting.startswith("220") and c.cmd("USER anonymous").startswith("421"))
    c = Ctl(SRV_IP, bbadca.port)
    r = c.cmd("USER anonymous")
    check("a backend certificate backend_ca does not vouch for: 421, closed",
          r.startswith("421") and c.closed(), r)
    deadline = time.time() + 10
    while "backend TLS handshake" not in bbadca.logtext() and time.time() < deadline:
        time.sleep(0.05)
    check("... logged as the backend's failed handshake", "backend TLS handshake" in bbadca.logtext(),
          bbadca.logtext()[-800:])
    out = os.path.join(work, "bauto.bin")
    r = ferry(bauto.port, "anonymous:x", "get", "/tree/sub/file2", out)
    check("backend_tls auto, backend without TLS: in clear, get byte-identical",
          r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "tree/sub/file2"), shallow=False),
          r.stderr.decode()[-800:])


def ftps_policy(gw, user, password, cert):
    """gateway.tls.policy "data": USER only in TLS, data only with PROT P."""
    port = gw.port
    ctx = ssl.create_default_context(cafile=cert)
    c = Ctl(SRV_IP, port)
    r = c.cmd("USER " + user)
    check("FTPS policy data: USER before AUTH TLS: 530", r.startswith("530"), r)
    c.cmd("QUIT")
    c = TlsCtl(SRV_IP, port)
    c.cmd("FEAT")                       # the relay runs: USER goes the relay's way
    c.send("USER " + user)
    r = c.reply()
    check("FTPS policy data: ... also once relayed: 530", r.startswith("530"), r)
    c.close()
    c = TlsCtl(SRV_IP, port)
    c.starttls(ctx)
    c.cmd("USER " + user)
    r = c.cmd("PASS " + password)
    check("FTPS policy data: login in TLS: 230", r.startswith("230"), r)
    r = c.cmd("SPSV")
    check("FTPS policy data: SPSV before PROT P: 521", r.startswith("521"), r)
    c.cmd("PBSZ 0")
    r = c.cmd("PROT C")
    check("FTPS policy data: PROT C: 534", r.startswith("534"), r)
    r = c.cmd("PROT P")
    r = c.cmd("SPSV")
    check("FTPS policy data: SPSV after PROT P: 227", r.startswith("227"), r)
    d, r2 = tls_data(port, ctx, r, session=None)
    check("FTPS require_reuse false: a data connection with a new TLS session joins",
          r2 == "200 DATA", r2)
    c.cmd("LIST /")
    check("FTPS require_reuse false: ... its LIST arrives", "tree" in d.read_all().decode(errors="replace"))
    c.reply()
    d.close()
    c.cmd("QUIT")


# The fake backends' start: a listener on 127.0.0.1, the port argv[1].
BACKEND_LISTENS = """
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
"""

# A backend that answers every line and never closes: the gateway's FIN
# gets no FIN back.
MUTE_BACKEND = BACKEND_LISTENS + """
held = []
def serve(c):
    held.append(c)
    c.sendall(b"220 mute\\r\\n")
    for line in c.makefile("rb"):
        verb = line.split()[0].upper() if line.split() else b""
        c.sendall({b"USER": b"331 Go on.\\r\\n", b"PASS": b"230 In.\\r\\n"}.get(verb, b"200 OK.\\r\\n"))
    threading.Event().wait()
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"""


def lingering(pid, peer):
    """True when process pid holds a connection to peer (a regex on ss's
    peer column) in FIN-WAIT-2: its FIN sent and acknowledged, the peer's
    awaited (fe_conn_close_linger)."""
    out = subprocess.run(["ip", "netns", "exec", SRV, "ss", "-tanpH", "state", "fin-wait-2"],
                         capture_output=True, text=True).stdout
    return any(re.search(rf"\s{peer}\s.*pid={pid},", x) for x in out.splitlines())


# A stop takes a few hundredths of a second; one that waited for the lingers
# would take their 5 s (or the engine's 2 s bound on what is in flight).
STOP_WITHIN = 1.5


def stop_while_lingering(work):
    """SIGTERM while the gateway waits for both kinds of peer that never
    close: a backend after its session's client left, and a client after
    QUIT. The stop closes them at once, without waiting for the linger."""
    out = os.path.join(work, "mute.out")
    mute = start(["python3", "-c", MUTE_BACKEND, str(MUTE_PORT)], out)
    check("stop: the mute backend listens", wait_for(lambda: "listening" in open(out).read(), 10))
    gw = Gateway(work, "gw-stop", GW_STOP, f"127.0.0.1:{MUTE_PORT}", level=3)
    try:
        a = Session(SRV_IP, GW_STOP)
        a.login("anonymous", "x")
        a.close()                              # the backend is left lingering
        b = Ctl(SRV_IP, GW_STOP)
        r = b.cmd("QUIT")                      # b stays open: so is the client
        check("stop: QUIT before login: 221, and the gateway's FIN", r.startswith("221") and
              b.f.read1(100) == b"", r)
        pid = gw.proc.pid
        check("stop: the gateway waits for the backend's FIN after the client left",
              wait_for(lambda: lingering(pid, r"127\.0\.0\.1:%d" % MUTE_PORT), 3))
        check("stop: the gateway waits for the client's FIN after 221",
              wait_for(lambda: lingering(pid, re.escape(CLI_IP) + r":\d+"), 3))
        stops_in_time(gw, "stop while both linger")
        b.close()
    finally:
        check("gw-stop.log: ferryd stopped (exit 6), sanitizers quiet",
              gw.stop() and gw.proc.returncode == 6, gw.logtext()[-1500:])
        mute.kill()
        mute.wait()


SHUTTING_DOWN = b"421 Service shutting down; closing control connection.\r\n"


def descendants(pid):
    """The pids of pid's children, theirs, and so on (vsftpd's sessions)."""
    kids = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out += kids.get(p, [])
        todo += kids.get(p, [])
    return out


def rest_of(c, secs=5):
    """Everything c still receives up to the peer's close: (bytes, how it
    ended: "close", "reset", "timeout" or, in TLS, "no close_notify")."""
    c.s.settimeout(secs)
    got = b""
    try:
        while True:
            b = c.f.read1(65536)
            if not b:
                return got, "close"
            got += b
    except ssl.SSLEOFError:
        return got, "no close_notify"
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        return got, "timeout"


class StrictTlsCtl(TlsCtl):
    """TlsCtl whose TLS layer tells a TCP close without close_notify."""

    def starttls(self, ctx, session=None):
        r = self.cmd("AUTH TLS")
        if r.startswith("234"):
            self.f.close()
            self.s = ctx.wrap_socket(self.s, server_hostname=SRV_IP, session=session,
                                     suppress_ragged_eofs=False)
            self.f = self.s.makefile("rb")
        return r


def stops_in_time(gw, tag):
    """SIGTERM to gw's ferryd, which must exit within STOP_WITHIN."""
    started = time.time()
    gw.proc.send_signal(signal.SIGTERM)
    try:
        gw.proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
    took = time.time() - started
    check(f"{tag}: ferryd exits within {STOP_WITHIN} s of SIGTERM (took {took:.2f} s)",
          gw.proc.poll() is not None and took < STOP_WITHIN)


def stopped_clean(tag, gw, conns):
    """After the stop: the clients' sockets closed, ferryd's exit status
    (6: stopped by a signal) and its sanitizers' silence."""
    for c in conns:
        c.close()
    check(f"{tag}: ferryd stopped (exit 6), sanitizers quiet",
          gw.stop() and gw.proc.returncode == 6, gw.logtext()[-1500:])


def reads_421(tag, c, who):
    """c's client reads the stop's 421 line as a whole reply, then the close
    (in TLS: after close_notify)."""
    got, how = rest_of(c)
    check(f"{tag}: {who} reads the 421 line, then the close", got == SHUTTING_DOWN and how == "close",
          f"{got!r} {how}")


def stop_says_why(work, root, cert, key):
    """SIGTERM with sessions logged in through the gateway to vsftpd: one idle
    in clear, one downloading in clear, one downloading in TLS (PROT P):
    each client reads the FTP server's stop line as a whole reply, then the
    close (in TLS after close_notify); the downloads' data connections are
    cut (in TLS without close_notify); vsftpd's sessions end (the gateway
    sent QUIT); ferryd exits within the bound."""
    vs = next(p for p in procs if p.args[-1].endswith("/vsftpd.conf"))
    big = os.urandom(1 << 20) * 32
    with open(os.path.join(root, "stopbig.bin"), "wb") as f:
        f.write(big)
    before = len(descendants(vs.pid))
    gw = Gateway(work, "gw-drain", GW_DRAIN, f"127.0.0.1:{VS_PORT}", level=3,
                 tls={"cert": cert, "key": key}, backend_tls="off")
    try:
        plain = Session(SRV_IP, GW_DRAIN)
        plain.login("anonymous", "x")
        ctx = ssl.create_default_context(cafile=cert)
        tls = StrictTlsCtl(SRV_IP, GW_DRAIN)
        tls.starttls(ctx)
        tls.cmd("USER anonymous")
        r = tls.cmd("PASS x")
        check("drain: the TLS session logged in", r.startswith("230"), r)
        for line in ("TYPE I", "PBSZ 0", "PROT P"):
            tls.cmd(line)
        r = tls.cmd("SPSV")
        tdata = StrictTlsCtl(SRV_IP, GW_DRAIN)
        tdata.starttls(ctx, tls.s.session)
        tdata.cmd("USER DATACONN")
        tdata.cmd("PASS " + (token_of(r) or ""))
        r = tls.cmd("RETR /stopbig.bin")
        check("drain: the TLS download runs", r.startswith("150") and len(tdata.s.recv(1000)) > 0, r)
        down = Session(SRV_IP, GW_DRAIN)
        down.login("anonymous", "x")
        d, _ = data_login(SRV_IP, GW_DRAIN, down.cmd("SPSV"))
        r = down.cmd("RETR /stopbig.bin")
        check("drain: the download runs", r.startswith("150") and len(d.s.recv(1000)) > 0, r)
        check("drain: vsftpd runs the three sessions",
              wait_for(lambda: len(descendants(vs.pid)) > before, 5))
        # AUTH TLS answered, and no ClientHello yet: a 421 now could only go
        # in clear, after the 234 that promised TLS.
        hs = Session(SRV_IP, GW_DRAIN)
        r = hs.cmd("AUTH TLS")
        check("drain: a client's AUTH TLS is answered, its handshake not begun", r.startswith("234"), r)
        stops_in_time(gw, "drain")
        got, how = rest_of(hs)
        check("drain: the client in the middle of its TLS handshake gets no 421 in clear, "
              "only the close", got == b"" and how in ("close", "reset"), f"{got!r} {how}")
        reads_421("drain", plain, "the idle clear session")
        reads_421("drain", tls, "the TLS session (in TLS, after its 150; close_notify)")
        data, how = rest_of(tdata)
        check("drain: the TLS download is cut short, without close_notify (no clean end)",
              how in ("no close_notify", "reset") and 1000 + len(data) < len(big),
              f"{len(data)} bytes, {how}")
        reads_421("drain", down, "the clear session (after its 150)")
        data, how = rest_of(d)
        check("drain: the download's data connection is cut short",
              how in ("close", "reset") and 1000 + len(data) < len(big), f"{len(data)} bytes, {how}")
        check("drain: vsftpd's sessions are gone (none left behind the gateway)",
              wait_for(lambda: len(descendants(vs.pid)) <= before, 10),
              f"{before} -> {len(descendants(vs.pid))}")
        stopped_clean("drain", gw, (plain, tls, tdata, down, d, hs))
    finally:
        gw.stop()
        os.unlink(os.path.join(root, "stopbig.bin"))


# A backend that starts a multi-line reply to STAT and never ends it, and
# answers NOOP with half a line; it prints each command, and EOF (one
# whole line at a time: its threads' prints used to interleave).
HALF_BACKEND = BACKEND_LISTENS + """
said = threading.Lock()
def say(*words):
    with said:
        print(*words, flush=True)
replies = {b"USER": b"331 Go on.\\r\\n", b"PASS": b"230 In.\\r\\n", b"NOOP": b"200 No",
           b"STAT": b"211-Status of half:\\r\\n one line, and no end\\r\\n", b"QUIT": b"221 Bye.\\r\\n"}
def serve(c, n):
    for line in c.makefile("rb"):
        verb = line.split()[0].upper() if line.split() else b""
        say(n, verb.decode())
        c.sendall(replies.get(verb, b"200 OK.\\r\\n"))
        if verb == b"QUIT":
            break
    say(n, "EOF")
    c.close()
n = 0
while True:
    c = s.accept()[0]
    n += 1
    c.sendall(b"220 half\\r\\n")
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
"""


def stop_mid_reply(work):
    """SIGTERM while one session's client holds half a multi-line reply (the
    backend stalls before its end): no 421 there, where the client would
    read it as part of that reply, just the close; a session whose backend
    stalls in the middle of a line (none of it relayed) and an idle one get
    the 421; every backend connection gets QUIT."""
    out = os.path.join(work, "half.out")
    half = start(["python3", "-c", HALF_BACKEND, str(HALF_PORT)], out)
    check("mid-reply: the stalling backend listens", wait_for(lambda: "listening" in open(out).read(), 10))
    gw = Gateway(work, "gw-drain-half", GW_DRAIN_HALF, f"127.0.0.1:{HALF_PORT}", level=3)
    try:
        mid, part, idle = (Session(SRV_IP, GW_DRAIN_HALF) for _ in range(3))
        for c in (mid, part, idle):
            c.login("anonymous", "x")
        mid.send("STAT")
        first = [mid.f.readline(), mid.f.readline()]
        check("mid-reply: the client holds the first two lines of STAT's reply",
              first == [b"211-Status of half:\r\n", b" one line, and no end\r\n"], repr(first))
        part.send("NOOP")
        check("mid-reply: the backend got the NOOP",
              wait_for(lambda: "NOOP" in open(out).read(), 5))
        stops_in_time(gw, "mid-reply")
        got, how = rest_of(mid)
        check("mid-reply: nothing more for the client in the middle of a reply, only the close",
              got == b"" and how == "close", f"{got!r} {how}")
        reads_421("mid-reply", part, "the client of half a backend line (never relayed)")
        reads_421("mid-reply", idle, "the idle session")
        text = lambda: open(out).read()  # noqa: E731
        check("mid-reply: each backend connection got QUIT, then closed",
              wait_for(lambda: all(f"{n} {w}\n" in text() for n in (1, 2, 3) for w in ("QUIT", "EOF")), 5),
              text())
        stopped_clean("mid-reply", gw, (mid, part, idle))
    finally:
        gw.stop()
        half.kill()
        half.wait()


def config_checks(work):
    def check_config(gw):
        path = os.path.join(work, "check.json")
        with open(path, "w") as f:
            json.dump({"allow_root": True, "gateway": gw}, f)
        return subprocess.run([ferryd_bin, "--allow-root", "--check-config", "-f", path],
                              capture_output=True, timeout=30)
    r = check_config({"listen": ["127.0.0.1:2100"]})
    check("config: a gateway without a backend is refused, naming gateway.backend",
          r.returncode == 1 and b"gateway.backend" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "ftp.example"})
    check("config: a backend without a port is refused", r.returncode == 1, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21", "token_timeout": 0})
    check("config: gateway.token_timeout 0 is refused", r.returncode == 1, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "[::1]:21"})
    check("config: a gateway alone is something to run", r.returncode == 0, r.stderr.decode())
    cert, key = self_signed(work, "gw", SRV_IP)
    tls = {"cert": cert, "key": key}
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21", "tls": tls})
    check("config: gateway.tls without gateway.backend_tls is refused (the clear hop must be chosen)",
          r.returncode == 1 and b"gateway.backend_tls" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21", "tls": tls,
                      "backend_tls": "off"})
    check("config: gateway.tls with backend_tls \"off\": accepted", r.returncode == 0, r.stderr.decode())
    for mode in ("auto", "required"):
        r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                          "backend_tls": mode, "backend_ca": cert})
        check(f"config: backend_tls \"{mode}\" with backend_ca: accepted", r.returncode == 0,
              r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "backend_tls": "sometimes"})
    check("config: backend_tls \"sometimes\" is refused", r.returncode == 1, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "backend_tls": "required", "backend_ca": cert, "backend_insecure": True})
    check("config: backend_ca and backend_insecure together are refused", r.returncode == 1 and
          b"gateway.backend_insecure" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21", "backend_ca": cert})
    check("config: backend_ca without backend_tls is refused (never accepted and ignored)",
          r.returncode == 1 and b"gateway.backend_ca" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "tls": {"cert": cert}, "backend_tls": "off"})
    check("config: gateway.tls.cert without its key is refused", r.returncode == 1 and
          b"gateway.tls.key" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "tls": {"policy": "login"}})
    check("config: a TLS policy without a certificate is refused", r.returncode == 1, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "tls": {"implicit_listen": ["127.0.0.1:990"]}})
    check("config: an implicit listener without a certificate is refused, naming the key",
          r.returncode == 1 and b"gateway.tls.implicit_listen" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "tls": {"cert": cert, "key": key, "implicit_listen": ["127.0.0.1:2100"]},
                      "backend_tls": "off"})
    check("config: an implicit listener also in gateway.listen is refused", r.returncode == 1 and
          b"also in gateway.listen" in r.stderr, r.stderr.decode())
    r = check_config({"listen": ["127.0.0.1:2100"], "backend": "127.0.0.1:21",
                      "tls": {"implicit_listen": ["nonsense"]}})
    check("config: an implicit listener that is no ADDR:PORT is refused", r.returncode == 1,
          r.stderr.decode())


def main():
    global SRV, CLI
    work = tempdir("ferry-gw-")
    config_checks(work)
    os.chmod(work, 0o755)
    gws = []
    pure = find_pureftpd()
    lab, home = None, os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        lab, srv, cli = netns_pair(52, RULES, cli_addrs=2)
        srv.nft(RESET_COUNTER)
        SRV, CLI = srv.ns, cli.ns
        check("netlab gave the addresses used here", (srv.addr(), cli.addr()) == (SRV_IP, CLI_IP)
              and f"{CLI_IP2}/24" in cli.ip("addr").stdout)
        enter(CLI)
        vsroot, vslog = start_vsftpd(work)
        # at the default log level: the client <-> backend mapping must be there
        gws.append(Gateway(work, "gw-vsftpd", GW_VS, f"127.0.0.1:{VS_PORT}", level=2))
        fds = FdBaseline(gws[0].proc.pid)
        with_ferry_ftp("vsftpd", GW_VS, "anonymous:x", vsroot, "/up", work, mlsd=False)
        with_raw_client("vsftpd", GW_VS, "anonymous", "x", vsroot, "/up")
        broken_retr("vsftpd", GW_VS, "anonymous", "x", "/up")
        g3_exchange("vsftpd", GW_VS, "anonymous", "x", vsroot)
        backpressure(GW_VS, vsroot, vslog)
        t.run("late byte", late_byte, GW_VS, vsroot)
        mapping(gws[0], vslog)
        direct_fails("vsftpd", VS_PORT, "anonymous:x", work)
        check("gw-vsftpd: descriptors back to before its sessions", *fds.back())
        lim = Gateway(work, "gw-limits", GW_LIM, f"127.0.0.1:{VS_PORT}", token_timeout=1,
                      login_timeout=3, max_unauthenticated=3)
        gws.append(lim)
        t.run_closing(lim.proc.pid, "refusals", refusals, lim, work)
        t.run_closing(lim.proc.pid, "limits", limits, lim)
        cert, key = self_signed(work, "gw", SRV_IP)
        tls = {"cert": cert, "key": key}
        gtls = Gateway(work, "gw-tls-vsftpd", GW_TLS_VS, f"127.0.0.1:{VS_PORT}", level=3,
                       tls=tls, backend_tls="off")
        gws.append(gtls)
        t.run_closing(gtls.proc.pid, "ftps ferry-ftp vsftpd", ftps_ferry_ftp, "vsftpd", GW_TLS_VS, "anonymous:x", vsroot,
              "/up", work, cert)
        t.run_closing(gtls.proc.pid, "ftps raw", ftps_raw, gtls, "anonymous", "x", vsroot, cert)
        t.run_closing(gtls.proc.pid, "ftps reuse tls1.2", ftps_reuse_tls12, gtls, "anonymous", "x", vsroot, cert)
        t.run("ftps client ends", ftps_client_ends, gtls, "anonymous", "x", vsroot, cert)
        t.run("ftps reload", ftps_reload, work, "anonymous", "x", vsroot)
        t.run("stop while lingering", stop_while_lingering, work)
        t.run("stop says why", stop_says_why, work, vsroot, cert, key)
        t.run("stop mid-reply", stop_mid_reply, work)
        t.run("ftps implicit", ftps_implicit, work, "anonymous", "x", vsroot, cert, key)
        gpol = Gateway(work, "gw-tls-policy", GW_TLS_POL, f"127.0.0.1:{VS_PORT}",
                       tls=dict(tls, policy="data", require_reuse=False), backend_tls="off")
        gws.append(gpol)
        t.run_closing(gpol.proc.pid, "ftps policy", ftps_policy, gpol, "anonymous", "x", cert)
        becert, bekey = make_backend_cert(work)
        start_vsftpd_tls(work, vsroot, becert, bekey)
        gb = Gateway(work, "gw-btls-vsftpd", GW_BTLS_VS, f"127.0.0.1:{VS_TLS_PORT}", tls=tls,
                     backend_tls="required", backend_ca=becert)
        gws.append(gb)
        t.run_closing(gb.proc.pid, "backend tls vsftpd", backend_tls, "vsftpd", gb, "anonymous:x", vsroot, "/up", work, cert)
        breq = Gateway(work, "gw-breq", GW_BREQ, f"127.0.0.1:{VS_PORT}", backend_tls="required",
                       backend_ca=becert)
        bbad = Gateway(work, "gw-bbadca", GW_BBADCA, f"127.0.0.1:{VS_TLS_PORT}",
                       backend_tls="required", backend_ca=cert)
        bauto = Gateway(work, "gw-bauto", GW_BAUTO, f"127.0.0.1:{VS_PORT}", backend_tls="auto",
                        backend_ca=becert)
        gws.extend([breq, bbad, bauto])
        t.run_closing([g.proc.pid for g in (breq, bbad, bauto)], "backend refusals", backend_refusals, breq, bbad, bauto, vsroot, work)
        binsec = Gateway(work, "gw-binsecure", GW_BINSEC, f"127.0.0.1:{VS_TLS_PORT}",
                         backend_tls="required", backend_insecure=True)
        gws.append(binsec)
        t.run_closing(binsec.proc.pid, "backend insecure", backend_insecure, binsec, vsroot, work)
        if check("pure-ftpd is there (contrib/deps.sh unpacks it)", pure is not None):
            pureroot = start_pureftpd(work, pure)
            gws.append(Gateway(work, "gw-pure", GW_PURE, f"127.0.0.1:{PURE_PORT}"))
            fds = FdBaseline(gws[-1].proc.pid)
            with_ferry_ftp("pure-ftpd", GW_PURE, "bob:pw", pureroot, "/", work)
            with_raw_client("pure-ftpd", GW_PURE, "bob", "pw", pureroot, "/")
            broken_retr("pure-ftpd", GW_PURE, "bob", "pw", "/")
            g3_exchange("pure-ftpd", GW_PURE, "bob", "pw", pureroot)
            check("gw-pure: descriptors back to before its sessions", *fds.back())
            gws.append(Gateway(work, "gw-tls-pure", GW_TLS_PURE, f"127.0.0.1:{PURE_PORT}",
                               tls=tls, backend_tls="off"))
            t.run_closing(gws[-1].proc.pid, "ftps ferry-ftp pure-ftpd", ftps_ferry_ftp, "pure-ftpd", GW_TLS_PURE, "bob:pw",
                  pureroot, "/", work, cert)
            start_pureftpd_tls(work, pure, pureroot, becert, bekey)
            gbp = Gateway(work, "gw-btls-pure", GW_BTLS_PURE, f"127.0.0.1:{PURE_TLS_PORT}", tls=tls,
                          backend_tls="required", backend_ca=becert)
            gws.append(gbp)
            t.run_closing(gbp.proc.pid, "backend tls pure-ftpd", backend_tls, "pure-ftpd", gbp, "bob:pw", pureroot, "/",
                  work, cert)
            direct_fails("pure-ftpd", PURE_PORT, "bob:pw", work)
    finally:
        for g in gws:
            check(f"{os.path.basename(g.log_path)}: ferryd stopped, sanitizers quiet", g.stop(),
                  g.logtext()[-1500:])
        teardown(lab, home)


if os.geteuid() != 0:
    print("SKIP: needs root for network namespaces")
    sys.exit(77)
t.run("gateway", main)
t.finish()
