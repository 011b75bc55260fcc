"""bridge_ftplib.py — Python's ftplib as one of the unmodified clients of
test_bridge.py; run inside the client's network namespace. Each mode prints
one line "OK ..." or "FAIL ..." and exits 0 or 1.

  bridge_ftplib.py HOST PORT USER PASS down REMOTE LOCAL   mirror a tree down (MLSD)
  bridge_ftplib.py HOST PORT USER PASS up LOCAL REMOTE     mirror a tree up (MKD, STOR)
  bridge_ftplib.py HOST PORT USER PASS rest REMOTE OFFSET SAMPLE  RETR from OFFSET
  bridge_ftplib.py HOST PORT USER PASS abort REMOTE        ABOR a running RETR
  bridge_ftplib.py HOST PORT USER PASS many N REMOTE       N sessions at once
  bridge_ftplib.py HOST PORT USER PASS active REMOTE SAMPLE  RETR over PORT
  bridge_ftplib.py HOST PORT USER PASS bounce ADDR         PORT to another host: 504
  bridge_ftplib.py HOST PORT USER PASS twice REMOTE SAMPLE  PASV, then RETR (PASV again)
  bridge_ftplib.py HOST PORT USER PASS prequit N REMOTE   N sessions: PASV or SIZE
      REMOTE, then QUIT at once, or PASV and a close after 0-1 ms (no QUIT)
  bridge_ftplib.py HOST PORT USER PASS reuse BIG BIGSAMPLE SMALL SAMPLE PID  what one
      transfer leaves (an aborted RETR's bytes, connections to the passive
      port) never reaches the next of the session (PID: the bridge, stopped
      for a moment)
  bridge_ftplib.py HOST PORT USER PASS hold CMD REMOTE SAMPLE  CMD (PASV, or SIZE REMOTE),
      print HELD, then do what stdin says: quit (QUIT), drop (close, no QUIT),
      relogin (after PASV: REIN, USER, PASS, then RETR on the PASV's port)
The environment's FTP_TIMEOUT (seconds, default 20) bounds every socket.
"""
import fcntl
import hashlib
import io
import os
import signal
import socket
import struct
import sys
import termios
import threading
import time
import ftplib

host, port, user, pw, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
args = sys.argv[6:]


def session(timeout=int(os.environ.get("FTP_TIMEOUT", "20"))):
    f = ftplib.FTP()
    f.connect(host, port, timeout=timeout)
    f.login(user, pw)
    return f


def down(f, remote, local):
    os.makedirs(local, exist_ok=True)
    for name, facts in f.mlsd(remote):
        if name in (".", ".."):
            continue
        if facts.get("type") == "dir":
            down(f, f"{remote}/{name}", os.path.join(local, name))
        elif facts.get("type") == "file":
            with open(os.path.join(local, name), "wb") as out:
                f.retrbinary(f"RETR {remote}/{name}", out.write)


def up(f, local, remote):
    try:
        f.mkd(remote)
    except ftplib.error_perm:
        pass
    for name in sorted(os.listdir(local)):
        path = os.path.join(local, name)
        if os.path.isdir(path):
            up(f, path, f"{remote}/{name}")
        else:
            with open(path, "rb") as src:
                f.storbinary(f"STOR {remote}/{name}", src)


