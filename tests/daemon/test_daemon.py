#!/usr/bin/env python3
"""Checks ferryd's life as a daemon: detach and readiness, pidfile, log
file, SIGHUP reopen, SIGTERM/SIGINT exit codes, -d foreground, one
process per port, the descriptor limit.

usage: test_daemon.py PATH_TO_FERRYD

Runs the real binary on loopback ports 20000-30000 and sends nothing on
the network. Prints one line per check; exits 1 if any check failed.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foreground import Proc, free_port  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, wait_for  # noqa: E402

# "YYYY/MM/DD HH:MM:SS.uuuuuu: " then optionally "[GGGGGGGG/II:F]: "
LINE_RE = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6}: (\S.*)?$")
EXIT_LOG = 4    # uftpproxyd(1): opening or rolling the log file failed
EXIT_INTR = 6   # uftpproxyd exits 6 on SIGINT and SIGTERM (observed, 4.10.2)
PR_SET_CHILD_SUBREAPER = 36

checks = Checks()
started = set()   # pids to kill if still alive at the end


def become_subreaper():
    """Adopt the detached daemon when its parent exits, so its exit status
    can be collected with waitpid (and it never lingers as a zombie)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def alive(pid):
    """Running and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def reap(pid, timeout):
    """Exit status of an adopted/own child once it ends (None on timeout).
    Negative values are -signal, as in subprocess."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None if alive(pid) else "gone"
        if got == pid:
            return os.waitstatus_to_exitcode(st)
        time.sleep(0.05)
    return None


def reap_all_adopted(subreaper):
    """Collects any other process we adopted (e.g. a daemon child that
    failed after its parent returned), so none stays a zombie."""
    if not subreaper:
        return
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            time.sleep(0.05)


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def uftp_lines(text):
    """Lines of text in uftp's log format."""
    return [ln for ln in (text or "").splitlines() if LINE_RE.match(ln)]


