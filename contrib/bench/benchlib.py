"""benchlib: what the contrib/bench scripts share.

- Rounds: every candidate (ferryd and its peers) runs once per round, in an
  order that rotates each round, so slow drift of a shared machine falls on
  all of them alike; medians over the rounds, and ratios to a baseline.
- CPU of a process from /proc/PID/stat (user + system, every thread).
- paused(prefixes): the processes whose name (comm) starts with one of
  them are stopped (SIGSTOP) for one timed run and resumed (SIGCONT) right
  after, whatever happens: e.g. fuzzers at SCHED_IDLE, which would
  otherwise take any CPU a run leaves idle. Looked up afresh for each run,
  as such processes come and go.
- Topology: network namespaces joined by plain veth pairs (no bridge), with
  addresses from 198.18.0.0/15 only; removed on exit whatever happens.

Stdlib only.  Needs root and iproute2.
"""

import atexit
import os
import signal
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TICK = os.sysconf("SC_CLK_TCK")


def sh(argv, check=True, **kw):
    if "stdout" not in kw and "stderr" not in kw:
        kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    proc = subprocess.run(argv, **kw)
    if check and proc.returncode != 0:
        sys.exit("bench: %s: exit %d: %s" % (" ".join(argv), proc.returncode,
                                              (proc.stderr or "").strip()))
    return proc


def need_root():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces)")


# What build() needs (Debian packages).
BUILD_DEPS = ("gcc", "meson", "ninja-build", "pkgconf", "liburing-dev", "libwolfssl-dev",
              "libjansson-dev", "libcrypt-dev")


def build(tree=ROOT):
    """Builds an optimised tree (no sanitizers) in build-bench, installing
    BUILD_DEPS first where they are missing; returns its path."""
    install(*BUILD_DEPS)
    out = os.path.join(tree, "build-bench")
    if not os.path.exists(os.path.join(out, "build.ninja")):
        sh(["meson", "setup", out, tree, "-Dbuildtype=release", "-Dtests=false"])
    sh(["ninja", "-C", out])
    return out


def cpu_seconds(pid):
    """User + system CPU seconds of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_exact(pid):
    """CPU seconds of every thread of pid from schedstat (nanoseconds):
    cpu_seconds counts 10 ms ticks, too coarse for a proxy that spends a
    few ms on a 1,000-client session."""
    total = 0
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        try:
            with open("%s/%s/schedstat" % (task, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def pids_named(prefixes):
    """PIDs of the processes whose comm starts with one of prefixes."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if any(comm.startswith(p) for p in prefixes):
            found.append(int(d))
    return found


