"""test_spsv_forms.py — ferry-ftp and ferry-perf ftp with both forms of the
single-port draft and with pure-ftpd's old, incompatible SPSV, against a
small scripted FTP server in this file (ferryd speaks only the -01 form).

The -00 exchange follows bytedance g3's client: SPSV, an identifier read
from the brackets of the 227 reply, a new connection to the control port,
its greeting (120 lines waited through), "SPDT <identifier>", a 200, and
from then on the file's bytes."""
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, recv_to_eof  # noqa: E402

ferry_ftp, ferry_perf = sys.argv[1], sys.argv[2]
checks = Checks()
check = checks.check


class Fake:
    """One listening socket for control and data connections alike.
    form: "spdt" (-00), "dataconn" (-01), "dataconn-only" (-01, SPDT
    unknown, as ferryd) or "old" (pure-ftpd's "227 <port>")."""

    GREETING = b"120-Wait a moment\r\n120 Ready soon\r\n220 fake ready\r\n"

    def __init__(self, form, files):
        self.form, self.files = form, files
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Condition()
        self.pending = {}        # identifier or token -> waiting session
        self.spdt_seen = []      # identifiers the clients sent with SPDT
        self.connections = 0
        self.stored = {}
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def close(self):
        self.sock.close()

    def attach(self, key, s):
        with self.lock:
            sess = self.pending.pop(key, None)
            if sess is None:
                return False
            sess["data"] = s
            self.lock.notify_all()
            return True

    def wait_data(self, sess):
        with self.lock:
            self.lock.wait_for(lambda: sess.get("data") is not None, timeout=5)
            return sess.pop("data", None)

    def serve(self, s):
        f = s.makefile("rb")
        sess = {"data": None}
        s.sendall(self.GREETING)
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                verb, _, arg = line.decode().strip().partition(" ")
                if self.command(s, sess, verb.upper(), arg) == "handed":
                    return       # now a data connection: its session owns it
        finally:
            if sess.get("handed") is None:
                f.close()

    def command(self, s, sess, verb, arg):
        def say(text):
            s.sendall(text.encode() + b"\r\n")
        if verb == "USER":
            sess["user"] = arg
            say("331 password please")
        elif verb == "PASS":
            if sess.get("user") == "DATACONN" and self.form.startswith("dataconn"):
                if self.attach("DATACONN:" + arg, s):
                    say("200 DATA")
                    sess["handed"] = True
                    return "handed"
                say("530 no such data connection")
                s.close()
                return "handed"
            say("230 logged in")
        elif verb == "SPDT" and self.form == "spdt":
            with self.lock:
                self.spdt_seen.append(arg)
            if self.attach(arg, s):
                say("200 Data connection established")
                sess["handed"] = True
                return "handed"
            say("504 unknown identifier")
        elif verb == "TYPE":
            say("200 binary")
        elif verb == "SIZE":
            say(f"213 {len(self.files[arg])}" if arg in self.files else "550 no such file")
        elif verb == "SPSV":
            ident = secrets.token_hex(8)
            if self.form == "old":
                say("227 41234")
                return None
            key = ident if self.form == "spdt" else "DATACONN:" + ident
            with self.lock:
                self.pending[key] = sess
            say(f"227 Entering single-port mode ({key})")
        elif verb in ("RETR", "LIST", "STOR"):
            d = self.wait_data(sess)
            if d is None:
                say("425 no data connection")
                return None
            if verb == "RETR" and arg not in self.files:
                d.close()
                say("550 no such file")
                return None
            say("150 here it comes")
            if verb == "STOR":
                self.stored[arg] = recv_to_eof(d)
            else:
                d.sendall(self.files[arg] if verb == "RETR" else
                          "".join(f"-rw-r--r-- 1 u g {len(v)} Jan 1 00:00 {k}\r\n"
                                  for k, v in self.files.items()).encode())
            d.close()
            say("226 done")
        elif verb == "QUIT":
            say("221 bye")
            s.close()
            return "handed"
        else:
            say("500 unknown command")
        return None


def ftp(fake, *args, opts=()):
    return subprocess.run([ferry_ftp, "-q", "-t", "5", *opts, f"127.0.0.1:{fake.port}", *args],
                          capture_output=True, timeout=60)


