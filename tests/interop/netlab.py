"""netlab: throw-away test networks built from network namespaces.

A Lab owns one "switch" namespace holding a Linux bridge per network, and
one namespace per host.  Each host attaches to a network with a veth pair
whose far end is a bridge port in the switch namespace.  Routers are hosts
with ip_forward on and an address on several networks.  Addresses come
only from 198.18.0.0/15 (RFC 2544 benchmarking range): network N is
198.18.N.0/24, a router on it gets .1 and hosts get .2, .3, ...

Nothing here routes multicast: a 224.0.0.0/4 route is put on each host's
LAN-side interface, bridges have multicast snooping off, and routers only
forward unicast.  Multicast therefore never leaves the network it was sent
on; crossing networks is the job of the proxies under test.

Every namespace, process and /etc/netns entry a Lab makes is removed when
the `with` block ends, whatever the reason (exception, KeyboardInterrupt,
SystemExit).  cleanup_stale() removes leftovers of runs that were killed
before they could clean up (namespaces whose owning pid is gone).

Stdlib only; needs root, iproute2 and (for loss/NAT) nftables.
"""

import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import time

DEFAULT_PREFIX = "fry"
_NETNS_ETC = "/etc/netns"
_BASE = ipaddress.ip_network("198.18.0.0/15")
# IPv6 labs (Lab.ipv6_on) use the IPv6 benchmarking range of RFC 5180, the
# counterpart of 198.18.0.0/15: network N is 2001:2:0:N::/64 and a host's
# address ends in the last byte of its IPv4 address.
_BASE6 = ipaddress.ip_network("2001:2::/48")
_seq = itertools.count(1)


class NetlabError(RuntimeError):
    """The environment refused to build the requested network."""


def _sh(argv, check=True, timeout=30, input=None):
    """Run a command in the caller's namespace; raise NetlabError on failure."""
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise NetlabError("%s: exit %d: %s" % (" ".join(argv),
                          proc.returncode, proc.stderr.strip()))
    return proc


