"""ownns.py — shared by the drivers that run in a network namespace of
their own: the driver starts itself again with "--inner" under `unshare
-rn` (a new user and network namespace: loopback only, nothing to clean
up), and the inner run makes that loopback carry multicast."""
import os
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


def loopback_multicast():
    """Inside: lo up, multicast on, and 224.0.0.0/4 routed to it, so proxies
    can join and send groups on loopback."""
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "set", "lo", "multicast", "on"],
                ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(cmd, check=True)
