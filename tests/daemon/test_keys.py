#!/usr/bin/env python3
"""test_keys.py — the proxy's own keys at start-up: -k, -K, -e, -r:curve and
the JSON "keys" object. Missing, unreadable or wrong-type key files and keys
that cannot be made end in exit 3 naming the file and the reason; good keys
are logged exactly as uftpproxyd 4.10.2 logs the same files.
Usage: test_keys.py PATH_TO_FERRYD"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ftp"))
from foreground import Proc, free_port  # noqa: E402
from ftpd import Checks  # noqa: E402

EXIT_CRYPTO = 3
checks = Checks()
LOADED_RE = re.compile(r"^\S+ \S+: (Loaded .* fingerprint [0-9A-F:]{59})$")


def loaded(proc):
    """The "Loaded ... key ... fingerprint" lines proc logged, as uftpproxyd
    words them."""
    return [m.group(1) for m in map(LOADED_RE.match, proc.lines) if m]


def ferryd_args(ferryd, role, extra):
    return [ferryd, "--allow-root", role, "-d", "-p", str(free_port()), "-U", "0x0A0B0C0D",
            "-x", "3"] + extra


def run_to_exit(argv, timeout=60):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stderr


def keymgt_fp(path):
    r = subprocess.run(["uftp_keymgt", path], capture_output=True, text=True, timeout=60)
    m = re.search(r"fingerprint: ([0-9A-F:]{59})", r.stdout + r.stderr)
    return m.group(1) if m else None


def test_refusals(ferryd, tmp):
    ed = os.path.join(tmp, "ed25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", ed],
                   capture_output=True, check=True)
    cert = os.path.join(tmp, "cert.pem")
    with open(cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIBIjANBgkq\n-----END CERTIFICATE-----\n")
    empty = os.path.join(tmp, "empty.pem")
    open(empty, "w").close()
    good = os.path.join(tmp, "good.pem")
    subprocess.run(["uftp_keymgt", "-g", "rsa:512", good], capture_output=True, check=True)
    cases = [
        ("missing -k file", "-c", ["-k", "/nonexistent.pem"], "/nonexistent.pem",
         "No such file or directory"),
        ("second -k file missing", "-c", ["-k", good + "," + tmp + "/nope.pem"],
         tmp + "/nope.pem", "No such file"),
        ("-k is a directory", "-c", ["-k", tmp], tmp, "not a regular file"),
        ("-k ed25519 key", "-c", ["-k", ed], ed, "not an RSA or EC private key"),
        ("-k certificate", "-c", ["-k", cert], cert, "no PEM private key"),
        ("-k empty file", "-r", ["-k", empty], empty, "no PEM private key"),
        ("-K over an existing -k file", "-c", ["-k", good, "-K", "rsa:512"], good,
         "exists"),
        ("-K curve wolfCrypt lacks", "-c", ["-K", "ec:sect163k1"], "sect163k1",
         "not supported"),
        ("-r:curve wolfCrypt lacks", "-r:secp160r1", [], "secp160r1", "not supported"),
        ("-e curve wolfCrypt lacks", "-r", ["-e", "prime192v1"], "prime192v1",
         "not supported"),
    ]
    for name, role, extra, what, why in cases:
        t0 = time.monotonic()
        rc, err = run_to_exit(ferryd_args(ferryd, role, extra))
        checks.check(name + ": exit 3", rc == EXIT_CRYPTO, "rc=%s %r" % (rc, err[-300:]))
        line = next((l for l in err.splitlines() if what in l and why in l), None)
        checks.check(name + ": names %s and why" % what, line is not None, err[-300:])
        checks.check(name + ": promptly", time.monotonic() - t0 < 30)
    # detached (no -d): the starting process still exits 3, the log says why
    log = os.path.join(tmp, "detached.log")
    argv = [a for a in ferryd_args(ferryd, "-c", ["-k", "/nonexistent.pem", "-L", log])
            if a != "-d"]
    rc, err = run_to_exit(argv)
    text = open(log).read() if os.path.exists(log) else ""
    checks.check("detached: exit 3 and the reason in the log",
                 rc == EXIT_CRYPTO and "/nonexistent.pem" in text,
                 "rc=%s %r" % (rc, text[-200:]))
    before = keymgt_fp(good)
    checks.check("an existing file is untouched", before is not None and keymgt_fp(good) == before)


def test_same_as_uftpproxyd(ferryd, tmp):
    """-k with keys from uftp_keymgt: the same lines as uftpproxyd logs."""
    files = []
    for spec in ("rsa:512", "rsa:1024", "ec:prime256v1", "ec:secp384r1", "ec:secp521r1"):
        p = os.path.join(tmp, "km_" + spec.replace(":", "_") + ".pem")
        subprocess.run(["uftp_keymgt", "-g", spec, p], capture_output=True, check=True)
        files.append(p)
    klist = ",".join(files)
    theirs = Proc(["uftpproxyd", "-c", "-d", "-p", str(free_port()), "-k", klist])
    try:
        theirs.wait_line(r"Loaded ECDSA key with curve secp521r1")
    finally:
        theirs.stop()
    ours = Proc(ferryd_args(ferryd, "-c", ["-k", klist]))
    try:
        started = ours.wait_line(r"ferryd .* started")
        checks.check("-k with 5 uftp_keymgt keys starts", started is not None, ours.lines[-3:])
    finally:
        ours.stop()
    checks.check("uftpproxyd logged 5 keys", len(loaded(theirs)) == 5, theirs.lines)
    checks.check("the same key lines as uftpproxyd", loaded(ours) == loaded(theirs),
                 "\n%s\nvs\n%s" % (loaded(ours), loaded(theirs)))


def test_generate(ferryd, tmp):
    a, b = os.path.join(tmp, "gen_a.pem"), os.path.join(tmp, "gen_b.pem")
    p = Proc(ferryd_args(ferryd, "-c", ["-K", "rsa:1024,ec:secp384r1", "-k", a + "," + b]))
    try:
        checks.check("-K with -k starts", p.wait_line(r"ferryd .* started") is not None,
                     p.lines[-3:])
    finally:
        p.stop()
    lines = loaded(p)
    checks.check("-K keys are logged",
                 len(lines) == 2 and "1024 bit RSA" in lines[0] and "secp384r1" in lines[1], lines)
    for path, line in zip((a, b), lines):
        checks.check("%s written 0600" % os.path.basename(path),
                     os.path.exists(path) and (os.stat(path).st_mode & 0o777) == 0o600)
        fp = keymgt_fp(path)
        checks.check("uftp_keymgt reads %s with the logged fingerprint"
                     % os.path.basename(path), fp is not None and line.endswith(fp),
                     "%s vs %s" % (fp, line))
    # read back with -k alone: the same fingerprints
    p = Proc(ferryd_args(ferryd, "-c", ["-k", a + "," + b]))
    try:
        p.wait_line(r"ferryd .* started")
    finally:
        p.stop()
    checks.check("-k reads back what -K wrote", loaded(p) == lines, loaded(p))
    # -K alone: nothing persisted
    before = set(os.listdir(tmp))
    p = Proc(ferryd_args(ferryd, "-c", ["-K", "ec:prime256v1"]))
    try:
        checks.check("-K alone starts", p.wait_line(r"ferryd .* started") is not None)
    finally:
        p.stop()
    checks.check("-K alone makes a key and writes nothing",
                 len(loaded(p)) == 1 and set(os.listdir(tmp)) == before, loaded(p))


def test_ephemeral_and_dh(ferryd):
    p = Proc(ferryd_args(ferryd, "-c", []))
    try:
        p.wait_line(r"ferryd .* started")
    finally:
        p.stop()
    checks.check("neither -k nor -K: an ephemeral 512 bit RSA key",
                 len(loaded(p)) == 1 and loaded(p)[0].startswith("Loaded 512 bit RSA key"),
                 loaded(p))
    for role, extra, curve in (("-r:secp521r1", [], "secp521r1"),
                               ("-r", ["-e", "prime256v1"], "prime256v1")):
        p = Proc(ferryd_args(ferryd, role, extra))
        try:
            line = p.wait_line(r"ECDH key on curve")
            p.wait_line(r"ferryd .* started")
        finally:
            p.stop()
        checks.check("%s %s: ECDH key on %s" % (role, " ".join(extra), curve),
                     line is not None and line.endswith(curve), p.lines[-4:])


def test_json(ferryd, tmp):
    a = os.path.join(tmp, "json_a.pem")
    conf = {"allow_root": True,
            "proxies": [{"name": "jc", "role": "client", "port": free_port(),
                         "uid": "0x0A0B0C0E",
                         "keys": {"generate": ["ec:prime256v1"], "files": [a]}}]}
    path = os.path.join(tmp, "keys.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    p = Proc([ferryd, "-f", path, "-d", "-x", "2"])
    try:
        checks.check("JSON keys.generate starts", p.wait_line(r"ferryd .* started") is not None,
                     p.lines[-3:])
    finally:
        p.stop()
    fp = keymgt_fp(a)
    checks.check("JSON keys.generate + files writes the logged key",
                 fp is not None and len(loaded(p)) == 1 and loaded(p)[0].endswith(fp),
                 loaded(p))
    rc, err = run_to_exit([ferryd, "-f", path, "-d"])
    checks.check("JSON: generating over an existing file exits 3",
                 rc == EXIT_CRYPTO and a in err and "exists" in err, err[-200:])
    conf["proxies"][0]["keys"] = {"files": [a + ".missing"]}
    with open(path, "w") as f:
        json.dump(conf, f)
    rc, err = run_to_exit([ferryd, "-f", path, "-d"])
    checks.check("JSON: a missing key file exits 3", rc == EXIT_CRYPTO and a + ".missing" in err,
                 err[-200:])


def main():
    if len(sys.argv) != 2:
        print("usage: test_keys.py PATH_TO_FERRYD", file=sys.stderr)
        sys.exit(2)
    if not shutil.which("uftp_keymgt") or not shutil.which("uftpproxyd"):
        print("uftp not installed: skipped")
        sys.exit(77)
    ferryd = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        test_refusals(ferryd, tmp)
        test_same_as_uftpproxyd(ferryd, tmp)
        test_generate(ferryd, tmp)
        test_ephemeral_and_dh(ferryd)
        test_json(ferryd, tmp)
    checks.finish()


main()
