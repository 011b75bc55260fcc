#!/usr/bin/env python3
"""flood: a black-box fuzz of a running ferryd (issue 11 item 7).

    flood.py FERRYD CORPUS_DIR [SECONDS [FERRY_FTP]]

One ferryd with a client proxy, a response proxy, an FTP server and an
SPSV gateway in front of that server (both with FTPS), in a network
namespace of its own (unshare -rn, loopback only), takes SECONDS (default
20) of hostile input at once:

- UDP to both proxies: UFTP messages of tests/fuzz/corpus/uftp_decode (made
  by the project's own encoders) and forged ANNOUNCEs, mutated (bit flips,
  byte sets, truncation, extension, splices, random function bytes) or
  plain random, from 64 source addresses;
- TCP to the FTP port and the gateway's, from many source addresses: random bytes, random
  FTP lines (known verbs, random and over-long arguments, control bytes),
  random Telnet IAC sequences, and half-open connections (a partial line,
  then silence) held until the end;
- TLS (the FTP server and the gateway have FTPS, explicit and on implicit
  listeners): ClientHellos of tests/fuzz/corpus/crypto_tls (the project's
  own TLS client) mutated, or random bytes, after AUTH TLS and on the
  implicit ports; handshakes cut short and held; real handshakes (Python's ssl)
  followed by garbage records, or by a login with hostile commands.

Then ferryd must still run, its RSS must have grown by less than 256 MiB,
it must serve a normal FTP session (login, RETR byte-identical, QUIT 221)
and the same in FTPS, explicit and implicit, with PROT P; with FERRY_FTP,
ferry-ftp must get the file through the gateway, in clear and in TLS; and
the client proxy must accept a new ANNOUNCE (re-multicast as the original);
then ferryd must have no more descriptors open than before the flood. At
SIGTERM it exits 6 (as uftpproxyd) with quiet sanitizers.

Exit 0 pass, 1 fail, 77 (skip) when no namespace can be made.
"""

import ftplib
import io
import json
import multiprocessing
import os
import random
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
from ownns import exit_inside, loopback_multicast  # noqa: E402
from uftpmsg import announce  # noqa: E402
from ftpd import (Checks, FdBaseline, ImplicitFTP, SessionFTP, crypt_hash, self_signed, stop_process,  # noqa: E402
                  tls_ctx, wait_for)

CLIENT_PORT, CLIENT_DEST, RESPONSE_PORT, FTP_PORT, FTPS_PORT = 1044, 1045, 1046, 2121, 2990
METRICS_PORT, GW_PORT, GW_TLS_PORT = 9464, 2100, 2991
USER, PASSWORD = "tester", "flood-test-pw"
VERBS = ["USER", "PASS", "ACCT", "CWD", "CDUP", "QUIT", "PORT", "PASV", "EPSV",
         "EPRT", "SPSV", "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE",
         "REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "LIST",
         "NLST", "MLSD", "MLST", "SITE", "SYST", "STAT", "HELP", "NOOP", "FEAT",
         "OPTS", "SIZE", "MDTM", "MFMT", "HASH", "AVBL", "AUTH", "PBSZ", "PROT",
         "LANG", "HOST", "XCRC", "XMD5", "XSHA1"]
ARGS = ["", "/", "..", "../../etc/passwd", "file.bin", "*", "-la", "I", "A", "E",
        "|1|127.0.0.1|1|", "|2|::1|1|", "127,0,0,1,0,1", "UTF8 ON", "ALL",
        "CHMOD 777 file.bin", "%s%n%x", "anonymous", "ftp", "\x00", "\xff\xff"]