def main():
    work = tempfile.mkdtemp(prefix="ferry-spsv-forms-")
    blob = os.urandom(300000)
    files = {"f.bin": blob, "empty": b""}

    fake = Fake("spdt", files)
    r = ftp(fake, "get", "f.bin", f"{work}/got", opts=["--spsv-form=spdt"])
    check("-00 form: ferry-ftp get over SPDT: exit 0", r.returncode == 0, r.stderr.decode())
    check("-00 form: the file arrives byte for byte",
          os.path.exists(f"{work}/got") and open(f"{work}/got", "rb").read() == blob)
    check("-00 form: SPDT carried the identifier of the 227 reply",
          len(fake.spdt_seen) == 1 and len(fake.spdt_seen[0]) == 16, str(fake.spdt_seen))
    r = ftp(fake, "put", f"{work}/got", "up.bin", opts=["--spsv-form", "spdt"])
    check("-00 form: ferry-ftp put: exit 0 and the bytes stored",
          r.returncode == 0 and fake.stored.get("up.bin") == blob, r.stderr.decode())
    r = ftp(fake, "ls", ".", opts=["--spsv-form=spdt"])
    check("-00 form: ferry-ftp ls", r.returncode == 0 and b"f.bin" in r.stdout, r.stderr.decode())
    r = subprocess.run([ferry_perf, "ftp", "-s", f"127.0.0.1:{fake.port}", "-m", "retr",
                        "-d", "spsv", "--spsv-form", "spdt", "-f", "f.bin", "-S", str(len(blob)),
                        "-n", "5", "-i", "0", "--timeout", "5"],
                       capture_output=True, timeout=60)
    check("-00 form: ferry-perf ftp, 5 RETRs over SPDT: exit 0",
          r.returncode == 0 and len(fake.spdt_seen) == 8, f"{r.returncode} {r.stderr.decode()}")
    fake.close()

    fake = Fake("dataconn", files)
    r = ftp(fake, "get", "f.bin", f"{work}/got2")
    check("-01 form (default) through 120 greetings: exit 0, same bytes",
          r.returncode == 0 and open(f"{work}/got2", "rb").read() == blob, r.stderr.decode())
    fake.close()

    fake = Fake("dataconn-only", files)
    r = ftp(fake, "get", "f.bin", f"{work}/x", opts=["--spsv-form=spdt"])
    check("SPDT to a -01-only server: exit 6 with the reason",
          r.returncode == 6 and b"login failed" in r.stderr, f"{r.returncode} {r.stderr.decode()}")
    fake.close()

    fake = Fake("old", files)
    for form in ("dataconn", "spdt"):
        r = ftp(fake, "get", "f.bin", f"{work}/x", opts=[f"--spsv-form={form}"])
        check(f"old pure-ftpd SPSV refused ({form}): exit 6, says so",
              r.returncode == 6 and b"pure-ftpd" in r.stderr, f"{r.returncode} {r.stderr.decode()}")
    check("old pure-ftpd SPSV: no connection was tried beyond the control ones",
          fake.connections == 2, str(fake.connections))
    r = subprocess.run([ferry_perf, "ftp", "-s", f"127.0.0.1:{fake.port}", "-m", "retr",
                        "-d", "spsv", "-f", "f.bin", "-n", "1", "-i", "0", "--timeout", "5"],
                       capture_output=True, timeout=60)
    check("old pure-ftpd SPSV: ferry-perf counts an error and says why",
          r.returncode == 3 and b"pure-ftpd" in r.stderr, f"{r.returncode} {r.stderr.decode()}")
    fake.close()

    r = subprocess.run([ferry_ftp, "--spsv-form=pasv", "127.0.0.1:1", "ls"], capture_output=True)
    check("--spsv-form with a bad value: usage error, exit 1", r.returncode == 1)
    r = subprocess.run([ferry_perf, "ftp", "-s", "127.0.0.1:1", "--spsv-form", "x"],
                       capture_output=True)
    check("ferry-perf ftp --spsv-form with a bad value: exit 1", r.returncode == 1)

    for name in os.listdir(work):
        os.unlink(os.path.join(work, name))
    os.rmdir(work)
    checks.finish()


main()
