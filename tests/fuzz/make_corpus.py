"""make_corpus.py — writes the text seed corpora of tests/fuzz: the example
configurations of conf/ (config_json), uftpproxyd and ferryd command lines
as the CLI tests give them (config_args, NUL between arguments, a first
byte choosing argv[0]), -C/-S list lines (peerlist, a first byte choosing
the server form) and FTP command lines (ftp_cmdline).
Usage: make_corpus.py CORPUS_DIR"""
import base64
import glob
import hashlib
import os
import struct
import sys

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
out = sys.argv[1]
FP = "66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC"


def put(name, data, file=None):
    """file: a fixed name, for seeds made from bytes that change at every
    --seed (the recorded ClientHellos), so they replace their old selves."""
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, file or hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


for path in sorted(glob.glob(os.path.join(top, "conf", "*.json"))):
    put("config_json", open(path, "rb").read())

ARGS = [
    ["-s", "198.18.1.2", "-p", "1044", "-t", "8"],
    ["-c", "-d", "-U", "0x0A0B0C0D", "-O", "eth1", "-H", "198.18.1.1,198.18.1.3:1100"],
    ["-r", "-q", "2000", "-x", "5", "-B", "65536", "-g", "1024", "-n", "1000"],
    ["-r:prime256v1", "-e", "secp384r1", "-k", "/etc/a.pem,/etc/b.pem", "-K", "rsa:2048,ec:prime256v1"],
    ["-s", "fp=" + FP, "-I", "eth0,198.18.0.1", "-M", "230.4.4.1,239.1.2.3", "-Q", "0x2e"],
    ["-c", "-C", "/etc/ferry/clients.txt", "-S", "/etc/ferry/servers.txt", "-L", "/var/log/x", "-P", "/run/x"],
    ["--workers", "4", "-c", "-h", "3600", "-N", "-20", "-m"],
    ["--ftp-root", "/srv/ftp", "--ftp-listen", "127.0.0.1:2121", "--ftp-write"],
    ["--check-config", "-cdm", "-p1044"],
    ["--help"], ["--version"],
]
for i, args in enumerate(ARGS):
    put("config_args", bytes([i & 1]) + b"\0".join(a.encode() for a in args))

LINES = [
    (0, "0x00001111|" + FP), (0, "0x00002222"), (1, "0x11112222|192.168.1.101|" + FP),
    (1, "0x11113333|fe80::213:72ff:fed6:69ca"), (1, "0x11112222|198.18.0.1"),
    (0, "  0x11113333  "), (1, "12345678|[fd00::1]"),
]
for kind, line in LINES:
    put("peerlist", bytes([kind]) + line.encode())

CMDS = [
    "USER alice", "PASS secret", "PORT 198,18,0,2,4,1", "EPRT |1|198.18.0.2|1025|",
    "EPRT |2|fd00::2|1025|", "CWD ../a/./b//c", "RETR /tree/sub/file1", "STOR x/../../y",
    "MKD dir with spaces", "RNFR a\r\n", "SIZE \xff\xff name", "NOOP",
    "\xff\xf4\xff\xf2ABOR", "\xff\xfb\x01USER x", "SPSV", "EPSV ALL", "MLSD .",
]
for c in CMDS:
    put("ftp_cmdline", c.encode("latin-1") + b"\r\n")

# What servers answer: a session as ferryd, vsftpd and g3's peers write it.
REPLIES = [
    "\x00120-Wait\r\n120 soon\r\n220 ready\r\n331 pw\r\n200 DATA\r\n",
    "\x01220 ready\r\n200 Data connection established\r\n",
    "227 Entering Passive Mode (127,0,0,1,4,1)\r\n229 Entering Extended Passive Mode (|||6446|)\r\n",
    "227 Entering single-port mode (DATACONN:LJ5ErXuvX5PKwPBgjNfS)\r\n227 41234\r\n",
    "211-Features:\r\n SIZE\r\n SPSV\r\n MLST type*;size*;\r\n211 End\r\n",
]
for rep in REPLIES:
    put("ftpc_reply", rep.encode("latin-1"))