def _ns_list():
    proc = _sh(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def _kill_ns_processes(ns):
    """Kill what still runs inside namespace ns (by pid), then wait briefly."""
    proc = _sh(["ip", "netns", "pids", ns], check=False)
    pids = [int(p) for p in proc.stdout.split() if p.isdigit()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if os.path.exists("/proc/%d" % p)]
            time.sleep(0.05)
        if not pids:
            return


def _delete_ns(ns):
    _kill_ns_processes(ns)
    _sh(["ip", "netns", "del", ns], check=False)
    shutil.rmtree(os.path.join(_NETNS_ETC, ns), ignore_errors=True)


def cleanup_stale(prefix=DEFAULT_PREFIX):
    """Delete namespaces left by dead runs using this prefix.

    Names are <prefix><pid>x<seq>-<role>; a namespace is stale when no
    process <pid> exists any more, so concurrent live runs are untouched.
    Returns the list of namespaces removed.
    """
    pat = re.compile(r"^%s(\d+)x\d+-" % re.escape(prefix))
    removed = []
    for ns in _ns_list():
        m = pat.match(ns)
        if not m:
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and os.path.exists("/proc/%d" % pid):
            continue
        _delete_ns(ns)
        removed.append(ns)
    if os.path.isdir(_NETNS_ETC):
        for name in os.listdir(_NETNS_ETC):
            m = pat.match(name)
            if m and not os.path.exists("/proc/%s" % m.group(1)):
                shutil.rmtree(os.path.join(_NETNS_ETC, name), ignore_errors=True)
    return removed


class Network:
    """One L2 segment: a bridge in the switch namespace, one /24."""

    def __init__(self, lab, name, index):
        self.lab = lab
        self.name = name
        self.index = index
        self.subnet = ipaddress.ip_network("198.18.%d.0/24" % index)
        assert self.subnet.subnet_of(_BASE)
        self.bridge = "br-" + name
        self._next_host = 2
        self._ports = 0
        self.router_addr = None

    def next_port(self):
        self._ports += 1
        return "%s-p%d" % (self.name, self._ports)

    def alloc(self, router=False):
        if router:
            return str(self.subnet.network_address + 1)
        addr = self.subnet.network_address + self._next_host
        self._next_host += 1
        if addr >= self.subnet.broadcast_address:
            raise NetlabError("network %s is full" % self.name)
        return str(addr)


class Host:
    """A network namespace standing for one machine."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        self.ns = "%s-%s" % (lab.id, name)
        self.ifaces = {}        # ifname -> (Network, address)
        self.addrs6 = {}        # ifname -> IPv6 address (Lab.ipv6_on)

    # -- addressing -------------------------------------------------
    def addr(self, net=None):
        """This host's address on net (a Network or its name); the first if None."""
        for _ifname, (n, a) in self.ifaces.items():
            if net is None or n is net or n.name == net:
                return a
        raise KeyError("%s has no address on %s" % (self.name, net))

    def addr6(self, net=None):
        """This host's IPv6 address on net (the first if None)."""
        for ifname, (n, _a) in self.ifaces.items():
            if (net is None or n is net or n.name == net) and ifname in self.addrs6:
                return self.addrs6[ifname]
        raise KeyError("%s has no IPv6 address on %s" % (self.name, net))

    def ifname(self, net):
        for ifname, (n, _a) in self.ifaces.items():
            if n is net or n.name == net:
                return ifname
        raise KeyError("%s is not on %s" % (self.name, net))

    # -- commands ---------------------------------------------------
    def argv(self, cmd):
        return ["ip", "netns", "exec", self.ns] + list(cmd)

    def ip(self, *args):
        return _sh(["ip", "-n", self.ns] + list(args))

    def run(self, cmd, timeout=60, check=False, **kw):
        """Run cmd (a list) in this host; returns CompletedProcess.

        Raises subprocess.TimeoutExpired (after killing the whole process
        group) if it runs past timeout seconds.
        """
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        proc = subprocess.Popen(self.argv(cmd), start_new_session=True, **kw)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise
        except BaseException:
            _kill_group(proc)
            raise
        res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and res.returncode != 0:
            raise NetlabError("%s on %s: exit %d: %s" % (
                " ".join(cmd), self.name, res.returncode, (err or "").strip()))
        return res

    def spawn(self, cmd, log=None, **kw):
        """Start cmd (a list) in the background; it is killed at teardown.

        With log=path, stdout and stderr both go to that file.
        """
        if log is not None:
            fh = open(log, "ab")
            kw.setdefault("stdout", fh)
            kw.setdefault("stderr", subprocess.STDOUT)
        else:
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
        kw.setdefault("stdin", subprocess.DEVNULL)
        try:
            proc = subprocess.Popen(self.argv(cmd), start_new_session=True, **kw)
        finally:
            if log is not None:
                fh.close()
        self.lab._procs.append(proc)
        return proc

    def sysctl(self, key, value):
        _sh(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
             "%s=%s" % (key, value)])

    def nft(self, ruleset):
        """Load an nftables ruleset (text) into this host's namespace."""
        _sh(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=ruleset)

    def __repr__(self):
        return "<Host %s %s>" % (self.name, self.ifaces)