def same_file(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def retr(f, remote, rest=None):
    buf = io.BytesIO()
    f.retrbinary(f"RETR {remote}", buf.write, rest=rest)
    return buf.getvalue()


def abort(remote):
    """RETR, read a little, ABOR (ftplib sends IAC IP, IAC DM as urgent data
    first): the RETR ends 426 or 226, the ABOR 225 or 226, the session goes on."""
    f = session()
    conn = f.transfercmd(f"RETR {remote}")
    got = conn.recv(65536)
    first = f.abort()
    conn.close()
    codes = [first[:3]]
    if first[:3] == "426":
        codes.append(f.getresp()[:3])
    after = f.pwd()
    f.quit()
    ok = got and codes[0] in ("426", "225", "226") and codes[-1] in ("225", "226") and after
    return ok, f"read {len(got)} bytes, replies {codes}, PWD after ABOR {after!r}"


def poke(port):
    """A connection to the passive port that the bridge must not use: None
    when it was reset already inside connect() (loopback is that fast)."""
    try:
        return socket.create_connection((host, port), timeout=20)
    except ConnectionResetError:
        return None


def closed_unused(sock):
    """A connection the bridge closed without a byte: b'' (or a reset)."""
    if sock is None:
        return True
    sock.settimeout(10)
    try:
        got = sock.recv(65536)
    except ConnectionResetError:
        got = b""
    except OSError as e:
        got = repr(e).encode()
    sock.close()
    return got == b""


def stalled(conn, deadline=10):
    """Waits until the bytes queued for this client stop growing: the
    client's window is full, so the bridge's pipe fills behind it."""
    last, same, end = -1, 0, time.time() + deadline
    while same < 5 and time.time() < end:
        queued = struct.unpack("i", fcntl.ioctl(conn, termios.FIONREAD, b"\0" * 4))[0]
        same = same + 1 if queued == last else 0
        last = queued
        time.sleep(0.05)
    return same >= 5


def pipes_of(pid):
    """How many pipe descriptors the process has open."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:")
        except OSError:
            pass
    return n


def store_on(f, port, remote, data):
    """STOR over a passive port the client already has."""
    conn = socket.create_connection((host, port), timeout=20)
    f.putcmd(f"STOR {remote}")
    first = f.getresp()
    conn.sendall(data)
    conn.close()
    return first[:3] + " " + f.voidresp()[:3]


def reuse(big, big_sample, small, small_sample, bridge_pid):
    """The bridge keeps a session's pipe and passive port between transfers:
    an aborted RETR's bytes still in the pipe, and connections to the port
    made between transfers, before a PASV or beside a transfer, must reach
    no later transfer."""
    with open(big_sample, "rb") as a, open(small_sample, "rb") as b:
        want_big, want_small = a.read(), b.read()
    f = session()
    notes, ok = [], True
    base = pipes_of(bridge_pid)

    def note(cond, what):
        nonlocal ok
        ok = ok and bool(cond)
        notes.append(("" if cond else "NOT ") + what)

    for i in range(2):
        conn = f.transfercmd(f"RETR {big}")
        conn.recv(65536)
        note(stalled(conn), f"RETR {i} stalled with the bridge's pipe full")
        first = f.abort()
        conn.close()
        if first[:3] == "426":
            f.getresp()
        note(retr(f, small) == want_small, f"RETR after aborted RETR {i} byte-identical")
    p1, p2 = f.makepasv()[1], f.makepasv()[1]
    note(p1 == p2, f"PASV answers the session's port again ({p1}, {p2})")
    # between transfers: one left open, one given up (connected, then closed)
    stale = poke(p2)
    gave_up = poke(p2)
    if gave_up:
        gave_up.close()
    f.storbinary("STOR /reuse-up", io.BytesIO(want_small))
    note(retr(f, "/reuse-up") == want_small, "STOR after stale connections byte-identical")
    note(closed_unused(stale), "a connection made between transfers closed unused")
    # still queued at the listener when the next PASV is read: the bridge is
    # stopped while the PASV and then the connections arrive
    os.kill(bridge_pid, signal.SIGSTOP)
    try:
        f.putcmd("PASV")
        stale = socket.create_connection((host, p2), timeout=20)
        socket.create_connection((host, p2), timeout=20).close()
    finally:
        os.kill(bridge_pid, signal.SIGCONT)
    p3 = ftplib.parse227(f.getresp())[1]
    codes = store_on(f, p3, "/reuse-up2", want_big)
    note(retr(f, "/reuse-up2") == want_big,
         f"STOR on port {p3} after connections queued before its PASV: {codes}, byte-identical")
    note(closed_unused(stale), "... and the queued connection closed unused")
    # beside a running transfer: a second connection to the port
    conn = f.transfercmd(f"RETR {big}")
    extra = poke(conn.getpeername()[1])
    note(closed_unused(extra), "a second connection during a RETR closed unused")
    chunks = []
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    conn.close()
    f.voidresp()
    note(b"".join(chunks) == want_big, "... and the RETR byte-identical")
    kept = pipes_of(bridge_pid) - base
    end = time.time() + 10
    while pipes_of(bridge_pid) > base and time.time() < end:
        time.sleep(0.1)
    idle = pipes_of(bridge_pid) - base
    note(kept == 2 and idle == 0, f"the pipe kept after the transfer ({kept} fds), given back "
         f"when the session idles ({idle} fds left)")
    f.quit()
    return ok, "; ".join(notes)


def many(n, remote):
    want = None
    results = [None] * n
    ref = session()
    want = sha(retr(ref, remote))
    ref.quit()

    def one(i):
        try:
            f = session(60)
            data = retr(f, remote)
            f.storbinary(f"STOR /many{i}", io.BytesIO(data))
            back = retr(f, f"/many{i}")
            f.quit()
            results[i] = sha(data) == want and sha(back) == want
        except Exception as e:  # noqa: BLE001
            results[i] = repr(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    good = sum(1 for r in results if r is True)
    return good == n, f"{good} of {n} sessions byte-identical both ways {[r for r in results if r is not True][:3]}"


def retr_on(f, addr, remote):
    """RETR over a passive port the client already has (no PASV of its own)."""
    conn = socket.create_connection(addr, timeout=20)
    f.putcmd(f"RETR {remote}")
    first = f.getresp()
    chunks = []
    while True:
        b = conn.recv(65536)
        if not b:
            break
        chunks.append(b)
    conn.close()
    return first, b"".join(chunks), f.voidresp()


def hold(first, remote, sample):
    """The bridge pre-opens the server's side of a data connection at PASV
    (and SIZE); what the client then does (or does not do) must not leave
    it behind."""
    f = session()
    if first == "PASV":
        addr = ftplib.parse227(f.sendcmd("PASV"))
    else:
        f.sendcmd(f"SIZE {remote}")
    print("HELD", flush=True)
    what = sys.stdin.readline().strip()
    if what == "quit":
        resp = f.quit()
        return resp.startswith("221"), f"PASV, QUIT: {resp}"
    if what == "drop":
        f.close()
        return True, "PASV, then the client closed without QUIT"
    if what == "relogin" and first == "PASV":
        f.sendcmd("REIN")
        f.login(user, pw)
        first, data, last = retr_on(f, addr, remote)
        f.quit()
        with open(sample, "rb") as s:
            want = s.read()
        return data == want, f"PASV, USER, PASS, RETR: {first[:3]} {last[:3]}, {len(data)} bytes"
    return False, f"unknown hold step {what!r}"


def main():
    if mode == "down":
        f = session()
        down(f, args[0], args[1])
        f.quit()
        ok, why = True, "mirrored down"
    elif mode == "up":
        f = session()
        up(f, args[0], args[1])
        f.quit()
        ok, why = True, "mirrored up"
    elif mode == "rest":
        f = session()
        data = retr(f, args[0], rest=int(args[1]))
        f.quit()
        with open(args[2], "rb") as s:
            want = s.read()[int(args[1]):]
        ok, why = data == want, f"REST {args[1]}: {len(data)} bytes, {len(want)} expected"
    elif mode == "abort":
        ok, why = abort(args[0])
    elif mode == "many":
        ok, why = many(int(args[0]), args[1])
    elif mode == "active":
        f = session()
        f.set_pasv(False)
        data = retr(f, args[0])
        f.quit()
        with open(args[1], "rb") as s:
            ok, why = data == s.read(), f"PORT: {len(data)} bytes"
    elif mode == "bounce":
        f = session()
        try:
            resp = f.sendcmd("PORT " + args[0].replace(".", ",") + ",8,0")
        except ftplib.error_perm as e:
            resp = str(e)
        f.quit()
        ok, why = resp.startswith("504"), f"PORT to {args[0]}: {resp}"
    elif mode == "twice":
        f = session()
        f.sendcmd("PASV")
        data = retr(f, args[0])       # ftplib sends its own PASV first
        f.quit()
        with open(args[1], "rb") as s:
            ok, why = data == s.read(), f"PASV twice, RETR: {len(data)} bytes"
    elif mode == "prequit":
        codes = []
        for i in range(int(args[0])):
            f = session()
            f.sendcmd("PASV" if i % 3 != 1 else f"SIZE {args[1]}")
            if i % 3 == 2:
                # the close lands before, during or after the bridge's
                # data login: spread over the window, not waiting for anything
                time.sleep((i % 11) / 10000)
                f.close()
                codes.append("221")
            else:
                codes.append(f.quit()[:3])
        ok, why = codes == ["221"] * int(args[0]), f"PASV or SIZE, QUIT or close: {codes}"
    elif mode == "hold":
        ok, why = hold(args[0], args[1], args[2])
    elif mode == "reuse":
        ok, why = reuse(*args[:4], int(args[4]))
    else:
        ok, why = False, f"unknown mode {mode}"
    print(("OK " if ok else "FAIL ") + why, flush=True)
    return 0 if ok else 1


try:
    sys.exit(main())
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print(f"FAIL {e!r}", flush=True)
    sys.exit(1)
