#!/usr/bin/env python3
"""run: run the UFTP proxy interop scenarios against a proxy implementation.

    sudo python3 run.py [--proxy uftpproxyd|/path/to/ferryd] [--only NAME]...
                        [--list] [--keep]

Prints "ok - name (N s)" or "FAIL - name: reason" (followed by the tail of
every log of that scenario) per scenario, and last "N passed, N failed".
Exit status: 0 all passed, 1 any failure, 77 (meson's skip) when not root
or when ip, nft, uftp, uftpd or uftpproxyd are missing.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netlab      # noqa: E402
import scenarios   # noqa: E402

SKIP = 77
TAIL_LINES = 25


def tail(path, n=TAIL_LINES):
    try:
        with open(path, errors="replace") as fh:
            lines = fh.readlines()
    except OSError as e:
        return ["(%s)\n" % e]
    return lines[-n:]


def print_logs(env):
    for name in sorted(os.listdir(env.logs)):
        path = os.path.join(env.logs, name)
        print("  --- %s (last %d lines)" % (path, TAIL_LINES))
        for line in tail(path):
            print("  | " + line.rstrip("\n"))


def _sigterm(_sig, _frame):
    raise KeyboardInterrupt("SIGTERM")


def resolve_proxy(proxy):
    path = shutil.which(proxy) if os.sep not in proxy else proxy
    if not path or not os.access(path, os.X_OK):
        return None
    return os.path.abspath(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy", default="uftpproxyd",
                    help="proxy under test: uftpproxyd (default) or a path to ferryd")
    ap.add_argument("--only", action="append", default=[],
                    help="run only this scenario (repeatable)")
    ap.add_argument("--skip", action="append", default=[],
                    help="leave this scenario out, saying so (repeatable)")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (logs) even when all pass")
    args = ap.parse_args()

    names = [n for n, _f in scenarios.SCENARIOS]
    if args.list:
        for n, f in scenarios.SCENARIOS:
            doc = (f.__doc__ or "").strip().splitlines()
            print("%-26s %s" % (n, doc[0] if doc else ""))
        return 0
    unknown = [n for n in args.only + args.skip if n not in names]
    if unknown:
        print("unknown scenario(s): %s" % ", ".join(unknown), file=sys.stderr)
        return 2

    if os.geteuid() != 0:
        print("skip: interop tests need root (network namespaces)")
        return SKIP
    missing = [t for t in ("ip", "nft", "conntrack", "uftp", "uftpd", "uftp_keymgt", REAL) if not shutil.which(t)]
    if missing:
        print("skip: missing tools: %s" % ", ".join(missing))
        return SKIP
    proxy = resolve_proxy(args.proxy)
    if proxy is None:
        print("FAIL - setup: proxy %r not found or not executable" % args.proxy)
        print("0 passed, 1 failed")
        return 1

    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with &
    removed = netlab.cleanup_stale()
    if removed:
        print("# removed %d stale namespaces" % len(removed))
    workdir = tempfile.mkdtemp(prefix="ferry-interop-")
    print("# proxy under test: %s" % proxy)
    print("# logs: %s" % workdir)
    passed = failed = 0
    todo = [(n, f) for n, f in scenarios.SCENARIOS if not args.only or n in args.only]
    for name in args.skip:
        print("skip - %s (left out with --skip)" % name)
    todo = [(n, f) for n, f in todo if n not in args.skip]
    try:
        for name, func in todo:
            env = scenarios.Env(name, proxy, workdir)
            t0 = time.monotonic()
            try:
                with netlab.Lab() as lab:
                    env.lab = lab
                    func(env)
                    scenarios.check_alive(env)
                    scenarios.stop_proxies(env)
            except scenarios.Failure as e:
                failed += 1
                print("FAIL - %s: %s" % (name, e))
                print_logs(env)
            except (netlab.NetlabError, OSError) as e:
                failed += 1
                print("FAIL - %s: environment: %s" % (name, e))
                print_logs(env)
            else:
                passed += 1
                print("ok - %s (%.0f s)" % (name, time.monotonic() - t0))
                if not args.keep:
                    shutil.rmtree(env.dir, ignore_errors=True)
            sys.stdout.flush()
    except KeyboardInterrupt:
        failed += 1
        print("FAIL - interrupted")
    finally:
        if not failed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            # keep logs, drop bulky sources/received data
            for name, _f in todo:
                for sub in ("src", "recv"):
                    shutil.rmtree(os.path.join(workdir, name, sub), ignore_errors=True)
            print("# logs kept in %s" % workdir)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


REAL = scenarios.REAL_PROXY

if __name__ == "__main__":
    sys.exit(main())