def _kill_group(proc, grace=2.0):
    """Stop a Popen we started (its own session): TERM, then KILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Lab:
    """A set of namespaces that exists for the duration of a `with` block."""

    def __init__(self, prefix=DEFAULT_PREFIX):
        self.prefix = prefix
        self.id = "%s%dx%d" % (prefix, os.getpid(), next(_seq))
        self.switch = None
        self.hosts = {}
        self.nets = {}
        self._procs = []
        self._namespaces = []
        self._net_index = itertools.count(1)
        self.ipv6 = False

    # -- lifecycle --------------------------------------------------
    def __enter__(self):
        try:
            self.switch = self._make_ns("switch")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def processes(self):
        """The Popen objects spawned in this lab so far."""
        return list(self._procs)

    def close(self):
        """Kill every spawned process and delete every namespace. Idempotent."""
        # Signals during teardown must not leave namespaces behind.
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, signal.SIG_IGN)
            except ValueError:          # not the main thread
                pass
        try:
            for proc in self._procs:
                _kill_group(proc)
            self._procs = []
            for ns in reversed(self._namespaces):
                _delete_ns(ns)
            self._namespaces = []
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _make_ns(self, name):
        host = Host(self, name)
        if host.ns in self._namespaces:
            raise NetlabError("duplicate host name %s" % name)
        _sh(["ip", "netns", "add", host.ns])
        self._namespaces.append(host.ns)
        # Name lookups inside the namespace see only lab hosts, never a
        # real resolver (ip netns exec bind-mounts these files over /etc).
        etc = os.path.join(_NETNS_ETC, host.ns)
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "resolv.conf"), "w") as fh:
            fh.write("# netlab: no resolver\noptions timeout:1 attempts:1\n")
        self._write_hosts(etc)
        host.ip("link", "set", "lo", "up")
        for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"):
            host.sysctl(key, 0)
        off = 0 if self.ipv6 and name != "switch" else 1
        host.sysctl("net.ipv6.conf.all.disable_ipv6", off)
        host.sysctl("net.ipv6.conf.default.disable_ipv6", off)
        host.sysctl("net.ipv4.icmp_echo_ignore_broadcasts", 0)
        return host

    def _write_hosts(self, etc):
        lines = ["127.0.0.1 localhost"]
        for h in self.hosts.values():
            for _n, a in h.ifaces.values():
                lines.append("%s %s" % (a, h.name))
        with open(os.path.join(etc, "hosts"), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def _refresh_hosts_files(self):
        for h in list(self.hosts.values()):
            self._write_hosts(os.path.join(_NETNS_ETC, h.ns))

    # -- building ---------------------------------------------------
    def ipv6_on(self):
        """Hosts made from now on also get IPv6 (2001:2:0:N::x/64, no DAD,
        router advertisements ignored); call before adding hosts."""
        self.ipv6 = True

    def network(self, name, index=None):
        """Add an L2 network (a bridge in the switch, snooping off)."""
        if name in self.nets:
            raise NetlabError("duplicate network %s" % name)
        if len(name) > 8:
            raise NetlabError("network name %s too long (max 8)" % name)
        net = Network(self, name, index if index is not None else next(self._net_index))
        sw = self.switch
        sw.ip("link", "add", net.bridge, "type", "bridge")
        sw.ip("link", "set", net.bridge, "type", "bridge", "mcast_snooping", "0")
        sw.ip("link", "set", net.bridge, "up")
        self.nets[name] = net
        return net

    def host(self, name, *nets, lan=None):
        """Add a host attached to each of nets (eth0, eth1, ... in order).

        lan names the network whose interface carries the 224.0.0.0/4 route
        (default: the first).  Returns the Host.
        """
        if name in self.hosts:
            raise NetlabError("duplicate host %s" % name)
        host = self._make_ns(name)
        self.hosts[name] = host
        for net in nets:
            self.attach(host, net)
        if nets:
            lan_net = lan if lan is not None else nets[0]
            host.ip("route", "add", "224.0.0.0/4", "dev", host.ifname(lan_net))
        self._refresh_hosts_files()
        return host

    def attach(self, host, net, router=False, prefixroute=True, addr=None):
        """Connect host to net with a new veth; returns the address.

        prefixroute=False gives the address as a /32, so unicast to the
        rest of net is not on-link (it follows the host's routes); the
        interface still sends and receives multicast.  addr reuses an
        address the host already has elsewhere (implies prefixroute=False).
        """
        if isinstance(net, str):
            net = self.nets[net]
        ifname = "eth%d" % len(host.ifaces)
        port = net.next_port()
        self.switch.ip("link", "add", port, "type", "veth",
                       "peer", "name", ifname, "netns", host.ns)
        self.switch.ip("link", "set", port, "master", net.bridge)
        self.switch.ip("link", "set", port, "up")
        if addr is None:
            addr = net.alloc(router=router)
        else:
            prefixroute = False
        plen = net.subnet.prefixlen if prefixroute else 32
        host.ip("addr", "add", "%s/%d" % (addr, plen), "dev", ifname)
        if self.ipv6:
            host.sysctl("net.ipv6.conf.%s.accept_ra" % ifname, 0)
            a6 = ipaddress.ip_address("2001:2:0:%x::%x" % (
                net.index, int(addr.split(".")[-1])))
            assert a6 in _BASE6
            host.ip("-6", "addr", "add", "%s/%d" % (a6, 64 if prefixroute else 128),
                    "dev", ifname, "nodad")
            host.addrs6[ifname] = str(a6)
        host.ip("link", "set", ifname, "up")
        host.ifaces[ifname] = (net, addr)
        if router:
            net.router_addr = addr
        self._refresh_hosts_files()
        return addr

    def router(self, name, *nets, nat_out=None, nat_random=False):
        """Add a router (.1 on each of nets) forwarding unicast only.

        nat_out: a network on whose interface outgoing traffic is
        masqueraded (hosts behind the router are NAT'ed towards it).
        nat_random: every new mapping gets a random source port (as many
        carrier NATs do), so a flushed conntrack entry comes back as a
        different address:port.
        """
        if name in self.hosts:
            raise NetlabError("duplicate host %s" % name)
        host = self._make_ns(name)
        self.hosts[name] = host
        for net in nets:
            self.attach(host, net, router=True)
        host.sysctl("net.ipv4.ip_forward", 1)
        host.sysctl("net.ipv4.conf.all.send_redirects", 0)
        if nat_out is not None:
            out = host.ifname(nat_out)
            host.nft("table ip netlab_nat {\n"
                     " chain post { type nat hook postrouting priority 100;\n"
                     "  oifname \"%s\" masquerade%s; }\n}\n" % (
                         out, " random" if nat_random else ""))
        self._refresh_hosts_files()
        return host

    def conntrack_flush_udp(self, host):
        """Forget every UDP mapping of the NAT on router host."""
        return host.run(["conntrack", "-D", "-p", "udp"], timeout=10)

    def route(self, host, dest, via):
        """Unicast route on host: dest (CIDR, or 'default') via a router Host/addr."""
        if isinstance(via, Host):
            # the router's address on a network host shares
            for _ifn, (net, _a) in host.ifaces.items():
                for _rif, (rnet, raddr) in via.ifaces.items():
                    if rnet is net:
                        host.ip("route", "replace", dest, "via", raddr)
                        return
            raise NetlabError("%s shares no network with %s" % (host.name, via.name))
        host.ip("route", "replace", dest, "via", via)

    def add_loss(self, net, percent):
        """Drop percent% of frames crossing net's bridge (each direction).

        Bridge-family nftables in the switch namespace, matching frames
        that enter from any port of net (ports are named <net>-p<n>);
        `meta ibrname` would be neater but needs CONFIG_NFT_BRIDGE_META.
        """
        if isinstance(net, str):
            net = self.nets[net]
        percent = int(percent)
        if not 0 < percent < 100:
            raise NetlabError("loss percent must be 1..99")
        self.switch.nft(
            "table bridge netlab_loss_%s {\n"
            " chain lossy { type filter hook forward priority 0;\n"
            "  iifname \"%s-p*\" numgen random mod 100 < %d counter drop; }\n"
            "}\n" % (net.name.replace("-", "_"), net.name, percent))

    def drop_first(self, net, match, tag):
        """Drop only the first frame crossing net's bridge that matches
        match (nftables expressions, e.g. "udp dport 1044 @th,64,16 0x4004").

        The first match puts its IPv4 source into a set and is dropped;
        later ones find their source there and pass.  tag names the
        table, netlab_drop_<tag>, whose counters drop_counts() reads.
        """
        name = self._net_name(net)
        self._drop_table(tag,
                         " set seen { type ipv4_addr; flags dynamic; }\n"
                         " chain first { type filter hook forward priority -1;\n"
                         "  iifname \"%s-p*\" %s ip saddr @seen counter accept\n"
                         "  iifname \"%s-p*\" %s add @seen { ip saddr } counter drop; }\n"
                         % (name, match, name, match))

    def drop_to(self, net, port, match, tag):
        """Drop every frame matching match (as drop_first) that net's
        bridge sends out of its port number port (hosts get ports 1, 2, ...
        in the order they join net); drop_counts(tag) reads (dropped,)."""
        self._drop_table(tag,
                         " chain to { type filter hook forward priority -1;\n"
                         "  oifname \"%s-p%d\" %s counter drop; }\n"
                         % (self._net_name(net), port, match))

    def _net_name(self, net):
        return net if isinstance(net, str) else net.name

    def _drop_table(self, tag, body):
        self.switch.nft("table bridge netlab_drop_%s {\n%s}\n" % (tag, body))

    def drop_counts(self, tag, n=2):
        """(passed, dropped) frames of drop_first(..., tag); (dropped,)
        of drop_to(..., tag) with n=1."""
        out = _sh(["ip", "netns", "exec", self.switch.ns, "nft", "list",
                   "table", "bridge", "netlab_drop_%s" % tag]).stdout
        counts = [int(k) for k in re.findall(r"counter packets (\d+)", out)]
        if len(counts) != n:
            raise NetlabError("drop_counts %s: cannot read\n%s" % (tag, out))
        return tuple(counts)

    def loss_counters(self):
        """The switch's nft ruleset text (shows drop counters)."""
        return _sh(["ip", "netns", "exec", self.switch.ns, "nft", "list",
                    "ruleset"], check=False).stdout
