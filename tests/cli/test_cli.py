#!/usr/bin/env python3
"""test_cli.py — runs ferryd's command line: every uftpproxyd flag with a good
and a bad value under --check-config, --help, --version, JSON errors, and
every conf/*.json. Usage: test_cli.py PATH_TO_FERRYD CONF_DIR"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FP = "66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC"

# (flag, good value or None for a bare flag, bad value or None, role to add)
FLAGS = [
    ("-s", "198.18.1.2", "fp=66:1E", None),
    ("-s", "198.18.1.2", "bad host", None),
    ("-c", None, None, None),
    ("-r", None, None, None),
    ("-r:prime256v1", None, None, None),
    ("-d", None, None, "-c"),
    ("-p", "1045", "0", "-c"),
    ("-p", "65535", "65536", "-c"),
    ("-t", "255", "256", "-c"),
    ("-t", "1", "0", "-c"),
    ("-Q", "0x2e", "64", "-c"),
    ("-Q", "63", "0x40", "-c"),
    ("-N", "-20", "20", "-c"),
    ("-N", "19", "-21", "-c"),
    ("-O", "eth1", "", "-c"),
    ("-U", "0x0A0B0C0D", "0x123456789", "-c"),
    ("-U", "12345678", "xyz", "-c"),
    ("-q", "2000", "0", "-c"),
    ("-m", None, None, "-c"),
    ("-x", "5", "6", "-c"),
    ("-x", "0", "-1", "-c"),
    ("-H", "198.18.1.1,198.18.1.3:1100,[fd00::1]:1200", "host:0", "-c"),
    ("-H", "fd00::1,[fd00::2],2001:2::3", "[fd00::1", "-c"),
    ("-h", "3600", "0", "-c"),
    ("-g", "1024", "1025", "-c"),
    ("-g", "1", "0", "-c"),
    ("-n", "1000", "1001", "-c"),
    ("-n", "1", "0", "-c"),
    ("-B", "65536", "1", "-c"),
    ("-B", "104857600", "104857601", "-c"),
    ("-L", "/var/log/ferryd-cli-test.log", "", "-c"),
    ("-P", "/run/ferryd-cli-test.pid", "", "-c"),
    ("-C", "/etc/ferry/clients.txt", "", "-c"),
    ("-S", "/etc/ferry/servers.txt", "", "-c"),
    ("-k", "/etc/ferry/a.pem,/etc/ferry/b.pem", ",", "-c"),
    ("-K", "rsa:2048,ec:prime256v1", "rsa:100", "-c"),
    ("-K", "ec:secp521r1", "ec:nosuchcurve", "-c"),
    ("-e", "secp384r1", "curve25519", "-r"),
    ("-I", "eth0,198.18.0.1", ",", "-s 198.18.1.2"),
    ("-M", "230.4.4.1,239.1.2.3", "10.0.0.1", "-s 198.18.1.2"),
    ("--workers", "4", "0", "-c"),
    ("--max-groups", "1", "0", "-c"),
    ("--max-groups", "1000000", "1000001", "-r"),
    ("--max-groups-per-source", "5", "0", "-c"),
    ("--group-idle-max", "10", "9", "-c"),
    ("--group-idle-max", "86400", "86401", "-r"),
    ("--udp-buffer-force", None, None, "-c"),
    # --check-config checks that FTP roots exist: /usr/share stands for a served tree (not world-writable)
    ("--ftp-root", "/usr/share", "relative/dir", None),
    ("--ftp-listen", "127.0.0.1:2121", "localhost", "--ftp-root /usr/share"),
    ("--ftp-write", None, None, "--ftp-root /usr/share"),
]

# Command lines that must fail, and the flag the error must name.
BAD_LINES = [
    (["-s", "198.18.1.2", "-c"], "-c"),
    (["-c", "-r"], "-r"),
    (["-p", "1044"], "-p"),
    (["-B", "65536"], "-B"),
    (["-c", "-k", "a,b", "-K", "rsa:512"], "-K"),
    (["-r:nosuchcurve"], "-r"),
    (["-c", "-z"], "-z"),
    (["-c", "--bogus"], "--bogus"),
    (["-c", "-p"], "-p"),
    (["--ftp-write"], "--ftp-write"),
    # uftpproxyd 4.10.2 starts with each of these, saying nothing (it
    # exits 1 only for -B 100M and 2 for the unicast -M); ferryd refuses
    # them with exit 1, deliberately (ferryd(8), Migrating from uftpproxyd).
    (["-c", "-U", "0"], "-U"),
    (["-c", "-U", "zz"], "-U"),
    (["-c", "-U", "0xffffffff"], "-U"),
    (["-c", "-x", "9"], "-x"),
    (["-c", "-x", "zz"], "-x"),
    (["-c", "-p", "70000"], "-p"),
    (["-c", "extra"], "extra"),
    (["-c", "-B", "100M"], "-B"),
    (["-r", "-M", "198.18.0.1"], "-M"),
]


class Runner:
    def __init__(self, ferryd):
        self.ferryd = ferryd
        self.failed = 0
        self.passed = 0

    def run(self, args, **kw):
        return subprocess.run([self.ferryd] + args, capture_output=True, text=True,
                              timeout=30, **kw)

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail.strip()}" if detail else ""))

    def expect_ok(self, name, args):
        r = self.run(args + ["--check-config"])
        self.check(name, r.returncode == 0 and "configuration OK" in r.stdout,
                   f"exit {r.returncode}: {r.stderr}")

    def expect_bad(self, name, args, flag):
        r = self.run(args + ["--check-config"])
        named = re.search(r"(^|: )" + re.escape(flag) + r"(:| )", r.stderr) is not None
        self.check(name, r.returncode == 1 and named,
                   f"exit {r.returncode}, stderr {r.stderr!r}, wanted {flag}")


def role_args(role):
    return role.split() if role else []


def flag_args(flag, value):
    return [flag] if value is None else [flag, value]


def test_flags(t):
    for flag, good, bad, role in FLAGS:
        base = flag.split(":")[0]
        t.expect_ok(f"{flag} {good if good is not None else ''}".strip(),
                    role_args(role) + flag_args(flag, good))
        if bad is not None:
            t.expect_bad(f"{flag} {bad!r} is refused", role_args(role) + flag_args(flag, bad),
                         base)


def test_bad_lines(t):
    for args, flag in BAD_LINES:
        t.expect_bad(" ".join(args) + " is refused", args, flag)


def test_actions(t):
    r = t.run(["--help"])
    t.check("--help", r.returncode == 0 and "usage" in r.stdout.lower() and "-s" in r.stdout,
            f"exit {r.returncode}")
    r = t.run(["--version"])
    t.check("--version", r.returncode == 0 and re.search(r"\d+\.\d+", r.stdout) is not None,
            f"exit {r.returncode}: {r.stdout!r}")
    r = t.run(["--check-config"])
    t.check("built-in configuration", r.returncode == 0, r.stderr)


def test_json_errors(t, tmp):
    cases = [
        ("syntax", '{\n  "workers": ,\n}\n', r":2:14: "),
        ("type", '{\n  "proxies": [\n    {"role": "client",\n     "port": "x"}\n  ]\n}\n',
         r":4:14: proxies\[0\]\.port: "),
        ("unknown key", '{\n "log": {"levle": 2},\n "proxies": [{"role": "client"}]}\n',
         r":2:19: log\.levle: "),
        ("duplicate key", '{"workers": 1,\n "workers": 2}\n', r":2:\d+: "),
    ]
    for name, text, pattern in cases:
        path = os.path.join(tmp, name.replace(" ", "_") + ".json")
        with open(path, "w") as f:
            f.write(text)
        r = t.run(["-f", path, "--check-config"])
        t.check(f"JSON {name} error is located", r.returncode == 1 and
                re.search(re.escape(path) + pattern, r.stderr) is not None,
                f"exit {r.returncode}, stderr {r.stderr!r}")
    r = t.run(["-f", os.path.join(tmp, "missing.json"), "--check-config"])
    t.check("missing -f file", r.returncode == 1 and "missing.json" in r.stderr, r.stderr)
    good = os.path.join(tmp, "good.json")
    with open(good, "w") as f:
        f.write('{"proxies": [{"role": "client"}]}\n')
    t.expect_bad("-f with a role", ["-f", good, "-c"], "-c")
    t.expect_bad("-f with a proxy flag", ["-f", good, "-t", "2"], "-t")
    t.expect_ok("-f with general flags", ["-f", good, "-d", "-x", "4", "-L", "/var/log/x.log"])


def test_no_side_effects(t, tmp, conf_dir):
    """--check-config opens no sockets and writes no files."""
    log = os.path.join(tmp, "should-not-exist.log")
    pid = os.path.join(tmp, "should-not-exist.pid")
    r = t.run(["-c", "-L", log, "-P", pid, "--check-config"])
    t.check("--check-config creates no log or pidfile",
            r.returncode == 0 and not os.path.exists(log) and not os.path.exists(pid), r.stderr)
    strace = shutil.which("strace")
    if not strace:
        print("skip  syscall trace (no strace)")
        return
    trace = os.path.join(tmp, "trace")
    r = subprocess.run([strace, "-f", "-qq", "-o", trace, "-e", "trace=socket,openat,open,creat",
                        t.ferryd, "-f", rooted(os.path.join(conf_dir, "multi.json"), tmp),
                        "--check-config"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "ptrace" in r.stderr:
        print("skip  syscall trace (ptrace not permitted)")
        return
    lines = open(trace).read().splitlines()
    bad = [l for l in lines if "socket(" in l or re.search(r"O_(WRONLY|RDWR|CREAT)", l)]
    t.check("--check-config opens no sockets and nothing for writing", r.returncode == 0 and not bad,
            "; ".join(bad[:3]) or r.stderr)


def test_fp_accepted(t):
    r = t.run(["-s", "fp=" + FP, "--check-config"])
    t.check("-s fp= (signed heartbeats) passes --check-config",
            r.returncode == 0, r.stderr)
    r = t.run(["-s", "fp=66:1E", "--check-config"])
    t.check("-s fp= with a short fingerprint is refused", r.returncode == 1 and "-s" in r.stderr,
            r.stderr)


def in_netns(t, args, term_after=None, timeout=20):
    """ferryd started for real in a namespace with only loopback (unshare
    -rn). With term_after, SIGTERM once that text is in its output."""
    inner = "ip link set lo up && exec \"$0\" \"$@\""
    proc = subprocess.Popen(["unshare", "-rn", "sh", "-c", inner, t.ferryd, "--allow-root"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if term_after and term_after in line:
                proc.send_signal(signal.SIGTERM)
                term_after = None
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    return rc, "".join(out)


def test_startup(t, tmp):
    """What a migration's command lines do at start-up, not just in
    --check-config: exit status and message, as uftpproxyd(1) EXIT STATUS
    says or deliberately better (ferryd(8), Migrating from uftpproxyd)."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        print("skip  start-up cases (no user+network namespace)")
        return
    # Only loopback: a UID the way uftpproxyd derives one, with a warning.
    rc, out = in_netns(t, ["-c", "-d"], term_after=" started: ")
    t.check("only loopback: UID 0x7F000001 with a warning, runs, exit 6 on SIGTERM",
            rc == 6 and "using 0x7F000001" in out, f"exit {rc}: {out[-400:]}")
    # -k file missing (no -K): exit 3, as uftpproxyd.
    rc, out = in_netns(t, ["-c", "-d", "-U", "0x11", "-k", os.path.join(tmp, "no.key")])
    t.check("missing -k file: exit 3", rc == 3 and "no.key" in out, f"exit {rc}: {out[-300:]}")
    # -L in a directory that does not exist (not -d): exit 4 with a message
    # on stderr (uftpproxyd forks first and exits 0).
    rc, out = in_netns(t, ["-c", "-U", "0x11", "-L", os.path.join(tmp, "no/dir/log")])
    t.check("unwritable -L: exit 4 saying so", rc == 4 and "log file" in out,
            f"exit {rc}: {out[-300:]}")
    # -P that cannot be written: exit 1 (uftpproxyd ignores it).
    rc, out = in_netns(t, ["-c", "-d", "-U", "0x11", "-P", os.path.join(tmp, "no/dir/pid")])
    t.check("unwritable -P: exit 1 saying so", rc == 1 and "pidfile" in out,
            f"exit {rc}: {out[-300:]}")
    # -S file missing: exit 1, as uftpproxyd.
    rc, out = in_netns(t, ["-c", "-d", "-U", "0x11", "-S", os.path.join(tmp, "none")])
    t.check("missing -S file: exit 1", rc == 1 and "server list" in out,
            f"exit {rc}: {out[-300:]}")
    # -B above net.core.rmem_max: not forced, a warning says what the kernel gives.
    rmem = int(open("/proc/sys/net/core/rmem_max").read())
    if rmem < 104857600:
        rc, out = in_netns(t, ["-c", "-d", "-U", "0x11", "-B", "104857600"],
                           term_after=" started: ")
        t.check("-B past rmem_max: a warning, not forced, runs",
                rc == 6 and "net.core.rmem_max" in out, f"exit {rc}: {out[-300:]}")


