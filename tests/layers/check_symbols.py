#!/usr/bin/env python3
"""check_symbols.py MOD=USES... -- MOD LIB...: every global symbol a
module's static library defines carries the module's prefix, and every
symbol of another module it calls belongs to a module it may use (so a
hand-written prototype cannot get around the header guards). Prints the
offenders and "N passed, N failed" (two cases per module library)."""
import subprocess, sys

PREFIX = {'base': 'fb_', 'engine': 'fe_', 'uftp': 'uftp_', 'crypto': 'crypto_',
          'proxy': 'proxy_', 'ftp': 'ftp_', 'gateway': 'gw_', 'daemon': 'daemon_'}


def owner(name):
    for mod, pre in PREFIX.items():
        if name.startswith(pre):
            return mod
    return None


def nm(lib, flag):
    r = subprocess.run(['nm', '-g', flag, lib], capture_output=True, text=True, check=True)
    names = set()
    for line in r.stdout.splitlines():
        f = line.split()
        if f and not line.endswith(':') and not f[-1].startswith(('__', '.')):
            names.add(f[-1])
    return names


def main():
    sep = sys.argv.index('--')
    graph = {}
    for item in sys.argv[1:sep]:
        m, _, uses = item.partition('=')
        graph[m] = {u for u in uses.split(',') if u}
    args = sys.argv[sep + 1:]
    passed = failed = 0
    for mod, lib in zip(args[0::2], args[1::2]):
        defined = nm(lib, '--defined-only')
        bad = sorted(n for n in defined if not n.startswith(PREFIX[mod]))
        if bad:
            failed += 1
            print(f'FAIL: {mod} ({lib}) exports {len(bad)} symbol(s) without '
                  f'"{PREFIX[mod]}": ' + ' '.join(bad))
        else:
            passed += 1
        used = nm(lib, '--undefined-only') - defined
        cross = sorted(n for n in used
                       if owner(n) not in (None, mod) and owner(n) not in graph.get(mod, ()))
        if cross:
            failed += 1
            print(f'FAIL: {mod} calls modules it may not use: ' +
                  ' '.join(f'{n} ({owner(n)})' for n in cross))
        else:
            passed += 1
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or not passed else 0


sys.exit(main())
