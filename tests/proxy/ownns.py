"""ownns.py — shared by the drivers that run in a network namespace of
their own: the driver starts itself again with "--inner" under `unshare
-rn` (a new user and network namespace: loopback only, nothing to clean
up), and the inner run makes that loopback carry multicast; and what the
namespace's kernel says: multicast memberships and bound UDP ports, for
waiting until a receiver is ready instead of sleeping, and the datagrams it
dropped for want of room, which no proxy ever saw; and the main() that
does the rerun."""
import os
import socket
import struct
import subprocess
import sys

SKIP = 77   # meson's "skipped"


def rerun_inside(script, args, **kw):
    """`script --inner ARGS...` in a user and network namespace of its own;
    its CompletedProcess (kw go to subprocess.run), or None, the reason
    printed, when no namespace can be made here."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        print("skip - cannot make a network namespace: %s" % probe.stderr.decode().strip(),
              flush=True)
        return None
    return subprocess.run(["unshare", "-rn", sys.executable, os.path.abspath(script),
                           "--inner"] + [str(a) for a in args], **kw)


def exit_inside(script, args):
    """The exit status of rerun_inside, SKIP when no namespace can be made."""
    r = rerun_inside(script, args)
    return SKIP if r is None else r.returncode


def main_inside(script, doc, inner, paths, defaults=()):
    """The main() of a driver that runs itself in a namespace of its own.
    Outside, `script PATH... [ARG...]` (paths PATHs, made absolute, then
    at most len(defaults) ARGs, the missing ones from defaults) reruns as
    `script --inner PATH... ARG...` inside and returns its exit status
    (SKIP without namespaces); inside, it returns inner(PATH..., ARG...);
    else it prints doc (the usage) and returns 2."""
    argv = sys.argv[1:]
    if argv[:1] == ["--inner"]:
        return inner(*argv[1:])
    if not paths <= len(argv) <= paths + len(defaults):
        print(doc, file=sys.stderr)
        return 2
    args = [os.path.abspath(p) for p in argv[:paths]] + argv[paths:]
    return exit_inside(script, args + list(defaults[len(args) - paths:]))


def loopback_multicast():
    """Inside: lo up, multicast on, and 224.0.0.0/4 routed to it, so proxies
    can join and send groups on loopback."""
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "set", "lo", "multicast", "on"],
                ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(cmd, check=True)


def igmp_users(text=None):
    """{IPv4 group: sockets that joined it, over all devices} from
    /proc/net/igmp: this namespace's, or text read from another's."""
    if text is None:
        with open("/proc/net/igmp") as f:
            text = f.read()
    users = {}
    for line in text.splitlines():
        f = line.split()
        if line.startswith("\t") and len(f) >= 2 and len(f[0]) == 8:
            group = socket.inet_ntoa(struct.pack("=I", int(f[0], 16)))
            users[group] = users.get(group, 0) + int(f[1])
    return users


def udp_ports():
    """{local port: UDP sockets bound to it} in this namespace (IPv4 and
    IPv6)."""
    ports = {}
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                port = int(line.split()[1].rsplit(":", 1)[1], 16)
                ports[port] = ports.get(port, 0) + 1
    return ports


def kernel_drops(snmp=None):
    """Datagrams the kernel has dropped for want of room so far: UDP
    InErrors (a full receive buffer, no memory) in this namespace, or in
    snmp (/proc/net/snmp text read from another), plus the loopback
    backlog's drops (/proc/net/softnet_stat: host-wide, so other traffic
    may add to them)."""
    if snmp is None:
        with open("/proc/net/snmp") as f:
            snmp = f.read()
    rows = [l.split()[1:] for l in snmp.splitlines() if l.startswith("Udp:")]
    udp = dict(zip(rows[0], map(int, rows[1])))
    with open("/proc/net/softnet_stat") as f:
        backlog = sum(int(l.split()[1], 16) for l in f)
    return udp["InErrors"] + backlog
