#!/usr/bin/env python3
"""register_race: the first aggregated REGISTER of a 2-worker response proxy
holds every client that registered before it was sent.

    register_race.py FERRYD FERRY_PERF [ROUNDS]

A response proxy's clients hear the server's ANNOUNCE when the proxy does,
so their REGISTERs race the ANNOUNCE into the proxy; with two workers a
REGISTER could reach the worker that had not yet heard of the group and be
lost (6 of 31 sessions in issue 13). Here ferry-perf clients answers with
no delay and no rate limit from 300 source ports (spread
over both workers by SO_REUSEPORT) in a closed group, ROUNDS times (10):
every round's REGISTER phase must have all 300 UIDs in exactly one
aggregate (300 < 325, one message's list; GRTT 1 s, so a loaded machine
has a wide margin to get them all in before it leaves). Runs in a network namespace of its own (unshare -rn). Exit 0 pass,
1 fail, 77 when no namespace can be made.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ownns import loopback_multicast, main_inside  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from foreground import LogFileProc  # noqa: E402

CLIENTS = 300
PORT = 1044


def inner(ferryd, perf, rounds):
    loopback_multicast()
    # The log goes to a file: a pipe nobody reads would fill and stall it.
    proxy = LogFileProc([ferryd, "--allow-root", "-r", "-U", "0B000001", "-d", "-x", "2",
                         "-p", str(PORT), "--workers", "2", "-B", "4194304"],
                        prefix="register_race-")
    passed = failed = 0
    try:
        if not proxy.wait_started():
            print("FAIL - ferryd did not start")
            print("0 passed, 1 failed")
            return 1
        for r in range(rounds):
            run = subprocess.run([perf, "clients", "--proxy", "127.0.0.1:%d" % PORT,
                                  "--clients", str(CLIENTS), "--ports", str(CLIENTS),
                                  "--delay", "0", "--closed", "--grtt", "1.0",
                                  "--settle", "0.3",
                                  "--timeout", "10", "--json"],
                                 capture_output=True, text=True, timeout=120)
            try:
                reg = json.loads(run.stdout)["end"]["phases"]["register"]
            except (ValueError, KeyError):
                print("FAIL - round %d: ferry-perf exit %d, no JSON: %s" % (
                    r, run.returncode, run.stderr.strip()[-300:]))
                failed += 1
                continue
            got = (reg["received"], reg["messages"], reg["duplicates"])
            if got != (CLIENTS, 1, 0):
                print("FAIL - round %d: first REGISTER aggregate: %d of %d UIDs in %d "
                      "message(s), %d duplicates" % (r, got[0], CLIENTS, got[1], got[2]))
                failed += 1
            else:
                passed += 1
    finally:
        _, out = proxy.stop(timeout=10)
    if "Sanitizer" in out:
        print("FAIL - a sanitizer report in ferryd's log")
        failed += 1
    if failed:
        lines = [l for l in out.splitlines() if " registered (" not in l]
        print("--- ferryd (last lines but client registrations)\n" + "\n".join(lines[-30:]))
    else:
        print("ok - %d rounds: every first REGISTER aggregate held all %d clients" % (
            rounds, CLIENTS))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0



if __name__ == "__main__":
    sys.exit(main_inside(__file__, __doc__, lambda ferryd, perf, rounds: inner(ferryd, perf, int(rounds)),
                         2, defaults=("10",)))
