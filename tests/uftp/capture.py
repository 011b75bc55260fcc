#!/usr/bin/env python3
"""capture.py — records real uftp 4.10 sessions in private network
namespaces and checks ferry's UFTP decoders and encoders against every
datagram they exchanged.

Usage: capture.py DECODE_CAPTURE_BINARY [scenario...]   (the meson test)
       capture.py --dump DIR [scenario...]              (print the datagrams)

The script re-runs itself under `unshare --net`; that namespace is the
"switch": it holds bridges for net A, the WAN and net B.  Each host (server,
clients, proxies) is a namespace of its own with veth links to its bridges
and addresses from 198.18.0.0/15 only, so nothing can leave.  An AF_PACKET
socket in the switch sees every frame once, as it enters a bridge port, and
keeps the UDP payloads that start with UFTP version 0x40.  The real `uftp`,
`uftpd` and `uftpproxyd` run one scenario after another; the datagrams go to
a temporary directory and `decode_capture` decodes and re-encodes each one;
this script then checks the fields against what the programs logged.

Last line: "N passed, M failed".  Exits 77 (skip) when not root, when the
uftp programs are missing or when namespaces cannot be made.
"""
import glob
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
INNER_ENV = 'FERRY_CAPTURE_INNER'
PREFIX_ENV = 'FERRY_CAPTURE_PREFIX'
STEP_TIMEOUT = 10          # any helper command
SESSION_TIMEOUT = 30       # one uftp run
TOTAL_BUDGET = 230         # seconds for all scenarios (meson allows 300)
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

NAMES = {1: 'ANNOUNCE', 2: 'REGISTER', 3: 'CLIENT_KEY', 4: 'REG_CONF',
         5: 'KEYINFO', 6: 'KEYINFO_ACK', 7: 'FILEINFO', 8: 'FILEINFO_ACK',
         9: 'FILESEG', 10: 'DONE', 11: 'STATUS', 12: 'COMPLETE',
         13: 'DONE_CONF', 14: 'HB_REQ', 15: 'HB_RESP', 16: 'KEY_REQ',
         17: 'PROXY_KEY', 18: 'ENCRYPTED', 19: 'ABORT', 20: 'CONG_CTRL',
         21: 'CC_ACK'}

# Message types that belong to no group (heartbeats and proxy keys).
GROUPLESS = {'HB_REQ', 'HB_RESP', 'KEY_REQ', 'PROXY_KEY'}

# Bridges in the switch namespace, and each host's links: (bridge, IPv4).
# The first link listed with mcast=True carries the host's multicast route.
BRIDGES = ('brA', 'brW', 'brB')
HOSTS = {
    'srv': [('brA', '198.18.0.1', True)],
    'a2': [('brA', '198.18.0.2', True)],
    'a3': [('brA', '198.18.0.3', True)],
    'rp': [('brA', '198.18.0.30', True)],
    'sp': [('brA', '198.18.0.10', True), ('brW', '198.19.0.10', False)],
    'cp': [('brW', '198.19.0.20', False), ('brB', '198.18.1.20', True)],
    'b2': [('brB', '198.18.1.2', True)],
    'b3': [('brB', '198.18.1.3', True)],
}
# IPv6 (RFC 5180 benchmarking range) on net A only, for the IPv6 scenario.
HOSTS6 = {'srv': '2001:2::1', 'a2': '2001:2::2'}


def log(msg):
    print(msg, flush=True)


def finish(passed, failed, code=None):
    log('%d passed, %d failed' % (passed, failed))
    sys.exit(code if code is not None else (1 if failed else 0))


def sh(argv, check=True, stdin=None):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=STEP_TIMEOUT, input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL)
    out = r.stdout.decode(errors='replace')
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(argv), out.strip()))
    return out


# ---------------------------------------------------------------- network