class paused:
    """with paused(prefixes): those processes are stopped for the block only."""

    def __init__(self, prefixes):
        self.pids = pids_named(prefixes) if prefixes else []

    def _signal(self, sig):
        for pid in self.pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def __enter__(self):
        self._signal(signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        self._signal(signal.SIGCONT)
        return False


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Rounds:
    """Runs fn(candidate, round) for each candidate, rounds times, rotating
    the order; fn returns a dict of figures.  Collects them per candidate."""

    def __init__(self, candidates, rounds=5):
        self.candidates = list(candidates)
        self.rounds = rounds
        self.results = {c: [] for c in self.candidates}

    def run(self, fn, log=sys.stderr):
        n = len(self.candidates)
        for r in range(self.rounds):
            order = self.candidates[r % n:] + self.candidates[:r % n]
            for c in order:
                fig = fn(c, r)
                self.results[c].append(fig)
                print("  round %d %-12s %s" % (r + 1, c, " ".join(
                    "%s=%s" % (k, fmt(v)) for k, v in fig.items())),
                    file=log, flush=True)
        return self

    def medians(self, c):
        keys = self.results[c][0].keys() if self.results[c] else []
        return {k: median([f[k] for f in self.results[c]]) for k in keys}

    def table(self, title, keys, baseline, lower_better=(), out=sys.stdout):
        """Prints medians per candidate and the ratio to baseline for each key."""
        print("\n%s  (median of %d rounds)" % (title, self.rounds), file=out)
        print("  %-14s" % "" + "".join("%18s" % k for k in keys), file=out)
        base = self.medians(baseline)
        for c in self.candidates:
            m = self.medians(c)
            print("  %-14s" % c + "".join("%18s" % fmt(m.get(k)) for k in keys),
                  file=out)
        for c in self.candidates:
            if c == baseline:
                continue
            m = self.medians(c)
            ratios = []
            for k in keys:
                b, v = base.get(k), m.get(k)
                ratios.append("%18s" % ("%.2fx" % (v / b) if b else "-"))
            print("  %-14s" % ("%s/%s" % (c, baseline))[:14] + "".join(ratios), file=out)
        out.flush()


def fmt(v):
    if isinstance(v, float):
        if v != v:
            return "nan"
        if abs(v) >= 1000:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    return str(v)


# ---- namespaces and veth pairs ------------------------------------------------

class Topo:
    """Namespaces joined point to point by veth pairs.

        t = Topo("fb")
        a, b = t.ns("gen"), t.ns("proxy")
        t.link(a, "198.18.1.1", b, "198.18.1.2")
    """

    def __init__(self, prefix="fbench"):
        self.prefix = "%s%d" % (prefix, os.getpid())
        self.names = []
        self.procs = []
        self._links = 0
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(130))

    def ns(self, name):
        full = "%s-%s" % (self.prefix, name)
        sh(["ip", "netns", "add", full])
        self.names.append(full)
        sh(["ip", "-n", full, "link", "set", "lo", "up"])
        return full

    def link(self, ns_a, addr_a, ns_b, addr_b, prefix=24, gro=False,
             mcast=(True, True)):
        """Returns the interface names (in a, in b).  mcast says on which
        side multicast (224.0.0.0/4) is routed out of this link."""
        self._links += 1
        ia, ib = "v%da" % self._links, "v%db" % self._links
        sh(["ip", "link", "add", ia, "netns", ns_a, "type", "veth",
            "peer", "name", ib, "netns", ns_b])
        for ns, ifn, addr, mc in ((ns_a, ia, addr_a, mcast[0]),
                                  (ns_b, ib, addr_b, mcast[1])):
            sh(["ip", "-n", ns, "addr", "add", "%s/%d" % (addr, prefix), "dev", ifn])
            sh(["ip", "-n", ns, "link", "set", ifn, "up"])
            if mc:
                sh(["ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", ifn],
                   check=False)
            if gro:
                sh(["ip", "netns", "exec", ns, "ethtool", "-K", ifn, "gro", "on"],
                   check=False)
        return ia, ib

    def argv(self, ns, cmd, cpu=None):
        pre = ["ip", "netns", "exec", ns]
        if cpu is not None:
            pre += ["taskset", "-c", str(cpu)]
        return pre + list(cmd)

    def spawn(self, ns, cmd, cpu=None, log=None, **kw):
        out = open(log, "ab") if log else subprocess.DEVNULL
        kw.setdefault("stdout", out)
        kw.setdefault("stderr", subprocess.STDOUT if log else subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(ns, cmd, cpu), stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def run(self, ns, cmd, cpu=None, timeout=600):
        return subprocess.run(self.argv(ns, cmd, cpu), capture_output=True,
                              text=True, timeout=timeout)

    def stop(self, p, sig=signal.SIGTERM, grace=5):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
                p.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        return p.returncode

    def close(self):
        for p in self.procs:
            self.stop(p, grace=2)
        self.procs = []
        for n in self.names:
            # Deleting a namespace does not stop what still runs in it.
            pids = sh(["ip", "netns", "pids", n], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "delete", n], capture_output=True)
        self.names = []


def gen_and_proxy(prefix, gen_addr, proxy_addr, clients, first, last):
    """A Topo with namespaces "gen" and "proxy" on one link (gen_addr and
    proxy_addr, /24); gen also holds the client addresses clients.first to
    clients.last (/32 each), which proxy reaches through gen_addr.
    Returns (topo, gen, proxy)."""
    topo = Topo(prefix)
    gen, proxy = topo.ns("gen"), topo.ns("proxy")
    ia, _ = topo.link(gen, gen_addr, proxy, proxy_addr)
    for i in range(first, last + 1):
        sh(["ip", "-n", gen, "addr", "add", "%s.%d/32" % (clients, i), "dev", ia])
    sh(["ip", "-n", proxy, "route", "add", "%s.0/24" % clients, "via", gen_addr])
    return topo, gen, proxy


def machine():
    """One line about this machine, for BENCHMARKS.md."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%s, %d CPUs, kernel %s" % (model, os.cpu_count(), os.uname().release)


def install(*pkgs):
    """Installs the Debian packages that are missing (the scripts must run on
    a fresh machine)."""
    missing = [p for p in pkgs if "install ok installed" not in sh(
        ["dpkg-query", "-W", "-f=${Status}", p], check=False).stdout]
    if not missing:
        return
    print("bench: installing %s" % " ".join(missing), file=sys.stderr)
    sh(["apt-get", "update", "-qq"])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env)


def udp_counters(ns):
    """The Udp: line of /proc/net/snmp inside namespace ns, as a dict."""
    out = sh(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"]).stdout
    rows = [l.split()[1:] for l in out.splitlines() if l.startswith("Udp:")]
    return {k: int(v) for k, v in zip(rows[0], rows[1])} if len(rows) == 2 else {}
