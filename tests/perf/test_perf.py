#!/usr/bin/env python3
"""ferry-perf blast, sink and relay, end to end in a private network
namespace: through the relay, through ferryd as a server proxy (unicast)
and as a client proxy (multicast on lo), every stamped FILESEG must arrive
once, none malformed (a flow in which the kernel dropped datagrams for a
full buffer proves nothing and is run again, up to three times); and the
tools refuse bad arguments.

Usage: test_perf.py FERRYD FERRY_PERF.  Needs root (unshare -n); exits 77
(skip) without it.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
from ftpd import Checks, wait_for  # noqa: E402
from ownns import igmp_users, kernel_drops, loopback_multicast, udp_ports  # noqa: E402

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


def port_of(spec):
    return int(spec.rsplit(":", 1)[1])


def flow_once(perf, proxy_argv, target, sink_args, rate, secs, sessions):
    """One blast into target, through proxy_argv when given, into a sink
    started with sink_args: what each of them did, and how many datagrams
    the kernel dropped for want of room meanwhile."""
    # Ready means the sink's and the proxy's ports are bound and the sink
    # has joined its groups (the kernel's tables say so), not a guessed
    # sleep: on a loaded machine a sanitizer build can take longer to start.
    ports = [port_of(sink_args[sink_args.index("-B") + 1]), port_of(target)]
    groups = [sink_args[i + 1] for i, a in enumerate(sink_args) if a == "--join"]
    ports0, users0, drops0 = udp_ports(), igmp_users(), kernel_drops()

    def ready():
        bound, users = udp_ports(), igmp_users()
        return all(bound.get(p, 0) > ports0.get(p, 0) for p in ports) and \
            all(users.get(g, 0) > users0.get(g, 0) for g in groups)

    sink = subprocess.Popen([perf, "sink", "--json", "--idle", "2", "--duration", "20",
                             "--sessions", sessions] + sink_args,
                            stdout=subprocess.PIPE, text=True)
    proxy = subprocess.Popen(proxy_argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) if proxy_argv else None
    r = {"ready": wait_for(ready, 20), "proxy_rc": None, "err": ""}
    blast = subprocess.run([perf, "blast", "-t", target, "-r", rate, "-d", secs,
                            "-P", sessions, "--ports", sessions, "--json"],
                           capture_output=True, text=True, timeout=60)
    out, _ = sink.communicate(timeout=40)
    if proxy:
        proxy.terminate()
        _, r["err"] = proxy.communicate(timeout=20)
        r["proxy_rc"] = proxy.returncode
    r["blast_rc"] = blast.returncode
    r["sent"] = json.loads(blast.stdout)["end"]
    r["got"] = json.loads(out)["end"]
    r["drops"] = kernel_drops() - drops0
    return r


def run_flow(perf, proxy_argv, target, sink_args, label, rate="20000", secs="1.5",
             sessions="3"):
    # A flow in which the kernel dropped datagrams for want of room (a
    # loaded machine stalls a receiver past its buffer) proves nothing
    # about forwarding: it is run again, up to three times. A flow without
    # such drops must bring every datagram.
    for attempt in range(1, 4):
        r = flow_once(perf, proxy_argv, target, sink_args, rate, secs, sessions)
        sent, got = r["sent"], r["got"]
        whole = got["packets"] == sent["packets"] and got["lost"] == 0 and \
            got["aborts"] >= int(sessions)
        print("info: %s: flow %d: sent %d, received %d, lost %d, kernel drops %d"
              % (label, attempt, sent["packets"], got["packets"], got["lost"], r["drops"]),
              flush=True)
        if whole or not r["drops"]:
            break
        print("info: %s: the kernel dropped datagrams for want of room (a loaded "
              "host): the flow proves nothing; once more" % label, flush=True)
    check("%s: sink and proxy bound (and joined) before the blast" % label, r["ready"])
    if proxy_argv:
        want = 0 if label == "relay" else 6     # ferryd exits as uftpproxyd
        check("%s: exits %d on SIGTERM (rc %s)" % (label, want, r["proxy_rc"]),
              r["proxy_rc"] == want)
        check("%s: no sanitizer report" % label,
              "ERROR: AddressSanitizer" not in r["err"] and "runtime error" not in r["err"])
    check("%s: blast exits 0" % label, r["blast_rc"] == 0)
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
    loopback_multicast()
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