class Network:
    """The bridges and host namespaces; delete() removes every namespace."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.made = []

    def ns(self, host):
        return '%s-%s' % (self.prefix, host)

    def in_ns(self, host, argv):
        return ['ip', 'netns', 'exec', self.ns(host)] + list(argv)

    def build(self):
        sh(['ip', 'link', 'set', 'lo', 'up'])
        for br in BRIDGES:
            sh(['ip', 'link', 'add', br, 'type', 'bridge',
                'mcast_snooping', '0'])
            sh(['ip', 'link', 'set', br, 'up'])
        for host, links in HOSTS.items():
            self.add_host(host, links)

    def add_host(self, host, links):
        ns = self.ns(host)
        sh(['ip', 'netns', 'add', ns])
        self.made.append(ns)
        sh(self.in_ns(host, ['ip', 'link', 'set', 'lo', 'up']))
        for i, (br, addr, mcast) in enumerate(links):
            port, dev = 'p-%s%d' % (host, i), 'eth%d' % i
            sh(['ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name',
                dev, 'netns', ns])
            sh(['ip', 'link', 'set', port, 'master', br, 'up'])
            sh(self.in_ns(host, ['ip', 'addr', 'add', addr + '/24',
                                 'dev', dev]))
            sh(self.in_ns(host, ['ip', 'link', 'set', dev, 'up']))
            if mcast:
                sh(self.in_ns(host, ['ip', 'route', 'add', '224.0.0.0/4',
                                     'dev', dev]))
        if host in HOSTS6:
            sh(self.in_ns(host, ['ip', '-6', 'addr', 'add',
                                 HOSTS6[host] + '/64', 'dev', 'eth0',
                                 'nodad']), check=False)

    def delete(self):
        for ns in self.made:
            subprocess.run(['ip', 'netns', 'del', ns],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=STEP_TIMEOUT)
        self.made = []

    def drop_filesegs(self, host, percent):
        """Drops a share of the data blocks host receives: only FILESEGs
        (plain or inside ENCRYPTED) are over 600 bytes in these sessions."""
        rules = ('table inet ferrycap {\n chain in {\n'
                 '  type filter hook input priority 0; policy accept;\n'
                 '  udp dport 1044 udp length > 600'
                 ' numgen random mod 100 < %d drop\n }\n}\n' % percent)
        r = subprocess.run(self.in_ns(host, ['nft', '-f', '-']),
                           input=rules.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT)
        return r.returncode == 0

    def clear_drops(self, host):
        subprocess.run(self.in_ns(host, ['nft', 'delete', 'table', 'inet',
                                         'ferrycap']),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=STEP_TIMEOUT)


def cleanup_leftovers(prefix):
    """Outer safety net: namespaces an interrupted inner run left behind."""
    for path in glob.glob('/run/netns/%s-*' % prefix):
        subprocess.run(['ip', 'netns', 'del', os.path.basename(path)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=STEP_TIMEOUT)


# ---------------------------------------------------------------- sniffer

class Sniffer:
    """Records each UFTP datagram once, as it enters a bridge port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                  socket.htons(ETH_P_ALL))
        self.sock.settimeout(0.1)
        self.packets = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        time.sleep(0.2)
        self.stop_ev.set()
        self.thread.join(5)
        self.sock.close()
        return self.packets

    def run(self):
        while not self.stop_ev.is_set():
            try:
                frame, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            # Bridge ports only, ingress only: every frame exactly once.
            if not addr[0].startswith('p-') or addr[2] == PACKET_OUTGOING:
                continue
            pkt = parse_frame(frame)
            if pkt and len(pkt[4]) >= 16 and pkt[4][0] == 0x40:
                self.packets.append(pkt)


