"""test_daily.py — ferry-ftp as a daily tool, against a real ferryd on
loopback: .netrc credentials (machine, default, a file others may read
refused), resumed get and put (-c: REST, APPE), a parallel mirror (-P) both
ways, --json summaries, the progress bar's rate and time, and the bash
completion file."""
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
from ftpd import Checks, Ferryd, crypt_hash, same_tree, tempdir  # noqa: E402

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
COMPLETION = os.path.join(HERE, "..", "..", "contrib", "bash-completion", "ferry-ftp")
t = Checks()
check = t.check
PW = "daily-pw"


def ftp(d, *args, user=True, env=None, opts=()):
    cmd = [ferry_ftp, "-q", "-t", "10"] + (["-u", f"alice:{PW}"] if user else []) + list(opts)
    return subprocess.run(cmd + [f"127.0.0.1:{d.port}"] + list(args), capture_output=True,
                          timeout=300, env=env)


def summary(r):
    try:
        return json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def test_netrc(d, work):
    home = os.path.join(work, "home")
    env = dict(os.environ, HOME=home)
    env.pop("NETRC", None)
    env.pop("FERRY_FTP_PASSWORD", None)
    write(f"{home}/.netrc", f"machine other.example login bob password x\n"
          f"machine 127.0.0.1\n  login alice\n  password {PW}\n"
          f"macdef init\n  binary\n\ndefault login anonymous password y\n".encode(), 0o600)
    r = ftp(d, "ls", "/", user=False, env=env)
    check("~/.netrc: the machine entry's login and password are used", r.returncode == 0,
          r.stderr.decode())
    r = ftp(d, "ls", "/", user=False, env=env, opts=["-u", "alice"])
    check("-u alice without a password takes alice's from ~/.netrc", r.returncode == 0,
          r.stderr.decode())
    r = ftp(d, "ls", "/", user=False, env=env, opts=["--no-netrc"])
    check("--no-netrc: anonymous, refused by this server: exit 3", r.returncode == 3,
          str(r.returncode))
    write(f"{work}/netrc-default", f'default login alice password "{PW}"\n'.encode(), 0o600)
    r = ftp(d, "ls", "/", user=False, env=env, opts=["--netrc-file", f"{work}/netrc-default"])
    check("--netrc-file with a default entry (quoted password)", r.returncode == 0,
          r.stderr.decode())
    write(f"{work}/netrc-wrong", b"machine 127.0.0.1 login alice password wrong\n", 0o600)
    r = ftp(d, "ls", "/", user=False, env=env, opts=["--netrc-file", f"{work}/netrc-wrong"])
    check("a wrong password from the .netrc: exit 3", r.returncode == 3, str(r.returncode))
    write(f"{work}/netrc-open", f"machine 127.0.0.1 login alice password {PW}\n".encode(),
          0o644)
    r = ftp(d, "ls", "/", user=False, env=env, opts=["--netrc-file", f"{work}/netrc-open"])
    check("a .netrc others may read is refused: exit 1 with the reason",
          r.returncode == 1 and b"chmod 600" in r.stderr, r.stderr.decode())
    r = ftp(d, "ls", "/", user=False, env=dict(env, NETRC=f"{work}/netrc-default"))
    check("$NETRC names the file", r.returncode == 0, r.stderr.decode())


def test_resume(d, root, work):
    data = random.Random(1).randbytes(3 << 20)
    write(f"{root}/r/file", data)
    write(f"{work}/part", data[:1000000])
    r = ftp(d, "get", "/r/file", f"{work}/part", opts=["-c", "--json"])
    s = summary(r)
    check("get -c appends what is missing: byte-identical", r.returncode == 0 and
          open(f"{work}/part", "rb").read() == data, r.stderr.decode())
    check("get -c moved only the missing bytes (--json bytes)",
          s.get("bytes") == len(data) - 1000000 and s.get("files") == 1, str(s))
    r = ftp(d, "get", "/r/file", f"{work}/part", opts=["-c", "--json"])
    check("get -c of a complete file moves nothing", r.returncode == 0 and
          summary(r).get("bytes") == 0, str(summary(r)))
    write(f"{work}/part", b"x" * 1000)
    r = ftp(d, "get", "/r/file", f"{work}/part")
    check("get without -c overwrites", r.returncode == 0 and
          open(f"{work}/part", "rb").read() == data)
    write(f"{root}/r/up", data[:1234567])
    write(f"{work}/whole", data)
    r = ftp(d, "put", f"{work}/whole", "/r/up", opts=["-c", "--json"])
    check("put -c sends the rest with APPE: byte-identical", r.returncode == 0 and
          open(f"{root}/r/up", "rb").read() == data, r.stderr.decode())
    check("put -c moved only the missing bytes", summary(r).get("bytes") == len(data) - 1234567,
          str(summary(r)))
    r = ftp(d, "put", f"{work}/whole", "/r/new", opts=["-c"])
    check("put -c of a file the server lacks is a plain STOR", r.returncode == 0 and
          open(f"{root}/r/new", "rb").read() == data)


