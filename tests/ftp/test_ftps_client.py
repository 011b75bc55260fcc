"""test_ftps_client.py — ferry-ftp as an FTPS client (--tls, --tls-auto,
--implicit, --ca, --insecure) against real FTPS servers from Debian, in a
network namespace of its own: vsftpd with ssl_enable and require_ssl_reuse
(a data connection that does not resume the control connection's TLS
session is refused, so passing proves resumption), vsftpd with implicit_ssl,
vsftpd without TLS, pure-ftpd -Y 2, ferryd with PROT P (SPSV over TLS in
both forms, the DATACONN connection resuming the control session), and
ferry-ftp bridge in front of a
ferryd that requires TLS for logins and data (the bridge negotiates TLS and
PROT P, its SPSV data connections resume the control session; curl and
ferry-ftp in clear to the bridge). Files are compared byte for byte;
certificate checks (wrong CA, wrong name) end in exit code 9. Certificates
are made here by openssl and never kept."""
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, Ferryd, crypt_hash, find_pureftpd, fresh_lab, pure_userdb,  # noqa: E402
                  same_files, self_signed, sh, tempdir, vsftpd_anon_conf, vsftpd_tls_conf)

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
BOX = NS = None         # the netlab host the servers and clients run in, its namespace
VS, VS_IMPL, VS_PLAIN, PURE, FERRYD, BRIDGE = 2121, 2990, 2122, 2123, 2130, 2131
# ferryd's PROT P uploads (w3-ftpsdata) lost these races about once in eight
# uploads: a TLS 1.3 client's data right after its Finished overflowing the
# handshake's input bound ("handshake input", 522), and close_notify followed
# at once by FIN taken for a truncation (426; fixed by w3-ftpsdata's f451c0e,
# after which neither showed in 48 uploads). A retry on exactly these is
# printed, so a return of either stays visible.
KNOWN_FERRYD_UPLOAD_RACES = ("522 TLS negotiation on the data connection failed",
                             "426 Data connection closed without TLS close_notify")
KNOWN_FERRYD_RACE_LOGS = ("handshake input", "without close_notify: upload truncated")


def start(cmd, out):
    """cmd in the namespace, its output to the file out; killed with the lab."""
    return BOX.spawn(cmd, log=out)


def wait_port(port, proc, out):
    deadline = time.time() + 20
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()"
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode}: {open(out).read()[-2000:]}")
        if sh("ip", "netns", "exec", NS, "python3", "-c", probe, check_rc=False).returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def ferry(host, *args, opts=(), user="anonymous:x", timeout=120):
    """ferry-ftp in the namespace: (exit code, stderr text)."""
    r = subprocess.run(["ip", "netns", "exec", NS, ferry_ftp, "-q", "-t", "10", "-u", user,
                        *opts, host, *args], capture_output=True, timeout=timeout)
    err = r.stderr.decode(errors="replace")
    if r.returncode:
        print(f"# ferry-ftp {' '.join(opts)} {' '.join(args)} -> {r.returncode}: {err[-800:]}")
    return r.returncode, err


def vsftpd_conf(work, name, port, root, cert, key, tls, implicit=False):
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    conf = os.path.join(work, f"{name}.conf")
    lines = vsftpd_anon_conf(port, root, port * 10, port * 10 + 9, empty)
    if tls:
        lines += vsftpd_tls_conf(cert, key, implicit)
    with open(conf, "w") as f:
        f.write(lines)
    out = os.path.join(work, f"{name}.out")
    p = start(["vsftpd", conf], out)
    wait_port(port, p, out)


def make_root(path, seed):
    os.makedirs(os.path.join(path, "up"))
    rnd = random.Random(seed)
    for name, size in (("empty", 0), ("small", 1234), ("big", 3 << 20)):
        with open(os.path.join(path, name), "wb") as f:
            f.write(rnd.randbytes(size))
    shutil.chown(os.path.join(path, "up"), "ftp")


def ferryd_root(work, name, seed, cert, tls):
    """work/name made by make_root, readable by all (as ferryd wants its
    roots), and the FTP configuration serving it to alice (password pw)
    with cert and the "tls" settings tls; (root, configuration)."""
    root = os.path.join(work, name)
    make_root(root, seed)
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "up"), 0o755)
    return root, {"users": [{"name": "alice", "password": crypt_hash("pw"), "root": root,
                             "write": True}],
                  "tls": {"cert": cert[0], "key": cert[1], **tls}}


