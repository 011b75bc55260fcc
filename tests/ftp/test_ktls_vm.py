"""test_ktls_vm.py — the kernel TLS paths for PROT P transfers, run for real:
a KVM guest on Debian's own 6.1 kernel (whose net/tls/tls.ko the host may
lack) boots an initramfs built here from busybox, the built ferryd and
ferry-ftp, curl, openssl, their shared libraries and the kernel's tls and
crypto modules. In the guest ferryd runs with ftp.tls.ktls "required" and
serves PROT P downloads to ferry-ftp (whole file, resume with REST, an
empty file) and to curl (OpenSSL: every version and cipher kTLS takes),
and takes PROT P uploads from both (curl: each version and cipher, APPE;
ferry-ftp over EPSV and SPSV); bytes are compared, /metrics and the
kernel's /proc/net/tls_stat must show the kernel sealed and opened them.
An upload cut without close_notify after the hand-over gets 426 and
leaves nothing in place, and so does one whose client sends a TLS 1.3
KeyUpdate (openssl s_client) the kernel cannot follow. The guest prints
its checks on the serial console and powers off; this driver prints them
and the total.

Exit 77 (skipped, with the reason) when /dev/kvm cannot be used. The
kernel package is fetched with apt-get download into the build directory
once and kept there (argv[3])."""
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import Checks, crypt_hash, tempdir  # noqa: E402

ferryd_bin, ferry_ftp_bin, cache_root = sys.argv[1], sys.argv[2], sys.argv[3]
PW = "ktls-vm-s3cret"
KVM_TIMEOUT = 120           # the whole guest run under KVM (normally < 30 s)
TCG_TIMEOUT = 840           # on the emulated CPU (uploads too: 113-244 s seen)
FIRST_LINE = 25             # the guest's first line under KVM, at the latest
FIRST_LINE_TCG = 180        # and on the emulated CPU of a loaded host

# Modules the guest loads (with what they depend on, from .modinfo): TLS
# and the AEADs kTLS asks the crypto API for (the kernel cannot autoload
# them: there is no modprobe with a modules.dep in the guest). The x86
# ones are optional: they need the CPU's AES-NI/PCLMUL/AVX.
MODULES = ["net/tls/tls.ko", "crypto/ctr.ko", "crypto/gcm.ko", "crypto/ghash-generic.ko",
           "crypto/chacha20poly1305.ko", "crypto/chacha_generic.ko",
           "crypto/poly1305_generic.ko"]
OPTIONAL = ["arch/x86/crypto/aesni-intel.ko", "arch/x86/crypto/ghash-clmulni-intel.ko",
            "arch/x86/crypto/chacha-x86_64.ko", "arch/x86/crypto/poly1305-x86_64.ko"]


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


def kvm_usable():
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm does not exist (no KVM on this machine): the kTLS guest did not run"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable by this user: the kTLS guest did not run"
    return None


# ---- the kernel ---------------------------------------------------------------

def kernel_package():
    """linux-image-6.1.0-N-amd64, what linux-image-amd64 depends on."""
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*)", out)
    if not m:
        raise RuntimeError(f"apt-cache depends linux-image-amd64 names no kernel: {out}")
    return m.group(1)


def fetch_kernel():
    """The unpacked vmlinuz and modules (kept in the build directory)."""
    pkg = kernel_package()
    dest = os.path.join(cache_root, "ktls-vm-kernel", pkg)
    if os.path.exists(os.path.join(dest, ".unpacked")):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dl = tempdir("ferry-ktls-vm-deb-")
    os.chmod(dl, 0o777)                  # apt-get download drops to _apt
    subprocess.run(["apt-get", "download", "-q", pkg], cwd=dl, check=True,
                   stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(dl, pkg + "_*.deb"))[0]
    os.makedirs(dest)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest, "--wildcards", "./boot/vmlinuz-*",
                    "./lib/modules/*/kernel/net/tls/*", "./lib/modules/*/kernel/crypto/*",
                    "./lib/modules/*/kernel/arch/x86/crypto/*",
                    "./lib/modules/*/kernel/lib/crypto/*"], stdin=tar.stdout, check=True)
    tar.stdout.close()
    if tar.wait():
        raise RuntimeError("dpkg-deb --fsys-tarfile failed")
    os.remove(deb)
    open(os.path.join(dest, ".unpacked"), "w").close()
    return dest


