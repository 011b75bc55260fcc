#!/usr/bin/env python3
"""test_keys.py — the proxy's own keys at start-up: -k, -K, -e, -r:curve and
the JSON "keys" object. Missing, unreadable or wrong-type key files and keys
that cannot be made end in exit 3 naming the file and the reason; good keys
are logged exactly as uftpproxyd 4.10.2 logs the same files.
Usage: test_keys.py PATH_TO_FERRYD"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

EXIT_CRYPTO = 3
passed = failed = 0
LOADED_RE = re.compile(r"^\S+ \S+: (Loaded .* fingerprint [0-9A-F:]{59})$")


def check(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL %s: %s" % (name, detail), flush=True)


def free_port():
    for _ in range(200):
        port = random.randint(20000, 30000)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


class Proc:
    """A foreground daemon (ferryd -d or uftpproxyd -d), stderr collected."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_line(self, pattern, timeout=20):
        """The first line matching pattern, or None when the process ends or
        the time is up."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                self.reader.join(2)
                return next((l for l in self.lines if re.search(pattern, l)), None)
            time.sleep(0.05)
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.reader.join(2)

    def loaded(self):
        return [m.group(1) for m in map(LOADED_RE.match, self.lines) if m]


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
        check(rc == EXIT_CRYPTO, name + ": exit 3", "rc=%s %r" % (rc, err[-300:]))
        line = next((l for l in err.splitlines() if what in l and why in l), None)
        check(line is not None, name + ": names %s and why" % what, err[-300:])
        check(time.monotonic() - t0 < 30, name + ": promptly")
    # detached (no -d): the starting process still exits 3, the log says why
    log = os.path.join(tmp, "detached.log")
    argv = [a for a in ferryd_args(ferryd, "-c", ["-k", "/nonexistent.pem", "-L", log])
            if a != "-d"]
    rc, err = run_to_exit(argv)
    text = open(log).read() if os.path.exists(log) else ""
    check(rc == EXIT_CRYPTO and "/nonexistent.pem" in text,
          "detached: exit 3 and the reason in the log", "rc=%s %r" % (rc, text[-200:]))
    before = keymgt_fp(good)
    check(before is not None and keymgt_fp(good) == before, "an existing file is untouched")


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
        check(started is not None, "-k with 5 uftp_keymgt keys starts", ours.lines[-3:])
    finally:
        ours.stop()
    check(len(theirs.loaded()) == 5, "uftpproxyd logged 5 keys", theirs.lines)
    check(ours.loaded() == theirs.loaded(), "the same key lines as uftpproxyd",
          "\n%s\nvs\n%s" % (ours.loaded(), theirs.loaded()))


def test_generate(ferryd, tmp):
    a, b = os.path.join(tmp, "gen_a.pem"), os.path.join(tmp, "gen_b.pem")
    p = Proc(ferryd_args(ferryd, "-c", ["-K", "rsa:1024,ec:secp384r1", "-k", a + "," + b]))
    try:
        check(p.wait_line(r"ferryd .* started") is not None, "-K with -k starts",
              p.lines[-3:])
    finally:
        p.stop()
    lines = p.loaded()
    check(len(lines) == 2 and "1024 bit RSA" in lines[0] and "secp384r1" in lines[1],
          "-K keys are logged", lines)
    for path, line in zip((a, b), lines):
        check(os.path.exists(path) and (os.stat(path).st_mode & 0o777) == 0o600,
              "%s written 0600" % os.path.basename(path))
        fp = keymgt_fp(path)
        check(fp is not None and line.endswith(fp), "uftp_keymgt reads %s with the "
              "logged fingerprint" % os.path.basename(path), "%s vs %s" % (fp, line))
    # read back with -k alone: the same fingerprints
    p = Proc(ferryd_args(ferryd, "-c", ["-k", a + "," + b]))
    try:
        p.wait_line(r"ferryd .* started")
    finally:
        p.stop()
    check(p.loaded() == lines, "-k reads back what -K wrote", p.loaded())
    # -K alone: nothing persisted
    before = set(os.listdir(tmp))
    p = Proc(ferryd_args(ferryd, "-c", ["-K", "ec:prime256v1"]))
    try:
        check(p.wait_line(r"ferryd .* started") is not None, "-K alone starts")
    finally:
        p.stop()
    check(len(p.loaded()) == 1 and set(os.listdir(tmp)) == before,
          "-K alone makes a key and writes nothing", p.loaded())


def test_ephemeral_and_dh(ferryd):
    p = Proc(ferryd_args(ferryd, "-c", []))
    try:
        p.wait_line(r"ferryd .* started")
    finally:
        p.stop()
    check(len(p.loaded()) == 1 and p.loaded()[0].startswith("Loaded 512 bit RSA key"),
          "neither -k nor -K: an ephemeral 512 bit RSA key", p.loaded())
    for role, extra, curve in (("-r:secp521r1", [], "secp521r1"),
                               ("-r", ["-e", "prime256v1"], "prime256v1")):
        p = Proc(ferryd_args(ferryd, role, extra))
        try:
            line = p.wait_line(r"ECDH key on curve")
            p.wait_line(r"ferryd .* started")
        finally:
            p.stop()
        check(line is not None and line.endswith(curve),
              "%s %s: ECDH key on %s" % (role, " ".join(extra), curve), p.lines[-4:])


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
        check(p.wait_line(r"ferryd .* started") is not None, "JSON keys.generate starts",
              p.lines[-3:])
    finally:
        p.stop()
    fp = keymgt_fp(a)
    check(fp is not None and len(p.loaded()) == 1 and p.loaded()[0].endswith(fp),
          "JSON keys.generate + files writes the logged key", p.loaded())
    rc, err = run_to_exit([ferryd, "-f", path, "-d"])
    check(rc == EXIT_CRYPTO and a in err and "exists" in err,
          "JSON: generating over an existing file exits 3", err[-200:])
    conf["proxies"][0]["keys"] = {"files": [a + ".missing"]}
    with open(path, "w") as f:
        json.dump(conf, f)
    rc, err = run_to_exit([ferryd, "-f", path, "-d"])
    check(rc == EXIT_CRYPTO and a + ".missing" in err, "JSON: a missing key file exits 3",
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
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