def test_parallel(d, root, work):
    rnd = random.Random(2)
    tree = f"{work}/ptree"
    n = 0
    for dname in ["", "a", "a/b", "c"]:
        for i in range(12):
            write(f"{tree}/{dname}/f{i}", rnd.randbytes(rnd.choice([0, 100, 50000, 300000])))
            n += 1
    r = ftp(d, "mirror", "-R", tree, "/ptree", opts=["-P", "4", "--json"])
    s = summary(r)
    check("mirror -R -P 4: byte-identical", r.returncode == 0 and
          same_tree(tree, f"{root}/ptree"), r.stderr.decode()[-300:])
    check("mirror -R -P 4: --json counts every file", s.get("files") == n, str(s))
    r = ftp(d, "mirror", "/ptree", f"{work}/pdown", opts=["-P", "4", "--json"])
    s = summary(r)
    check("mirror -P 4 down: byte-identical", r.returncode == 0 and
          same_tree(tree, f"{work}/pdown"), r.stderr.decode()[-300:])
    check("mirror -P 4 down: --json counts files and bytes",
          s.get("files") == n and s.get("bytes") == sum(
              os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(tree) for f in fs),
          str(s))
    os.symlink("/nonexistent", f"{root}/ptree/dangling")
    r = ftp(d, "mirror", "/ptree", f"{work}/pdown2", opts=["-P", "3", "--json"])
    s = summary(r)
    check("mirror -P 3 with an entry the server refuses: exit 8, skipped 1 in --json",
          r.returncode == 8 and s.get("status") == "partial" and s.get("skipped") == 1,
          f"{r.returncode} {s}")
    r = ftp(d, "mirror", "/ptree", f"{work}/x", opts=["-P", "0"])
    check("-P 0 is a usage error", r.returncode == 1)


def test_json(d, root):
    r = ftp(d, "get", "/missing", "/dev/null", opts=["--json"])
    s = summary(r)
    check("--json of a failed get: exit 4, status remote",
          r.returncode == 4 and s.get("exit") == 4 and s.get("status") == "remote", str(s))
    r = ftp(d, "ls", "/r", opts=["--json"])
    s = summary(r)
    check("--json ls: the listing is in the summary, nothing else on stdout",
          r.returncode == 0 and "file" in s.get("listing", "") and
          len(r.stdout.decode().strip().splitlines()) == 1, r.stdout.decode()[:300])


def test_progress(d, work):
    r = subprocess.run([ferry_ftp, "-p", "-u", f"alice:{PW}", f"127.0.0.1:{d.port}", "get",
                        "/r/file", f"{work}/p"], capture_output=True, timeout=60)
    err = r.stderr.decode()
    check("-p: the bar shows percentage, rate and the time taken",
          r.returncode == 0 and "100%" in err and "MB/s" in err and " in " in err, err[-200:])


def test_completion():
    def complete(*words):
        script = (f"source {COMPLETION}; COMP_WORDS=({' '.join(words)}); "
                  f"COMP_CWORD={len(words) - 1}; _ferry_ftp; echo \"${{COMPREPLY[@]}}\"")
        return subprocess.run(["bash", "-c", script], capture_output=True,
                              timeout=30).stdout.decode().split()
    check("completion: options", "--continue" in complete("ferry-ftp", "--co"))
    check("completion: commands after the host", complete("ferry-ftp", "h:21", "mi") == ["mirror"])
    check("completion: bridge options", "--listen" in complete("ferry-ftp", "bridge", "--li"))
    check("completion: --local-tls-required's values",
          complete("ferry-ftp", "bridge", "--local-tls-required", "d") == ["data"])


def main():
    root = tempdir("ferry-daily-")
    work = tempdir("ferry-daily-work-")
    d = None
    try:
        ftpconf = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root,
                              "write": True}], "max_login_failures": 1000}
        d = Ferryd(ferryd_bin, ftpconf, workers=2, level=3)
        t.run("netrc tests ran", test_netrc, d, work)
        t.run("resume tests ran", test_resume, d, root, work)
        t.run("parallel tests ran", test_parallel, d, root, work)
        t.run("json tests ran", test_json, d, root)
        t.run("progress tests ran", test_progress, d, work)
        t.run("completion tests ran", test_completion)
    finally:
        if d:
            t.stopped(d)
    t.finish()


main()