def rooted(path, tmp):
    """The example with its FTP roots (/srv/ftp/...) moved under tmp and
    created, since --check-config checks that roots exist."""
    text = open(path).read()
    if "/srv/ftp" not in text:
        return path
    base = os.path.join(tmp, "srv-ftp")
    for sub in re.findall(r'"/srv/ftp(/[^"]*)?"', text):
        os.makedirs(base + sub, exist_ok=True)
    logs = os.path.join(tmp, "var-log")      # the transfer log's directory too
    os.makedirs(logs, exist_ok=True)
    out = os.path.join(tmp, "rooted-" + os.path.basename(path))
    with open(out, "w") as fh:
        fh.write(text.replace("/srv/ftp", base).replace('"/var/log/', '"' + logs + "/"))
    return out


def test_conf_dir(t, conf_dir, tmp):
    files = sorted(glob.glob(os.path.join(conf_dir, "*.json")))
    t.check("conf/ has example configurations", len(files) >= 5, str(files))
    for path in files:
        t.expect_ok(f"-f {os.path.basename(path)}", ["-f", rooted(path, tmp)])
        if path != rooted(path, tmp) and not os.path.exists("/srv/ftp"):
            r = t.run(["-f", path, "--check-config"])
            t.check(f"-f {os.path.basename(path)} with its roots missing: refused",
                    r.returncode != 0 and "root directory /srv/ftp" in r.stderr, r.stderr)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    t = Runner(os.path.abspath(sys.argv[1]))
    conf_dir = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="ferry-cli-") as tmp:
        test_flags(t)
        test_bad_lines(t)
        test_actions(t)
        test_json_errors(t, tmp)
        test_no_side_effects(t, tmp, conf_dir)
        test_conf_dir(t, conf_dir, tmp)
        test_fp_accepted(t)
        test_startup(t, tmp)
    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
