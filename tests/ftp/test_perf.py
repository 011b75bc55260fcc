"""test_perf.py — a smoke test of ferry-perf ftp against ferryd: logins for a
second with 5 clients (no errors, some logins), RETR over SPSV, EPSV and
PASV with the byte count checked, STOR, idle sessions held, and a wrong
--size counted as an error with exit status 3."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, Ferryd, tempdir  # noqa: E402

ferryd_bin, perf_bin = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
SIZE = 3 * 1024 * 1024 + 17      # not a multiple of anything


def perf(d, *args, timeout=120):
    """Runs ferry-perf ftp --json; returns (exit status, the "end" object)."""
    cmd = [perf_bin, "ftp", "-s", f"{d.host}:{d.port}", "--json", "-i", "0"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        end = json.loads(r.stdout)["end"]
    except (ValueError, KeyError):
        print(f"# {' '.join(cmd)} -> {r.returncode}\n{r.stdout[-1000:]}\n{r.stderr[-1000:]}")
        end = {}
    if r.returncode:
        print(f"# {' '.join(cmd)} -> {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.returncode, end


def main():
    root = tempdir("ferry-perf-root-")
    with open(os.path.join(root, "file.bin"), "wb") as f:
        f.write(os.urandom(SIZE))
    ftp = {"anonymous": {"root": root, "write": True}, "login_delay_ms": 100,
           "max_sessions": 200, "max_per_address": 100}
    d = Ferryd(ferryd_bin, ftp, workers=2)
    try:
        rc, end = perf(d, "-m", "login", "-c", "5", "-t", "1")
        check("login: exit 0", rc == 0)
        check("login: zero errors", end.get("errors") == 0, str(end.get("errors_by_kind")))
        check("login: logins counted", end.get("ops", 0) > 0, str(end.get("ops")))

        for mode in ("spsv", "epsv", "pasv"):
            rc, end = perf(d, "-m", "retr", "-d", mode, "-f", "file.bin", "-S", str(SIZE),
                           "-c", "2", "-n", "4")
            check(f"retr {mode}: exit 0, zero errors", rc == 0 and end.get("errors") == 0,
                  str(end.get("errors_by_kind")))
            check(f"retr {mode}: 4 transfers, every byte", end.get("ops") == 4 and
                  end.get("bytes") == 4 * SIZE, f"{end.get('ops')} {end.get('bytes')}")

        rc, end = perf(d, "-m", "retr", "-d", "spsv", "-f", "file.bin", "-S", str(SIZE + 1),
                       "-n", "1")
        check("retr with a wrong --size: exit 3, a size error",
              rc == 3 and end.get("errors_by_kind", {}).get("size") == 1)

        rc, end = perf(d, "-m", "stor", "-d", "spsv", "-f", "up.bin", "-S", "1Mi", "-c", "2",
                       "-n", "4")
        check("stor spsv: exit 0, 4 transfers", rc == 0 and end.get("ops") == 4)
        sizes = [os.path.getsize(os.path.join(root, f"up.bin.{i}")) for i in range(2)
                 if os.path.exists(os.path.join(root, f"up.bin.{i}"))]
        check("stor: each client's file has every byte", sizes == [1 << 20] * 2, str(sizes))

        rc, end = perf(d, "-m", "idle", "-c", "50", "-t", "1", "--noop", "0.3")
        check("idle: 50 sessions up, no errors", rc == 0 and end.get("sessions_up") == 50
              and end.get("errors") == 0, str(end))
    finally:
        t.stopped(d)
    t.finish()


main()