# The PKCS#8 form ("BEGIN PRIVATE KEY", as openssl genpkey writes it) of
# the traditional test keys make_uftp_corpus wrote to crypto_pem.
def der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def pem_body(text):
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith(b"-----")]
    return base64.b64decode(b"".join(lines))


ALGS = {
    "rsa512": der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00"),
    "ec_p256": der(0x30, bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06082a8648ce3d030107")),
}
for name, alg in ALGS.items():
    path = os.path.join(out, "crypto_pem", name)
    if not os.path.exists(path):
        continue
    inner = pem_body(open(path, "rb").read())
    p8 = der(0x30, b"\x02\x01\x00" + alg + der(0x04, inner))
    b64 = base64.b64encode(p8)
    text = b"-----BEGIN PRIVATE KEY-----\n"
    text += b"".join(b64[i:i + 64] + b"\n" for i in range(0, len(b64), 64))
    text += b"-----END PRIVATE KEY-----\n"
    d = os.path.join(out, "crypto_pem")
    with open(os.path.join(d, name + "_pkcs8"), "wb") as f:
        f.write(text)


# fuzz_proxy_intake: UFTP sessions for each role, cut into the harness's
# records (worker and family and clock step, source, length, datagram)
# from the UFTP messages of corpus/uftp_decode and a plain ANNOUNCE.
def uftp_hdr(func, src, gid, inst=0, grtt=0x9D, gsize=0x18):
    return struct.pack(">BBHIIBBBB", 0x40, func, 0, src, gid, inst, grtt, gsize, 0)


def plain_announce(src, gid):
    body = struct.pack(">BBBBBBHII", 1, 6, 0, 20, 0, 0, 1300, 1700000000, 0)
    return uftp_hdr(1, src, gid) + body + bytes([230, 4, 4, 1, 230, 5, 5, 1])


def record(dgram, worker=0, v6=False, step=0, source=0):
    b0 = worker | (2 if v6 else 0) | (step << 2)
    return bytes([b0, source]) + struct.pack(">H", len(dgram)) + dgram


uftp_dir = os.path.join(out, "uftp_decode")
msgs = {n: open(os.path.join(uftp_dir, n), "rb").read()
        for n in sorted(os.listdir(uftp_dir))} if os.path.isdir(uftp_dir) else {}
ann = plain_announce(0x5E000001, 0x10000001)
for role in range(3):
    for two in (0, 4):
        seq = record(ann, source=2) + record(ann, worker=1, source=0)
        for i, name in enumerate(msgs):
            seq += record(msgs[name], worker=i & 1, v6=name.endswith("_v6"),
                          step=(i % 4), source=i % 8)
        put("proxy_intake", bytes([role | two]) + seq + record(ann, step=40))
for name, m in msgs.items():
    put("proxy_intake", bytes([4]) + record(ann) + record(m, worker=1, source=3))


# fuzz_ftp_session: whole sessions as real clients run them, in the
# harness's records (see fuzz_ftp_session.c): connection 0 is the first
# control connection; 0x01 in sent text stands for the last DATACONN password.
class Ftp:
    def __init__(self, setup=0):
        self.b = bytes([setup])

    def op(self, kind, a=0, no_run=False):
        self.b += bytes([kind | (a << 3) | (0x80 if no_run else 0)])
        return self

    def send(self, text, conn=0, no_run=False):
        data = text.encode("latin-1") if isinstance(text, str) else text
        self.op(0, conn, no_run)
        self.b += struct.pack(">H", len(data)) + data
        return self

    def cmds(self, *lines, conn=0):
        for ln in lines:
            self.send(ln + "\r\n", conn)
        return self

    def connect(self, addr=0, worker=0, implicit=False):
        return self.op(1, addr | worker << 2 | (8 if implicit else 0))

    def data(self, addr=0):
        return self.op(2, addr)

    def payload(self, conn, data, shut=True):
        self.op(3, conn | (8 if shut else 0))
        self.b += struct.pack(">H", len(data)) + data
        return self

    def clock(self, a):
        return self.op(4, a)

    def close(self, conn):
        return self.op(5, conn)

    def reading(self, conn, on):
        return self.op(6, conn | (8 if on else 0))

    def slow_pool(self):
        return self.op(7, 1)

    def sigterm(self):
        return self.op(7, 2)

    def tls_client(self):
        """fuzz_ftps: the newest connection's client speaks TLS from now on."""
        return self.op(7, 4)

    def tls_fails(self):
        """The next TLS object, the server's or the client's, is not made."""
        return self.op(7, 8)


ALICE = ("USER alice", "PASS secret")
FTP_SEEDS = [
    # a plain browse: login, where am I, a listing over PASV, a download
    Ftp().cmds(*ALICE, "SYST", "FEAT", "PWD", "TYPE I", "PASV", "LIST").data()
         .cmds("PASV", "RETR hello.txt").data().cmds("QUIT"),
    # EPSV upload, then read it back; REST, APPE, SIZE, MDTM, DELE
    Ftp(8).cmds(*ALICE, "TYPE I", "EPSV", "STOR up.bin").data().payload(1, b"\x00\x01bin\r\n" * 50)
          .cmds("SIZE up.bin", "MDTM up.bin", "REST 5", "EPSV", "RETR up.bin").data()
          .cmds("EPSV", "APPE up.bin").data().payload(3, b"more").cmds("DELE up.bin", "QUIT"),
    Ftp(0).cmds(*ALICE, "REST 3", "EPSV", "STOR hello.txt").data().payload(1, b"XY")
          .cmds("RETR hello.txt", "EPSV", "STOU").data().payload(2, b"unique"),
    # anonymous: read-only, writable, drop box
    Ftp(0).cmds("USER anonymous", "PASS guest@", "PWD", "CWD /", "PASV", "NLST").data()
          .cmds("PASV", "RETR readme").data().cmds("STOR x", "MKD d", "QUIT"),
    Ftp(2).cmds("USER ftp", "PASS x@", "PASV", "STOR new.txt").data().payload(1, b"up")
          .cmds("RNFR new.txt", "RNTO renamed.txt", "MKD d", "RMD d", "DELE renamed.txt"),
    Ftp(4).cmds("USER anonymous", "PASS x@", "PASV", "STOR drop.txt").data()
          .payload(1, b"dropped").cmds("PASV", "STOR drop.txt", "LIST", "RETR drop.txt"),
    # SPSV: the data connection comes in on the control port and logs in
    Ftp(0).cmds(*ALICE, "SPSV", "RETR hello.txt").connect()
          .cmds("USER DATACONN", "PASS \x01", conn=1).cmds("SPSV", "LIST").connect()
          .send("SPDT DATACONN:\x01\r\n", conn=2),
    Ftp(1).cmds(*ALICE, "SPSV").connect(0, 1).cmds("USER DATACONN", "PASS \x01", conn=1)
          .cmds("STOR spsv.bin").payload(1, b"through the control port"),
    Ftp(0).cmds(*ALICE, "SPSV").connect().cmds("USER DATACONN", "PASS wrongtoken", conn=1)
          .connect(3).cmds("USER DATACONN", "PASS \x01", conn=2).clock(15).cmds("MLSD"),
    # active mode: PORT and EPRT back to the client, refused elsewhere
    Ftp(0).cmds(*ALICE, "PORT 127,0,0,1,200,10", "RETR hello.txt", "EPRT |1|127.0.0.1|5000|",
                "LIST dir", "PORT 10,0,0,1,0,21", "EPRT |2|::1|5000|", "RETR hello.txt"),
    Ftp(16).cmds(*ALICE, "PORT 127,0,0,1,200,10", "RETR hello.txt", "NOOP"),
    # the file verbs, site commands, times, hashes
    Ftp(0).cmds(*ALICE, "MKD new dir", "CWD new dir", "CDUP", "XPWD", "RNFR hello.txt",
                "RNTO dir/moved.txt", "MLST dir/moved.txt", "SITE CHMOD 600 dir/moved.txt",
                "SITE UMASK 077", "SITE HELP", "MFMT 20200102030405 dir/moved.txt",
                "MDTM 20200102030405 dir/moved.txt", "STAT", "STAT dir", "HELP", "HELP RETR",
                "OPTS UTF8 ON", "OPTS HASH SHA-1", "HASH hello.txt", "RANG 1 3",
                "HASH hello.txt", "XCRC hello.txt", "XMD5 hello.txt", "XSHA1 hello.txt",
                "XSHA256 hello.txt", "XSHA512 hello.txt", "AVBL", "AVBL dir", "SIZE dir",
                "RMD new dir", "ALLO 100", "MODE S", "STRU F", "ACCT x", "REIN", "USER reader",
                "PASS secret", "DELE hello.txt", "STOR x", "QUIT"),
    # escapes: every way out of the root must stay in it
    Ftp(2).cmds(*ALICE, "CWD ../..", "PWD", "CWD escape", "CWD /../../outside", "SIZE abs",
                "MDTM escape/secret", "DELE escape/secret", "DELE abs", "RNFR abs", "RNTO x",
                "RNFR hello.txt", "RNTO escape/stolen", "MKD escape/d", "RMD escape",
                "SITE CHMOD 777 escape/secret", "SITE CHMOD 777 abs", "MFMT 20200102030405 abs",
                "HASH abs", "MLST escape/secret", "PASV", "RETR abs").data()
          .cmds("PASV", "STOR escape/new").data().payload(2, b"out")
          .cmds("PASV", "STOR abs").data().payload(3, b"out")
          .cmds("PASV", "LIST escape").data().cmds("STAT escape", "APPE ../outside/secret"),
    Ftp(3).cmds("USER anonymous", "PASS a@", "CWD ..", "CWD escape", "PASV", "STOR escape/x")
          .data().payload(1, b"x").cmds("RNFR readme", "RNTO ../hello.txt", "SITE CHMOD 777 /"),
    # a balancer's PROXY header names the client
    Ftp(0).connect(1).send("PROXY TCP4 198.18.0.5 198.18.0.1 5000 21\r\nUSER alice\r\n", 1)
          .cmds("PASS secret", "PASV", "QUIT", conn=1)
          .connect(1).send(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc6\x12\x00\x05\xc6\x12"
                           b"\x00\x01\x13\x88\x00\x15USER alice\r\n", 2),
    # failed logins: delay, lockout; too many commands before login
    Ftp(0).cmds("USER alice", "PASS wrong", "USER alice", "PASS wrong", "USER alice",
                "PASS wrong", "USER alice", "PASS secret").clock(10).cmds(*ALICE),
    Ftp(0).cmds(*(["NOOP"] * 25)),
    Ftp(0).cmds("PASS secret", "USER", "LIST", "RETR x", "USER nobody", "PASS x", "ACCT y"),
    # Telnet commands, an urgent ABOR, a too-long line, CR NUL in a name
    Ftp(0).cmds(*ALICE).send(b"\xff\xfb\x01NO\xff\xffOP\r\n\xff\xf4\xff\xf2ABOR\r\n")
          .send("MKD " + "a" * 5000 + "\r\nPWD\r\n").send(b"MKD cr\r\x00name\r\nLIST\r\n"),
    Ftp(0).cmds(*ALICE, "PASV", "RETR hello.txt").data().send("\xff\xf4\xff\xf2ABOR\r\n"),
    # ASCII both ways
    Ftp(8).cmds(*ALICE, "TYPE A", "PASV", "RETR crlf.txt").data().cmds("PASV", "STOR a.txt")
          .data().payload(2, b"line1\r\nline2\rx\r\n\r").cmds("TYPE A N", "TYPE L 8", "TYPE I"),
    # a client that does not read its replies, then does
    Ftp(0).cmds(*ALICE).reading(0, False).cmds(*(["HELP"] * 300)).clock(10).reading(0, True),
    # input in small pieces, several commands in one piece
    Ftp(0).send("US").send("ER ali").send("ce\r").send("\nPASS secret\r\nPWD\r\nNOOP\r\n"),
    # the session limits, EPSV ALL, AUTH TLS without TLS, quitting mid-transfer
    Ftp(1).connect().connect(0, 1).connect(2).connect(3).connect(2, 1)
          .cmds(*ALICE, "EPSV ALL", "PASV", "PORT 127,0,0,1,4,1", "EPSV", conn=2)
          .cmds("AUTH TLS", "PBSZ 0", "PROT P", "CCC", conn=3),
    Ftp(0).cmds(*ALICE, "PASV", "STOR slow.bin").data().payload(1, b"partial", shut=False)
          .cmds("QUIT").clock(15).clock(15),
    Ftp(32).cmds(*ALICE, "PASV", "RETR hello.txt", "HASH hello.txt"),
    # a busy helper pool: the client goes away while its jobs run
    Ftp(0).slow_pool().cmds(*ALICE).close(0),
    Ftp(0).cmds(*ALICE).slow_pool().cmds("CWD dir", "LIST", "MKD x").close(0).slow_pool(),
    Ftp(8).cmds(*ALICE, "PASV", "STOR up.bin").data().slow_pool().payload(1, b"data" * 100)
          .close(0).close(1),
    Ftp(0).cmds(*ALICE, "TYPE A", "PASV", "LIST").data().slow_pool().close(1).cmds("NOOP")
          .slow_pool(),
    Ftp(33).cmds(*ALICE).slow_pool().cmds("HASH hello.txt", "XCRC hello.txt"),
    # SIGTERM: 421 to every session, listeners closed, mid-transfer too
    Ftp(0).cmds(*ALICE, "PASV", "RETR hello.txt").sigterm().clock(3).connect(),
    Ftp(1).cmds(*ALICE, "SPSV").connect(0, 1).sigterm()
          .cmds("USER DATACONN", "PASS \x01", conn=1).clock(3),
]
# STOU's file is made before 150: the upload writes to it and closes it (an
# upload once opened it again, leaking a descriptor; in a drop box: 553)
FTP_SEEDS += [
    Ftp(4).cmds("USER anonymous", "PASS x@", "PASV", "STOU dropntxt").data().payload(1, b"dropped"),
    Ftp(0).cmds(*ALICE, "PASV", "STOU").data().cmds("EPSV", "STOU hello.txt").data(),
]
for s in FTP_SEEDS:
    put("ftp_session", s.b)


# fuzz_ftps: the same sessions with FTPS configured, and FTPS ones: AUTH TLS
# or the implicit listener, then the ClientHellos make_tls_corpus recorded
# from wolfSSL's client as raw bytes (whole, cut, garbled), or a real TLS
# client (tls_client) carrying logins, PROT P transfers and SPSV.
def hellos():
    d = os.path.join(out, "crypto_tls")
    names = sorted(n for n in os.listdir(d) if n.startswith("client")) if os.path.isdir(d) else []
    seen = []
    for n in names:      # the same hello may be cut two ways: once here
        h = open(os.path.join(d, n), "rb").read()[1:]
        if h not in seen:
            seen.append(h)
    return seen


HELLO_SEEDS = []
for h in hellos():
    HELLO_SEEDS += [
        Ftp(0).cmds("AUTH TLS").send(h),
        Ftp(0).cmds("AUTH TLS").send(h[:40]).send(h[40:]).clock(10),
        Ftp(1).connect(0, 1, implicit=True).send(h, conn=1).close(1),
        Ftp(0).connect(2, implicit=True).send(h[:len(h) // 2], conn=1).sigterm().clock(3),
        Ftp(0).cmds("AUTH TLS").slow_pool().send(h).send(b"\x17\x03\x03\x00\x05hello").slow_pool(),
    ]
for i, s in enumerate(HELLO_SEEDS):
    put("ftps", s.b, "hello-%02d" % i)
FTPS_SEEDS = [
    Ftp(0).cmds("AUTH TLS").tls_client().cmds(*ALICE, "PBSZ 0", "PROT P", "PASV", "LIST")
          .data().tls_client().cmds("PASV", "RETR hello.txt").data().tls_client()
          .cmds("PROT C", "PASV", "NLST").data().cmds("QUIT"),
    Ftp(8).cmds("AUTH TLS").tls_client().cmds(*ALICE, "PBSZ 0", "PROT P", "EPSV", "STOR up.bin")
          .data().tls_client().payload(1, b"\x00\x01tls\r\n" * 200)
          .cmds("SIZE up.bin", "EPSV", "RETR up.bin").data().tls_client().cmds("CCC", "QUIT"),
    Ftp(0).connect(implicit=True).tls_client()
          .cmds(*ALICE, "PBSZ 0", "PROT P", "SPSV", conn=1).connect(implicit=True).tls_client()
          .cmds("USER DATACONN", "PASS \x01", conn=2).cmds("LIST", conn=1),
    Ftp(64).cmds(*ALICE).cmds("AUTH SSL").tls_client().cmds(*ALICE, "PWD", "AUTH TLS"),
    Ftp(0).send("AUTH TLS\r\nUSER alice\r\n").tls_client().cmds("PBSZ 0", "PROT P"),
    Ftp(0).cmds("AUTH TLS").slow_pool().tls_client().cmds(*ALICE).slow_pool().clock(6),
    Ftp(32).cmds("AUTH TLS").tls_client().cmds(*ALICE, "PBSZ 0", "PROT P", "PASV", "RETR hello.txt")
          .data().tls_client().sigterm(),
]
# No TLS object for: a PROT P data connection that a transfer waits for
# (425; it once closed the PASV listener twice), one that comes first, an
# implicit connection, AUTH TLS.
TLS_FAULT_SEEDS = [
    Ftp(0).cmds("AUTH TLS").tls_client().cmds(*ALICE, "PBSZ 0", "PROT P", "PASV", "RETR hello.txt")
          .tls_fails().data().cmds("EPSV", "LIST").data().tls_client().cmds("QUIT"),
    Ftp(0).cmds("AUTH TLS").tls_client().cmds(*ALICE, "PBSZ 0", "PROT P", "EPSV")
          .tls_fails().data().cmds("NLST").clock(6),
    Ftp(0).tls_fails().connect(implicit=True).cmds("USER alice", conn=1),
    Ftp(0).tls_fails().cmds("AUTH TLS", *ALICE),
]
for s in FTP_SEEDS + FTPS_SEEDS + TLS_FAULT_SEEDS:
    put("ftps", s.b)


# fuzz_gateway: the SPSV gateway between clients and a legacy server the
# harness also plays (see fuzz_gateway.c). Clients and the connections the
# gateway dialled (its backend control connection, then each passive
# port's) are numbered each by themselves; client 0 is open from the start.
class Gw(Ftp):
    def backend(self, data, conn=0):
        self.op(2, conn)
        self.b += struct.pack(">H", len(data)) + data
        return self

    def reply(self, which, conn=0, port=0):
        """A canned reply of the harness's table: 0 greeting, 1 331, 2 230,
        3 229 and 4 227 for port 30000+port, 5 FEAT, 6 500, 7 150, 8 226,
        9 421, 10 221, 11 200, 12 120, 13 a multi-line greeting."""
        self.op(3, conn)
        self.b += bytes([which, port])
        return self

    def sigterm(self):
        return self.op(7, 1)

    def bulk(self, client=False):
        """320 KiB of lines from the newest dialled connection (client)."""
        return self.op(7, 8 if client else 4)

    def connect(self, addr=0, worker=0, implicit=False):
        """implicit: fuzz_gateway_tls's implicit FTPS listener."""
        return self.op(1, addr | worker << 2 | (8 if implicit else 0))

    def tls_client(self):
        """fuzz_gateway_tls: the newest client speaks TLS from now on."""
        return self.op(7, 12)


def gw_login(g):
    """Client 0 logs in through the gateway (backend 0 answers)."""
    return (g.cmds("USER alice").reply(0).reply(1).cmds("PASS secret").reply(2))


GW_SEEDS = [
    # SPSV through EPSV, a data login by USER DATACONN / PASS, a download
    gw_login(Gw(0)).cmds("TYPE I").reply(11).cmds("SPSV").reply(3, port=5)
    .connect().cmds("USER DATACONN", "PASS \x01", conn=1).cmds("RETR f")
    .reply(7).backend(b"file data\n", conn=1).close(5).reply(8).cmds("QUIT").reply(10),
    # EPSV refused: PASV, then a data login by SPDT, on the other worker
    gw_login(Gw(1)).cmds("SPSV").reply(6).reply(4, port=7)
    .connect(worker=1).cmds("SPDT \x01", conn=1).cmds("STOR up")
    .reply(7).send("uploaded\n", conn=1).close(1).reply(8),
    # a multi-line greeting and FEAT, then a listing through SPSV
    Gw(0).cmds("USER alice").reply(13).reply(1).cmds("PASS secret").reply(2)
    .cmds("FEAT").reply(5).cmds("SPSV").reply(3, port=9).connect(addr=1)
    .connect().cmds("USER DATACONN", "PASS \x01", conn=2).cmds("LIST").reply(7),
    # bad tokens: unknown, malformed, another client's address, expired
    gw_login(Gw(0)).cmds("SPSV").reply(3, port=1).connect()
    .cmds("USER DATACONN", "PASS AAAAAAAAAAAAAAAAAAAA", conn=1).connect()
    .cmds("SPDT no-such-token!", conn=2).connect(addr=2).cmds("SPDT \x01", conn=3)
    .clock(11).connect().cmds("SPDT \x01", conn=4),
    # a stop in the middle of a multi-line reply, sessions left open
    gw_login(Gw(2)).cmds("STAT").backend(b"211-Status\r\n connected\r\n").sigterm().clock(2),
    # the same, the backend silent at its greeting; a login that times out
    Gw(0).cmds("USER alice").connect().clock(12).clock(12),
    # the backend refused; too many sessions (tight limits); PASV/PORT refused
    Gw(8).cmds("USER alice").reply(0).connect().cmds("USER bob", conn=1)
    .cmds("PASV", "EPRT |1|198.18.0.2|1025|").reply(1),
    Gw(4).cmds("USER alice").op(7, 2).connect().cmds("USER bob", conn=1).reply(0),
    # back-pressure: a download to a client that stops reading, an upload
    # to a backend that does, a client that floods its control connection
    gw_login(Gw(0)).cmds("SPSV").reply(3, port=3).connect().cmds("SPDT \x01", conn=1)
    .cmds("RETR x").reply(7).reading(2, False).bulk().clock(3).reading(2, True)
    .reading(3, False).bulk(client=True).clock(3).reading(3, True).sigterm(),
    gw_login(Gw(0)).reading(1, False).bulk(client=True).clock(3).reading(1, True)
    .reading(0, False).bulk().clock(3),
]
for s in GW_SEEDS:
    put("gateway", s.b)


# fuzz_gateway_tls: the same gateway with FTPS toward its clients: AUTH TLS
# and the implicit listener, with a real TLS client or raw bytes where the
# ClientHello belongs.
def gw_tls_login(g):
    """Client 0: AUTH TLS, a TLS client, then the login in TLS."""
    return gw_login(g.cmds("AUTH TLS").tls_client()).cmds("PBSZ 0", "PROT P")


GW_TLS_SEEDS = [
    # SPSV over explicit FTPS, the data login in TLS resuming the session
    gw_tls_login(Gw(0)).cmds("SPSV").reply(3, port=5).connect().cmds("AUTH TLS", conn=1)
    .tls_client().cmds("USER DATACONN", "PASS \x01", conn=1).cmds("RETR f")
    .reply(7).backend(b"file data\n", conn=1).close(5).reply(8).cmds("QUIT").reply(10),
    # the implicit listener for the session and its SPDT data connection
    Gw(0).close(0).connect(implicit=True).tls_client().cmds("USER alice", conn=1).reply(0)
    .reply(1).cmds("PASS secret", conn=1).reply(2).cmds("PBSZ 0", "PROT P", "SPSV", conn=1)
    .reply(6).reply(4, port=9).connect(implicit=True).tls_client().cmds("SPDT \x01", conn=2)
    .cmds("LIST", conn=1).reply(7),
    # TLS required (policy "data"): a login in clear refused, then in TLS
    Gw(16).cmds("USER alice", "AUTH TLS").tls_client().cmds("USER alice").reply(0).reply(1)
    .cmds("SPSV"),
    # raw bytes where the ClientHello belongs, after 234 and on the implicit port
    Gw(0).cmds("AUTH TLS").send(b"\x16\x03\x01\x00\x05hello\r\n")
    .connect(implicit=True).send(b"\x16\x03\x03\x01\x00" + bytes(40), conn=1),
    # a stop in the middle of a handshake
    Gw(2).cmds("AUTH TLS").tls_client().op(7, 1, no_run=True).clock(2),
]
for s in GW_TLS_SEEDS:
    put("gateway_tls", s.b)
