"""ftpd.py — shared by the FTP test drivers: start a ferryd with an FTP
configuration in a temporary directory, users with crypt(3) hashes made by
libcrypt itself, and a check counter that ends with "N passed, N failed";
also the small helpers other drivers share: waiting on a condition with a
deadline, a process's open descriptors back to a baseline, a free port,
an FTP server's greeting, an FTP reply code, a client TLS context and an
ftplib.FTP_TLS that resumes the control connection's session on data
connections, a self-signed certificate,
vsftpd's configuration (anonymous, and FTPS), a client TLS run in memory
(its records and segments cut by the test), a PROT P upload by a client
that reads its data connection only at its end, a raw socket's
reply, or a whole connection; lftp over FTPS; a tree of random
files and a byte-for-byte comparison of two trees; a server and a
client namespace (tests/interop/netlab.py) where only control ports get in;
ferry-ftp bridge in front of a server."""
import ctypes
import filecmp
import ftplib
import ipaddress
import json
import os
import random
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import netlab  # noqa: E402

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]


def run_client(cmd, timeout=60, **kw):
    """Runs a client program, output captured; a failure says its exit code
    and the end of its stderr, a run past timeout seconds returns exit -9."""
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        print(f"# {' '.join(cmd)}: timed out")
        return subprocess.CompletedProcess(cmd, -9, b"", b"timed out")
    if r.returncode:
        print(f"# {' '.join(cmd)} -> {r.returncode}\n{r.stderr.decode(errors='replace')[-1500:]}")
    return r


def sh(*cmd, check_rc=True, **kw):
    """Runs cmd; raises with its stderr when it fails (unless check_rc=False)."""
    r = subprocess.run(list(cmd), capture_output=True, timeout=kw.pop("timeout", 60), **kw)
    if check_rc and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.returncode} {r.stderr.decode()}")
    return r


def control_port_rules(ports, established=False):
    """nftables text for a server's input chain that drops everything but
    loopback, ICMP and TCP to ports (with established, also the packets of
    connections already made): "single port" for the namespace tests."""
    dports = str(ports[0]) if len(ports) == 1 else "{ %s }" % ", ".join(map(str, ports))
    return ("\ntable inet singleport {\n  chain input {\n"
            "    type filter hook input priority 0; policy drop;\n"
            "    iif \"lo\" accept\n"
            + ("    ct state established,related accept\n" if established else "")
            + f"    tcp dport {dports} accept\n"
            "    meta l4proto icmp accept\n  }\n}\n")


def fresh_lab():
    """A netlab Lab whose hosts have IPv6 as a fresh namespace does (::1
    there, not filtered away); lab.close() kills what still runs in it and
    removes it. Leftovers of killed runs go first."""
    netlab.cleanup_stale()
    lab = netlab.Lab()
    lab.ipv6_on()
    return lab.__enter__()


def netns_pair(index, rules, cli_addrs=1):
    """A netlab Lab with two hosts on 198.18.<index>.0/24: srv at .1, its
    input chain the nftables text rules, and cli at .2 (with cli_addrs > 1
    also .3, ...). Returns (lab, srv, cli); lab.close() kills what still runs
    in them and removes them. Leftovers of killed runs go first."""
    lab = fresh_lab()
    try:
        net = lab.network("ftp", index)
        srv, cli = lab.host("srv"), lab.host("cli")
        lab.attach(srv, net, router=True)       # netlab's .1; it routes nothing here
        lab.attach(cli, net)
        for _ in range(cli_addrs - 1):
            cli.ip("addr", "add", f"{net.alloc()}/{net.subnet.prefixlen}", "dev", cli.ifname(net))
        srv.nft(rules)
    except BaseException:
        lab.close()
        raise
    return lab, srv, cli


def find_pureftpd():
    """Debian's pure-ftpd, installed or unpacked by contrib/test, or None."""
    for p in [shutil.which("pure-ftpd"), "/usr/sbin/pure-ftpd",
              os.environ.get("FERRY_UNPACK_DIR", "/opt/ferry-test") + "/pure-ftpd/usr/sbin/pure-ftpd"]:
        if p and os.access(p, os.X_OK):
            return p
    return None


