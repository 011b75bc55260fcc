#!/usr/bin/env python3
"""test_kx_clients: ferry-perf clients' encrypted clients against a ferryd
response proxy (issue 12 item 6), and the forwarding probe.

    test_kx_clients.py FERRYD FERRY_PERF

Two network namespaces on one netlab network (198.18.40.0/24): "gen" runs
`ferry-perf clients` (a simulated server and its clients), "px" runs
`ferryd -r`. For each key exchange, 50 clients fetch the proxy's PROXY_KEY,
REGISTER (and send CLIENT_KEY with client authentication); each must get a
KEYINFO whose entry decrypts to the server's group master, and the proxy
must log each client's KEYINFO_ACK as checked. Then a plain session's
CC_ACK probe must come through the proxy whole.

Needs root (ip netns); exits 77 (skip) without it.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from foreground import stop_process  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import netlab  # noqa: E402

checks = Checks()
check = checks.check
CLIENTS = 50
PORT = 1044


def start_ferryd(px, ferryd, keys, log):
    argv = px.argv([ferryd, "--allow-root", "-r", "-U", "0B000001",
                    "-d", "-x", "2", "-p", str(PORT), "--workers", "2"] + keys)
    out = open(log, "w")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log) as f:
            if " started: " in f.read():
                return proc
        time.sleep(0.05)
    raise RuntimeError("ferryd did not start: %s" % open(log).read()[-2000:])


def wait_log(log, text, count, timeout=10):
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        with open(log) as f:
            n = f.read().count(text)
        if n >= count:
            break
        time.sleep(0.05)
    return n


def perf_clients(gen, px, perf, extra):
    argv = gen.argv([perf, "clients", "--proxy", "%s:%d" % (px.addr(), PORT),
                     "--server-bind", gen.addr(), "--clients", str(CLIENTS),
                     "--json", "--interval", "0", "--timeout", "20"] + extra)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    try:
        return r.returncode, json.loads(r.stdout)["end"], r.stderr
    except (ValueError, KeyError):
        return r.returncode, None, r.stderr


CASES = [
    # name, ferryd keys, ferry-perf options
    ("ecdh-ecdsa, client auth", ["-K", "ec:prime256v1", "-e", "prime256v1"],
     ["--keyex", "ecdh-ecdsa", "--client-auth"]),
    ("ecdh-rsa, aes128-cbc/sha1 (HMAC)", ["-K", "rsa:1024", "-e", "secp384r1"],
     ["--keyex", "ecdh-rsa", "--curve", "secp384r1", "--server-key", "rsa:1024",
      "--cipher", "aes128-cbc", "--hash", "sha1"]),
    ("rsa key exchange, client auth", ["-K", "rsa:1024"],
     ["--keyex", "rsa", "--server-key", "rsa:1024", "--client-auth"]),
]


def run_case(gen, px, ferryd, perf, work, name, keys, opts):
    log = os.path.join(work, "ferryd-%d.log" % len(os.listdir(work)))
    proc = start_ferryd(px, ferryd, keys, log)
    try:
        rc, end, err = perf_clients(gen, px, perf, opts)
        acks = wait_log(log, "Received KEYINFO_ACK from", CLIENTS)
    finally:
        stop_process(proc)
    text = open(log).read()
    check("%s: ferry-perf exits 0, ok (rc %d%s)"
          % (name, rc, "" if end else ", " + err.strip()[-300:]),
          rc == 0 and end is not None and end["ok"])
    if not end:
        return
    enc = end["encrypted"]
    reg = end["phases"]["register"]
    check("%s: every UID in the proxy's REGISTERs (%d; %d again after a resend)"
          % (name, reg["received"], reg["duplicates"]),
          reg["received"] == CLIENTS and reg["unknown"] == 0)
    check("%s: %d clients decrypted the group master from KEYINFO (%d bad)"
          % (name, enc["keyed"], enc["bad_entries"]),
          enc["keyed"] == CLIENTS and enc["bad_entries"] == 0)
    check("%s: the proxy's own KEYINFO_ACK checked by the server" % name,
          enc["proxy"]["acked"] and enc["proxy"]["errors"] == 0)
    check("%s: ferryd checked %d of %d clients' KEYINFO_ACK, rejected none"
          % (name, acks, CLIENTS),
          acks == CLIENTS and "Rejecting" not in text)
    if "client auth" in name:
        check("%s: every client sent CLIENT_KEY" % name,
              enc["client_keys_sent"] >= CLIENTS)
    check("%s: no sanitizer report from ferryd" % name,
          "AddressSanitizer" not in text and "runtime error" not in text)


def run_probe(gen, px, ferryd, perf, work):
    log = os.path.join(work, "ferryd-probe.log")
    proc = start_ferryd(px, ferryd, [], log)
    try:
        rc, end, err = perf_clients(gen, px, perf, ["--probe-rate", "1000", "--probe-secs", "1"])
    finally:
        stop_process(proc)
    check("probe: ferry-perf exits 0 (rc %d %s)" % (rc, err.strip()[-300:]),
          rc == 0 and end is not None)
    if end:
        p = end["probe"]
        check("probe: %d of %d CC_ACKs forwarded" % (p["received"], p["sent"]),
              p["sent"] >= 900 and p["received"] == p["sent"] and p["unknown"] == 0)
        check("probe: latency measured (p50 %.3f ms)" % p["p50_ms"], 0 < p["p50_ms"] < 1000)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("SKIP: needs root for network namespaces")
        return 77
    ferryd, perf = (os.path.abspath(p) for p in sys.argv[1:])
    netlab.cleanup_stale()
    with netlab.Lab() as lab, tempfile.TemporaryDirectory(prefix="ferry-kx-clients-") as work:
        net = lab.network("kx", 40)
        gen, px = lab.host("gen", net), lab.host("px", net)
        for name, keys, opts in CASES:
            run_case(gen, px, ferryd, perf, work, name, keys, opts)
        run_probe(gen, px, ferryd, perf, work)
        if checks.failed:
            for f in sorted(os.listdir(work)):
                print("--- %s (tail)\n%s" % (f, open(os.path.join(work, f)).read()[-3000:]))
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
