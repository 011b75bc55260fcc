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
  bridge_ftplib.py HOST PORT USER PASS hold CMD REMOTE SAMPLE  CMD (PASV, or SIZE REMOTE),
      print HELD, then do what stdin says: quit (QUIT), drop (close, no QUIT),
      relogin (after PASV: REIN, USER, PASS, then RETR on the PASV's port)
The environment's FTP_TIMEOUT (seconds, default 20) bounds every socket.
"""
import hashlib
import io
import os
import socket
import sys
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
    else:
        ok, why = False, f"unknown mode {mode}"
    print(("OK " if ok else "FAIL ") + why, flush=True)
    return 0 if ok else 1


try:
    sys.exit(main())
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print(f"FAIL {e!r}", flush=True)
    sys.exit(1)