def pure_userdb(work, binary, root):
    """pure-ftpd's virtual user "bob" (password "pw", uid/gid 65534, chrooted
    to root) in a puredb made by the pure-pw beside binary; its path."""
    passwd, pdb = os.path.join(work, "pure.passwd"), os.path.join(work, "pure.pdb")
    with open(passwd, "w") as f:
        f.write(f"bob:{crypt_hash('pw', '$6$')}:65534:65534::{root}/./::::::::::::\n")
    pure_pw = os.path.join(os.path.dirname(os.path.dirname(binary)), "bin", "pure-pw")
    if not os.access(pure_pw, os.X_OK):
        pure_pw = shutil.which("pure-pw") or "pure-pw"
    sh(pure_pw, "mkdb", pdb, "-f", passwd)
    return pdb


def self_signed(d, name="srv", host="127.0.0.1", rsa=False):
    """A self-signed certificate for host (its CN and subjectAltName, IP or
    DNS), EC P-256 or RSA 2048, and its key, made in d (never committed):
    their paths."""
    cert, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
    try:
        san = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        san = f"DNS:{host}"
    new = ["-newkey", "rsa:2048"] if rsa else \
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    sh("openssl", "req", "-x509", "-nodes", *new, "-keyout", key, "-out", cert, "-days", "2",
       "-subj", f"/CN={host}", "-addext", f"subjectAltName={san}")
    return cert, key


def vsftpd_anon_conf(port, root, pasv_min, pasv_max, empty):
    """vsftpd.conf lines for an anonymous server in the foreground on port
    (IPv4), its tree at root, uploads allowed, passive ports pasv_min to
    pasv_max; empty: an empty directory for its secure_chroot_dir."""
    return f"""listen=YES
listen_ipv6=NO
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={root}
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
pasv_enable=YES
pasv_min_port={pasv_min}
pasv_max_port={pasv_max}
secure_chroot_dir={empty}
seccomp_sandbox=NO
"""


def vsftpd_tls_conf(cert, key, implicit=False):
    """vsftpd.conf lines for an FTPS-only anonymous server: TLS required for
    logins and data, data connections must resume the control connection's
    session (require_ssl_reuse); implicit FTPS when implicit."""
    return f"""ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
rsa_cert_file={cert}
rsa_private_key_file={key}
implicit_ssl={'YES' if implicit else 'NO'}
"""


def crypt_hash(password, prefix="$y$"):
    """A yescrypt ($y$) or sha512-crypt ($6$) hash with a random salt."""
    setting = _libcrypt.crypt_gensalt(prefix.encode(), 0, None, 0)
    return _libcrypt.crypt(password.encode(), setting).decode()


_temps = []


def tempdir(prefix):
    """A temporary directory, removed by Checks.finish when all passed."""
    path = tempfile.mkdtemp(prefix=prefix)
    _temps.append(path)
    return path


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout=15, step=0.05):
    """cond()'s first true value within timeout seconds, else its value at
    the end: waiting on a condition, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return cond()


def open_fds(pid):
    """What process pid has open: {descriptor: what it points at}
    (/proc/PID/fd); a descriptor closed while being read is left out."""
    fds = {}
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds[n] = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            pass
    return fds


class FdBaseline:
    """The open descriptors of process pid now, before sessions: back()
    waits until it holds no more than that again, which catches a
    descriptor leaked on any path the sessions took (a file, a socket, a
    splice pipe, an accepted or handed-off connection)."""

    def __init__(self, pid):
        self.pid = pid
        with open(f"/proc/{pid}/comm") as f:
            self.name = f.read().strip()      # ferryd, ferry-ftp
        self.before = open_fds(pid)

    def back(self, timeout=15):
        """(True, "") once the process has no more descriptors open than at
        the baseline, waiting up to timeout seconds for it to close the
        sessions its clients ended; else (False, the extra descriptors)."""
        if wait_for(lambda: len(open_fds(self.pid)) <= len(self.before), timeout):
            return True, ""
        now = open_fds(self.pid)
        extra = sorted(v for k, v in now.items() if self.before.get(k) != v)
        return False, f"{len(self.before)} -> {len(now)} descriptors; new: {extra[:20]}"


def wait_greeting(host, port, timeout=15, src=None):
    """True once host:port takes a connection (from src) and greets with
    220, False when timeout seconds pass first."""
    def greets():
        try:
            with socket.create_connection((host, port), timeout=2,
                                          source_address=(src, 0) if src else None) as s:
                s.settimeout(2)
                return s.recv(100).startswith(b"220")
        except OSError:
            return False
    return wait_for(greets, timeout, step=0.1)


def stop_process(proc, timeout=15):
    """SIGTERM to proc, SIGKILL when it has not exited within timeout
    seconds; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def sanitizers_quiet(text):
    """True when a process's output holds no ASan, LSan or UBSan report."""
    return "ERROR: AddressSanitizer" not in text and "runtime error" not in text \
        and "LeakSanitizer" not in text


