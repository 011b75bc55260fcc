#!/usr/bin/env python3
"""test_crypto_cli.py — checks src/crypto against independent peers: keys it
writes are read by uftp_keymgt and openssl with the same fingerprint, keys
they write are read by ferry with the same fingerprint, signatures, RSA
encryption, ECDH, ciphers and uftp's PRF against Python's cryptography.
Usage: test_crypto_cli.py PATH_TO_CRYPTO_TOOL"""

import hashlib
import hmac
import os
import re
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ftp"))
from ftpd import Checks  # noqa: E402

TOOL = sys.argv[1]
checks = Checks()
check = checks.check
HASHES = {2: hashes.SHA1, 3: hashes.SHA256, 4: hashes.SHA384, 5: hashes.SHA512}
PYHASH = {1: "md5", 2: "sha1", 3: "sha256", 4: "sha384", 5: "sha512"}


def tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout.strip()


def keymgt(path):
    """uftp_keymgt's view of a key file: ("RSA", bits) or ("ECDSA", curve), fp."""
    r = subprocess.run(["uftp_keymgt", path], capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    m = re.search(r": RSA, (\d+) bits, fingerprint: ([0-9A-F:]{59})", out)
    if m:
        return ("RSA", m.group(1)), m.group(2)
    m = re.search(r": ECDSA, curve (\S+), fingerprint: ([0-9A-F:]{59})", out)
    return (("ECDSA", m.group(1)), m.group(2)) if m else (None, out)


def ours(path):
    rc, out = tool("show", path)
    m = re.search(r"Loaded (\d+) bit RSA key with fingerprint (\S+)", out)
    if m:
        return ("RSA", m.group(1)), m.group(2)
    m = re.search(r"Loaded ECDSA key with curve (\S+) and fingerprint (\S+)", out)
    return (("ECDSA", m.group(1)), m.group(2)) if m else (None, out)


def load_pub(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None).public_key()


def ec_der(sig):
    """uftp's rlen, slen, r, s -> DER for cryptography."""
    rl, sl = int.from_bytes(sig[0:2], "big"), int.from_bytes(sig[2:4], "big")
    r = int.from_bytes(sig[4:4 + rl], "big")
    s = int.from_bytes(sig[4 + rl:4 + rl + sl], "big")
    return utils.encode_dss_signature(r, s)


def verify_py(pub, hashtype, msg, sig):
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(ec_der(sig), msg, ec.ECDSA(HASHES[hashtype]()))
        else:
            pub.verify(sig, msg, padding.PKCS1v15(), HASHES[hashtype]())
        return True
    except Exception:      # noqa: BLE001 - any failure is a mismatch
        return False


def ec_blob_of(pub):
    raw = pub.public_bytes(serialization.Encoding.X962,
                           serialization.PublicFormat.UncompressedPoint)[1:]
    curve = {"secp256r1": 23, "secp384r1": 24, "secp521r1": 25,
             "secp224r1": 21, "secp256k1": 22}[pub.curve.name]
    blob = bytes([2, curve]) + len(raw).to_bytes(2, "big") + raw
    return blob + bytes(-len(blob) % 4)


def test_keys(d):
    specs = ["rsa:512", "rsa:1024", "rsa:2048", "ec:prime256v1", "ec:secp384r1",
             "ec:secp521r1", "ec:secp224r1", "ec:secp256k1"]
    for spec in specs:
        path = os.path.join(d, spec.replace(":", "_") + ".pem")
        rc, out = tool("gen", spec, path)
        check(f"gen {spec}", rc == 0, out)
        theirs, fp = keymgt(path)
        mine, myfp = ours(path)
        check(f"uftp_keymgt reads {spec}", theirs is not None and theirs == mine,
              f"{theirs} vs {mine}")
        check(f"fingerprint {spec}", fp == myfp, f"{fp} vs {myfp}")
        check(f"gen line {spec}", myfp in out, out)
        r = subprocess.run(["openssl", "pkey", "-in", path, "-check", "-noout"],
                           capture_output=True, text=True)
        check(f"openssl reads {spec}", r.returncode == 0, r.stderr)
        check(f"mode 0600 {spec}", (os.stat(path).st_mode & 0o777) == 0o600)
        rc, out = tool("gen", spec, path)
        check(f"no overwrite {spec}", rc == 3 and "exists" in out, out)
        check_signatures(spec, path)


def check_signatures(spec, path):
    pub = load_pub(path)
    msg = os.urandom(77)
    rc, blob = tool("blob", path)
    for h in (2, 3) if spec == "rsa:512" else (2, 3, 4, 5):
        rc, sig = tool("sign", str(h), path, msg.hex())
        check(f"sign {spec} h{h}", rc == 0 and verify_py(pub, h, msg, bytes.fromhex(sig)),
              sig)
    # and the other way: cryptography signs, ferry verifies from the blob
    priv = serialization.load_pem_private_key(open(path, "rb").read(), None)
    if isinstance(priv, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(priv.sign(msg, ec.ECDSA(hashes.SHA256())))
        n = (priv.curve.key_size + 7) // 8
        rb, sb = r.to_bytes((r.bit_length() + 7) // 8, "big"), s.to_bytes((s.bit_length() + 7) // 8, "big")
        sig = len(rb).to_bytes(2, "big") + len(sb).to_bytes(2, "big") + rb + sb
        sig += bytes(4 + (2 * n + 3) // 4 * 4 - len(sig))
        check(f"blob {spec}", bytes.fromhex(blob) == ec_blob_of(pub), blob)
    else:
        sig = priv.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    rc, out = tool("verify", "3", blob, msg.hex(), sig.hex())
    check(f"verify {spec}", out == "good", out)
    at = 4 if isinstance(priv, ec.EllipticCurvePrivateKey) else len(sig) - 1  # r, not padding
    bad = sig[:at] + bytes([sig[at] ^ 1]) + sig[at + 1:]
    rc, out = tool("verify", "3", blob, msg.hex(), bad.hex())
    check(f"verify tampered {spec}", out == "bad", out)
    if spec.startswith("rsa"):
        pm = os.urandom(48)
        rc, ct = tool("rsaenc", path, pm.hex())
        bits = int(spec[4:])
        pad = (padding.PKCS1v15() if bits < 768 else
               padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
        try:
            got = priv.decrypt(bytes.fromhex(ct), pad)
        except Exception as e:  # noqa: BLE001
            got = str(e)
        check(f"rsa encrypt {spec}", got == pm, str(got))
    else:
        peer = ec.generate_private_key(priv.curve)
        rc, out = tool("ecdh", path, ec_blob_of(peer.public_key()).hex())
        want = hashlib.sha1(peer.exchange(ec.ECDH(), priv.public_key())).hexdigest()
        check(f"ecdh {spec}", out == want, f"{out} vs {want}")


def test_foreign_keys(d):
    """Keys made by uftp_keymgt and by openssl (PKCS#8 too)."""
    made = []
    for spec in ["rsa:512", "rsa:1024", "ec:prime256v1", "ec:secp384r1", "ec:secp521r1"]:
        p = os.path.join(d, "keymgt_" + spec.replace(":", "_") + ".pem")
        subprocess.run(["uftp_keymgt", "-g", spec, p], capture_output=True, timeout=60)
        made.append(p)
    for args, name in [(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], "p8rsa"),
                       (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "p8ec"),
                       (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-pkeyopt", "ec_param_enc:named_curve"], "p8ec256")]:
        p = os.path.join(d, name + ".pem")
        subprocess.run(["openssl", "genpkey", *args, "-out", p], capture_output=True)
        made.append(p)
    p = os.path.join(d, "trad_ec.pem")
    subprocess.run(["openssl", "ecparam", "-name", "secp521r1", "-genkey", "-noout",
                    "-out", p], capture_output=True)
    made.append(p)
    for p in made:
        theirs, fp = keymgt(p)
        mine, myfp = ours(p)
        check(f"read {os.path.basename(p)}", theirs is not None and (theirs, fp) == (mine, myfp),
              f"{theirs} {fp} vs {mine} {myfp}")


def test_rsa4096(d):
    """RSA-4096 (uftp_keymgt 4.10.2 itself overflows its 264-byte key blob
    buffer on such a key, so only OpenSSL and cryptography check ours)."""
    p = os.path.join(d, "rsa4096.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:4096", "-out", p], capture_output=True, check=True)
    mine, fp = ours(p)
    pub = load_pub(p)
    n = pub.public_numbers().n.to_bytes(512, "big")
    blob = bytes([1, 0]) + (512).to_bytes(2, "big") + (65537).to_bytes(4, "big") + n
    want = ":".join("%02X" % b for b in hashlib.sha1(blob).digest())
    check("read rsa4096", mine == ("RSA", "4096") and fp == want, "%s %s vs %s" % (mine, fp, want))
    msg = os.urandom(100)
    rc, sig = tool("sign", "5", p, msg.hex())
    check("sign rsa4096 sha512", rc == 0 and verify_py(pub, 5, msg, bytes.fromhex(sig)), sig[:40])


def test_bad_files(d):
    ed = os.path.join(d, "ed.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", ed],
                   capture_output=True)
    enc = os.path.join(d, "enc.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:x", "-out", enc],
                   capture_output=True)
    cases = [(ed, "not an RSA or EC private key"), (enc, "encrypted"),
             (os.path.join(d, "missing.pem"), "No such file"), (d, "not a regular file")]
    for path, why in cases:
        rc, out = tool("show", path)
        check(f"refuse {os.path.basename(path)}", rc == 3 and why in out and path in out, out)
    for spec in ["ec:sect163k1", "ec:secp160r1", "ec:prime192v1"]:
        rc, out = tool("gen", spec, os.path.join(d, "x.pem"))
        check(f"unsupported {spec}", rc == 3 and "not supported" in out, out)


def uftp_prf(h, secret, label, seed, n):
    """An independent model of uftp 4.x's PRF, from its description."""
    def p_hash(name, sec, n):
        lseed, out = label + seed, b""
        a = hmac.new(sec, lseed, name).digest()
        while len(out) < n:
            block = hmac.new(sec, a + lseed, name).digest()
            out += block
            a = block
        return out[:n]
    if h != 2:
        return p_hash(PYHASH[h], secret, n)
    half = (len(secret) + 1) // 2
    md5, sha = p_hash("md5", secret[:half], n), p_hash("sha1", secret[len(secret) - half:], n)
    return bytes(x ^ y for x, y in zip(md5, sha))


def test_prf():
    for h in (2, 3, 4, 5):
        for slen in (20, 47, 48):
            secret, seed = os.urandom(slen), os.urandom(64)
            rc, out = tool("prf", str(h), secret.hex(), "key expansion", seed.hex(), "150")
            want = uftp_prf(h, secret, b"key expansion", seed, 150)
            check(f"uftp prf h{h} s{slen}", out == want.hex(), out)


def test_ciphers():
    for kt, klen in [(2, 24), (3, 16), (4, 32), (5, 16), (6, 32), (7, 16), (8, 32)]:
        key, aad = os.urandom(klen), os.urandom(20)
        for plen in (0, 1, 16, 47, 300):
            pt = os.urandom(plen)
            iv = os.urandom(8 if kt == 2 else 16 if kt <= 4 else 12)
            rc, out = tool("enc", str(kt), key.hex(), iv.hex(), aad.hex(), pt.hex())
            if kt == 2:
                from cryptography.hazmat.primitives import padding as sympad
                try:    # moved in newer cryptography; Debian 12 has the old place
                    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
                except ImportError:
                    TripleDES = algorithms.TripleDES
                p = sympad.PKCS7(64).padder()
                data = p.update(pt) + p.finalize()
                e = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
                want = e.update(data) + e.finalize()
            elif kt <= 4:
                from cryptography.hazmat.primitives import padding as sympad
                p = sympad.PKCS7(128).padder()
                data = p.update(pt) + p.finalize()
                e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
                want = e.update(data) + e.finalize()
            elif kt <= 6:
                want = AESGCM(key).encrypt(iv, pt, aad)
            else:
                want = AESCCM(key, tag_length=16).encrypt(iv, pt, aad)
            check(f"cipher {kt} len {plen}", out == want.hex(), f"{out} vs {want.hex()}")


def main():
    if not shutil.which("uftp_keymgt") or not shutil.which("openssl"):
        print("uftp_keymgt or openssl missing: skipped")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as d:
        test_keys(d)
        test_foreign_keys(d)
        test_rsa4096(d)
        test_bad_files(d)
    test_prf()
    test_ciphers()
    checks.finish()


main()
