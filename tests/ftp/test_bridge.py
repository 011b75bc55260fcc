"""test_bridge.py — `ferry-ftp bridge` for unmodified clients: ferryd in a
network namespace whose nftables input chain lets only the FTP control port
through; the bridge and the clients in a second namespace. curl, lftp,
tnftp and Python's ftplib, pointed at the bridge, copy a tree both ways
byte for byte; pointed at the server directly they fail (their PASV/EPSV
data connections are dropped). Also ABOR, resumed transfers (REST, APPE),
PORT/EPRT, a refused bounce PORT, 20 sessions at once, and the data
connection the bridge pre-opens at PASV (released on QUIT, on a dropped
client, on a new login; one for two PASVs)."""
import filecmp
import os
import random
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Bridge, Checks, Ferryd, control_port_rules, crypt_hash, files_of,  # noqa: E402
                  make_tree, netns_pair, same_tree, sh, tempdir)

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bridge_ftplib.py")
t = Checks()
check = t.check
SRV = CLI = None        # the namespaces' names, once main() made them
SRV_IP, CLI_IP, PORT = "198.18.52.1", "198.18.52.2", 2121
PW = "bridge-pw"
BIG = 32 << 20


def in_cli(*cmd, timeout=120, **kw):
    try:
        return subprocess.run(["ip", "netns", "exec", CLI] + list(cmd), capture_output=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, -9, b"", b"timed out")


def url(port, path, host="127.0.0.1"):
    return f"ftp://alice:{PW}@{host}:{port}/" + urllib.parse.quote(path.lstrip("/"))


def start_bridge(extra=()):
    return Bridge(ferry_ftp, f"{SRV_IP}:{PORT}", extra, netns=CLI, required=False)


def ftplib_run(port, *args, host="127.0.0.1", timeout=120, env=None):
    r = in_cli("python3", HELPER, host, str(port), "alice", PW, *args, timeout=timeout,
               env=env)
    return r.returncode == 0, (r.stdout + r.stderr).decode()[-600:]


def lftp(port, script, host="127.0.0.1", net_timeout=10, timeout=180):
    pre = (f"set ftp:ssl-allow no; set net:timeout {net_timeout}; set net:max-retries 1; "
           f"set net:persist-retries 0; set cmd:fail-exit yes; "
           f"open -u alice,{PW} -p {port} {host}; ")
    return in_cli("lftp", "-c", pre + script, timeout=timeout)


def tnftp_script(port, lines, host="127.0.0.1", timeout=180, opts=()):
    script = "\n".join([f"user alice {PW}", "binary"] + lines + ["quit"]) + "\n"
    return in_cli("tnftp", "-n", *opts, host, str(port), input=script.encode(), timeout=timeout)


def test_lftp(port, root, work, up):
    r = lftp(port, f'mirror /tree "{work}/lftp-down"; mirror -R "{up}" /lftp-up')
    check("lftp mirror and mirror -R through the bridge: exit 0", r.returncode == 0,
          r.stderr.decode()[-400:])
    check("lftp mirror: the tree came down byte-identical",
          same_tree(os.path.join(root, "tree"), f"{work}/lftp-down"))
    check("lftp mirror -R: the tree went up byte-identical",
          same_tree(up, os.path.join(root, "lftp-up")))
    r = lftp(PORT, f'get /tree/sub/file0 -o "{work}/lftp-direct"', host=SRV_IP,
             net_timeout=3, timeout=90)
    check("lftp pointed at the server directly fails", r.returncode != 0,
          f"{r.returncode} {r.stderr.decode()[-200:]}")


