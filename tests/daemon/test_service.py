#!/usr/bin/env python3
"""ferryd as a service: the sd_notify messages a service manager (systemd
Type=notify) gets, in order, and the shipped unit file.

usage: test_service.py FERRYD UNIT_FILE

Runs ferryd in the foreground with NOTIFY_SOCKET pointing at a datagram
socket of our own, on a loopback FTP port, and checks: READY=1 (with our
pid) arrives only once the FTP port accepts connections; SIGHUP brings
RELOADING=1 then READY=1; SIGTERM brings STOPPING=1 and exit status 6.
Then `systemd-analyze verify` on the unit (with this build's ferryd), when
systemd-analyze is installed.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, free_port  # noqa: E402

checks = Checks()


def recv_until(sock, want, deadline):
    """Messages received until one starts with `want` (or the deadline)."""
    got = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if msg.startswith(want):
            break
    return got


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_notify(ferryd, tmp):
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    root = os.path.join(tmp, "pub")
    os.mkdir(root)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=path)
    proc = subprocess.Popen([ferryd, "--allow-root", "-d", "--workers", "2", "--ftp-root", root,
                             "--ftp-listen", "127.0.0.1:%d" % port],
                            env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = recv_until(sock, "READY=1", time.monotonic() + 15)
        ready = [m for m in got if m.startswith("READY=1")]
        checks.check("READY=1 after start-up", ready, repr(got))
        checks.check("READY=1 names the main pid",
                     ready and ("MAINPID=%d" % proc.pid) in ready[0], repr(ready))
        checks.check("the FTP port accepts connections once READY=1 came", port_open(port))
        proc.send_signal(signal.SIGHUP)
        got = recv_until(sock, "READY=1", time.monotonic() + 10)
        checks.check("SIGHUP: RELOADING=1 then READY=1",
                     len(got) >= 2 and got[0].startswith("RELOADING=1") and
                     "MONOTONIC_USEC=" in got[0] and got[-1].startswith("READY=1"), repr(got))
        proc.send_signal(signal.SIGTERM)
        got = recv_until(sock, "STOPPING=1", time.monotonic() + 10)
        checks.check("SIGTERM: STOPPING=1", got and got[-1].startswith("STOPPING=1"), repr(got))
        rc = proc.wait(timeout=15)
        checks.check("exit status 6 after SIGTERM", rc == 6, "rc=%s" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()


def test_no_socket(ferryd, tmp):
    """Without a listener at NOTIFY_SOCKET ferryd still starts (warns)."""
    root = os.path.join(tmp, "pub2")
    os.mkdir(root)
    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "nobody-listens"))
    proc = subprocess.Popen([ferryd, "--allow-root", "-d", "--ftp-root", root, "--ftp-listen",
                             "127.0.0.1:%d" % free_port()], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    err = b""
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() < deadline and b"notify the service manager" not in err:
        chunk = proc.stderr.read()
        if chunk:
            err += chunk
        elif proc.poll() is not None:
            break
        time.sleep(0.05)
    checks.check("an absent notify socket is a warning, not a failure",
                 proc.poll() is None and b"notify the service manager" in err,
                 err[-300:].decode(errors="replace"))
    proc.terminate()
    proc.wait(timeout=10)


def test_unit(ferryd, unit, tmp):
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze not installed", flush=True)
        return
    text = open(unit).read()
    checks.check("the unit is Type=notify and runs ferryd",
                 "Type=notify" in text and "@SBINDIR@/ferryd" in text)
    fake = os.path.join(tmp, "ferryd.service")
    with open(fake, "w") as f:
        f.write(text.replace("@SBINDIR@/ferryd", ferryd).replace("@SYSCONFDIR@", tmp))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", fake],
                       capture_output=True, text=True)
    checks.check("systemd-analyze verify accepts the unit", r.returncode == 0,
                 (r.stdout + r.stderr).strip()[-500:])


def main():
    ferryd, unit = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="ferry-test-service-")
    try:
        checks.run("notify", test_notify, ferryd, tmp)
        checks.run("no socket", test_no_socket, ferryd, tmp)
        checks.run("unit", test_unit, ferryd, unit, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (checks.passed, checks.failed), flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
