#!/usr/bin/env python3
"""Scale-out behind a real HAProxy: two ferryd instances behind one TCP
balancer port (balance source, send-proxy-v2), in a private network
namespace. Sixteen clients, each from its own address, mirror a tree over
SPSV through the balancer port: every byte compared, each client's real
address in the serving instance's log and transfer log, both instances
used; nftables keeps the clients off the instances' own addresses, so PASV
(whose data port is on the instance) fails where SPSV works. Then one
instance stops and every client's new session goes to the other. A PROXY
header from an address that is not a balancer is refused.

usage: test_haproxy.py FERRYD.  Root only (a private netns); else skip 77.
"""
import ftplib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftpd import Checks, Ferryd, recv_to_eof, tempdir, wait_greeting  # noqa: E402

BALANCER = "198.18.31.1"
BACKENDS = ["198.18.30.1", "198.18.30.2"]
CLIENTS = ["198.18.20.%d" % i for i in range(1, 17)]
OUTSIDER = "198.18.21.1"
PORT = 2121

HAPROXY_CFG = """
global
    maxconn 2000
    stats socket {stats} level operator
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend ftp
    bind {balancer}:{port}
    default_backend ferry
backend ferry
    balance source
    default-server send-proxy-v2 check check-send-proxy inter 200 fall 1 rise 1 source {balancer}
    server a {a}:{port}
    server b {b}:{port}
"""


def in_private_netns():
    if os.environ.get("FERRY_HAPROXY_NETNS") == "1":
        return
    if os.geteuid() != 0:
        print("SKIP: needs root for a private network namespace")
        sys.exit(77)
    if not shutil.which("haproxy"):
        print("SKIP: haproxy is not installed")
        sys.exit(77)
    env = dict(os.environ, FERRY_HAPROXY_NETNS="1")
    sys.exit(subprocess.run(["unshare", "-n", sys.executable] + sys.argv, env=env).returncode)


def setup_net():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in [BALANCER, OUTSIDER] + BACKENDS + CLIENTS:
        subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], check=True)
    # Clients reach the instances only through the balancer.
    rules = ("table inet t {\n chain out {\n type filter hook output priority 0;\n"
             " ip saddr 198.18.20.0/24 ip daddr 198.18.30.0/24 drop\n }\n}\n")
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)


def make_tree(root):
    files = {}
    for i, size in enumerate([0, 1, 1000, 65536, 300001, 2 << 20]):
        rel = "f%d.bin" % i if i % 2 else "sub/f%d.bin" % i
        files[rel] = os.urandom(size)
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return files


def spsv_data(ftp, src):
    """SPSV, then the DATACONN login on a new connection to the same port."""
    reply = ftp.sendcmd("SPSV")
    m = re.search(r"\((\w+):(\w+)\)", reply)
    if not m:
        raise ftplib.error_proto(reply)
    data = socket.create_connection((BALANCER, PORT), timeout=20, source_address=(src, 0))
    f = data.makefile("rb")

    def expect(code):
        line = f.readline().decode()
        if not line.startswith(code):
            raise ftplib.error_proto(line)
    expect("220")
    data.sendall(b"USER %s\r\n" % m.group(1).encode())
    expect("331")
    data.sendall(b"PASS %s\r\n" % m.group(2).encode())
    expect("200")
    return data, f


def fetch(ftp, src, path):
    data, f = spsv_data(ftp, src)
    ftp.putcmd("RETR " + path)
    resp = ftp.getresp()
    if not resp.startswith("150"):
        raise ftplib.error_reply(resp)
    body = f.read()
    data.close()
    end = ftp.getresp()
    if not end.startswith("226"):
        raise ftplib.error_reply(end)
    return body


def mirror(src, files, results, idx):
    try:
        ftp = ftplib.FTP(timeout=30, source_address=(src, 0))
        ftp.connect(BALANCER, PORT)
        ftp.login()
        ftp.voidcmd("TYPE I")
        got = {rel: fetch(ftp, src, "/" + rel) for rel in files}
        ftp.quit()
        results[idx] = all(got[rel] == files[rel] for rel in files)
    except Exception as e:  # noqa: BLE001 - reported as a failed client
        results[idx] = "%s: %r" % (src, e)