def mutate(rng, seeds):
    d = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        if op == 0 and d:
            i = rng.randrange(len(d))
            d[i] ^= 1 << rng.randrange(8)
        elif op == 1 and d:
            d[rng.randrange(len(d))] = rng.choice([0, 1, 0x7f, 0x80, 0xff, rng.randrange(256)])
        elif op == 2 and d:
            del d[rng.randrange(len(d)):]
        elif op == 3:
            d += rng.randbytes(rng.randint(1, 64))
        elif op == 4:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            d = d[:rng.randint(0, len(d))] + other[cut:]
        elif op == 5 and len(d) > 1:
            d[1] = rng.randrange(24)            # another function byte
        elif op == 6 and len(d) >= 4:
            i = rng.randrange(len(d) - 1)       # a length or count field
            d[i:i + 2] = rng.choice([b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x00\x01"])
    return bytes(d[:9000])


def udp_flood(stop, seeds, counts):
    rng = random.Random(1)
    socks = []
    for i in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.3.%d" % (i + 1), 0))
        s.setblocking(False)
        socks.append(s)
    while not stop.is_set():
        s = rng.choice(socks)
        port = rng.choice([CLIENT_PORT, RESPONSE_PORT])
        d = rng.randbytes(rng.randint(0, 1500)) if rng.random() < 0.1 else mutate(rng, seeds)
        try:
            s.sendto(d, ("127.0.0.1", port))
            counts["udp"] += 1
        except OSError:
            time.sleep(0.001)                   # socket buffer full
        if counts["udp"] % 200 == 0:
            time.sleep(0.002)
    for s in socks:
        s.close()


def ftp_line(rng):
    verb = rng.choice(VERBS)
    if rng.random() < 0.2:
        verb = verb.lower()
    r = rng.random()
    if r < 0.5:
        arg = rng.choice(ARGS)
    elif r < 0.8:
        arg = "".join(chr(rng.randrange(256)) for _ in range(rng.randint(1, 40)))
    else:
        arg = "A" * rng.choice([300, 1024, 5000, 70000])
    if verb == "USER" and arg == USER:
        arg = "x"
    end = rng.choice(["\r\n", "\r\n", "\n", "\r", ""])
    return (verb + " " + arg + end).encode("latin-1")


def iac_burst(rng):
    out = bytearray()
    for _ in range(rng.randint(1, 50)):
        r = rng.random()
        if r < 0.6:
            out += bytes([0xff, rng.choice([0xf1, 0xf2, 0xf4, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
                                             rng.randrange(256)])])
            if rng.random() < 0.5:
                out.append(rng.randrange(256))
        elif r < 0.8:
            out += b"\xff\xfa" + rng.randbytes(rng.randint(0, 20)) + b"\xff\xf0"
        else:
            out += rng.randbytes(rng.randint(1, 10))
    return bytes(out) + (b"\r\n" if rng.random() < 0.5 else b"")


def hang_up(rng, s):
    """The end of a flood connection (none if it is held): half the time a
    look at what the server sent, then a FIN or, 30 % of the time, a reset."""
    if s is None:
        return
    try:
        if rng.random() < 0.5:
            s.settimeout(0.05)
            s.recv(4096)
    except OSError:
        pass
    if rng.random() < 0.3:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def tcp_flood(stop, seed, counts, held):
    rng = random.Random(seed)
    while not stop.is_set():
        kind = rng.randrange(4)
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind(("127.0.4.%d" % rng.randint(1, 250), 0))
            s.connect(("127.0.0.1", FTP_PORT if rng.random() < 0.7 else GW_PORT))
            if kind == 0:
                s.sendall(rng.randbytes(rng.randint(1, 8192)))
            elif kind == 1:
                for _ in range(rng.randint(1, 30)):
                    s.sendall(ftp_line(rng))
            elif kind == 2:
                s.sendall(iac_burst(rng))
            else:
                s.sendall(rng.choice([b"US", b"USER an", b"\xff", b"PASV\r", b""]))
                if len(held) < 200:
                    held.append(s)
                    counts["held"] += 1
                    s = None
            counts["tcp"] += 1
        except OSError:
            counts["tcp_err"] += 1
            time.sleep(0.01)
        finally:
            hang_up(rng, s)


def tls_connect(rng, explicit):
    """A TCP connection where a ClientHello belongs: on the implicit port, or
    after AUTH TLS on the FTP port (None if the server did not say 234)."""
    s = socket.socket()
    s.settimeout(2)
    s.bind(("127.0.5.%d" % rng.randint(1, 250), 0))
    gateway = rng.random() < 0.3
    if not explicit:
        s.connect(("127.0.0.1", GW_TLS_PORT if gateway else FTPS_PORT))
        return s
    s.connect(("127.0.0.1", GW_PORT if gateway else FTP_PORT))
    f = s.makefile("rb")
    if not f.readline().startswith(b"220"):
        s.close()
        return None
    s.sendall(b"AUTH TLS\r\n")
    if not f.readline().startswith(b"234"):
        s.close()
        return None
    return s


def handshake(s):
    """A real TLS handshake over s (Python's ssl on memory BIOs, so that raw
    bytes can follow on s itself): (SSLObject, its outgoing BIO), or None."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_ctx().wrap_bio(inc, out, server_hostname="127.0.0.1")
    for _ in range(20):
        try:
            obj.do_handshake()
            s.sendall(out.read())
            return obj, out
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            data = s.recv(65536)
            if not data:
                return None
            inc.write(data)
        except ssl.SSLError:
            return None
    return None


def tls_garbage(rng, hellos):
    d = mutate(rng, hellos) if rng.random() < 0.8 else rng.randbytes(rng.randint(1, 4096))
    if rng.random() < 0.3:                      # a record header that lies
        d = bytes([rng.choice([0x14, 0x15, 0x16, 0x17, rng.randrange(256)]), 3,
                   rng.randrange(5)]) + struct.pack(">H", rng.randrange(65536)) + d
    return d


def tls_one(rng, hellos, held, counts):
    kind = rng.randrange(5)
    s = tls_connect(rng, rng.random() < 0.5)
    if s is None:
        return
    try:
        if kind == 0:                           # a mutated ClientHello or noise
            s.sendall(tls_garbage(rng, hellos))
        elif kind == 1:                         # a handshake cut short, held
            s.sendall(rng.choice(hellos)[:rng.randint(0, 200)])
            if len(held) < 100:
                held.append(s)
                s = None
        elif kind in (2, 3):
            done = handshake(s)
            if done is None:
                return
            counts["tls_hs"] += 1
            obj, out = done
            if kind == 2:                       # records nobody could have sealed
                for _ in range(rng.randint(1, 5)):
                    s.sendall(tls_garbage(rng, hellos))
            else:                               # hostile commands in TLS
                for _ in range(rng.randint(1, 15)):
                    obj.write(ftp_line(rng))
                    s.sendall(out.read())
        else:                                   # a ClientHello a byte at a time
            for b in rng.choice(hellos)[:rng.randint(1, 40)]:
                s.sendall(bytes([b]))
    finally:
        hang_up(rng, s)


def tls_flood(stop, seed, counts, hellos, held):
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            tls_one(rng, hellos, held, counts)
            counts["tls"] += 1
        except OSError:
            counts["tls_err"] += 1
            time.sleep(0.01)


def tls_flood_proc(stop, seed, hellos, out):
    """tls_flood in a process of its own: in the flooding process's threads
    the GIL held each handshake back for most of a second."""
    counts = {"tls": 0, "tls_err": 0, "tls_hs": 0}
    held = []
    tls_flood(stop, seed, counts, hellos, held)
    out.put((counts, len(held)))
    out.close()
    out.join_thread()
    for s in held:
        s.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))


def ftp_session(t, payload):
    try:
        f = ftplib.FTP()
        f.connect("127.0.0.1", FTP_PORT, timeout=10)
        f.login(USER, PASSWORD)
        buf = io.BytesIO()
        f.retrbinary("RETR file.bin", buf.write)
        quit_reply = f.quit()
        t.check("after the flood: FTP login + RETR byte-identical",
                buf.getvalue() == payload, "%d bytes" % len(buf.getvalue()))
        t.check("after the flood: QUIT answers 221", quit_reply.startswith("221"), quit_reply)
    except (OSError, ftplib.Error) as e:
        t.check("after the flood: a normal FTP session", False, repr(e))


def ftps_session(t, payload, cls, port, what):
    try:
        f = cls(context=tls_ctx())
        f.connect("127.0.0.1", port, timeout=10)
        f.login(USER, PASSWORD)
        f.prot_p()
        buf = io.BytesIO()
        f.retrbinary("RETR file.bin", buf.write)
        quit_reply = f.quit()
        t.check("after the flood: %s login + PROT P RETR byte-identical" % what,
                buf.getvalue() == payload, "%d bytes" % len(buf.getvalue()))
        t.check("after the flood: %s QUIT answers 221" % what, quit_reply.startswith("221"),
                quit_reply)
    except (OSError, ftplib.Error) as e:
        t.check("after the flood: a normal %s session" % what, False, repr(e))


def gateway_sessions(t, payload, ferry_ftp, tmp, cert):
    """ferry-ftp through the gateway (SPSV data connections), clear and TLS."""
    for what, opts in (("clear", []), ("FTPS", ["--tls", "--ca", cert])):
        out = os.path.join(tmp, "gw-%s.bin" % what)
        r = subprocess.run([ferry_ftp, "-q", "-t", "10", "-u", "%s:%s" % (USER, PASSWORD),
                            *opts, "127.0.0.1:%d" % GW_PORT, "get", "/file.bin", out],
                           capture_output=True, timeout=60)
        got = open(out, "rb").read() if os.path.exists(out) else b""
        t.check("after the flood: ferry-ftp get through the gateway (%s) byte-identical" % what,
                r.returncode == 0 and got == payload,
                "exit %d, %d bytes: %s" % (r.returncode, len(got), r.stderr.decode()[-400:]))


def tls_handshakes(t):
    """ferryd's own count of FTPS control handshakes, ok and failed."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % METRICS_PORT, timeout=10) as r:
        body = r.read().decode(errors="replace")
    got = dict(re.findall(r'ferry_ftp_tls_handshakes_total\{connection="control",'
                          r'result="(\w+)"\} (\d+)', body))
    return int(got.get("ok", -1)), int(got.get("failed", -1))


def tls_seeds(corpus):
    """The ClientHellos and flights of tests/fuzz/corpus/crypto_tls (its
    inputs start with one byte of cutting instructions)."""
    d = os.path.join(os.path.dirname(os.path.abspath(corpus)), "crypto_tls")
    return [open(os.path.join(d, n), "rb").read()[1:] for n in sorted(os.listdir(d))]


def announce_accepted(t):
    lst = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("0.0.0.0", CLIENT_DEST))
    lst.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                   socket.inet_aton("230.4.4.1") + socket.inet_aton("127.0.0.1"))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.9.9", 0))
    gid = 0x7E57F100
    seen = False
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        s.sendto(announce(0x5EED0001, gid), ("127.0.0.1", CLIENT_PORT))
        end = time.monotonic() + 1
        while not seen and time.monotonic() < end:
            r, _, _ = select.select([lst], [], [], 0.2)
            if r:
                data = lst.recv(65536)
                seen = len(data) >= 16 and data[1] == 1 and \
                    struct.unpack(">I", data[8:12])[0] == gid
    t.check("after the flood: the client proxy re-multicasts a new ANNOUNCE", seen)
    s.close()
    lst.close()