def vsftpd_tests(work, cert, other):
    root = os.path.join(work, "vsroot")
    make_root(root, 1)
    vsftpd_conf(work, "vs", VS, root, *cert, tls=True)
    down = os.path.join(work, "down")
    os.makedirs(down)
    ca = ["--ca", cert[0]]
    for mode in ("--epsv", "--pasv"):
        for name in ("empty", "small", "big"):
            local = os.path.join(down, f"{name}{mode}")
            rc, _ = ferry(f"localhost:{VS}", "get", name, local, opts=["--tls", *ca, mode])
            check(f"vsftpd (require_ssl_reuse) {mode} get {name}: byte for byte",
                  rc == 0 and same_files(local, os.path.join(root, name)))
        rc, _ = ferry(f"localhost:{VS}", "put", os.path.join(root, "big"), f"up/big{mode}",
                      opts=["--tls", *ca, mode])
        check(f"vsftpd (require_ssl_reuse) {mode} put 3 MiB: byte for byte",
              rc == 0 and same_files(os.path.join(root, "up", f"big{mode}"), os.path.join(root, "big")))
    r = subprocess.run(["ip", "netns", "exec", NS, ferry_ftp, "-v", "-q", "--tls", *ca, "--epsv",
                        f"localhost:{VS}", "ls"], capture_output=True, timeout=60)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    check("ls over TLS lists the files", r.returncode == 0 and "small" in out and "big" in out)
    check("-v shows AUTH TLS, PBSZ 0, PROT P and a TLS control and data connection",
          "> AUTH TLS" in err and "< 234" in err and "> PROT P" in err and
          err.count("* TLS: TLSv1.") == 2, err[-1500:])

    # The check is on: a client that does not resume (Python's ftplib
    # without a session) gets its data connection refused.
    probe = f"""
import ftplib, ssl
ctx = ssl.create_default_context(cafile={cert[0]!r})
f = ftplib.FTP_TLS(context=ctx, timeout=10)
f.connect('localhost', {VS}); f.login(); f.prot_p()
try:
    f.retrlines('LIST', lambda l: None); print('LISTED')
except (ftplib.Error, OSError) as e:
    print('REFUSED', e)
"""
    r = sh("ip", "netns", "exec", NS, "python3", "-c", probe, check_rc=False)
    check("vsftpd's require_ssl_reuse refuses a data connection without resumption "
          "(ftplib.FTP_TLS: 522 session reuse required)", b"REFUSED 522" in r.stdout,
          r.stdout + r.stderr)

    rc, err = ferry(f"localhost:{VS}", "ls", opts=["--tls", "--ca", other[0], "--epsv"])
    check("a server certificate from another CA: exit 9", rc == 9 and "TLS" in err)
    rc, err = ferry(f"localhost:{VS}", "ls", opts=["--tls", "--epsv"])
    check("a self-signed certificate against the system CAs: exit 9", rc == 9)
    rc, err = ferry(f"127.0.0.1:{VS}", "ls", opts=["--tls", *ca, "--epsv"])
    check("a certificate for another name (localhost, not 127.0.0.1): exit 9", rc == 9)
    rc, _ = ferry(f"127.0.0.1:{VS}", "ls", opts=["--tls", "--insecure", "--epsv"])
    check("--insecure accepts it", rc == 0)
    rc, err = ferry(f"localhost:{VS}", "ls", opts=["--epsv"])
    check("without --tls vsftpd refuses the login (force_anon_logins_ssl): exit 3", rc == 3)
    rc, err = ferry(f"localhost:{VS}", "ls", opts=["--ca", cert[0]])
    check("--ca without --tls is a usage error", rc == 1)

    # implicit FTPS: TLS from the first byte
    iroot = os.path.join(work, "vsimpl")
    make_root(iroot, 2)
    vsftpd_conf(work, "vsimpl", VS_IMPL, iroot, *cert, tls=True, implicit=True)
    local = os.path.join(down, "big.implicit")
    rc, _ = ferry(f"localhost:{VS_IMPL}", "get", "big", local, opts=["--implicit", *ca, "--epsv"])
    check("implicit FTPS (vsftpd implicit_ssl) get: byte for byte",
          rc == 0 and same_files(local, os.path.join(iroot, "big")))
    rc, _ = ferry(f"localhost:{VS_IMPL}", "put", os.path.join(iroot, "small"), "up/small",
                  opts=["--implicit", *ca, "--pasv"])
    check("implicit FTPS put: byte for byte",
          rc == 0 and same_files(os.path.join(iroot, "up", "small"), os.path.join(iroot, "small")))

    # a server without TLS: --tls fails, --tls-auto goes on in clear
    proot = os.path.join(work, "vsplain")
    make_root(proot, 3)
    vsftpd_conf(work, "vsplain", VS_PLAIN, proot, None, None, tls=False)
    rc, err = ferry(f"localhost:{VS_PLAIN}", "ls", opts=["--tls", *ca, "--epsv"])
    check("--tls against a server refusing AUTH TLS: exit 9, says so",
          rc == 9 and "refused AUTH TLS" in err)
    local = os.path.join(down, "small.auto")
    rc, _ = ferry(f"localhost:{VS_PLAIN}", "get", "small", local, opts=["--tls-auto", *ca, "--epsv"])
    check("--tls-auto against it: plain FTP, byte for byte",
          rc == 0 and same_files(local, os.path.join(proot, "small")))


