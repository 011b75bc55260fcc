#!/usr/bin/env python3
"""The container image, built and run rootless with real podman.

usage: test_podman.py SOURCE_DIR FERRY_FTP FERRY_PERF

As root it arranges what rootless podman needs on a Debian 12 host and
says what it changed: an unprivileged user `ferrypod` with subordinate
ids, runc as the OCI runtime (crun 1.8.1 fails on hybrid cgroups), the
overlay storage driver, /dev/net/tun readable for slirp4netns. Then, as
that user: contrib/container/build-image builds the image from scratch;
FTP with SPSV goes through the one published TCP port (bytes compared;
EPSV, whose port is not published, fails); without the seccomp profile
io_uring is refused and ferryd says so; a UFTP client proxy runs with
--network=host in a network namespace of the test's own and re-multicasts
every datagram ferry-perf blast sends it (a round in which the kernel
dropped datagrams for a full buffer proves nothing and is run again, up to
five). Exits 77 (skip) with the reason where podman cannot run (not root,
no user namespaces, no podman).
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
from ftpd import Checks, free_port, wait_for, wait_greeting  # noqa: E402
from ownns import igmp_users, kernel_drops  # noqa: E402

USER = "ferrypod"
IMAGE = "localhost/ferryd:test"
checks = Checks()


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def as_user(cmd, netns=None, timeout=600):
    """A shell command as the rootless user (optionally inside a netns)."""
    argv = ["su", "-", USER, "-c", cmd]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    r = sh(argv, timeout=timeout)
    r.stderr = "\n".join(l for l in r.stderr.splitlines() if "not a shared mount" not in l)
    return r


def arrange_host():
    """What rootless podman needs here; print each change."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        sh(["useradd", "-m", "-s", "/bin/bash", USER], check=True)
        print("changed: created user %s" % USER)
    for f in ("/etc/subuid", "/etc/subgid"):
        text = open(f).read() if os.path.exists(f) else ""
        if not any(l.startswith(USER + ":") for l in text.splitlines()):
            with open(f, "a") as out:
                out.write("%s:300000:65536\n" % USER)
            print("changed: %s gets %s:300000:65536" % (f, USER))
    if os.path.exists("/dev/net/tun") and os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        os.chmod("/dev/net/tun", 0o666)
        print("changed: /dev/net/tun made readable and writable for slirp4netns")
    home = pwd.getpwnam(USER).pw_dir
    conf = os.path.join(home, ".config", "containers")
    os.makedirs(conf, exist_ok=True)
    wanted = {"containers.conf": '[engine]\nruntime = "runc"\n',
              "storage.conf": '[storage]\ndriver = "overlay"\n'}
    for name, text in wanted.items():
        path = os.path.join(conf, name)
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, "w") as f:
                f.write(text)
            print("changed: %s (%s)" % (path, text.strip().replace("\n", " ")))
    ent = pwd.getpwnam(USER)
    for d, _, files in os.walk(os.path.join(home, ".config")):
        for p in [d] + [os.path.join(d, f) for f in files]:
            os.chown(p, ent.pw_uid, ent.pw_gid)


def copy_source(src, dst):
    """The tracked files of the tree, for the user to build from."""
    files = sh(["git", "-C", src, "ls-files"], check=True).stdout.split()
    for rel in files:
        s = os.path.join(src, rel)
        if os.path.isfile(s):
            d = os.path.join(dst, rel)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(s, d)
    sh(["chown", "-R", USER + ":", dst], check=True)


def test_ftp(tree, ftp, work):
    data = os.path.join(work, "data")
    os.makedirs(os.path.join(data, "sub"))
    blobs = {"blob": os.urandom(3 << 20), "sub/small": os.urandom(1000)}
    for rel, b in blobs.items():
        with open(os.path.join(data, rel), "wb") as f:
            f.write(b)
    sh(["chmod", "-R", "a+rX", work], check=True)
    port = free_port()
    seccomp = os.path.join(tree, "build-container", "ferryd-seccomp.json")
    r = as_user("podman run -d --name ferryftp --security-opt seccomp=%s "
                "-p 127.0.0.1:%d:2121 -v %s:/srv/ftp:ro %s" % (seccomp, port, data, IMAGE))
    if not checks.check("rootless podman starts the FTP container", r.returncode == 0,
                        r.stderr[-400:]):
        return
    try:
        checks.check("the published port greets with 220", wait_greeting("127.0.0.1", port, 30))
        got = os.path.join(work, "got")
        r = sh([ftp, "-q", "127.0.0.1:%d" % port, "get", "blob", got], timeout=60)
        checks.check("3 MiB over SPSV through the one published port, byte-identical",
                     r.returncode == 0 and open(got, "rb").read() == blobs["blob"],
                     r.stderr[-300:])
        mirror = os.path.join(work, "mirror")
        r = sh([ftp, "-q", "127.0.0.1:%d" % port, "mirror", "/", mirror], timeout=60)
        checks.check("mirror of the tree over SPSV",
                     r.returncode == 0 and all(open(os.path.join(mirror, k), "rb").read() == v
                                               for k, v in blobs.items()), r.stderr[-300:])
        r = sh([ftp, "-q", "-t", "5", "--epsv", "127.0.0.1:%d" % port, "ls"], timeout=60)
        checks.check("EPSV fails: its port is not published (SPSV needs none)", r.returncode != 0,
                     "rc=%d" % r.returncode)
    finally:
        logs = as_user("podman logs ferryftp").stderr
        as_user("podman rm -f -t 5 ferryftp")
    checks.check("ferryd logged its start inside the container", "started" in logs, logs[-300:])


