"""foreground.py — shared by the tests that start proxies in the foreground
(ferryd -d, uftpproxyd -d): the process with its stderr read line by line
and waited on by pattern, or (when it logs much) written to a file; and a
port it can bind. The check counter is ftpd.Checks (tests/ftp/ftpd.py)."""
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time


def free_port():
    """A port in 20000-30000 (below the ephemeral range, so no socket the
    kernel binds for itself takes it meanwhile) that UDP and TCP can bind
    right now, on loopback and on the wildcard address."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                for addr in ("127.0.0.1", "0.0.0.0"):
                    s = socket.socket(socket.AF_INET, kind)
                    try:
                        s.bind((addr, port))
                    finally:
                        s.close()
            return port
        except OSError:
            continue
    raise RuntimeError("no free port in 20000-30000")


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Sends sig to a subprocess.Popen (unless it has ended): its exit
    status, or None when it would not stop within timeout and was killed."""
    status = proc.poll()
    if status is None:
        proc.send_signal(sig)
        try:
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return status


class Proc:
    """A foreground daemon (ferryd -d or uftpproxyd -d) started with argv;
    its stderr lines collect in self.lines."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_line(self, pattern, timeout=20, after=0):
        """The first line from index `after` on that matches pattern, or None
        when the process ends without one or the time is up."""
        def find():
            return next((l for l in list(self.lines)[after:] if re.search(pattern, l)), None)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = find()
            if line is not None:
                return line
            if self.proc.poll() is not None:
                self.reader.join(2)      # the lines it wrote before ending
                return find()
            time.sleep(0.05)
        return None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """stop_process, then the last of its stderr read."""
        status = stop_process(self.proc, sig, timeout)
        self.reader.join(2)
        return status

    def text(self):
        """The last lines, for a failure's detail."""
        return "\n".join(self.lines[-15:])


class LogFileProc:
    """A daemon started with argv whose stdout and stderr go to a temporary
    file, for one that logs much: nothing has to drain a pipe, so no full
    pipe ever holds up its log. stop() removes the file."""

    def __init__(self, argv, prefix="ferryd-"):
        self.log = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def text(self):
        """All it has written so far."""
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def count(self, pattern):
        """How often pattern occurs in text()."""
        return len(re.findall(pattern, self.text()))

    def wait_count(self, pattern, count=1, timeout=20):
        """count() of pattern once it reaches count, or when the process
        ends or the time is up."""
        end = time.monotonic() + timeout
        while (time.monotonic() < end and self.count(pattern) < count and
               self.proc.poll() is None):
            time.sleep(0.05)
        return self.count(pattern)

    def wait_started(self, timeout=20):
        """True once it has logged " started: " and still runs."""
        return self.wait_count(r" started: ", 1, timeout) > 0 and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """stop_process: (its exit status, all it wrote); the file is removed."""
        status = stop_process(self.proc, sig, timeout)
        self.log.close()
        text = self.text()
        os.unlink(self.log.name)
        return status, text