def clear_login(port, user, password, host="127.0.0.1"):
    """The reply to a login in clear (no AUTH TLS) to host:port: the 230
    when it got in, else the 5xx refusal."""
    f = ftplib.FTP(timeout=10)
    f.connect(host, port)
    try:
        return f.login(user, password)
    except ftplib.error_perm as e:
        return str(e)
    finally:
        f.close()


def reply_text(fn, *args):
    """What an ftplib call returned, as text, or the text of the error
    ftplib raised for it (a refusal's reply)."""
    try:
        return str(fn(*args))
    except ftplib.all_errors as e:
        return str(e)


def reply_code(fn, *args):
    """The reply code of an ftplib command, also when ftplib raises for it."""
    try:
        return fn(*args)[:3]
    except ftplib.all_errors as e:
        return str(e)[:3]


def tls_ctx(version=None, ca=None):
    """A client TLS context: verifies the server against the CA file ca, or,
    without one, checks nothing (the tests' self-signed certificates);
    version (an ssl.TLSVersion) pins the protocol version."""
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class SessionFTP(ftplib.FTP_TLS):
    """FTP_TLS that offers the control connection's session on data
    connections (what ftplib itself does not do)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


class ImplicitFTP(SessionFTP):
    """SessionFTP for implicit FTPS: the socket is wrapped before the greeting."""

    def connect(self, host, port, timeout=10):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout)
        self.af = self.sock.family
        self.sock = self.context.wrap_socket(self.sock, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftp_session(port, user, password, host="127.0.0.1", timeout=20):
    """An ftplib.FTP logged in to host:port, in clear."""
    f = ftplib.FTP()
    f.connect(host, port, timeout=timeout)
    f.login(user, password)
    return f


def ftps_session(port, user, password, cls=SessionFTP, version=None, pasv=True, ca=None):
    """An FTPS session (cls, AUTH TLS with tls_ctx(version, ca)) logged in
    to port on 127.0.0.1 (on localhost with a CA: its certificates name
    that), PROT P, passive unless pasv is false."""
    f = cls(context=tls_ctx(version, ca), timeout=20)
    f.connect("localhost" if ca else "127.0.0.1", port)
    f.login(user, password)
    f.prot_p()
    f.set_pasv(pasv)
    return f


class BioTLS:
    """A client TLS connection of FTPS session f (resuming its session) run
    in memory over the socket raw: the test decides how its records are
    cut and when bytes go on the wire."""

    def __init__(self, f, raw):
        self.raw = raw
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = f.context.wrap_bio(self.inb, self.outb, server_hostname="127.0.0.1",
                                      session=f.sock.session)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(self.outb.read())
                chunk = raw.recv(65536)
                if not chunk:
                    raise OSError("data connection closed during the handshake")
                self.inb.write(chunk)

    def records(self, data, size):
        """data as records of at most size bytes: their bytes, not sent."""
        for i in range(0, len(data), size):
            self.tls.write(data[i:i + size])
        return self.outb.read()

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        return self.outb.read()

    def line(self):
        while True:
            try:
                got = self.tls.read(4096)
                if got:
                    return got.decode(errors="replace")
            except ssl.SSLWantReadError:
                self.inb.write(self.raw.recv(4096))


def tls_bio_upload(f, cmd, data, burst=False):
    """STOR over a data connection whose TLS runs in memory (ssl.MemoryBIO),
    so the client decides when it reads: after the handshake it only
    writes, then sends close_notify, waits until the server sends anything
    (up to 20 s) and closes without reading it. burst: the client's
    Finished, the file, close_notify and FIN go in one write, with no
    wait. Returns the reply and whether anything came."""
    raw, _ = ftplib.FTP.ntransfercmd(f, cmd)
    raw.settimeout(20)
    bio = BioTLS(f, raw)
    tls, outb = bio.tls, bio.outb
    out = outb.read()                    # our Finished
    for i in range(0, len(data), 1 << 16):
        tls.write(data[i:i + (1 << 16)])
        out += outb.read()
        if not burst:
            raw.sendall(out)
            out = b""
    try:
        tls.unwrap()
    except ssl.SSLWantReadError:         # close_notify sent, theirs not read
        pass
    raw.sendall(out + outb.read())
    if burst:
        raw.shutdown(socket.SHUT_WR)
        resp = f.getline()
        raw.close()
        return resp, True
    came = bool(select.select([raw], [], [], 20)[0])
    raw.close()                          # unread bytes: the kernel sends a reset
    return f.getline(), came


def read_reply(sock, timeout=10):
    """One FTP reply from a raw socket, as text (a multi-line one whole), or
    what came before the peer closed, the read failed or timeout seconds
    passed."""
    sock.settimeout(timeout)
    buf = b""
    while not re.search(rb"(^|\n)\d{3} [^\n]*\r\n$", buf):
        try:
            chunk = sock.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def recv_to_eof(sock):
    """All that sock receives until the peer closes the connection."""
    got = bytearray()
    while chunk := sock.recv(65536):
        got += chunk
    return bytes(got)


def retr_bytes(f, name):
    """The bytes of RETR name on the ftplib connection f."""
    got = bytearray()
    f.retrbinary(f"RETR {name}", got.extend)
    return bytes(got)


def same_files(a, b):
    """True when files a and b hold the same bytes; False (the error
    printed) when one cannot be read."""
    try:
        with open(a, "rb") as x, open(b, "rb") as y:
            return x.read() == y.read()
    except OSError as e:
        print(f"# {e}")
        return False


def recv_until_close(sock, timeout):
    """What sock receives until the peer closes, the read fails (a reset, a
    TLS error) or nothing comes for timeout seconds."""
    sock.settimeout(timeout)
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except OSError:
        pass
    return got


def seconds_to_close(sock, timeout):
    """Seconds until the peer closes sock (an end or a reset), reading past
    what it sends; about timeout when it has not closed by then."""
    t0 = time.time()
    recv_until_close(sock, timeout)
    return time.time() - t0


def same_bytes(path, data):
    try:
        with open(path, "rb") as x:
            return x.read() == data
    except OSError:
        return False


def lftp_ftps(port, host, login, commands, ca=None, protect_data=True, settings=""):
    """The lftp command that logs in as login ("user,password") to host:port
    with ftp:ssl-force (PROT P data unless protect_data is false), verifies
    the server against the CA file ca (or not at all without one), tries
    once, applies settings (lftp "set" commands) and runs commands."""
    verify = f"set ssl:ca-file {ca}; set ssl:verify-certificate yes; " if ca \
        else "set ssl:verify-certificate no; "
    return ["lftp", "-c", f"set ftp:ssl-force true; set ftp:ssl-protect-data {str(protect_data).lower()}; "
            f"{verify}set net:max-retries 1; {settings}open -u {login} -p {port} {host}; {commands}"]


def make_tree(top, seed, dirs=("", "sub", "sub/deeper", "other dir"),
              sizes=(0, 10, 70000, 1 << 20), name="file{}"):
    """Three files of random bytes and sizes (from seed) in each of dirs
    below top: the tree the mirror and bridge tests move both ways."""
    rnd = random.Random(seed)
    for d in dirs:
        os.makedirs(os.path.join(top, d), exist_ok=True)
        for i in range(3):
            with open(os.path.join(top, d, name.format(i)), "wb") as f:
                f.write(rnd.randbytes(rnd.choice(sizes)))


def tree_listing(top):
    """The directories and the files below top, each a sorted list of
    paths relative to top."""
    dirs, files = [], []
    for d, ds, ns in os.walk(top):
        dirs += [os.path.relpath(os.path.join(d, n), top) for n in ds]
        files += [os.path.relpath(os.path.join(d, n), top) for n in ns]
    return sorted(dirs), sorted(files)


def files_of(top):
    """The files below top, sorted paths relative to top."""
    return tree_listing(top)[1]


def same_tree(a, b):
    """True when trees a and b hold the same directories and the same files
    with the same bytes; says what differs when they do not."""
    if not os.path.isdir(b):
        print(f"# {b} is not a directory")
        return False
    la, lb = tree_listing(a), tree_listing(b)
    if la != lb:
        ina, inb = set(la[0] + la[1]), set(lb[0] + lb[1])
        print(f"# trees differ: only in {a}: {sorted(ina - inb)}; only in {b}: {sorted(inb - ina)}")
        return False
    differ = [f for f in la[1] if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)]
    if differ:
        print(f"# files differ: {differ}")
    return not differ


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL - {name} {detail}", flush=True)
        return cond

    def run(self, name, fn, *args):
        """Runs fn; an exception counts as one failed check."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            self.raised(name, e)

    def run_closing(self, pids, name, fn, *args, timeout=15):
        """run(name, fn, *args), then checks that process pids (one, or a
        list: a ferryd, a bridge) closed what those sessions opened: their
        descriptors are back to what they were before (FdBaseline)."""
        watches = [FdBaseline(p) for p in (pids if isinstance(pids, (list, tuple)) else [pids])]
        self.run(name, fn, *args)
        for i, w in enumerate(watches):
            who = w.name if [x.name for x in watches].count(w.name) == 1 else f"{w.name} #{i + 1}"
            self.check(f"{name}: {who}'s descriptors back to before", *w.back(timeout))

    def raised(self, name, e):
        """In an except block: the traceback, and e as one failed check."""
        traceback.print_exc()
        self.check(name, False, f"raised {e!r}")

    def stopped(self, proc, name="ferryd: exit 6, no sanitizer reports", want=6):
        """Stops proc (a Ferryd or a Bridge: SIGTERM) and checks it exited
        with want and quiet sanitizers."""
        rc, clean = proc.stop()[:2]
        return self.check(name, rc == want and clean, f"exit {rc}: {proc.logtext()[-3000:]}")

    def finish(self):
        if not self.failed:
            for path in _temps:
                shutil.rmtree(path, ignore_errors=True)
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