def read_pid(path):
    text = read_text(path)
    if text is None or not re.fullmatch(r"\d+\n?", text):
        return None
    return int(text)


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def start_detached(ferryd, args, timeout=10):
    """Runs ferryd expecting it to detach; returns (rc, seconds, stderr).
    rc None: the command did not return — e.g. the daemon kept the
    shell's stdout/stderr pipe open."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([ferryd, "--allow-root"] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, time.monotonic() - t0, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode(errors="replace")
        return None, time.monotonic() - t0, err


def test_background(ferryd, tmp, subreaper):
    """Detach, pidfile, start-up log line, SIGHUP reopen, SIGTERM."""
    pidfile = os.path.join(tmp, "ferryd.pid")
    logfile = os.path.join(tmp, "ferryd.log")
    port = free_port()
    rc, secs, err = start_detached(ferryd, ["-c", "-p", str(port), "-P", pidfile,
                                            "-L", logfile])
    pid = read_pid(pidfile)
    if pid:
        started.add(pid)
    checks.check("detached start exits 0", rc == 0, "rc=%s stderr=%r" % (rc, err.strip()[:200]))
    checks.check("detached start returns promptly", rc is not None and secs < 5,
                 "%.2fs" % secs)
    if not checks.check("pidfile written before the command returns", pid is not None,
                        repr(read_text(pidfile))):
        return
    checks.check("pidfile names a live process", alive(pid), "pid %d" % pid)
    try:
        checks.check("daemon leads its own session", os.getsid(pid) == pid)
    except OSError as e:
        checks.check("daemon leads its own session", False, str(e))
    try:
        checks.check("daemon's cwd is /", os.readlink("/proc/%d/cwd" % pid) == "/")
    except OSError:
        pass  # not ours to inspect; not a failure of ferryd
    lines = wait_for(lambda: uftp_lines(read_text(logfile)), 3)
    checks.check("log file has a start-up line in uftp format", lines,
                 repr(lines[0] if lines else read_text(logfile)))

    test_sighup(pid, logfile)
    test_sigterm(pid, pidfile, logfile, subreaper)


def test_rolling(ferryd, tmp, subreaper):
    """-g 1 -n 2 through the real daemon: each UFTP datagram is logged at
    -x 5, so ~4 MB of log must leave the file plus .1 and .2, and no .3."""
    logdir = os.path.join(tmp, "roll")
    os.mkdir(logdir)
    logfile = os.path.join(logdir, "ferryd.log")
    pidfile = os.path.join(logdir, "ferryd.pid")
    port = free_port()
    rc, _, err = start_detached(ferryd, ["-c", "-p", str(port), "-x", "5", "-g", "1",
                                         "-n", "2", "-L", logfile, "-P", pidfile])
    pid = read_pid(pidfile)
    if not checks.check("rolling: daemon started", rc == 0 and pid, err.strip()[:200]):
        return
    started.add(pid)
    # A UFTP 4 header: version 0x40, type 2 (REGISTER), group 0x01020304.
    hdr = bytes([0x40, 2, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(60000):
            s.sendto(hdr + b"x" * 16, ("127.0.0.1", port))
            if i % 100 == 99:
                # let the daemon keep up (its 256 64-KiB receive buffers and
                # the default -B take bursts of a few hundred): loss is not
                # the point
                time.sleep(0.001)
    finally:
        s.close()
    names = lambda: sorted(os.listdir(logdir))
    wait_for(lambda: os.path.exists(logfile + ".2"), 10)
    time.sleep(0.5)
    kill_quietly(pid, signal.SIGTERM)
    if subreaper:
        reap(pid, 5)
    else:
        wait_gone(pid, 5)
    have = names()
    checks.check("rolling: .1 and .2 exist",
                 os.path.exists(logfile + ".1") and os.path.exists(logfile + ".2"), repr(have))
    checks.check("rolling: nothing beyond -n 2 kept", not os.path.exists(logfile + ".3"),
                 repr(have))
    sizes = [os.path.getsize(logfile + ext) for ext in (".1", ".2")
             if os.path.exists(logfile + ext)]
    checks.check("rolling: archives are rolled just past 1 MB",
                 sizes and all(1000000 <= n < 1100000 for n in sizes), repr(sizes))
    checks.check("rolling: archives hold uftp lines", uftp_lines(read_text(logfile + ".1")))


def ftp_banner(port):
    """The first reply line of an FTP server on 127.0.0.1:port, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            return c.makefile("rb").readline().decode(errors="replace")
    except OSError:
        return None


