#!/usr/bin/env python3
"""check_system_headers.py ROOT: only src/engine includes liburing.h, only
src/crypto includes wolfSSL headers, and only src/base calls getaddrinfo,
getnameinfo or inet_pton/inet_aton/inet_addr (the one set of address
helpers; in src/ and include/, tools included; tests may use them directly). Prints offenders, "N passed, N failed"."""
import os, re, sys

RULES = [  # (what, include pattern, the only directory allowed)
    ('liburing', re.compile(r'^\s*#\s*include\s*[<"]liburing(\.h|/)', re.M), 'src/engine/'),
    ('wolfSSL', re.compile(r'^\s*#\s*include\s*[<"]wolfssl/', re.M), 'src/crypto/'),
    ('getaddrinfo/getnameinfo', re.compile(r'\bget(addr|name)info\s*\('), 'src/base/'),
    ('inet_pton/inet_aton/inet_addr', re.compile(r'\binet_(pton|aton|addr)\s*\('), 'src/base/'),
]

def main():
    root = sys.argv[1]
    files = []
    for top in ('src', 'include'):
        for d, _, names in os.walk(os.path.join(root, top)):
            files += [os.path.join(d, n) for n in names if n.endswith(('.c', '.h'))]
    passed = failed = 0
    for what, pat, allowed in RULES:
        bad = []
        for f in files:
            rel = os.path.relpath(f, root)
            if rel.startswith(allowed):
                continue
            with open(f, errors='replace') as fh:
                if pat.search(fh.read()):
                    bad.append(rel)
        if bad:
            failed += 1
            print(f'FAIL: only {allowed} may use {what}: ' + ' '.join(sorted(bad)))
        else:
            passed += 1
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0

sys.exit(main())
