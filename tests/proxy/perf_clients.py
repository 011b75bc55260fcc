#!/usr/bin/env python3
"""perf_clients: ferry-perf clients against a ferryd response proxy.

    perf_clients.py FERRYD FERRY_PERF

Runs in a network namespace of its own (unshare -rn: loopback only, with
multicast on so the proxy can join the session's private group): starts
`ferryd -r`, drives 200 simulated clients through it and checks that every
UID reached the simulated server exactly once in every phase and that the
STATUS NAK union is exact. Exit 0 pass, 1 fail, 77 (skip) when no network
namespace can be made.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ownns import loopback_multicast, main_inside  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from foreground import LogFileProc  # noqa: E402

CLIENTS = 200
PORT = 1044


def inner(ferryd, perf):
    loopback_multicast()
    proxy = LogFileProc([ferryd, "--allow-root", "-r", "-U", "0B000001", "-d", "-x", "2",
                         "-p", str(PORT), "--workers", "2"], prefix="perf_clients-")
    try:
        if not proxy.wait_started():
            print("FAIL - ferryd did not start")
            return 1
        run = subprocess.run([perf, "clients", "--proxy", "127.0.0.1:%d" % PORT,
                              "--clients", str(CLIENTS), "--ports", "50",
                              "--nak-fraction", "0.2", "--json"],
                             capture_output=True, text=True, timeout=120)
    finally:
        proxy.stop(timeout=10)
    try:
        end = json.loads(run.stdout)["end"]
    except (ValueError, KeyError):
        print("FAIL - ferry-perf exit %d, no JSON: %s" % (run.returncode,
                                                          run.stderr.strip()))
        return 1
    bad = []
    for name, ph in sorted(end["phases"].items()):
        if name == "status":
            if not ph["ran"] or not ph["union_ok"]:
                bad.append("status: ran=%s missing=%d extra=%d" % (
                    ph["ran"], ph["missing_bits"], ph["extra_bits"]))
        elif (ph["received"], ph["duplicates"], ph["unknown"]) != (CLIENTS, 0, 0):
            bad.append("%s: %d received, %d duplicates, %d unknown" % (
                name, ph["received"], ph["duplicates"], ph["unknown"]))
    if run.returncode != 0 or not end["ok"]:
        bad.append("ferry-perf exit %d, ok=%s" % (run.returncode, end["ok"]))
    if bad:
        print("FAIL - " + "; ".join(bad))
        print("0 passed, 1 failed")
        return 1
    print("ok - %d clients, every UID once in every phase" % CLIENTS)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main_inside(__file__, __doc__, inner, 2))
