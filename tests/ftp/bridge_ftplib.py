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
The environment's FTP_TIMEOUT (seconds, default 20) bounds every socket.
"""
import hashlib
import io
import os
import sys
import threading
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
    else:
        ok, why = False, f"unknown mode {mode}"
    print(("OK " if ok else "FAIL ") + why, flush=True)
    return 0 if ok else 1


try:
    sys.exit(main())
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print(f"FAIL {e!r}", flush=True)
    sys.exit(1)
