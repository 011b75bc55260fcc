"""test_single_port.py — single port for real: ferryd in a network namespace
whose nftables input chain lets only the FTP control port through. ferry-ftp
mirrors a tree both ways over SPSV, while PASV and EPSV data connections
cannot get in; plus ferry-ftp's other commands and exit codes."""
import filecmp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ftpd import (Checks, Ferryd, control_port_rules, crypt_hash, make_tree, netns_pair,  # noqa: E402
                  same_tree, tempdir)

ferryd_bin, ferry_ftp = sys.argv[1], sys.argv[2]
t = Checks()
check = t.check
SRV = CLI = None        # the namespaces' names, once main() made them
SRV_IP, CLI_IP, PORT = "198.18.50.1", "198.18.50.2", 2121
PW = "single-port"


def client(*args, timeout=120, opts=()):
    return subprocess.run(["ip", "netns", "exec", CLI, ferry_ftp, "-q", "-t", "5", "-u", f"alice:{PW}",
                           *opts, f"{SRV_IP}:{PORT}"] + list(args), capture_output=True, timeout=timeout)


def main():
    root = tempdir("ferry-1port-")
    work = tempdir("ferry-1port-work-")
    make_tree(os.path.join(root, "tree"), 3)
    global SRV, CLI
    d = lab = None
    try:
        lab, srv, cli = netns_pair(50, control_port_rules([PORT]))
        SRV, CLI = srv.ns, cli.ns
        check("netlab gave the addresses used here", (srv.addr(), cli.addr()) == (SRV_IP, CLI_IP))
        ftp = {"users": [{"name": "alice", "password": crypt_hash(PW), "root": root, "write": True}],
               "data_timeout": 3, "max_login_failures": 1000}
        d = Ferryd(ferryd_bin, ftp, workers=2, host=SRV_IP, port=PORT, netns=SRV, level=3)
        r = client("mirror", "/tree", f"{work}/down")
        check("ferry-ftp mirror over SPSV through the single open port: exit 0",
              r.returncode == 0, r.stderr.decode())
        check("downloaded tree equals the original byte for byte",
              r.returncode == 0 and same_tree(os.path.join(root, "tree"), f"{work}/down"))
        up = os.path.join(work, "up")
        make_tree(up, 4)
        r = client("mirror", "-R", up, "/uploaded")
        check("ferry-ftp mirror -R over SPSV: exit 0", r.returncode == 0, r.stderr.decode())
        check("uploaded tree equals the local one byte for byte",
              r.returncode == 0 and same_tree(up, os.path.join(root, "uploaded")))
        r = client("get", "/tree/file1", f"{work}/pasv.bin", timeout=60, opts=["--pasv"])
        check("PASV cannot get through the firewall: exit 6 (data connection)",
              r.returncode == 6, f"{r.returncode} {r.stderr.decode()}")
        r = client("ls", "/tree", timeout=60, opts=["--epsv"])
        check("EPSV cannot get through either: exit 6", r.returncode == 6, f"{r.returncode}")
        r = client("ls", "/tree")
        check("ferry-ftp ls over SPSV", r.returncode == 0 and b"file0" in r.stdout and b"sub" in r.stdout)
        r = client("get", "/tree/sub/file2", f"{work}/one")
        check("ferry-ftp get", r.returncode == 0 and filecmp.cmp(f"{work}/one", os.path.join(root, "tree/sub/file2"), False))
        r = client("put", f"{work}/one", "/put-one")
        check("ferry-ftp put", r.returncode == 0 and filecmp.cmp(f"{work}/one", os.path.join(root, "put-one"), False))
        r = client("get", "/missing", f"{work}/x")
        check("ferry-ftp: missing remote file: exit 4", r.returncode == 4, str(r.returncode))
        r = client("put", f"{work}/no-such-file", "/x")
        check("ferry-ftp: missing local file: exit 5", r.returncode == 5, str(r.returncode))
        r = subprocess.run(["ip", "netns", "exec", CLI, ferry_ftp, "-q", "-u", "alice:wrong",
                            f"{SRV_IP}:{PORT}", "ls"], capture_output=True, timeout=60)
        check("ferry-ftp: wrong password: exit 3", r.returncode == 3, str(r.returncode))
        r = subprocess.run(["ip", "netns", "exec", CLI, ferry_ftp, "-q", "-t", "2",
                            f"{SRV_IP}:2122", "ls"], capture_output=True, timeout=60)
        check("ferry-ftp: nothing listening: exit 2", r.returncode == 2, str(r.returncode))
        r = subprocess.run([ferry_ftp, "bogus"], capture_output=True)
        check("ferry-ftp: usage error: exit 1", r.returncode == 1)
        r = subprocess.run(["ip", "netns", "exec", CLI, ferry_ftp, "-p", "-u", f"alice:{PW}",
                            f"{SRV_IP}:{PORT}", "get", "/tree/sub/file1", f"{work}/p"],
                           capture_output=True, timeout=60)
        check("ferry-ftp -p draws a progress bar", r.returncode == 0 and b"%" in r.stderr, r.stderr[-200:])
    except Exception as e:  # noqa: BLE001
        t.raised("single-port test ran", e)
    finally:
        if d:
            t.stopped(d)
        if lab:
            lab.close()
    t.finish()


main()
