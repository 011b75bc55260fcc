#!/usr/bin/env python3
"""ferry-perf blast, sink and relay, end to end in a private network
namespace: through the relay, through ferryd as a server proxy (unicast)
and as a client proxy (multicast on lo), every stamped FILESEG must arrive
once, none malformed; and the tools refuse bad arguments.

Usage: test_perf.py FERRYD FERRY_PERF.  Needs root (unshare -n); exits 77
(skip) without it.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks  # noqa: E402

checks = Checks()
check = checks.check


def in_private_netns():
    if os.environ.get("FERRY_PERF_NETNS") == "1":
        return True
    if os.geteuid() != 0:
        print("SKIP: needs root for a private network namespace")
        sys.exit(77)
    env = dict(os.environ, FERRY_PERF_NETNS="1")
    r = subprocess.run(["unshare", "-n", sys.executable] + sys.argv, env=env)
    sys.exit(r.returncode)


def setup_lo():
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "set", "lo", "multicast", "on"],
                ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(cmd, check=True)


def run_flow(perf, proxy_argv, target, sink_args, label, rate="20000", secs="1.5",
             sessions="3"):
    sink = subprocess.Popen([perf, "sink", "--json", "--idle", "2", "--duration", "20",
                             "--sessions", sessions] + sink_args,
                            stdout=subprocess.PIPE, text=True)
    proxy = subprocess.Popen(proxy_argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) if proxy_argv else None
    time.sleep(0.7)
    blast = subprocess.run([perf, "blast", "-t", target, "-r", rate, "-d", secs,
                            "-P", sessions, "--ports", sessions, "--json"], capture_output=True, text=True,
                           timeout=60)
    out, _ = sink.communicate(timeout=40)
    err = ""
    if proxy:
        proxy.terminate()
        _, err = proxy.communicate(timeout=20)
        want = 0 if label == "relay" else 6     # ferryd exits as uftpproxyd
        check("%s: exits %d on SIGTERM (rc %s)" % (label, want, proxy.returncode),
              proxy.returncode == want)
        check("%s: no sanitizer report" % label,
              "ERROR: AddressSanitizer" not in err and "runtime error" not in err)
    check("%s: blast exits 0" % label, blast.returncode == 0)
    sent = json.loads(blast.stdout)["end"]
    got = json.loads(out)["end"]
    check("%s: blast sent %d datagrams" % (label, sent["packets"]), sent["packets"] > 1000)
    check("%s: all %d arrived (got %d, lost %d)" % (label, sent["packets"],
                                                   got["packets"], got["lost"]),
          got["packets"] == sent["packets"] and got["lost"] == 0)
    check("%s: no duplicates, nothing malformed" % label,
          got["duplicates"] == 0 and got["malformed"] == 0)
    check("%s: %s sessions seen" % (label, sessions), got["sessions"] == int(sessions))
    check("%s: every session's ABORT arrived" % label, got["aborts"] >= int(sessions))
    check("%s: latency measured" % label, 0 <= got["latency_p50_us"] < 1e6)


def main():
    ferryd, perf = sys.argv[1], sys.argv[2]
    in_private_netns()
    setup_lo()
    # Bare relay: 127.0.0.1:5001 -> 127.0.0.2:1044.
    run_flow(perf, [perf, "relay", "-B", "127.0.0.1:5001", "-T", "127.0.0.2:1044"],
             "127.0.0.1:5001", ["-B", "127.0.0.2:1044"], "relay")
    # Server proxy on port 1044 forwarding to the sink on 127.0.0.2:1045 (-q):
    # ferryd holds its port alone, as uftpproxyd does, so the sink may not
    # share 1044 with it.
    run_flow(perf, [ferryd, "--allow-root", "-s", "127.0.0.2", "-q", "1045", "-d",
                    "-U", "0x00000101", "-B", "4194304", "--workers", "1"],
             "127.0.0.1:1044", ["-B", "127.0.0.2:1045"], "ferryd -s")
    # Client proxy re-multicasting to the private group the sink joins, on
    # the clients' port (-q 1045).
    run_flow(perf, [ferryd, "--allow-root", "-c", "-q", "1045", "-d", "-U", "0x00000201",
                    "-O", "127.0.0.1", "-B", "4194304", "--workers", "2"],
             "127.0.0.1:1044", ["-B", "0.0.0.0:1045", "--join", "230.5.5.1",
                                "--join", "230.4.4.1"], "ferryd -c")
    for argv in ([perf, "blast"], [perf, "blast", "-t", "nowhere"],
                 [perf, "blast", "-t", "127.0.0.1", "-l", "10"],
                 [perf, "sink", "--join", "not-an-address"], [perf, "sink", "-d", "x"],
                 [perf, "relay", "-B", "127.0.0.1"], [perf, "nosuch"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        check("refused: %s" % " ".join(argv[1:]), r.returncode == 1 and r.stderr)
    checks.finish()


if __name__ == "__main__":
    main()
