"""test_pasvports.py — ftp.passive_ports against a running ferryd (sandbox
on, as it runs by default) with real clients: curl (EPSV, and PASV with
--disable-epsv) and Python ftplib move files byte for byte and every 227/229
port lies in the range, on IPv6 too; a range inside the kernel's ephemeral
range (IP_LOCAL_PORT_RANGE) and one outside it (ports tried in turn); a
port only TIME_WAIT holds is reused; a full range gives 425 and one log
line, and a port comes back when its session ends; a reload applies a new
range to new sessions; bad values are refused at start-up with their
message."""
import ftplib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, free_port, run_client, tempdir, wait_for  # noqa: E402

ferryd_bin = sys.argv[1]
t = Checks()
check = t.check


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        lo, hi = map(int, fh.read().split())
    return lo, hi


def free_range(n, lo, hi, host="127.0.0.1"):
    """n consecutive ports in [lo, hi] that nothing on host listens on or
    is bound to now (other tests may run beside this one): (first, last)."""
    for _ in range(200):
        first = random.randint(lo, hi - n + 1)
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind((host, p))
            return first, first + n - 1
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} free ports in {lo}-{hi}")


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class PortFTP(ftplib.FTP):
    """ftplib.FTP that records the port of every PASV/EPSV reply."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ports = []

    def makepasv(self):
        host, port = super().makepasv()
        self.ports.append(port)
        return host, port


def session(port, host="127.0.0.1", family=socket.AF_INET):
    f = PortFTP()
    if family == socket.AF_INET6:
        f.af = socket.AF_INET6        # ftplib then uses EPSV
    f.connect(host, port, timeout=20)
    f.login("alice", "pw")
    return f


def retr(f, name):
    got = bytearray()
    f.retrbinary(f"RETR {name}", got.extend)
    return bytes(got)


def in_range(ports, rng):
    return bool(ports) and all(rng[0] <= p <= rng[1] for p in ports)


def curl_ports(stderr):
    """The ports of the 227/229 replies in curl -v output."""
    ports = []
    for line in stderr.splitlines():
        m = re.search(r"^< 229 .*\(\|\|\|(\d+)\|\)", line)
        if m:
            ports.append(int(m.group(1)))
        m = re.search(r"^< 227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", line)
        if m:
            ports.append(int(m.group(5)) * 256 + int(m.group(6)))
    return ports


def clients(d, root, rng, label):
    """curl EPSV and PASV, up and down, and ftplib PASV, inside rng."""
    src = os.path.join(root, "alice", "big.bin")
    data = open(src, "rb").read()
    work = tempdir("ferry-pasv-curl-")
    url = f"ftp://alice:pw@127.0.0.1:{d.port}"
    for mode, extra in (("EPSV", []), ("PASV", ["--disable-epsv"])):
        out = os.path.join(work, f"down-{mode}.bin")
        r = run_client(["curl", "-sS", "-v", *extra, "-o", out, f"{url}/big.bin"])
        ports = curl_ports(r.stderr.decode(errors="replace"))
        check(f"{label}: curl {mode} download byte-identical",
              r.returncode == 0 and open(out, "rb").read() == data)
        check(f"{label}: curl {mode} download's port in {rng}", in_range(ports, rng), ports)
        r = run_client(["curl", "-sS", "-v", *extra, "-T", src, f"{url}/up-{mode}.bin"])
        ports = curl_ports(r.stderr.decode(errors="replace"))
        dst = os.path.join(root, "alice", f"up-{mode}.bin")
        check(f"{label}: curl {mode} upload byte-identical",
              r.returncode == 0 and os.path.exists(dst) and open(dst, "rb").read() == data)
        check(f"{label}: curl {mode} upload's port in {rng}", in_range(ports, rng), ports)
    f = session(d.port)
    got = [retr(f, "big.bin") for _ in range(3)]
    lines = []
    f.retrlines("LIST", lines.append)
    f.storbinary("STOR up-ftplib.bin", open(src, "rb"))
    check(f"{label}: ftplib (PASV) 3 downloads byte-identical", all(g == data for g in got))
    check(f"{label}: ftplib LIST lists the file", any("big.bin" in x for x in lines), lines)
    check(f"{label}: ftplib upload byte-identical",
          open(os.path.join(root, "alice", "up-ftplib.bin"), "rb").read() == data)
    check(f"{label}: ftplib's 5 227 ports in {rng}",
          len(f.ports) == 5 and in_range(f.ports, rng), f.ports)
    f.quit()


def time_wait_reuse(d, root, rng):
    """ferryd closes a download's data connection first, so its end of it
    (the passive port) waits in TIME_WAIT: the kernel's own choice skips
    such ports, ferryd binds them again."""
    data = open(os.path.join(root, "alice", "small.txt"), "rb").read()
    f = session(d.port)
    got = [retr(f, "small.txt") for _ in range(6)]
    check(f"TIME_WAIT: 6 downloads in a row through {rng} (2 ports) all succeed",
          all(g == data for g in got), [len(g) for g in got])
    check("TIME_WAIT: each on a port of the range", len(f.ports) == 6 and in_range(f.ports, rng),
          f.ports)
    f.quit()


def pasv_port(reply):
    m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", reply)
    return int(m.group(5)) * 256 + int(m.group(6)) if m else None


def exhausted(d, rng):
    """Two sessions hold the two ports' listeners: the third gets 425 and
    ferryd logs that the range is exhausted; a port comes back when its
    session ends."""
    a, b, c = session(d.port), session(d.port), session(d.port)
    pa, pb = pasv_port(a.sendcmd("PASV")), pasv_port(b.sendcmd("PASV"))
    check("full: two sessions' PASV get the two ports", {pa, pb} == set(range(rng[0], rng[1] + 1)),
          (pa, pb))
    mark = len(d.logtext())
    try:
        reply = c.sendcmd("PASV")
    except ftplib.error_temp as e:
        reply = str(e)
    check("full: the third gets 425 Can't open passive connection.",
          reply.startswith("425 Can't open passive connection."), reply)
    try:
        reply = c.sendcmd("EPSV")
    except ftplib.error_temp as e:
        reply = str(e)
    check("full: and 425 to EPSV too", reply.startswith("425 Can't open passive connection."),
          reply)
    want = f"passive port range {rng[0]}-{rng[1]} exhausted"
    check("full: ferryd logs the range exhausted",
          wait_for(lambda: d.logtext()[mark:].count(want) == 2, 5), d.logtext()[mark:])
    lines = [x for x in d.logtext()[mark:].splitlines()
             if "exhausted" in x or "in use" in x or "bind" in x]
    check("full: one line per refused command, nothing per port tried", len(lines) == 2, lines)
    a.quit()
    a.close()

    def pasv_again():
        try:
            return pasv_port(c.sendcmd("PASV"))
        except ftplib.error_temp:
            return None
    got = wait_for(pasv_again, 10, step=0.1)
    check("full: once a session ends, its port serves the next PASV", got == pa, (got, pa))
    names = c.nlst()
    check("full: and a transfer after it (a PASV again: the listener it replaces "
          "frees its port at once) works", "big.bin" in names and c.ports[-1] == pa,
          (names, c.ports[-1:], pa))
    b.quit()
    c.quit()


def ipv6(d, root, rng):
    data = open(os.path.join(root, "alice", "big.bin"), "rb").read()
    f = session(d.port, "::1", socket.AF_INET6)
    got = retr(f, "big.bin")
    check("IPv6: EPSV download byte-identical", got == data)
    check(f"IPv6: the 229 port in {rng}", in_range(f.ports, rng), f.ports)
    f.quit()
    r = run_client(["curl", "-sS", "-v", "-o", "-", f"ftp://alice:pw@[::1]:{d.port}/big.bin"])
    ports = curl_ports(r.stderr.decode(errors="replace"))
    check("IPv6: curl EPSV download byte-identical", r.returncode == 0 and r.stdout == data)
    check(f"IPv6: curl's 229 port in {rng}", in_range(ports, rng), ports)


def reload(d, rng_new):
    """SIGHUP with another range: new sessions get it, a session logged in
    before keeps its own; a bad range is refused and changes nothing."""
    old = session(d.port)
    conf = json.load(open(d.conf_path))
    rng_old = tuple(map(int, conf["ftp"]["passive_ports"].split("-")))
    conf["ftp"]["passive_ports"] = f"{rng_new[0]}-{rng_new[1]}"
    json.dump(conf, open(d.conf_path, "w"))
    mark = len(d.logtext())
    d.proc.send_signal(signal.SIGHUP)
    check("reload: read", wait_for(lambda: "reload: FTP:" in d.logtext()[mark:], 10),
          d.logtext()[mark:])
    check("reload: passive_ports needs no restart",
          "passive_ports changed" not in d.logtext()[mark:], d.logtext()[mark:])
    f = session(d.port)
    f.nlst()
    check(f"reload: a new session's port in the new range {rng_new}", in_range(f.ports, rng_new),
          f.ports)
    old.nlst()
    check("reload: the session from before keeps the old range", in_range(old.ports, rng_old),
          old.ports)
    conf["ftp"]["passive_ports"] = "50000-49999"
    json.dump(conf, open(d.conf_path, "w"))
    mark = len(d.logtext())
    d.proc.send_signal(signal.SIGHUP)
    check("reload: a bad range refuses the reload, saying why",
          wait_for(lambda: "reload refused" in d.logtext()[mark:] and
                   "ftp.passive_ports" in d.logtext()[mark:], 10), d.logtext()[mark:])
    g = session(d.port)
    g.nlst()
    check("reload: the range in force stays", in_range(g.ports, rng_new), g.ports)
    for x in (f, old, g):
        x.quit()


def refused(root, users):
    tmp = tempdir("ferry-pasv-bad-")
    port = free_port()

    def run(value, check_only=True):
        path = os.path.join(tmp, "c.json")
        with open(path, "w") as fh:
            json.dump({"foreground": True, "allow_root": True,
                       "ftp": {"listen": [f"127.0.0.1:{port}"], "users": users,
                               "passive_ports": value}}, fh)
        return subprocess.run([ferryd_bin, "-f", path] + (["--check-config"] if check_only else []),
                              capture_output=True, text=True, timeout=30)

    cases = [
        ("50000-49999", "the first port must not be above the second, got '50000-49999'"),
        ("80-90", "ports must be 1024-65535, got '80-90'"),
        ("1023-2000", "ports must be 1024-65535, got '1023-2000'"),
        ("40000-65536", "ports must be 1024-65535, got '40000-65536'"),
        ("40000", "must be \"MIN-MAX\" such as \"40000-40999\", got '40000'"),
        ("40000-40999 ", "must be \"MIN-MAX\" such as \"40000-40999\", got '40000-40999 '"),
        (40000, "must be a string \"MIN-MAX\" such as \"40000-40999\""),
        ([40000, 40999], "must be a string \"MIN-MAX\" such as \"40000-40999\""),
    ]
    for value, msg in cases:
        r = run(value)
        check(f"refused: {json.dumps(value)}: {msg}",
              r.returncode != 0 and "ftp.passive_ports" in r.stderr and msg in r.stderr,
              r.stderr)
    r = run("50000-49999", check_only=False)
    check("refused: ferryd itself does not start with a bad range",
          r.returncode != 0 and "the first port must not be above the second" in r.stderr,
          r.stdout + r.stderr)
    r = run("40000-40000")
    check("accepted: a range of one port", r.returncode == 0, r.stderr)


def main():
    root = tempdir("ferry-pasv-")
    os.makedirs(os.path.join(root, "alice"))
    os.chmod(os.path.join(root, "alice"), 0o755)
    with open(os.path.join(root, "alice", "big.bin"), "wb") as fh:
        fh.write(os.urandom(3 << 20))
    with open(os.path.join(root, "alice", "small.txt"), "wb") as fh:
        fh.write(b"small file\n")
    users = [{"name": "alice", "password": crypt_hash("pw"), "root": os.path.join(root, "alice"),
              "write": True}]
    elo, ehi = ephemeral_range()
    v6 = has_ipv6_loopback()

    # Inside the kernel's ephemeral range: IP_LOCAL_PORT_RANGE picks.
    inside = free_range(8, elo, ehi)
    listen = [f"127.0.0.1:{free_port()}"]
    port = int(listen[0].rsplit(":", 1)[1])
    if v6:
        listen.append(f"[::1]:{port}")
    d = Ferryd(ferryd_bin, {"users": users, "login_delay_ms": 10, "listen": listen,
                            "passive_ports": f"{inside[0]}-{inside[1]}"}, port=port)
    try:
        check("the sandbox is on", "seccomp filter on every thread" in d.logtext(),
              d.logtext()[-2000:])
        t.run_closing(d.proc.pid, "inside", clients, d, root, inside, "inside")
        if v6:
            t.run_closing(d.proc.pid, "ipv6", ipv6, d, root, inside)
        else:
            print("# no ::1 here: IPv6 EPSV not checked")
        t.run("reload", reload, d, free_range(4, 20000, elo - 1))
        check("ferryd still running", d.proc.poll() is None)
    finally:
        t.stopped(d)

    # Outside it (below): the kernel's choice is outside, ports tried in turn.
    outside = free_range(8, 20000, elo - 1)
    d = Ferryd(ferryd_bin, {"users": users, "login_delay_ms": 10,
                            "passive_ports": f"{outside[0]}-{outside[1]}"})
    try:
        t.run_closing(d.proc.pid, "outside", clients, d, root, outside, "outside")
    finally:
        t.stopped(d)

    # Two ports inside the ephemeral range: TIME_WAIT, then a full range.
    two = free_range(2, elo, ehi)
    d = Ferryd(ferryd_bin, {"users": users, "login_delay_ms": 10,
                            "passive_ports": f"{two[0]}-{two[1]}"})
    try:
        t.run_closing(d.proc.pid, "time_wait", time_wait_reuse, d, root, two)
        t.run_closing(d.proc.pid, "exhausted", exhausted, d, two)
    finally:
        t.stopped(d)
    t.run("refused", refused, root, users)
    t.finish()


main()