class Bridge:
    """ferry-ftp bridge (-v when verbose) listening on 127.0.0.1, port
    self.port, in front of server ("host:port"), in namespace netns if
    given; its log in a temporary file. Raises when it does not say where
    it listens (with required=False, self.port is None then)."""

    def __init__(self, ferry_ftp, server, extra=(), netns=None, name="bridge", verbose=False,
                 required=True):
        self.log_path = os.path.join(tempdir("ferry-bridge-log-"), f"{name}.log")
        self.log = open(self.log_path, "w")
        argv = [ferry_ftp, "bridge"] + (["-v"] if verbose else []) + [
            "-t", "10", *extra, "--listen", "127.0.0.1:0", server]
        self.proc = subprocess.Popen((["ip", "netns", "exec", netns] if netns else []) + argv,
                                     stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        self.port = int(line.rsplit(":", 1)[1]) if "listening on" in line else None
        if self.port is None and required:
            raise RuntimeError(f"bridge did not start: {line} {self.logtext()[-500:]}")

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path, errors="replace").read()

    def stop(self):
        """SIGTERM; (exit code, True when no sanitizer said anything, the log)."""
        rc = stop_process(self.proc)
        self.log.close()
        text = self.logtext()
        return rc, "Sanitizer" not in text and "runtime error" not in text, text


