#!/usr/bin/env python3
"""check_includes.py INCLUDE_DIR MOD=USES... -- CC...: compiles a two-line
file for every (module, module header) pair with the flags that module's
library gets (-DFERRY_MODULE -DFERRY_USES_<X>) and checks that exactly the
allowed includes compile: a forbidden include must fail with the header's
#error. Prints one line per failure and "N passed, N failed"."""
import os, subprocess, sys, tempfile

HEADERS = {'base': 'base', 'engine': 'engine', 'uftp': 'uftp', 'crypto': 'crypto',
           'proxy': 'proxy', 'ftp': 'ftp', 'daemon': 'daemon', 'config': 'config'}

def main():
    inc = sys.argv[1]
    sep = sys.argv.index('--')
    graph = {}
    for item in sys.argv[2:sep]:
        m, _, uses = item.partition('=')
        graph[m] = [u for u in uses.split(',') if u]
    cc = sys.argv[sep + 1:]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 't.c')
        for mod, uses in sorted(graph.items()):
            flags = ['-DFERRY_MODULE', '-DFERRY_USES_' + mod.upper()] + \
                    ['-DFERRY_USES_' + u.upper() for u in uses]
            for name, hdr in sorted(HEADERS.items()):
                path = os.path.join(inc, 'ferry', hdr + '.h')
                if not os.path.exists(path):
                    continue
                allowed = name == mod or name in uses
                with open(src, 'w') as f:
                    f.write(f'#include "ferry/{hdr}.h"\nint layers_probe;\n')
                r = subprocess.run(cc + ['-std=gnu17', '-D_GNU_SOURCE', '-fsyntax-only',
                                         '-I', inc] + flags + [src],
                                   capture_output=True, text=True)
                ok = (r.returncode == 0) if allowed else \
                     (r.returncode != 0 and '#error' in r.stderr)
                if ok:
                    passed += 1
                else:
                    failed += 1
                    what = 'may include' if allowed else 'must not include'
                    print(f'FAIL: {mod} {what} ferry/{hdr}.h, but the compiler '
                          f'{"failed" if r.returncode else "accepted it"}')
                    print(r.stderr.strip()[:2000])
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or not passed else 0

sys.exit(main())