def pureftpd_tests(work, cert, binary):
    root = os.path.join(work, "pureroot")
    make_root(root, 4)
    subprocess.run(["chown", "-R", "65534:65534", root], check=True)
    pdb = pure_userdb(work, binary, root)
    out = os.path.join(work, "pure.out")
    p = start([binary, "-S", f"127.0.0.1,{PURE}", "-l", f"puredb:{pdb}", "-E", "-A", "-H",
               "-p", "31000:31099", "-Y", "2", "-2", f"{cert[0]},{cert[1]}"], out)
    wait_port(PURE, p, out)
    down = os.path.join(work, "pdown")
    os.makedirs(down)
    opts = ["--tls", "--ca", cert[0], "--epsv"]
    local = os.path.join(down, "big")
    rc, _ = ferry(f"localhost:{PURE}", "get", "big", local, opts=opts, user="bob:pw")
    check("pure-ftpd -Y 2 get 3 MiB: byte for byte", rc == 0 and same_files(local, os.path.join(root, "big")))
    rc, _ = ferry(f"localhost:{PURE}", "put", os.path.join(root, "big"), "big.up", opts=opts,
                  user="bob:pw")
    check("pure-ftpd -Y 2 put 3 MiB: byte for byte",
          rc == 0 and same_files(os.path.join(root, "big.up"), os.path.join(root, "big")))
    rc, _ = ferry(f"localhost:{PURE}", "ls", opts=["--epsv"], user="bob:pw")
    check("pure-ftpd -Y 2 refuses a login in clear", rc != 0)
    tree = os.path.join(work, "pmirror")
    rc, _ = ferry(f"localhost:{PURE}", "mirror", "/", tree, opts=["-P", "2", *opts],
                  user="bob:pw")
    check("pure-ftpd -Y 2: mirror -P 2 over TLS (two sessions, one TLS context)",
          rc == 0 and all(same_files(os.path.join(tree, n), os.path.join(root, n))
                          for n in ("empty", "small", "big", "big.up")))