class Ferryd:
    """ferryd -f CONF in the foreground; logs to self.log_path."""

    def __init__(self, binary, ftp, workers=2, host="127.0.0.1", port=None,
                 netns=None, level=4, extra=None):
        self.tmp = tempdir("ferry-ftp-")
        self.host = host
        self.port = port or free_port(host)
        ftp = dict(ftp)
        ftp.setdefault("listen", [f"{host}:{self.port}"])
        # Run as root (CI is root) these tests serve temporary directories
        # only root can enter; tests/security covers the privilege drop.
        conf = {"workers": workers, "foreground": True, "allow_root": True,
                "log": {"level": level}, "ftp": ftp}
        conf.update(extra or {})       # other top-level keys (metrics, ...)
        self.conf_path = os.path.join(self.tmp, "ferryd.json")
        with open(self.conf_path, "w") as f:
            json.dump(conf, f)
        self.log_path = os.path.join(self.tmp, "ferryd.log")
        cmd = [binary, "-f", self.conf_path]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.log = open(self.log_path, "w")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready(netns, level)

    def _wait_ready(self, netns, level):
        """Until the port takes a connection and (at log level 2 and up) the
        log says ferryd started: its start-up (sandbox, workers) is over,
        so what it has open now is its baseline (FdBaseline)."""
        deadline = time.time() + 15
        up = False
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferryd exited {self.proc.returncode}: {self.logtext()}")
            up = up or self._connects(netns)
            if up and (level < 2 or re.search(r"ferryd \S+ started: ", self.logtext())):
                return
            time.sleep(0.05)
        raise RuntimeError("ferryd did not start listening")

    def _connects(self, netns):
        if netns:
            return subprocess.run(["ip", "netns", "exec", netns, "python3", "-c",
                                   f"import socket; socket.create_connection(('{self.host}', {self.port}), 1).close()"],
                                  capture_output=True).returncode == 0
        try:
            socket.create_connection((self.host, self.port), 1).close()
            return True
        except OSError:
            return False

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns (exit code, True when the sanitizers were quiet)."""
        rc = stop_process(self.proc)
        self.log.close()
        return rc, sanitizers_quiet(self.logtext())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
