"""test_mirror.py — ferry-ftp mirror against a real ferryd when some entries
cannot be copied: it reports each on stderr, copies everything else, and
exits 8 at the end (as lftp and wget go on and fail at the end). Tests run
as root, so entries are made unfetchable by symbolic links that ferryd
refuses with 550: a dangling one and two pointing outside the FTP root.
Also: a symlink inside the root is fetched as the file it names, a top
directory that cannot be listed fails at once, and mirror -R skips a
dangling local link."""
import filecmp
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks, Ferryd, crypt_hash, tempdir  # noqa: E402

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
PW = "mirror-pw"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def ftp(d, *args):
    return subprocess.run([ferry_ftp, "-q", "-t", "10", "-u", f"alice:{PW}",
                           f"127.0.0.1:{d.port}", *args], capture_output=True, timeout=120)


def main():
    root = tempdir("ferry-mirror-root-")
    outside = tempdir("ferry-mirror-outside-")
    work = tempdir("ferry-mirror-work-")
    tree = os.path.join(root, "tree")
    write(os.path.join(tree, "a.bin"), os.urandom(70000))
    write(os.path.join(tree, "sub", "b.bin"), os.urandom(1000))
    write(os.path.join(tree, "sub", "deeper", "c.bin"), b"")
    write(os.path.join(tree, "z.bin"), os.urandom(5000))
    write(os.path.join(outside, "secret"), b"not yours")
    os.symlink("no-such-target", os.path.join(tree, "dangling"))
    os.symlink(os.path.join(outside, "secret"), os.path.join(tree, "sub", "escape"))
    os.symlink(outside, os.path.join(tree, "escdir"))
    os.symlink("a.bin", os.path.join(tree, "inroot"))
    d = None
    try:
        d = Ferryd(ferryd_bin, {"users": [{"name": "alice", "password": crypt_hash(PW),
                                           "root": root, "write": True}]}, workers=2)
        down = os.path.join(work, "down")
        r = ftp(d, "mirror", "/tree", down)
        err = r.stderr.decode()
        check("mirror with unfetchable entries: exit 8", r.returncode == 8,
              f"{r.returncode} {err}")
        for name in ("/tree/dangling", "/tree/sub/escape", "/tree/escdir"):
            check(f"{name} reported as skipped, with the server's 550",
                  f"skipped {name}\n" in err and f"{name}: 550" in err, err)
        check("the summary counts the skipped entries",
              "mirror: 3 of " in err and "entries skipped" in err, err)
        for rel in ("a.bin", "sub/b.bin", "sub/deeper/c.bin", "z.bin"):
            check(f"{rel} copied byte for byte despite the failures",
                  os.path.isfile(os.path.join(down, rel)) and
                  filecmp.cmp(os.path.join(tree, rel), os.path.join(down, rel), False))
        check("a symlink inside the root is fetched as the file it names",
              os.path.isfile(os.path.join(down, "inroot")) and
              filecmp.cmp(os.path.join(tree, "a.bin"), os.path.join(down, "inroot"), False))
        check("nothing of the refused entries was written locally",
              not any(os.path.lexists(os.path.join(down, p))
                      for p in ("dangling", "sub/escape", "escdir")))

        os.unlink(os.path.join(tree, "dangling"))
        os.unlink(os.path.join(tree, "sub", "escape"))
        os.unlink(os.path.join(tree, "escdir"))
        r = ftp(d, "mirror", "/tree", os.path.join(work, "clean"))
        check("the same tree without them: exit 0, nothing reported",
              r.returncode == 0 and b"skipped" not in r.stderr, r.stderr.decode())

        r = ftp(d, "mirror", "/no-such-dir", os.path.join(work, "none"))
        check("a top directory that cannot be listed: exit 4 (the remote error)",
              r.returncode == 4, f"{r.returncode} {r.stderr.decode()}")

        up = os.path.join(work, "up")
        write(os.path.join(up, "one"), os.urandom(3000))
        write(os.path.join(up, "dir", "two"), os.urandom(10))
        os.symlink("missing", os.path.join(up, "dangling"))
        r = ftp(d, "mirror", "-R", up, "/up")
        err = r.stderr.decode()
        check("mirror -R with a dangling local link: exit 8, it is reported",
              r.returncode == 8 and "skipped " + os.path.join(up, "dangling") in err,
              f"{r.returncode} {err}")
        check("mirror -R uploaded the rest",
              filecmp.cmp(os.path.join(up, "one"), os.path.join(root, "up", "one"), False) and
              filecmp.cmp(os.path.join(up, "dir", "two"),
                          os.path.join(root, "up", "dir", "two"), False))
    except Exception as e:  # noqa: BLE001
        t.raised("mirror test ran", e)
    finally:
        if d:
            rc, clean = d.stop()
            check("ferryd: no sanitizer reports", clean, d.logtext()[-2000:])
    t.finish()


main()