def module_deps(path):
    """The depends= of a .ko's .modinfo."""
    data = open(path, "rb").read()
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    return [d.decode() for d in m.group(1).split(b",") if d] if m else []


def module_order(kdir):
    """(guest path, optional) for every module to load, dependencies first."""
    base = glob.glob(os.path.join(kdir, "lib/modules/*/kernel"))[0]
    by_name = {}
    for p in glob.glob(os.path.join(base, "**/*.ko"), recursive=True):
        by_name[os.path.basename(p)[:-3].replace("-", "_")] = p
    order, seen = [], set()

    def visit(p, optional):
        if p in seen:
            return
        seen.add(p)
        for d in module_deps(p):
            if d.replace("-", "_") not in by_name:
                raise RuntimeError(f"{p} needs {d}, not in the package")
            visit(by_name[d.replace("-", "_")], optional)
        order.append((p, optional))

    for rel in MODULES:
        visit(os.path.join(base, rel), False)
    for rel in OPTIONAL:
        visit(os.path.join(base, rel), True)
    return order


# ---- the initramfs (cpio "newc", written here: no cpio needed) -------------------

class Cpio:
    def __init__(self):
        self.out = bytearray()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b""):
        name = name.lstrip("/").encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
        self.ino += 1
        self.out += hdr.encode() + name
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def mkdir(self, path):
        path = path.rstrip("/")
        if not path or path in self.dirs:
            return
        self.mkdir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, stat.S_IFDIR | 0o755)

    def file(self, path, data, mode=0o644):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path, target):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def close(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.out)


def shared_libs(binaries):
    """Every library ldd lists for binaries (by the path the loader uses)."""
    libs = set()
    for b in binaries:
        out = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = re.search(r"(?:=> )?(/\S+) \(0x", line)
            if m:
                libs.add(m.group(1))
    return sorted(libs)


def make_cert(d):
    key, cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    return open(cert, "rb").read(), open(key, "rb").read()


def ferryd_conf(port, mport, mode):
    return ('{"workers": 2, "foreground": true, "allow_root": true, '
            '"log": {"level": 4}, "metrics": {"listen": "127.0.0.1:%d"}, '
            '"ftp": {"listen": ["127.0.0.1:%d"], "tls": {"cert": "/etc/ferry/c.pem", '
            '"key": "/etc/ferry/k.pem", "ktls": "%s"}, "users": [{"name": "alice", '
            '"password": "%s", "root": "/srv", "write": true}]}}'
            % (mport, port, mode, crypt_hash(PW)))


def build_initramfs(work, kdir):
    img = Cpio()
    for d in ("dev", "proc", "sys", "tmp", "srv", "bin", "sbin", "etc/ferry", "root"):
        img.mkdir(d)
    img.file("bin/busybox", open(shutil.which("busybox"), "rb").read(), 0o755)
    img.symlink("bin/sh", "busybox")
    curl, openssl = shutil.which("curl"), shutil.which("openssl")
    for b, guest in ((ferryd_bin, "bin/ferryd"), (ferry_ftp_bin, "bin/ferry-ftp"),
                     (curl, "bin/curl"), (openssl, "bin/openssl")):
        img.file(guest, open(b, "rb").read(), 0o755)
    if os.path.exists("/usr/lib/ssl/openssl.cnf"):
        img.file("usr/lib/ssl/openssl.cnf", open("/usr/lib/ssl/openssl.cnf", "rb").read())
    for lib in shared_libs([ferryd_bin, ferry_ftp_bin, curl, openssl]):
        img.file(lib, open(lib, "rb").read(), 0o755)
    mods = []
    for i, (p, optional) in enumerate(module_order(kdir)):
        name = "lib/ktls/%02d-%s%s" % (i, "opt-" if optional else "", os.path.basename(p))
        img.file(name, open(p, "rb").read())
        mods.append(name)
    cert, key = make_cert(work)
    img.file("etc/ferry/c.pem", cert)
    img.file("etc/ferry/k.pem", key, 0o600)
    img.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    img.file("etc/group", b"root:x:0:\n")
    img.file("etc/ferry/ktls.json", ferryd_conf(2121, 9100, "required").encode())
    img.file("etc/ferry/user.json", ferryd_conf(2122, 9101, "off").encode())
    guest = open(os.path.join(os.path.dirname(__file__), "ktls_vm_init.sh"), "rb").read()
    img.file("init", guest.replace(b"@PW@", PW.encode()), 0o755)
    path = os.path.join(work, "initrd.cpio")
    with open(path, "wb") as f:
        f.write(img.close())
    return path, len(mods)