def test_one_per_port(ferryd, tmp, subreaper):
    """A second ferryd on a UDP or FTP port that a running one holds exits 2
    with "address already in use"; the first keeps all of its traffic."""
    EXIT_NET = 2
    pdir = os.path.join(tmp, "port")
    os.mkdir(pdir)
    logfile = os.path.join(pdir, "first.log")
    pidfile = os.path.join(pdir, "first.pid")
    udp, ftp = free_port(), free_port()
    rc, _, err = start_detached(ferryd, ["-c", "-p", str(udp), "-x", "5",
                                         "--ftp-root", pdir, "--ftp-listen",
                                         "127.0.0.1:%d" % ftp, "-L", logfile,
                                         "-P", pidfile])
    pid = read_pid(pidfile)
    if not checks.check("one per port: first ferryd started", rc == 0 and pid, err.strip()[:200]):
        return
    started.add(pid)
    cases = [("the same UDP port", ["-p", str(udp), "--ftp-listen",
                                    "127.0.0.1:%d" % free_port()]),
             ("the same FTP port", ["-p", str(free_port()), "--ftp-listen",
                                    "127.0.0.1:%d" % ftp])]
    for name, args in cases:
        try:
            p = subprocess.run([ferryd, "--allow-root", "-d", "-c", "--ftp-root", pdir] + args,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=10)
            rc, err = p.returncode, p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, err = None, "still running after 10 s"
        checks.check("second ferryd on %s exits %d" % (name, EXIT_NET), rc == EXIT_NET,
                     "rc=%s stderr=%r" % (rc, err.strip()[-300:]))
        checks.check("second ferryd on %s says 'address already in use'" % name,
                     "address already in use" in err.lower(),
                     repr(err.strip()[-300:]))
    rc, _, err = start_detached(ferryd, ["-c", "-p", str(udp), "-L",
                                         os.path.join(pdir, "second.log")])
    checks.check("a detached second ferryd on the UDP port exits %d" % EXIT_NET, rc == EXIT_NET,
                 "rc=%s stderr=%r" % (rc, err.strip()[-200:]))
    second = read_text(os.path.join(pdir, "second.log")) or ""
    checks.check("the detached second's log says 'address already in use'",
                 "address already in use" in second.lower(), repr(second[-200:]))
    checks.check("one per port: the first ferryd still runs", alive(pid))
    banners = [ftp_banner(ftp) for _ in range(10)]
    checks.check("one per port: the first answers all 10 FTP connections",
                 all(b and b.startswith("220") for b in banners), repr(banners[:3]))
    hdr = bytes([0x40, 2, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0])
    count = lambda: len(re.findall(r"dropped 32 bytes from",
                                   read_text(logfile) or ""))
    before = count()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(20):
            s.sendto(hdr + b"x" * 16, ("127.0.0.1", udp))
    finally:
        s.close()
    got = wait_for(lambda: count() - before >= 20 and count() - before, 5)
    checks.check("one per port: the first hears all 20 datagrams", got == 20,
                 "%s of 20" % (count() - before))
    kill_quietly(pid, signal.SIGTERM)
    if subreaper:
        reap(pid, 5)
    else:
        wait_gone(pid, 5)


def soft_nofile(pid):
    """The soft RLIMIT_NOFILE of a running process, from /proc."""
    for line in (read_text("/proc/%d/limits" % pid) or "").splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


