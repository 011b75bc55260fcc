"""rawftp.py — a raw-socket FTP client for the single-port tests: control
lines in, whole replies out, and SPSV data connections opened either way
the draft allows (-01: USER DATACONN / PASS token; -00: SPDT identifier, the
way bytedance's g3 does it: wait for 220, send SPDT with what the 227
reply's brackets held, expect 200)."""
import re
import socket


class Ctl:
    def __init__(self, host, port, src=None, timeout=20):
        self.begin(socket.create_connection((host, port), timeout,
                                            source_address=(src, 0) if src else None), host, port)

    def begin(self, sock, host, port):
        """Takes sock, connected to host:port (plain or TLS), and reads the greeting."""
        self.s = sock
        self.f = self.s.makefile("rb")
        self.host, self.port = host, port
        self.transcript = []     # "C: command" and "S: reply" lines, in order
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("connection closed")
            line = line.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if re.match(r"^\d{3}( |$)", line) and (len(lines) == 1 or line[:3] == lines[0][:3]):
                self.transcript.append("S: " + "\n".join(lines))
                return "\n".join(lines)

    def send(self, line):
        self.transcript.append("C: " + line)
        self.s.sendall(line.encode() + b"\r\n")

    def cmd(self, line):
        self.send(line)
        return self.reply()

    def closed(self, wait=5):
        """True when the peer has closed (whatever it sent before is read)."""
        self.s.settimeout(wait)
        try:
            while True:
                if not self.f.read1(65536):
                    return True
        except (ConnectionResetError, socket.timeout):
            return False

    def read_all(self):
        return self.f.read()

    def close(self):
        self.f.close()           # the file holds the socket open too
        self.s.close()


def identifier(reply):
    """What g3 takes from a 227 reply: the bracket contents, or None."""
    m = re.match(r"^227 .*?\(([^)]*)\)", reply)
    return m.group(1) if m else None


def token_of(reply):
    m = re.fullmatch(r"227 Entering single-port mode \(DATACONN:([!-~]+)\)", reply)
    return m.group(1) if m else None


def data_login(host, port, reply, form="dataconn", src=None):
    """Opens the data connection for an SPSV reply; (Ctl, last reply)."""
    d = Ctl(host, port, src)
    if form == "spdt":
        return d, d.cmd("SPDT " + identifier(reply))
    d.cmd("USER DATACONN")
    return d, d.cmd("PASS " + (token_of(reply) or ""))


class Session(Ctl):
    """A logged-in control session with SPSV transfers (binary)."""

    def login(self, user, password):
        r = self.cmd("USER " + user)
        if r.startswith("331"):
            r = self.cmd("PASS " + password)
        if not r.startswith("230"):
            raise RuntimeError(f"login: {r}")
        self.cmd("TYPE I")

    def _open(self, form):
        r = self.cmd("SPSV")
        d, r2 = data_login(self.host, self.port, r, form)
        if r2 != "200 DATA":
            raise RuntimeError(f"data login: {r} / {r2}")
        return d

    def get(self, path, form="dataconn", rest=None):
        d = self._open(form)
        if rest is not None:
            self.cmd(f"REST {rest}")
        r = self.cmd("RETR " + path)
        if not r.startswith("150") and not r.startswith("125"):
            d.close()
            raise RuntimeError(f"RETR: {r}")
        data = d.read_all()
        d.close()
        r = self.reply()
        if not r.startswith("226"):
            raise RuntimeError(f"RETR end: {r}")
        return data

    def put(self, path, data, form="dataconn"):
        d = self._open(form)
        r = self.cmd("STOR " + path)
        if not r.startswith("150") and not r.startswith("125"):
            raise RuntimeError(f"STOR: {r}")
        d.s.sendall(data)
        d.s.shutdown(socket.SHUT_WR)
        d.closed()
        d.close()
        r = self.reply()
        if not r.startswith("226"):
            raise RuntimeError(f"STOR end: {r}")

    def listing(self, path="", form="dataconn"):
        d = self._open(form)
        r = self.cmd(("LIST " + path).strip())
        if not r.startswith("150") and not r.startswith("125"):
            raise RuntimeError(f"LIST: {r}")
        data = d.read_all()
        d.close()
        self.reply()
        return data.decode(errors="replace")