def run_clients(files):
    results = [None] * len(CLIENTS)
    threads = [threading.Thread(target=mirror, args=(c, files, results, i))
               for i, c in enumerate(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def served(inst):
    """Client addresses in an instance's transfer log."""
    try:
        with open(inst.xferlog) as f:
            return {line.split()[6] for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def wait_status(sock, server, want, deadline=10):
    """Polls HAProxy's stats socket until the server's status is `want`."""
    end = time.time() + deadline
    while time.time() < end:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            s.sendall(b"show stat\n")
            text = recv_to_eof(s)
        except OSError:
            text = b""
        finally:
            s.close()
        for line in text.decode(errors="replace").splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "ferry" and f[1] == server and f[17].startswith(want):
                return True
        time.sleep(0.05)
    return False


def main():
    in_private_netns()
    setup_net()
    c = Checks()
    root = tempdir("ferry-haproxy-root-")
    files = make_tree(root)
    insts = []
    for host in BACKENDS:
        xlog = os.path.join(tempdir("ferry-haproxy-x-"), "xferlog")
        inst = Ferryd(sys.argv[1], {"anonymous": {"root": root}, "xferlog": xlog,
                                    "proxy_protocol": [BALANCER]},
                      workers=2, host=host, port=PORT, level=3)
        inst.xferlog = xlog
        insts.append(inst)
    cfg = os.path.join(tempdir("ferry-haproxy-cfg-"), "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(HAPROXY_CFG.format(balancer=BALANCER, port=PORT, a=BACKENDS[0],
                                   b=BACKENDS[1], stats=cfg + ".sock"))
    hap = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        c.check("HAProxy's port greets with 220 (through a PROXY v2 header)",
                wait_greeting(BALANCER, PORT, src=CLIENTS[0]))
        results = run_clients(files)
        c.check("16 clients mirror the tree over SPSV through one balancer port, "
                "byte-identical", all(r is True for r in results),
                [r for r in results if r is not True])
        seen = [served(i) for i in insts]
        print("info: clients per instance: a %d, b %d" % (len(seen[0]), len(seen[1])))
        c.check("every client's real address is in a transfer log",
                seen[0] | seen[1] == set(CLIENTS), seen)
        c.check("the load is split across both instances",
                all(s for s in seen), [len(s) for s in seen])
        c.check("an instance's log names the client and the balancer",
                any(re.search(r"from 198\.18\.20\.\d+ via balancer 198\.18\.31\.1",
                              i.logtext()) for i in insts))
        try:
            ftp = ftplib.FTP(timeout=5, source_address=(CLIENTS[0], 0))
            ftp.connect(BALANCER, PORT)
            ftp.login()
            ftp.set_pasv(True)
            ftp.retrbinary("RETR /f1.bin", lambda b: None)
            pasv_ok = True
        except (OSError, ftplib.Error):
            pasv_ok = False
        c.check("PASV through the balancer fails (its port is on the instance)",
                not pasv_ok)
        # A PROXY header from anyone but the balancer is refused.
        with socket.create_connection((BACKENDS[0], PORT), timeout=5,
                                      source_address=(OUTSIDER, 0)) as s:
            fh = s.makefile("rb")
            fh.readline()
            s.sendall(b"PROXY TCP4 1.2.3.4 198.18.30.1 5555 2121\r\n")
            line = fh.readline().decode()
        c.check("a PROXY header from a non-balancer address is refused",
                line.startswith("421"), line)
        # One instance stops: new sessions all go to the other one.
        insts[0].stop()
        before = served(insts[1])
        c.check("HAProxy's health check marks the stopped instance down",
                wait_status(cfg + ".sock", "a", "DOWN"))
        results = run_clients(files)
        c.check("with one instance stopped every client still mirrors the tree",
                all(r is True for r in results), [r for r in results if r is not True])
        c.check("... served by the remaining instance",
                served(insts[1]) == set(CLIENTS), sorted(served(insts[1]) - before))
    finally:
        hap.terminate()
        hap.wait(10)
        for i in insts:
            code, clean = i.stop()
            c.check("instance exits cleanly (sanitizers quiet)", clean, i.logtext()[-2000:])
    c.finish()


if __name__ == "__main__":
    main()