def test_curl(port, root, work, up):
    ok = True
    for rel in files_of(os.path.join(root, "tree")):
        out = os.path.join(work, "curl-down", rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        r = in_cli("curl", "-sS", "-o", out, url(port, f"/tree/{rel}"))
        ok = ok and r.returncode == 0
    check("curl get of every file through the bridge (EPSV): byte-identical",
          ok and same_tree(os.path.join(root, "tree"), f"{work}/curl-down"))
    ok = True
    for rel in files_of(up):
        r = in_cli("curl", "-sS", "--ftp-create-dirs", "-T", os.path.join(up, rel),
                   url(port, f"/curl-up/{rel}"))
        ok = ok and r.returncode == 0
    check("curl put of every file through the bridge: byte-identical",
          ok and same_tree(up, os.path.join(root, "curl-up")))
    r = in_cli("curl", "-sS", "--disable-epsv", "-o", f"{work}/curl-pasv",
               url(port, "/tree/sub/file1"))
    check("curl over PASV through the bridge", r.returncode == 0 and filecmp.cmp(
        f"{work}/curl-pasv", os.path.join(root, "tree/sub/file1"), shallow=False))
    r = in_cli("curl", "-sS", "-P", "127.0.0.1", "-o", f"{work}/curl-eprt",
               url(port, "/tree/sub/file1"))
    check("curl active (EPRT) through the bridge", r.returncode == 0 and filecmp.cmp(
        f"{work}/curl-eprt", os.path.join(root, "tree/sub/file1"), shallow=False),
        r.stderr.decode())
    r = in_cli("curl", "-sS", "--connect-timeout", "3", "-m", "20", "-o", f"{work}/curl-direct",
               url(PORT, "/tree/sub/file0", host=SRV_IP), timeout=60)
    check("curl pointed at the server directly fails", r.returncode != 0, str(r.returncode))


def test_tnftp(port, root, work, up):
    tree = os.path.join(root, "tree")
    lines = [f'get "/tree/{rel}" "{work}/tnftp-down/{rel}"' for rel in files_of(tree)]
    for d in ["", "sub", "sub/deeper", "other dir"]:
        os.makedirs(os.path.join(work, "tnftp-down", d), exist_ok=True)
    r = tnftp_script(port, lines)
    check("tnftp get of every file through the bridge: byte-identical",
          same_tree(tree, f"{work}/tnftp-down"), r.stdout.decode()[-400:])
    lines = [f'mkdir "/tnftp-up/{d}"' for d in ["", "sub", "sub/deeper", "other dir"]]
    lines += [f'put "{up}/{rel}" "/tnftp-up/{rel}"' for rel in files_of(up)]
    r = tnftp_script(port, lines)
    check("tnftp put of every file through the bridge: byte-identical",
          same_tree(up, os.path.join(root, "tnftp-up")), r.stdout.decode()[-400:])
    r = tnftp_script(PORT, [f'get /tree/sub/file1 "{work}/tnftp-direct"'], host=SRV_IP,
                     timeout=40, opts=("-q", "5"))
    got = os.path.exists(f"{work}/tnftp-direct") and filecmp.cmp(
        f"{work}/tnftp-direct", os.path.join(tree, "sub/file1"), shallow=False)
    check("tnftp pointed at the server directly gets nothing", not got)


def test_ftplib(port, root, work, up):
    ok, out = ftplib_run(port, "down", "/tree", f"{work}/ftplib-down")
    check("ftplib mirror down through the bridge: byte-identical",
          ok and same_tree(os.path.join(root, "tree"), f"{work}/ftplib-down"), out)
    ok, out = ftplib_run(port, "up", up, "/ftplib-up")
    check("ftplib mirror up through the bridge: byte-identical",
          ok and same_tree(up, os.path.join(root, "ftplib-up")), out)
    ok, out = ftplib_run(port, "active", "/tree/sub/file1", os.path.join(root, "tree/sub/file1"))
    check("ftplib active (PORT) through the bridge", ok, out)
    ok, out = ftplib_run(port, "bounce", SRV_IP)
    check("the bridge refuses a PORT naming another host (no FTP bounce)", ok, out)
    ok, out = ftplib_run(PORT, "down", "/tree", f"{work}/ftplib-direct", host=SRV_IP,
                         env=dict(os.environ, FTP_TIMEOUT="3"), timeout=60)
    check("ftplib pointed at the server directly fails", not ok, out)


def test_abort_and_rest(port, root, work):
    big = os.path.join(root, "big")
    ok, out = ftplib_run(port, "abort", "/big")
    check("ABOR of a running RETR through the bridge (IAC IP, Synch, ABOR)", ok, out)
    r = in_cli("curl", "-sS", "-r", "0-999", "-o", f"{work}/range", url(port, "/big"))
    with open(big, "rb") as f:
        head = f.read(1000)
    check("curl -r 0-999 (REST 0, then ABOR after 1000 bytes)", r.returncode == 0 and
          open(f"{work}/range", "rb").read() == head, r.stderr.decode())
    ok, out = ftplib_run(port, "rest", "/tree/sub/file1", "12345",
                         os.path.join(root, "tree/sub/file1"))
    check("ftplib RETR with REST 12345 through the bridge", ok, out)
    src = os.path.join(root, "tree/sub/file1")
    data = open(src, "rb").read()
    with open(f"{work}/resume", "wb") as f:
        f.write(data[:len(data) // 3])
    r = in_cli("curl", "-sS", "-C", "-", "-o", f"{work}/resume", url(port, "/tree/sub/file1"))
    check("curl -C - resumes a download (REST)", r.returncode == 0 and
          open(f"{work}/resume", "rb").read() == data, r.stderr.decode())
    with open(os.path.join(root, "resumed-up"), "wb") as f:
        f.write(data[:len(data) // 2])
    r = in_cli("curl", "-sS", "-C", "-", "-T", src, url(port, "/resumed-up"))
    check("curl -C - -T resumes an upload (SIZE, APPE)", r.returncode == 0 and
          open(os.path.join(root, "resumed-up"), "rb").read() == data, r.stderr.decode())
    r = lftp(port, f'get -c /big -o "{work}/big-c"')
    check("lftp get of 32 MiB through the bridge", r.returncode == 0 and
          filecmp.cmp(f"{work}/big-c", big, shallow=False), r.stderr.decode()[-300:])


def test_reuse(b, root):
    """The pipe and the passive port outlive a transfer (the bridge's cost
    per file): nothing of one transfer may reach the next."""
    ok, out = ftplib_run(b.port, "reuse", "/big", os.path.join(root, "big"), "/tree/sub/file1",
                         os.path.join(root, "tree/sub/file1"), str(b.proc.pid))
    check("one session: RETR after aborted RETRs, the same passive port again, "
          "stale connections closed unused, transfers byte-identical", ok, out)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_slow_client(b, root, work):
    """A client that reads slower than the server sends: the bridge's pipe
    fills by its buffers before its bytes, and the bridge must then wait for
    the client, not wake in a loop (it spun at 22,000 wake-ups a second)."""
    cpu0, t0 = proc_cpu(b.proc.pid), time.time()
    r = in_cli("curl", "-sS", "--limit-rate", "16M", "-o", f"{work}/slow", url(b.port, "/big"))
    wall, cpu = time.time() - t0, proc_cpu(b.proc.pid) - cpu0
    check("curl --limit-rate 16M through the bridge: byte-identical",
          r.returncode == 0 and filecmp.cmp(f"{work}/slow", os.path.join(root, "big"),
                                            shallow=False), r.stderr.decode()[-300:])
    check(f"... and the bridge waited for it: {cpu:.2f} s CPU in {wall:.1f} s "
          "(the loop took 0.4 s/s and more)", cpu < 0.15 * wall, f"{cpu} {wall}")


def test_many(port):
    t0 = time.time()
    ok, out = ftplib_run(port, "many", "20", "/tree/sub/deeper/file0", timeout=300)
    check("20 ftplib sessions at once through one bridge, RETR+STOR+RETR each", ok,
          f"{out} {time.time() - t0:.1f}s")


def server_conns():
    """TCP connections established to ferryd's port (every session's)."""
    r = sh("ip", "netns", "exec", SRV, "ss", "-Htn", "state", "established",
           f"( sport = :{PORT} )")
    return len(r.stdout.decode().splitlines())


def wait_conns(want, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        n = server_conns()
        if n == want:
            return n
        time.sleep(0.05)
    return server_conns()


def hold(port, root, step, first="PASV"):
    """ftplib's hold mode: first (PASV or SIZE), then step; returns (ok,
    output, connections seen at ferryd while it was held)."""
    p = subprocess.Popen(["ip", "netns", "exec", CLI, "python3", HELPER, "127.0.0.1",
                          str(port), "alice", PW, "hold", first, "/tree/sub/file1",
                          os.path.join(root, "tree/sub/file1")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        held = p.stdout.readline().decode().strip()
        seen = wait_conns(2) if held == "HELD" else -1
        out, _ = p.communicate(step.encode() + b"\n", timeout=60)
        return p.returncode == 0, held + " " + out.decode()[-400:], seen
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_preopen(port, root, work, d):
    """The bridge opens the server's side of a data connection (SPSV and the
    DATACONN login) when the client sends PASV, before its transfer command."""
    check("no session at ferryd before the pre-open tests", wait_conns(0) == 0)
    for step in ("quit", "drop"):
        ok, out, seen = hold(port, root, step)
        check(f"PASV pre-opens the server's data connection (2 connections at ferryd: {seen})",
              seen == 2, out)
        check(f"PASV, then {step}: the session ends cleanly", ok, out)
        n = wait_conns(0)
        check(f"PASV, then {step}: no connection left at ferryd ({n})", n == 0, out)
    ok, out, seen = hold(port, root, "quit", first="SIZE")
    check(f"SIZE pre-opens the data connection too (2 connections at ferryd: {seen}); "
          "QUIT ends it", ok and seen == 2 and wait_conns(0) == 0, out)
    ok, out, seen = hold(port, root, "relogin")
    check("PASV, REIN, USER/PASS (ferryd drops the pre-opened connection), RETR on the "
          "first passive port: byte-identical", ok and seen == 2, f"{seen} {out}")
    ok, out = ftplib_run(port, "twice", "/tree/sub/file1", os.path.join(root, "tree/sub/file1"))
    check("PASV twice, then RETR: byte-identical", ok, out)
    n = wait_conns(0)
    check(f"after PASV twice and QUIT: no connection left at ferryd ({n})", n == 0, out)
    ok, out = ftplib_run(port, "prequit", "30", "/tree/sub/file1")
    n = wait_conns(0)
    check(f"30 sessions of PASV or SIZE, then QUIT or a close at once: no connection "
          f"left ({n})", ok and n == 0, out)
    log = d.logtext().splitlines()
    bad = [i for i, ln in enumerate(log) if "rejected DATACONN" in ln]
    check("ferryd refused no DATACONN login (a pre-open never outlives its session's token)",
          not bad, "\n".join(log[max(0, bad[0] - 15):bad[0] + 3]) if bad else "")


def test_no_pipeline(root, work):
    b = start_bridge(["--no-pipeline"])
    try:
        ok, out = ftplib_run(b.port, "down", "/tree", f"{work}/ftplib-nopipe")
        check("--no-pipeline (each data-login reply awaited): ftplib mirror byte-identical",
              ok and same_tree(os.path.join(root, "tree"), f"{work}/ftplib-nopipe"), out)
    finally:
        t.stopped(b, "--no-pipeline bridge: exit 0, no sanitizer reports", want=0)


def main():
    root = tempdir("ferry-bridge-")
    work = tempdir("ferry-bridge-work-")
    make_tree(os.path.join(root, "tree"), 5)
    with open(os.path.join(root, "tree/sub/deeper/file0"), "wb") as f:
        f.write(random.Random(9).randbytes(1 << 20))
    with open(os.path.join(root, "big"), "wb") as f:
        f.write(random.Random(7).randbytes(BIG))
    up = os.path.join(work, "up")
    make_tree(up, 6)
    global SRV, CLI
    d = b = lab = None
    try:
        lab, srv, cli = netns_pair(52, control_port_rules([PORT]))
        SRV, CLI = srv.ns, cli.ns
        check("netlab gave the addresses used here", (srv.addr(), cli.addr()) == (SRV_IP, CLI_IP))
        ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root,
                          "write": True}],
               "data_timeout": 5, "max_login_failures": 1000}
        d = Ferryd(ferryd_bin, ftp, workers=2, host=SRV_IP, port=PORT, netns=SRV, level=3)
        b = start_bridge()
        check("the bridge listens and says where", b.port is not None)
        for name, fn, args in (("lftp", test_lftp, (b.port, root, work, up)),
                               ("curl", test_curl, (b.port, root, work, up)),
                               ("tnftp", test_tnftp, (b.port, root, work, up)),
                               ("ftplib", test_ftplib, (b.port, root, work, up)),
                               ("abort/rest", test_abort_and_rest, (b.port, root, work)),
                               ("reuse", test_reuse, (b, root)),
                               ("many", test_many, (b.port,)),
                               ("slow client", test_slow_client, (b, root, work)),
                               ("pre-open", test_preopen, (b.port, root, work, d)),
                               ("no-pipeline", test_no_pipeline, (root, work))):
            t.run_closing([d.proc.pid, b.proc.pid], f"{name} tests ran", fn, *args)
    except Exception as e:  # noqa: BLE001
        t.raised("bridge test ran", e)
    finally:
        if b:
            t.stopped(b, "bridge: exit 0 on SIGTERM, no sanitizer reports", want=0)
        if d:
            t.stopped(d)
        if lab:
            lab.close()
    t.finish()


main()