def test_nofile(ferryd, tmp, subreaper):
    """FTP's max_sessions needs descriptors: a low soft limit is raised to
    the hard one, a hard limit below the need refuses to start and says
    how many are needed."""
    import resource
    fdir = os.path.join(tmp, "nofile")
    os.mkdir(fdir)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        print("info: hard RLIMIT_NOFILE %d too low to test raising" % hard, flush=True)
        return
    args = ["-d", "-c", "-p", str(free_port()), "--ftp-root", fdir,
            "--ftp-listen", "127.0.0.1:%d" % free_port()]
    limit = lambda s, h: (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (s, h)))
    try:
        p = subprocess.run([ferryd, "--allow-root"] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=10, preexec_fn=limit(256, 256))
        rc, err = p.returncode, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, err = None, "still running after 10 s"
    checks.check("hard descriptor limit too low for max_sessions: exits 1", rc == 1,
                 "rc=%s" % rc)
    m = re.search(r"needs (\d+) file descriptors", err)
    checks.check("the refusal names the descriptors needed and the hard limit",
                 m and int(m.group(1)) > 256 and "hard limit" in err,
                 repr(err.strip()[-300:]))
    proc = subprocess.Popen([ferryd, "--allow-root"] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=limit(256, 2048))
    started.add(proc.pid)
    try:
        raised = wait_for(lambda: soft_nofile(proc.pid) == 2048, 5)
        checks.check("a low soft descriptor limit is raised to the hard one",
                     raised and proc.poll() is None,
                     "soft now %s" % soft_nofile(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_sighup(pid, logfile):
    moved = logfile + ".moved"
    os.rename(logfile, moved)
    kill_quietly(pid, signal.SIGHUP)
    created = wait_for(lambda: os.path.exists(logfile), 3)
    if not created:  # a reopen might be deferred to the next loop turn
        kill_quietly(pid, signal.SIGHUP)
        created = wait_for(lambda: os.path.exists(logfile), 3)
    checks.check("daemon survives SIGHUP", alive(pid))
    checks.check("SIGHUP reopens the log: new file at the path", created)
    lines = wait_for(lambda: uftp_lines(read_text(logfile)), 3)
    checks.check("reopened log gets uftp-format lines", lines,
                 repr(lines[0] if lines else read_text(logfile)))


def test_sigterm(pid, pidfile, logfile, subreaper):
    kill_quietly(pid, signal.SIGTERM)
    if subreaper:
        status = reap(pid, 5)
        checks.check("SIGTERM ends the daemon", status not in (None,), "status %s" % status)
        if isinstance(status, int):
            checks.check("daemon exit status on SIGTERM is %d" % EXIT_INTR, status == EXIT_INTR,
                         "got %s" % status)
    else:
        checks.check("SIGTERM ends the daemon", wait_gone(pid, 5))
    checks.check("SIGTERM removes the pidfile",
                 wait_for(lambda: not os.path.exists(pidfile), 2))
    tail = uftp_lines(read_text(logfile))
    print("info: last log line: %r" % (tail[-1] if tail else None), flush=True)


def test_bad_log(ferryd):
    port = free_port()
    bad = "/nonexistent/dir/log"
    rc, secs, err = start_detached(ferryd, ["-c", "-p", str(port), "-L", bad])
    checks.check("unopenable -L exits %d" % EXIT_LOG, rc == EXIT_LOG,
                 "rc=%s stderr=%r" % (rc, err.strip()[:200]))
    checks.check("the error on stderr names the log file", bad in err, repr(err.strip()[:200]))


def test_foreground(ferryd, tmp, sig, name):
    ignored_log = os.path.join(tmp, "ignored-%s.log" % name)
    port = free_port()
    fg = Proc([ferryd, "--allow-root", "-d", "-c", "-p", str(port), "-x", "2",
               "-L", ignored_log])
    started.add(fg.proc.pid)
    try:
        time.sleep(1.5)
        checks.check("-d stays in the foreground (%s run)" % name, fg.proc.poll() is None,
                     "exited %s" % fg.proc.returncode)
        lines = wait_for(lambda: uftp_lines("\n".join(fg.lines)), 3)
        checks.check("-d logs uftp-format lines to stderr (%s run)" % name, lines,
                     repr(lines[0] if lines else fg.lines[:3]))
        checks.check("-d ignores -L (%s run)" % name, not os.path.exists(ignored_log))
        status = fg.stop(sig, timeout=5)
        checks.check("%s on -d exits %d" % (name, EXIT_INTR), status == EXIT_INTR,
                     "got %s" % status)
        if fg.lines:
            print("info: last stderr line: %r" % fg.lines[-1], flush=True)
    finally:
        if fg.proc.poll() is None:
            fg.proc.kill()
            fg.proc.wait(5)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    ferryd = os.path.abspath(sys.argv[1])
    subreaper = become_subreaper()
    tmp = tempfile.mkdtemp(prefix="ferry-test-daemon-")
    try:    # checks.run: one broken test must not hide the others
        checks.run("background", test_background, ferryd, tmp, subreaper)
        checks.run("bad log", test_bad_log, ferryd)
        checks.run("rolling", test_rolling, ferryd, tmp, subreaper)
        checks.run("one per port", test_one_per_port, ferryd, tmp, subreaper)
        checks.run("nofile", test_nofile, ferryd, tmp, subreaper)
        checks.run("foreground SIGINT", test_foreground, ferryd, tmp, signal.SIGINT, "SIGINT")
        checks.run("foreground SIGTERM", test_foreground, ferryd, tmp, signal.SIGTERM,
                   "SIGTERM")
    finally:
        for pid in started:
            if alive(pid):
                kill_quietly(pid)
                print("info: killed leftover pid %d" % pid, flush=True)
            if subreaper:
                reap(pid, 1)
        reap_all_adopted(subreaper)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (checks.passed, checks.failed), flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