def parse_frame(frame):
    """(src, sport, dst, dport, payload) of an Ethernet UDP frame, or None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack('!H', frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        ihl = (ip[0] & 0x0F) * 4
        if struct.unpack('!H', ip[6:8])[0] & 0x3FFF:
            return None                       # fragments: none expected
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
        udp = ip[ihl:]
    elif etype == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    sport, dport, ulen = struct.unpack('!HHH', udp[:6])
    if ulen < 8 or ulen > len(udp):
        return None
    return (src, sport, dst, dport, bytes(udp[8:ulen]))


# ---------------------------------------------------------------- processes

class Procs:
    """Every process a scenario starts; stop() kills them by pid."""

    def __init__(self, net, workdir, prefix):
        self.net = net
        self.workdir = workdir
        self.prefix = prefix
        self.procs = []

    def log_path(self, name):
        return os.path.join(self.workdir, '%s_%s.log' % (self.prefix, name))

    def start(self, name, host, argv):
        out = open(self.log_path(name), 'wb')
        # `ip netns exec` execs the program, so the pid is the program's.
        p = subprocess.Popen(self.net.in_ns(host, argv), stdout=out,
                             stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.workdir,
                             start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def run(self, name, host, argv, timeout):
        p = self.start(name, host, argv)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self, name):
        try:
            with open(self.log_path(name), errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def stop(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 3
        for _, p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(3)


# ---------------------------------------------------------------- scenarios

class Scenario:
    """One uftp session: who runs what, and which messages it must show."""

    def __init__(self, name, n, files, server_args=(), clients=(),
                 proxies=(), expect=(), drop_pct=0, ipv6=False,
                 pre_delay=0.3, server_key=None):
        self.name = name
        self.files = files
        self.server_args = list(server_args)
        self.clients = clients      # (host, uid, extra args)
        self.proxies = proxies      # (name, host, argv)
        self.expect = expect
        self.drop_pct = drop_pct
        self.ipv6 = ipv6
        self.pre_delay = pre_delay
        self.server_key = server_key    # decrypt with it: RSA/CBC/SHA-256
        if ipv6:
            self.pub, self.priv = 'ff02::4:%d' % n, 'ff02::5:%d' % n
        else:
            self.pub, self.priv = '230.4.4.%d' % n, '230.5.5.%d' % n


def iface(sc, host):
    """uftp picks the address family of -I: IPv6 scenarios name the address."""
    return HOSTS6[host] if sc.ipv6 else 'eth0'


def client_argv(sc, host, uid, extra, workdir):
    dest = os.path.join(workdir, 'dest_%s_%s' % (sc.name, uid))
    os.makedirs(dest, exist_ok=True)
    return ['uftpd', '-d', '-x', '3', '-U', uid, '-D', dest,
            '-I', iface(sc, host), '-M', sc.pub] + list(extra)


def server_argv(sc, workdir):
    return (['uftp', '-x', '3', '-U', '0x00000001', '-I', iface(sc, 'srv'),
             '-M', sc.pub, '-P', sc.priv, '-s', '10',
             '-r', '0.05:0.01:0.5', '-b', '1000']
            + sc.server_args
            + [f if f.startswith('@') else os.path.join(workdir, f)
               for f in sc.files])


def make_files(workdir):
    """Source files: sizes chosen to need several blocks and sections."""
    made = {}
    for name, size in (('small.bin', 2500), ('big.bin', 60000),
                       ('exact.bin', 3000)):
        with open(os.path.join(workdir, name), 'wb') as f:
            f.write(os.urandom(size))
        made[name] = size
    os.makedirs(os.path.join(workdir, 'tree', 'sub'), exist_ok=True)
    os.makedirs(os.path.join(workdir, 'tree', 'empty'), exist_ok=True)
    with open(os.path.join(workdir, 'tree', 'sub', 'leaf.txt'), 'wb') as f:
        f.write(b'leaf\n' * 100)
    made['tree/sub/leaf.txt'] = 500
    os.symlink('sub/leaf.txt', os.path.join(workdir, 'tree', 'link'))
    return made


def keygen(workdir, spec, name):
    """A key file made by uftp_keymgt; returns (path, fingerprint)."""
    path = os.path.join(workdir, name)
    out = sh(['uftp_keymgt', '-g', spec, path])
    m = re.search(r'fingerprint:\s*([0-9A-Fa-f:]+)', out)
    return path, (m.group(1) if m else '')


def scenarios(workdir):
    k_ec, _ = keygen(workdir, 'ec:prime256v1', 'client_ec.pem')
    k_rsa, _ = keygen(workdir, 'rsa:1024', 'client_rsa.pem')
    k_cp, fp_cp = keygen(workdir, 'ec:prime256v1', 'cproxy_ec.pem')
    k_rp, _ = keygen(workdir, 'ec:prime256v1', 'rproxy_ec.pem')
    k_srv, _ = keygen(workdir, 'rsa:1024', 'server_rsa.pem')
    plain = ['ANNOUNCE', 'REGISTER', 'REG_CONF', 'FILEINFO', 'FILEINFO_ACK',
             'FILESEG', 'DONE', 'COMPLETE', 'DONE_CONF']
    enc = ['ANNOUNCE+enc', 'REGISTER+key', 'KEYINFO', 'ENCRYPTED']
    a2 = ('a2', '0x00000002', ())
    a3 = ('a3', '0x00000003', ())
    gcm_ecdh = ['-Y', 'aes256-gcm', '-h', 'sha256', '-e', 'ecdh_ecdsa']
    return [
        Scenario('open_plain', 1, ('small.bin', 'big.bin', 'exact.bin'),
                 ['-R', '20000'], [a2], drop_pct=25,
                 expect=plain + ['STATUS']),
        Scenario('closed_plain', 2, ('small.bin', 'tree'),
                 ['-R', '20000', '-H', '0x00000002,0x00000003,0x00000009'],
                 [a2, a3],
                 expect=plain + ['ANNOUNCE+uids', 'FILEINFO+dir',
                                 'FILEINFO+link', 'REG_CONF+uids']),
        Scenario('meta_sync', 3, ('small.bin', '@FREESPACE',
                                  '@DELETE:gone.txt'),
                 ['-R', '20000', '-z'], [a2],
                 expect=plain + ['ANNOUNCE+sync', 'FILEINFO+freespace',
                                 'FILEINFO+delete', 'COMPLETE+freespace']),
        Scenario('tfmcc', 4, ('big.bin',), ['-C', 'tfmcc'], [a2],
                 drop_pct=10,
                 expect=plain + ['FILESEG+tfmcc', 'CONG_CTRL',
                                 'CC_ACK+tfmcc']),
        Scenario('enc_ecdh_gcm', 5, ('small.bin', 'big.bin'),
                 ['-R', '20000', '-c'] + gcm_ecdh,
                 [('a2', '0x00000002', ('-k', k_ec))], drop_pct=20,
                 expect=['CLIENT_KEY', 'ANNOUNCE+sig_ok'] + enc),
        # The one session decode_capture decrypts (it gets the server's
        # key), so the messages inside ENCRYPTED are checked too.
        Scenario('enc_rsa_cbc', 6, ('small.bin', 'big.bin'),
                 ['-R', '20000', '-Y', 'aes256-cbc', '-h', 'sha256', '-e',
                  'rsa', '-w', 'hmac', '-c', '-k', k_srv, '-H',
                  '0x00000002'],
                 [('a2', '0x00000002', ('-k', k_rsa))], drop_pct=20,
                 server_key=k_srv,
                 expect=['CLIENT_KEY', 'ENCRYPTED+sig', 'ANNOUNCE+uids',
                         'CLIENT_KEY+sig_ok', 'ENCRYPTED/KEYINFO_ACK+verify_ok'] +
                 enc + ['ENCRYPTED/' + t for t in (
                     'KEYINFO_ACK', 'FILEINFO', 'FILEINFO_ACK', 'FILESEG',
                     'DONE', 'STATUS', 'COMPLETE', 'DONE_CONF')]),
        Scenario('enc_ecdh_rsa_keyex', 7, ('small.bin',),
                 ['-R', '20000', '-Y', 'aes128-cbc', '-h', 'sha256', '-e',
                  'ecdh_rsa', '-w', 'keyex', '-c', '-K', '1024'],
                 [('a2', '0x00000002', ('-k', k_rsa))],
                 expect=['CLIENT_KEY', 'ENCRYPTED+sig', 'ANNOUNCE+sig_ok',
                         'ENCRYPTED+sig_ok'] + enc),
        Scenario('abort', 8, ('small.bin',), ['-R', '20000'],
                 [('a2', '0x00000002', ('-E',))], expect=['ABORT']),
        Scenario('ipv6', 9, ('small.bin',), ['-R', '20000'], [a2],
                 ipv6=True, expect=plain + ['ANNOUNCE+ipv6']),
        # Figure 1 of uftpproxyd(1): server and server proxy on net A, the
        # proxies across the WAN, client proxy and clients on net B.  The
        # server proxy learns its downstream from signed heartbeats.
        Scenario('proxies', 10, ('small.bin',),
                 ['-R', '20000'] + gcm_ecdh,
                 [('b2', '0x00000002', ('-k', k_ec)),
                  ('b3', '0x00000003', ('-k', k_ec))],
                 proxies=(
                     ('sproxy', 'sp', ['uftpproxyd', '-d', '-x', '3', '-s',
                                       'fp=' + fp_cp, '-U', '0x00000011',
                                       '-I', 'eth0', '-M', '230.4.4.10']),
                     ('cproxy', 'cp', ['uftpproxyd', '-d', '-x', '3', '-c',
                                       '-U', '0x00000012', '-k', k_cp,
                                       '-I', '198.18.1.20',
                                       '-O', '198.18.1.20',
                                       '-H', '198.19.0.10', '-h', '1']),
                 ),
                 pre_delay=2.5,
                 expect=['HB_REQ', 'HB_REQ+signed', 'HB_RESP', 'KEYINFO',
                         'REGISTER+uids', 'ENCRYPTED', 'ANNOUNCE+enc',
                         'ANNOUNCE+sig_ok']),
        # A response proxy next to the clients: they fetch its key
        # (KEY_REQ / PROXY_KEY) and send every response through it.
        Scenario('response_proxy', 11, ('small.bin',),
                 ['-R', '20000', '-Y', 'aes128-gcm', '-h', 'sha256', '-e',
                  'ecdh_ecdsa'],
                 [('a2', '0x00000002', ('-k', k_ec, '-R', '198.18.0.30')),
                  ('a3', '0x00000003', ('-k', k_ec, '-R', '198.18.0.30'))],
                 proxies=(
                     ('rproxy', 'rp', ['uftpproxyd', '-d', '-x', '3', '-r',
                                       '-U', '0x00000013', '-k', k_rp,
                                       '-e', 'prime256v1', '-I', 'eth0',
                                       '-M', '230.4.4.11']),
                 ),
                 pre_delay=1.5,
                 expect=['KEY_REQ', 'PROXY_KEY', 'KEYINFO', 'ENCRYPTED']),
    ]


def run_scenario(sc, net, workdir, budget):
    """Runs one session; returns (datagrams, group ID or None, uftp rc)."""
    procs = Procs(net, workdir, sc.name)
    sniffer = None
    dropped = []
    try:
        if sc.drop_pct:
            for host, _, _ in sc.clients:
                if net.drop_filesegs(host, sc.drop_pct):
                    dropped.append(host)
                else:
                    log('note: %s: nftables unavailable, no loss' % sc.name)
        sniffer = Sniffer().start()
        for name, host, argv in sc.proxies:
            procs.start(name, host, argv)
        if sc.proxies:
            time.sleep(0.7)     # proxies listen before clients ask them
        for host, uid, extra in sc.clients:
            procs.start('uftpd_' + uid, host,
                        client_argv(sc, host, uid, extra, workdir))
        time.sleep(sc.pre_delay)
        rc = procs.run('uftp', 'srv', server_argv(sc, workdir),
                       min(SESSION_TIMEOUT, budget))
        time.sleep(0.3)
        packets, sniffer = sniffer.stop(), None
        m = re.search(r'Group ID:\s*([0-9A-Fa-f]{8})', procs.log_text('uftp'))
        return packets, (m.group(1).upper() if m else None), rc
    finally:
        if sniffer:
            sniffer.stop()
        procs.stop()
        for host in dropped:
            net.clear_drops(host)


# ---------------------------------------------------------------- checks

class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            log('FAIL: ' + what)
        return ok


def parse_decoder_line(line):
    """'path OK k=v k=v ...' -> (path, ok, fields)."""
    parts = line.split(' ')
    fields = {}
    for p in parts[2:]:
        if '=' in p:
            k, v = p.split('=', 1)
            fields[k] = v
    return parts[0], len(parts) > 1 and parts[1] == 'OK', fields


def save_datagrams(packets, capdir):
    os.makedirs(capdir, exist_ok=True)
    paths = []
    for i, (_, _, _, _, payload) in enumerate(packets):
        p = os.path.join(capdir, '%05d.bin' % i)
        with open(p, 'wb') as f:
            f.write(payload)
        paths.append(p)
    manifest = os.path.join(capdir, 'manifest')
    with open(manifest, 'w') as f:
        f.write(''.join(p + '\n' for p in paths))
    return paths, manifest


def datagram_problems(sc, group, f, files):
    """What is wrong with one decoded datagram, as a list of strings."""
    kind = f.get('type', '?')
    out = []
    if f.get('ver') != '0x40':
        out.append('version %s' % f.get('ver'))
    if group and kind not in GROUPLESS and \
            f.get('group', '').upper() != '0X' + group:
        out.append('group %s, uftp logged %s' % (f.get('group'), group))
    if 'FILEINFO' in (kind, f.get('inner')) and f.get('ftype') == '0':
        want = files.get(f.get('name', ''))
        if want is None or f.get('size') != str(want):
            out.append('size %s for %s, file has %s'
                       % (f.get('size'), f.get('name'), want))
    if f.get('reencode') != 'same':
        out.append('re-encoding gives other bytes')
    for t in f.get('tags', '').split(',') + f.get('inner_tags', '').split(','):
        if t.endswith('_bad'):
            out.append('check failed: %s' % t)
    if sc.server_key and kind == 'ENCRYPTED':
        if 'inner_err' in f or f.get('inner', 'none') == 'none':
            out.append('could not decrypt and decode the payload')
        elif f.get('inner_reencode') != 'same':
            out.append('re-encoding the payload gives other bytes')
    return out


def check_scenario(sc, result, tally, decoder, workdir, files):
    packets, group, rc = result
    tally.check(rc is not None, '%s: uftp did not finish in time' % sc.name)
    tally.check(group is not None, '%s: no group ID in uftp log' % sc.name)
    if not tally.check(packets, '%s: nothing captured' % sc.name):
        return
    paths, manifest = save_datagrams(packets,
                                     os.path.join(workdir, 'cap_' + sc.name))
    argv = [decoder, manifest]
    if sc.server_key:
        argv += ['--rsa-key', sc.server_key]
    r = subprocess.run(argv, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=60)
    lines = [l for l in r.stdout.decode(errors='replace').splitlines()
             if l.split(' ')[0] in paths]
    tally.check(len(lines) == len(paths) and r.returncode in (0, 1),
                '%s: decoder printed %d lines for %d datagrams (rc %d)'
                % (sc.name, len(lines), len(paths), r.returncode))
    seen, bad = set(), 0
    for line in lines:
        _, ok, f = parse_decoder_line(line)
        kind = f.get('type', '?')
        seen.add(kind)
        seen.update(kind + '+' + t for t in f.get('tags', '').split(',') if t)
        if 'inner' in f:
            seen.add(kind + '/' + f['inner'])
            seen.update(kind + '/' + f['inner'] + '+' + t
                        for t in f.get('inner_tags', '').split(',') if t)
        problems = [] if ok else ['does not decode']
        if ok:
            problems += datagram_problems(sc, group, f, files)
        if problems:
            bad += 1
            log('FAIL: %s: %s: %s' % (sc.name, '; '.join(problems), line))
    tally.check(bad == 0, '%s: %d of %d datagrams wrong'
                % (sc.name, bad, len(lines)))
    for kind in sc.expect:
        tally.check(kind in seen, '%s: no %s captured' % (sc.name, kind))
    log('%s: group %s, %d datagrams: %s'
        % (sc.name, group, len(lines), ' '.join(sorted(seen))))


def dump(sc, result):
    packets, group, rc = result
    log('== %s group=%s rc=%s datagrams=%d'
        % (sc.name, group, rc, len(packets)))
    for src, sport, dst, dport, payload in packets:
        log('%s:%d -> %s:%d %s len=%d %s'
            % (src, sport, dst, dport, NAMES.get(payload[1], payload[1]),
               len(payload), payload[:120].hex()))


# ---------------------------------------------------------------- main

def inner(argv):
    dump_dir = argv[1] if argv[0] == '--dump' else None
    decoder = None if dump_dir else os.path.abspath(argv[0])
    only = set(argv[2:] if dump_dir else argv[1:])

    def on_term(signum, frame):
        raise SystemExit('interrupted')
    signal.signal(signal.SIGTERM, on_term)

    tally = Tally()
    workdir = dump_dir or tempfile.mkdtemp(prefix='ferry-capture-')
    os.makedirs(workdir, exist_ok=True)
    net = Network(os.environ.get(PREFIX_ENV, 'fcap%d' % os.getpid()))
    started = time.time()
    try:
        net.build()
        files = make_files(workdir)
        for sc in scenarios(workdir):
            if only and sc.name not in only:
                continue
            left = TOTAL_BUDGET - (time.time() - started)
            if not tally.check(left > 5, '%s: no time left' % sc.name):
                continue
            result = run_scenario(sc, net, workdir, left)
            if dump_dir:
                dump(sc, result)
            else:
                check_scenario(sc, result, tally, decoder, workdir, files)
    finally:
        net.delete()
        if not dump_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    finish(tally.passed, tally.failed)


def outer(argv):
    if os.geteuid() != 0:
        log('skip: the capture test needs root (namespaces, AF_PACKET)')
        finish(0, 0, SKIP)
    for tool in ('uftp', 'uftpd', 'uftpproxyd', 'uftp_keymgt', 'unshare',
                 'ip'):
        if shutil.which(tool) is None:
            log('skip: %s is not installed' % tool)
            finish(0, 0, SKIP)
    probe = subprocess.run(['unshare', '--net', 'ip', 'link', 'add', 'b0',
                            'type', 'bridge'], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=STEP_TIMEOUT)
    if probe.returncode != 0:
        log('skip: cannot create network namespaces and bridges here')
        finish(0, 0, SKIP)
    prefix = 'fcap%d' % os.getpid()
    env = dict(os.environ, **{INNER_ENV: '1', PREFIX_ENV: prefix})
    # unshare execs python: p.pid is the inner script, which handles SIGTERM
    # by killing what it started and deleting its namespaces.
    p = subprocess.Popen(['unshare', '--net', sys.executable,
                          os.path.abspath(__file__)] + argv, env=env)
    try:
        code = p.wait(TOTAL_BUDGET + 40)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        log('FAIL: the capture run timed out')
        code = None
    finally:
        cleanup_leftovers(prefix)
    if code is None:
        finish(0, 1)
    sys.exit(code)


if __name__ == '__main__':
    if len(sys.argv) < 2 or (sys.argv[1] == '--dump' and len(sys.argv) < 3):
        print(__doc__)
        sys.exit(2)
    if os.environ.get(INNER_ENV) == '1':
        inner(sys.argv[1:])
    else:
        outer(sys.argv[1:])