# ---- the run -------------------------------------------------------------------------

def serial_text(log):
    return open(log, errors="replace").read().replace("\r", "") if os.path.exists(log) else ""


def boot(kdir, initrd, log, accel, timeout):
    """qemu until the guest powers off: (exit code, its output, seconds).
    The guest's first line must come within FIRST_LINE s, or it is given up
    (a nested KVM that never gets the kernel out of its decompressor). On
    the emulated CPU, booting and unpacking the initramfs alone took over
    25 s on a host loaded by other builds: there the bound is FIRST_LINE_TCG."""
    vmlinuz = glob.glob(os.path.join(kdir, "boot/vmlinuz-*"))[0]
    cpu = ["-enable-kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg", "-cpu", "max"]
    append = "console=ttyS0 quiet panic=-1" + ("" if accel == "kvm" else " ferry_figures=0")
    cmd = ["qemu-system-x86_64"] + cpu + [
        "-smp", "2", "-m", "768M", "-nodefaults", "-no-user-config", "-display", "none",
        "-monitor", "none", "-serial", "file:" + log, "-no-reboot", "-kernel", vmlinuz,
        "-initrd", initrd, "-append", append]
    first_line = FIRST_LINE if accel == "kvm" else FIRST_LINE_TCG
    start = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    while p.poll() is None and time.time() - start < timeout:
        if time.time() - start > first_line and not serial_text(log):
            break
        time.sleep(0.2)
    if p.poll() is None:
        p.kill()
    out, _ = p.communicate()
    return p.returncode, out.decode(errors="replace"), time.time() - start


def main():
    why = kvm_usable()
    if why:
        skip(why)
    t = Checks()
    check = t.check
    for tool in ("qemu-system-x86_64", "busybox", "curl", "openssl"):  # openssl: also the guest's
        if not shutil.which(tool):
            check(f"{tool} is installed (contrib/deps.sh TEST_DEPS)", False)
            t.finish()
    kdir = fetch_kernel()
    work = tempdir("ferry-ktls-vm-")
    initrd, nmods = build_initramfs(work, kdir)
    print(f"initramfs: {os.path.getsize(initrd) >> 20} MiB, {nmods} modules, kernel "
          f"{os.path.basename(kdir)}", flush=True)
    serial = os.path.join(work, "serial.log")
    accel = os.environ.get("FERRY_KTLS_VM_ACCEL", "kvm")
    rc, qemu_out, secs = boot(kdir, initrd, serial, accel,
                              KVM_TIMEOUT if accel == "kvm" else TCG_TIMEOUT)
    text = serial_text(serial)
    if accel == "kvm" and not text:
        # Seen on a host that offers /dev/kvm through nested virtualisation
        # without VMX in its CPU flags: the guest never leaves the kernel's
        # decompressor (and the ELF kernel booted directly, through PVH,
        # stops on "KVM internal error" emulating a lock cmpxchg16b). The
        # same guest on the emulated CPU proves the same kernel path,
        # slowly, without the figures.
        print(f"KVM: the guest printed nothing in {secs:.0f} s (this host's /dev/kvm "
              "does not run it); running it on qemu's emulated CPU (TCG) instead, "
              "without figures", flush=True)
        accel = "tcg"
        rc, qemu_out, secs = boot(kdir, initrd, serial, accel, TCG_TIMEOUT)
        text = serial_text(serial)
    print("---- guest serial console ----")
    print(text.rstrip())
    print("---- end of guest ----", flush=True)
    check(f"qemu ({accel}) ran and the guest powered off by itself ({secs:.1f} s, exit {rc})",
          rc == 0, qemu_out[-500:])
    m = re.findall(r"^guest: (\d+) passed, (\d+) failed$", text, re.M)
    check("the guest finished its checks (its final line)", m, text[-800:])
    passed = failed = 0
    for line in text.splitlines():
        if line.startswith("ok - "):
            passed += 1
        elif line.startswith("FAIL - "):
            failed += 1
    check(f"the guest's count matches its lines ({passed} ok, {failed} FAIL)",
          m and (int(m[-1][0]), int(m[-1][1])) == (passed, failed))
    check("the guest ran at least 20 checks", passed + failed >= 20, passed + failed)
    t.passed += passed
    t.failed += failed
    t.finish()


if __name__ == "__main__":
    main()
