"""test_clients.py — real FTP clients against ferryd: curl (get, put, list,
resume, --ftp-pasv, --ftp-port, --ftp-create-dirs), lftp (mirror both ways
of a tree with subdirectories) and tnftp; every file compared byte for byte."""
import filecmp
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, crypt_hash, make_tree, run_client, same_tree, tempdir  # noqa: E402

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
PW = "s3cret-pw"
# The served tree: odd sizes around page and buffer edges, deep and spaced names.
TREE = {"dirs": ["", "a", "a/b", "a/b/c", "empty-ish", "with space"],
        "sizes": [0, 1, 100, 4095, 4096, 65537, 1 << 20, 3 << 20], "name": "f{}.bin"}


def run(cmd, timeout=120, **kw):
    return run_client(cmd, timeout, **kw)


def curl_tests(d, root, work):
    url = f"ftp://alice:{PW}@127.0.0.1:{d.port}"
    src = os.path.join(root, "tree", "a", "f2.bin")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(5 << 20))
    out = os.path.join(work, "get.bin")
    r = run(["curl", "-sS", "-o", out, f"{url}/big.bin"])
    check("curl get (EPSV default)", r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "big.bin"), False))
    r = run(["curl", "-sS", "--ftp-pasv", "--disable-epsv", "-o", out, f"{url}/tree/a/f2.bin"])
    check("curl get --ftp-pasv (PASV)", r.returncode == 0 and filecmp.cmp(out, src, False))
    r = run(["curl", "-sS", "--ftp-port", "127.0.0.1", "-o", out, f"{url}/big.bin"])
    check("curl get --ftp-port (active)", r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "big.bin"), False))
    r = run(["curl", "-sS", "--ftp-port", "127.0.0.1", "--disable-eprt", "-o", out, f"{url}/big.bin"])
    check("curl get --ftp-port --disable-eprt (PORT)", r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "big.bin"), False))
    up = os.path.join(work, "up.bin")
    with open(up, "wb") as f:
        f.write(os.urandom(4 << 20))
    r = run(["curl", "-sS", "-T", up, f"{url}/uploaded.bin"])
    check("curl put", r.returncode == 0 and filecmp.cmp(up, os.path.join(root, "uploaded.bin"), False))
    r = run(["curl", "-sS", "--ftp-port", "127.0.0.1", "-T", up, f"{url}/uploaded2.bin"])
    check("curl put --ftp-port", r.returncode == 0 and filecmp.cmp(up, os.path.join(root, "uploaded2.bin"), False))
    r = run(["curl", "-sS", "--ftp-create-dirs", "-T", up, f"{url}/new/dirs/here/up.bin"])
    check("curl put --ftp-create-dirs", r.returncode == 0 and filecmp.cmp(up, os.path.join(root, "new/dirs/here/up.bin"), False))
    r = run(["curl", "-sS", f"{url}/tree/"])
    names = r.stdout.decode()
    check("curl list (LIST)", r.returncode == 0 and "f0.bin" in names and "with space" in names, names)
    r = run(["curl", "-sS", "-l", f"{url}/tree/"])
    check("curl list -l (NLST)", r.returncode == 0 and sorted(r.stdout.decode().split()) ==
          sorted(["a", "empty-ish", "f0.bin", "f1.bin", "f2.bin", "with", "space"]), r.stdout)
    # resume a download: keep a prefix, then -C -
    part = os.path.join(work, "part.bin")
    with open(os.path.join(root, "big.bin"), "rb") as f:
        whole = f.read()
    with open(part, "wb") as f:
        f.write(whole[:1234567])
    r = run(["curl", "-sS", "-C", "-", "-o", part, f"{url}/big.bin"])
    with open(part, "rb") as f:
        check("curl resume download (-C -, REST)", r.returncode == 0 and f.read() == whole)
    # resume an upload: the server has a prefix
    with open(os.path.join(root, "resume-up.bin"), "wb") as f:
        f.write(whole[:2000000])
    src_full = os.path.join(work, "full.bin")
    with open(src_full, "wb") as f:
        f.write(whole)
    r = run(["curl", "-sS", "-C", "-", "-T", src_full, f"{url}/resume-up.bin"])
    with open(os.path.join(root, "resume-up.bin"), "rb") as f:
        check("curl resume upload (-C -, SIZE + APPE)", r.returncode == 0 and f.read() == whole)
    r = run(["curl", "-sS", "-o", out, f"{url}/does-not-exist"])
    check("curl: missing file is an error (exit 78)", r.returncode == 78, str(r.returncode))
    r = run(["curl", "-sS", "-o", out, f"ftp://alice:wrong@127.0.0.1:{d.port}/big.bin"])
    check("curl: bad password is an error (exit 67)", r.returncode == 67, str(r.returncode))