def inner(ferryd, corpus, seconds, ferry_ftp=None):
    loopback_multicast()
    t = Checks()
    tmp = tempfile.mkdtemp(prefix="ferry-flood-")
    root = os.path.join(tmp, "root")
    os.mkdir(root, 0o755)
    payload = random.Random(7).randbytes(300000)
    with open(os.path.join(root, "file.bin"), "wb") as fh:
        fh.write(payload)
    cert, key = self_signed(tmp)
    limits = {"max_groups": 5000, "max_groups_per_source": 60, "group_idle_max": 10}
    conf = {
        "workers": 2, "foreground": True, "allow_root": True, "log": {"level": 2},
        "metrics": {"listen": "127.0.0.1:%d" % METRICS_PORT},
        "proxies": [
            {"name": "flood-client", "role": "client", "port": CLIENT_PORT,
             "dest_port": CLIENT_DEST, "out_interface": "127.0.0.1",
             "uid": "0x0C000001", "limits": limits},
            {"name": "flood-response", "role": "response", "port": RESPONSE_PORT,
             "keys": {"generate": ["ec:prime256v1"]}, "public_multicast": ["230.4.4.2"],
             "limits": limits},
        ],
        # Room for the 300 connections the flood holds open, so that the
        # rest reach sessions and TLS handshakes, not only the 421 of a full
        # server (which the first seconds still meet).
        # The gateway's backend is this FTP server, so its sessions all come
        # from 127.0.0.1: max_per_address leaves them room.
        "ftp": {"listen": ["127.0.0.1:%d" % FTP_PORT], "max_sessions": 600,
                "max_per_address": 200,
                "users": [{"name": USER, "password": crypt_hash(PASSWORD, "$6$"), "root": root}],
                "tls": {"cert": cert, "key": key,
                        "implicit_listen": ["127.0.0.1:%d" % FTPS_PORT]}},
        "gateway": {"listen": ["127.0.0.1:%d" % GW_PORT], "backend": "127.0.0.1:%d" % FTP_PORT,
                    "tls": {"cert": cert, "key": key,
                            "implicit_listen": ["127.0.0.1:%d" % GW_TLS_PORT]},
                    "backend_tls": "auto", "backend_ca": cert},
    }
    conf_path = os.path.join(tmp, "ferryd.json")
    with open(conf_path, "w") as fh:
        json.dump(conf, fh)
    log_path = os.path.join(tmp, "ferryd.log")
    log = open(log_path, "w")
    env = dict(os.environ)
    # ASan's quarantine holds 256 MiB of freed memory by default: RSS
    # would measure it, not ferryd.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS") or "detect_leaks=1:abort_on_error=1") + \
        ":quarantine_size_mb=16"
    proc = subprocess.Popen([ferryd, "--allow-root", "-f", conf_path],
                            stdout=log, stderr=subprocess.STDOUT, env=env)

    def text():
        with open(log_path, errors="replace") as fh:
            return fh.read()

    def listening():
        try:
            socket.create_connection(("127.0.0.1", FTP_PORT), 1).close()
            return True
        except OSError:
            return False

    try:
        if not t.check("ferryd starts with two proxies, FTP and a gateway, with FTPS",
                       wait_for(lambda: proc.poll() is not None or listening(), 20)
                       and proc.poll() is None
                       and wait_for(lambda: re.search(r"ferryd \S+ started: ", text()), 20),
                       text()[-800:]):
            return t   # "started": start-up is over, what is open now is the baseline
        rss0 = rss_kib(proc.pid)
        fds = FdBaseline(proc.pid)
        seeds = [open(os.path.join(corpus, n), "rb").read() for n in sorted(os.listdir(corpus))]
        seeds += [announce(0x5E000000 + i, 0x10000000 + i) for i in range(8)]
        stop = threading.Event()
        counts = {"udp": 0, "tcp": 0, "tcp_err": 0, "held": 0, "tls": 0, "tls_err": 0,
                  "tls_hs": 0, "tls_held": 0}
        held = []
        hellos = tls_seeds(corpus)
        mp = multiprocessing.get_context("fork")
        tls_stop, tls_out = mp.Event(), mp.Queue()
        procs = [mp.Process(target=tls_flood_proc, args=(tls_stop, 200 + i, hellos, tls_out))
                 for i in range(2)]
        for p in procs:
            p.start()
        threads = [threading.Thread(target=udp_flood, args=(stop, seeds, counts))]
        threads += [threading.Thread(target=tcp_flood, args=(stop, 100 + i, counts, held))
                    for i in range(4)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + seconds
        alive = True
        while time.monotonic() < deadline and alive:
            time.sleep(0.5)
            alive = proc.poll() is None
        stop.set()
        for th in threads:
            th.join()
        tls_stop.set()
        for p in procs:
            c, n = tls_out.get(timeout=30)
            for k in c:
                counts[k] += c[k]
            counts["tls_held"] += n
        for p in procs:
            p.join(timeout=30)
        print("# flood: %(udp)d datagrams, %(tcp)d TCP connections (%(tcp_err)d refused "
              "or failed), %(held)d held half-open, %(tls)d TLS connections (%(tls_hs)d "
              "handshakes done, %(tls_err)d refused or failed, %(tls_held)d held "
              "mid-handshake)" % counts, flush=True)
        t.check("ferryd survives %d s of flooding" % seconds, proc.poll() is None,
                "exit %s: %s" % (proc.returncode, text()[-1500:]))
        if proc.poll() is not None:
            return t
        # A TLS connection costs ferryd a handshake on its pool (public-key
        # work), so far fewer come in 20 s than plain ones.
        t.check("the flood reached ferryd", counts["udp"] > 1000 and counts["tcp"] > 100
                and counts["tls"] > 40 and counts["tls_hs"] > 5, str(counts))
        ok, failed = tls_handshakes(t)
        print("# ferryd counted %d FTPS handshakes done, %d failed" % (ok, failed), flush=True)
        t.check("ferryd's TLS layer met the flood: handshakes done and failed counted",
                ok >= 1 and failed >= 20, "%d ok, %d failed" % (ok, failed))
        log_now = text()
        gw_sessions = log_now.count("<-> backend")
        gw_tls = len(re.findall(r"gateway: connection \d+ from \S+: .*TLS", log_now))
        print("# the gateway logged %d sessions relayed, %d TLS failures" % (gw_sessions, gw_tls),
              flush=True)
        t.check("the gateway met the flood: sessions relayed and TLS failures logged",
                gw_sessions >= 10 and gw_tls >= 1, "%d, %d" % (gw_sessions, gw_tls))
        rss1 = rss_kib(proc.pid)
        print("# RSS %d KiB before, %d KiB after" % (rss0, rss1), flush=True)
        t.check("RSS grew by less than 256 MiB", rss1 - rss0 < 256 * 1024,
                "%d -> %d KiB" % (rss0, rss1))
        for s in held:
            s.close()
        ftp_session(t, payload)
        ftps_session(t, payload, SessionFTP, FTP_PORT, "FTPS (AUTH TLS)")
        ftps_session(t, payload, ImplicitFTP, FTPS_PORT, "implicit FTPS")
        if ferry_ftp:
            gateway_sessions(t, payload, ferry_ftp, tmp, cert)
        announce_accepted(t)
        # every flooded path (half-open, TLS cut short, gateway relays, SPSV
        # tokens) and the sessions after it closed what they opened
        t.check("after the flood and its sessions: ferryd's descriptors back to before",
                *fds.back(30))
    finally:
        rc = stop_process(proc, timeout=20)
        log.close()
        out = text()
        t.check("ferryd exits 6 at SIGTERM (as uftpproxyd)", rc == 6, "exit %s" % rc)
        t.check("sanitizers quiet", "Sanitizer" not in out and "runtime error" not in out,
                out[-1500:])
        if t.failed:
            print("# log kept in " + log_path)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return t


def main():
    if len(sys.argv) in (4, 5, 6) and sys.argv[1] == "--inner":
        t = inner(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) >= 5 else 20,
                  sys.argv[5] if len(sys.argv) == 6 else None)
        print("%d passed, %d failed" % (t.passed, t.failed))
        return 1 if t.failed else 0
    if len(sys.argv) not in (3, 4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    args = [os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])] + sys.argv[3:4] + \
        [os.path.abspath(a) for a in sys.argv[4:5]]
    return exit_inside(__file__, args)


if __name__ == "__main__":
    sys.exit(main())