def test_no_profile(work):
    """Podman's default seccomp profile refuses io_uring."""
    r = as_user("podman run --rm %s --ftp-root /srv/ftp --ftp-listen 127.0.0.1:2121" % IMAGE,
                timeout=60)
    out = r.stdout + r.stderr
    checks.check("without the profile ferryd refuses to start and names io_uring",
                 r.returncode != 0 and ("io_uring" in out or "Function not implemented" in out),
                 out.strip()[-300:])


def in_ns(ns, path):
    """A /proc file as a process in network namespace ns sees it."""
    return sh(["ip", "netns", "exec", ns, "cat", path]).stdout


def blast_round(ns, perf, groups):
    """One blast through the proxy at 127.0.0.1:11044 into a sink that has
    joined groups: (datagrams sent, sink's end report, kernel drops meanwhile)."""
    def users():
        return igmp_users(in_ns(ns, "/proc/net/igmp"))
    before = users()
    drops = kernel_drops(in_ns(ns, "/proc/net/snmp"))
    sink = subprocess.Popen(["ip", "netns", "exec", ns, perf, "sink", "--json",
                             "--idle", "2", "--duration", "20", "--sessions", "2",
                             "-B", "0.0.0.0:1044"] + [a for g in groups for a in ("--join", g)],
                            stdout=subprocess.PIPE, text=True)
    try:
        joined = wait_for(lambda: all(users().get(g, 0) > before.get(g, 0)
                                      for g in groups), 20)
        if not joined:
            raise RuntimeError("the sink did not join %s within 20 s" % ", ".join(groups))
        # 1,000 datagrams/s: this checks forwarding, not speed (tests/perf
        # measures that). Rootless, ferryd cannot raise its receive buffer
        # past net.core.rmem_max, which holds about 0.1 s of them, not 10 ms.
        blast = sh(["ip", "netns", "exec", ns, perf, "blast", "-t", "127.0.0.1:11044",
                    "-r", "1000", "-d", "3", "-P", "2", "--ports", "2", "--json"],
                   timeout=60)
        out, _ = sink.communicate(timeout=60)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    return (json.loads(blast.stdout)["end"]["packets"], json.loads(out)["end"],
            kernel_drops(in_ns(ns, "/proc/net/snmp")) - drops)


def test_uftp(tree, perf, work):
    ns = "ferrypod%d" % os.getpid()
    seccomp = os.path.join(tree, "build-container", "ferryd-seccomp.json")
    sh(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                    ["route", "add", "224.0.0.0/4", "dev", "lo"]):
            sh(["ip", "-n", ns] + cmd, check=True)
        r = as_user("podman run -d --name ferryproxy --network=host "
                    "--security-opt seccomp=%s %s -c -U 0x00000201 -O 127.0.0.1 -p 11044"
                    % (seccomp, IMAGE), netns=ns)
        if not checks.check("client proxy container with --network=host", r.returncode == 0,
                            r.stderr[-300:]):
            return
        bound = wait_for(lambda: ":11044" in sh(["ip", "netns", "exec", ns, "ss", "-uln"]).stdout,
                         20)
        if not checks.check("the containerised client proxy binds UDP port 11044", bound):
            return
        # A datagram the kernel drops for a full buffer (a loaded host stalls
        # the proxy or the sink) never reached ferryd: such a round proves
        # nothing either way and is run again; a round without kernel drops
        # must bring every datagram.
        deadline = time.monotonic() + 240
        for attempt in range(1, 6):
            sent, got, drops = blast_round(ns, perf, ["230.4.4.1", "230.5.5.1"])
            ok = sent > 0 and got["packets"] == sent and got["malformed"] == 0
            result = "round %d: sent %d, received %d, lost %d, malformed %d, kernel drops %d" % (
                attempt, sent, got["packets"], got["lost"], got["malformed"], drops)
            print("info: " + result, flush=True)
            if ok or not drops or attempt == 5 or time.monotonic() > deadline:
                break
            print("info: the kernel dropped datagrams for want of buffer room (a loaded "
                  "host): the round proves nothing; once more", flush=True)
        checks.check("every datagram re-multicast by the containerised client proxy", ok,
                     result)
    finally:
        as_user("podman rm -f -t 3 ferryproxy", netns=ns)
        sh(["ip", "netns", "del", ns])


def main():
    src, ftp, perf = (os.path.abspath(a) for a in sys.argv[1:4])
    if os.geteuid() != 0:
        skip("needs root to arrange a rootless podman user")
    if not shutil.which("podman"):
        skip("podman is not installed")
    if not os.path.exists("/proc/self/ns/user"):
        skip("no user namespaces on this kernel")
    arrange_host()
    work = tempfile.mkdtemp(prefix="ferry-podman-")
    os.chmod(work, 0o755)
    tree = os.path.join(work, "src")
    try:
        copy_source(src, tree)
        r = as_user("cd %s && ./contrib/container/build-image %s" % (tree, IMAGE), timeout=900)
        if r.returncode != 0 and "newuidmap" in r.stderr + r.stdout:
            skip("rootless podman cannot map user ids here: " + r.stderr[-200:])
        if not checks.check("build-image builds the image from scratch", r.returncode == 0,
                            (r.stdout + r.stderr)[-500:]):
            return 1
        size = as_user("podman image inspect --format '{{.Size}}' %s" % IMAGE).stdout.strip()
        checks.check("the image is small", size.isdigit() and int(size) < 20 << 20,
                     "%s bytes" % size)
        checks.run("FTP", test_ftp, tree, ftp, work)
        checks.run("no profile", test_no_profile, work)
        checks.run("UFTP", test_uftp, tree, perf, work)
    finally:
        as_user("podman rmi -f %s" % IMAGE)
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (checks.passed, checks.failed), flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