def lftp_tests(d, root, work):
    base = ["lftp", "-u", f"alice,{PW}", "-p", str(d.port), "-e"]
    settings = "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 20; "
    local = os.path.join(work, "lftp-down")
    r = run(base + [settings + f"mirror /tree {local}; quit", "127.0.0.1"], timeout=300)
    check("lftp mirror (download) of a tree", r.returncode == 0 and same_tree(os.path.join(root, "tree"), local))
    up = os.path.join(work, "lftp-up")
    make_tree(up, 7, **TREE)
    r = run(base + [settings + f"mirror -R {up} /reverse; quit", "127.0.0.1"], timeout=300)
    check("lftp mirror -R (upload) of a tree", r.returncode == 0 and same_tree(up, os.path.join(root, "reverse")))
    r = run(base + [settings + "set ftp:passive-mode no; " +
                    f"mirror /tree {local}-active; quit", "127.0.0.1"], timeout=300)
    check("lftp mirror in active mode", r.returncode == 0 and same_tree(os.path.join(root, "tree"), local + "-active"))


def tnftp_tests(d, root, work):
    got = os.path.join(work, "tnftp.bin")
    script = (f"user alice {PW}\nbinary\npassive on\nget tree/a/b/f1.bin {got}\n"
              f"put {got} from-tnftp.bin\nls tree\nquit\n")
    r = run(["tnftp", "-n", "127.0.0.1", str(d.port)], input=script.encode())
    check("tnftp get", r.returncode == 0 and filecmp.cmp(got, os.path.join(root, "tree/a/b/f1.bin"), False))
    check("tnftp put", filecmp.cmp(got, os.path.join(root, "from-tnftp.bin"), False))
    check("tnftp ls", b"f0.bin" in r.stdout)
    out = os.path.join(work, "tnftp-auto.bin")
    r = run(["tnftp", "-o", out, f"ftp://alice:{PW}@127.0.0.1:{d.port}/tree/a/f0.bin"])
    check("tnftp auto-fetch URL", r.returncode == 0 and filecmp.cmp(out, os.path.join(root, "tree/a/f0.bin"), False))


def ferry_ftp_tests(d, root, work):
    host = f"127.0.0.1:{d.port}"
    for opt in ("--spsv", "--pasv", "--epsv"):
        out = os.path.join(work, "ff" + opt)
        r = run([ferry_ftp, "-q", "-u", f"alice:{PW}", opt, host, "mirror", "/tree", out], timeout=300)
        check(f"ferry-ftp {opt} mirror", r.returncode == 0 and same_tree(os.path.join(root, "tree"), out))
    env = dict(os.environ, FERRY_FTP_PASSWORD=PW)
    r = run([ferry_ftp, "-q", "-u", "alice", host, "ls", "/tree"], env=env)
    check("ferry-ftp password from FERRY_FTP_PASSWORD", r.returncode == 0 and b"f0.bin" in r.stdout)


def main():
    root = tempdir("ferry-clients-")
    work = tempdir("ferry-clients-work-")
    make_tree(os.path.join(root, "tree"), 1, **TREE)
    ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}],
           "login_delay_ms": 100, "max_login_failures": 1000}
    d = Ferryd(ferryd_bin, ftp, workers=2)
    try:
        for name, fn, tool in (("curl", curl_tests, "curl"), ("lftp", lftp_tests, "lftp"),
                               ("tnftp", tnftp_tests, "tnftp"),
                               ("ferry-ftp", ferry_ftp_tests, ferry_ftp)):
            if shutil.which(tool) is None:
                check(f"{tool} installed", False)
                continue
            t.run_closing(d.proc.pid, name, fn, d, root, work)
    finally:
        t.stopped(d)
    t.finish()


main()