def spsv_tls_tests(work, cert):
    """SPSV over TLS against ferryd (PROT P, resumption check on): the
    DATACONN connection does 220, AUTH TLS, 234, a handshake resuming the
    control session, then its login inside TLS."""
    root, ftp = ferryd_root(work, "sroot", 6, cert, {"required": True})
    down = os.path.join(work, "sdown")
    os.makedirs(down)
    with Ferryd(ferryd_bin, ftp, workers=2, port=FERRYD + 10, netns=NS) as d:
        host = f"localhost:{FERRYD + 10}"
        for mode in (["--spsv"], ["--spsv", "--spsv-form", "spdt"], ["--epsv"], ["--pasv"]):
            name = "-".join(m.strip("-") for m in mode)
            opts = ["--tls", "--ca", cert[0], *mode]
            local = os.path.join(down, f"big.{name}")
            rc, _ = ferry(host, "get", "big", local, opts=opts, user="alice:pw")
            check(f"ferryd PROT P {name} get 3 MiB: byte for byte",
                  rc == 0 and same_files(local, os.path.join(root, "big")))
            for attempt in range(3):
                rc, err = ferry(host, "put", os.path.join(root, "big"), f"up/big.{name}",
                                opts=opts, user="alice:pw")
                known = [k for k in KNOWN_FERRYD_UPLOAD_RACES if k in err]
                if rc == 0 or not known:
                    break
                # Two races on ferryd's side (w3-ftpsdata), about 1 upload in 8
                # here, reported to the lead; shown, retried, not hidden.
                print(f"# KNOWN ferryd PROT P upload race, retrying: {known[0]}")
            check(f"ferryd PROT P {name} put 3 MiB: byte for byte",
                  rc == 0 and same_files(os.path.join(root, "up", f"big.{name}"),
                                   os.path.join(root, "big")))
        r = subprocess.run(["ip", "netns", "exec", NS, ferry_ftp, "-v", "-q", "-u", "alice:pw",
                            "--tls", "--ca", cert[0], host, "get", "small",
                            os.path.join(down, "small.v")], capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        spsv = err[err.find("> SPSV"):]
        order = [spsv.find(x) for x in ("< 220", "> AUTH TLS", "< 234", "* TLS:",
                                         "> USER DATACONN", "< 200", "> RETR")]
        check("SPSV over TLS in the CONTRACT order: 220, AUTH TLS, 234, handshake, "
              "USER DATACONN, 200, RETR", r.returncode == 0 and -1 not in order and
              order == sorted(order), err[-2000:])
        check("the DATACONN connection resumed the control connection's session",
              "session resumed" in spsv, err[-2000:])
        check("-v masks the one-time DATACONN password of the 227 reply",
              re.search(r"\(DATACONN:\*+\)", spsv) is not None and
              not re.search(r"\(DATACONN:[^*)]", spsv), spsv[:400])
        code, clean = d.stop()
        check("ferryd: no sanitizer reports", clean)


def bridge_tests(work, cert, other):
    """ferry-ftp bridge to a ferryd that requires TLS for logins and data:
    the bridge sees AUTH TLS in FEAT, negotiates it, PBSZ 0 / PROT P, and
    opens every SPSV data connection inside TLS (resuming the control
    session); plain clients get, put and mirror through it."""
    root, ftp = ferryd_root(work, "froot", 5, cert, {"policy": "data"})
    with Ferryd(ferryd_bin, ftp, workers=2, port=FERRYD, netns=NS) as d:
        def bridge(port, *opts):
            out = os.path.join(work, f"bridge{port}.out")
            p = start([ferry_ftp, "bridge", "-v", "-t", "10", "--listen", f"127.0.0.1:{port}",
                       *opts, f"localhost:{FERRYD}"], out)
            wait_port(port, p, out)
            return p, out

        def curl(port, *args):
            for attempt in range(3):
                races = sum(d.logtext().count(m) for m in KNOWN_FERRYD_RACE_LOGS)
                r = sh("ip", "netns", "exec", NS, "curl", "-sS", "-m", "30", "-u", "alice:pw",
                       *args, check_rc=False)
                if r.returncode == 0 or \
                        sum(d.logtext().count(m) for m in KNOWN_FERRYD_RACE_LOGS) == races:
                    return r
                print("# KNOWN ferryd PROT P upload race (through the bridge), retrying")
            return r

        p, out = bridge(BRIDGE, "--ca", cert[0])
        got = os.path.join(work, "via-bridge")
        r = curl(BRIDGE, f"ftp://127.0.0.1:{BRIDGE}/big", "-o", got)
        check("curl RETR through the bridge, TLS toward ferryd: byte for byte",
              r.returncode == 0 and same_files(got, os.path.join(root, "big")), r.stderr)
        r = curl(BRIDGE, "-T", os.path.join(root, "small"), f"ftp://127.0.0.1:{BRIDGE}/up/small")
        check("curl STOR through the bridge, TLS toward ferryd: byte for byte",
              r.returncode == 0 and same_files(os.path.join(root, "up", "small"),
                                         os.path.join(root, "small")), r.stderr)
        r = curl(BRIDGE, "-P", "127.0.0.1", f"ftp://127.0.0.1:{BRIDGE}/big", "-o", got + "a")
        check("curl active (EPRT/PORT) RETR through the bridge: byte for byte",
              r.returncode == 0 and same_files(got + "a", os.path.join(root, "big")), r.stderr)
        r = curl(BRIDGE, "-T", os.path.join(root, "big"), f"ftp://127.0.0.1:{BRIDGE}/up/big")
        check("curl STOR of 3 MiB through the bridge: byte for byte",
              r.returncode == 0 and same_files(os.path.join(root, "up", "big"),
                                         os.path.join(root, "big")), r.stderr)
        rc, _ = ferry(f"127.0.0.1:{BRIDGE}", "get", "big", got + "2", opts=["--epsv"],
                      user="alice:pw")
        check("ferry-ftp --epsv through the bridge: byte for byte",
              rc == 0 and same_files(got + "2", os.path.join(root, "big")))
        tree = os.path.join(work, "bmirror")
        rc, _ = ferry(f"127.0.0.1:{BRIDGE}", "mirror", "/", tree, opts=["--epsv"],
                      user="alice:pw")
        check("ferry-ftp mirror through the bridge (MLSD and files in TLS toward ferryd)",
              rc == 0 and all(same_files(os.path.join(tree, n), os.path.join(root, n))
                              for n in ("empty", "small", "big")))
        probe = f"""
import ftplib
f = ftplib.FTP(timeout=10)
f.connect('127.0.0.1', {BRIDGE})
for c in ('AUTH TLS', 'PBSZ 0', 'PROT P'):
    try:
        f.sendcmd(c); print('ACCEPTED', c)
    except ftplib.error_perm as e:
        print('REFUSED', e)
"""
        r = sh("ip", "netns", "exec", NS, "python3", "-c", probe, check_rc=False)
        check("AUTH TLS, PBSZ, PROT from a local client: 502 (not carried to clients)",
              r.stdout.count(b"REFUSED 502") == 3, r.stdout + r.stderr)
        log = open(out).read()
        check("the bridge negotiated TLS toward the server (-v)",
              ">> AUTH TLS" in log and "TLS toward the server: TLSv1." in log, log[-1500:])
        dconns = [ln for ln in log.splitlines() if "data connection in TLS:" in ln]
        check("... and PROT P: every SPSV data connection in TLS, resuming the session",
              "toward the server: TLS (PROT P)" in log and len(dconns) >= 6 and
              all(ln.endswith(", session resumed") for ln in dconns), log[-1500:])
        check("ferryd saw only PROT P transfers (data: required refuses PROT C)",
              "> 521" not in d.logtext())
        p.kill()

        p, out = bridge(BRIDGE + 1, "--ca", other[0])
        probe = f"""
import ftplib
try:
    ftplib.FTP().connect('127.0.0.1', {BRIDGE + 1}, timeout=10); print('GREETED')
except ftplib.error_temp as e:
    print('TEMP', e)
"""
        r = sh("ip", "netns", "exec", NS, "python3", "-c", probe, check_rc=False)
        check("a server certificate the bridge cannot verify: the client gets 421 saying why",
              b"TEMP 421 Bridge: TLS toward the server" in r.stdout, r.stdout + r.stderr)
        p.kill()

        p, out = bridge(BRIDGE + 2, "--no-tls")
        r = curl(BRIDGE + 2, f"ftp://127.0.0.1:{BRIDGE + 2}/small", "-o", got + "4")
        check("--no-tls: ferryd refuses the login in clear", r.returncode != 0)
        p.kill()
    # TLS toward local clients (--local-cert) is tested in test_bridge_tls.py.
    r = sh("ip", "netns", "exec", NS, ferry_ftp, "bridge", "--local-cert", "/nonexistent.pem",
           "127.0.0.1:21", check_rc=False)
    check("bridge --local-cert that cannot be read is refused at start-up, saying why",
          r.returncode == 9 and b"--local-cert" in r.stderr, r.stderr)


def main():
    if os.geteuid() != 0:
        print("# needs root for a network namespace")
        sys.exit(77)
    work = tempdir("ferry-ftpsc-")
    os.chmod(work, 0o755)
    global BOX, NS
    lab = fresh_lab()
    try:
        BOX = lab.host("ftc")
        NS = BOX.ns
        cert = self_signed(work, "server", "localhost", rsa=True)
        other = self_signed(work, "other", "localhost", rsa=True)
        t.run("vsftpd", vsftpd_tests, work, cert, other)
        t.run("SPSV over TLS", spsv_tls_tests, work, cert)
        t.run("bridge", bridge_tests, work, cert, other)
        pure = find_pureftpd()
        if check("pure-ftpd is there (contrib/deps.sh unpacks it)", pure is not None):
            t.run("pure-ftpd", pureftpd_tests, work, cert, pure)
    finally:
        lab.close()
    t.finish()


main()
