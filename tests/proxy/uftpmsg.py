"""uftpmsg — the few UFTP 4 messages the proxy tests forge by hand
(protocol.txt 5): the common header and a server's ANNOUNCE, optionally
with extensions (e.g. EXT_ENC_INFO)."""
import socket
import struct
import time

ANNOUNCE, REGISTER, DONE, STATUS, HB_REQ, KEY_REQ = 1, 2, 10, 11, 14, 16


def hdr(func, src, gid, inst=0, grtt=0x9d, gsize=0x18, seq=0):
    return struct.pack(">BBHIIBBBB", 0x40, func, seq, src, gid, inst, grtt, gsize, 0)


def announce(src, gid, grtt=0x9d, robust=20, pub="230.4.4.1", priv="230.5.5.1", ext=b""):
    """An ANNOUNCE of server src for group gid; ext: its extensions, whose
    length (a multiple of 4) goes into the header length."""
    body = struct.pack(">BBBBBBHII", ANNOUNCE, (24 + len(ext)) // 4, 0, robust, 0, 0, 1300,
                       int(time.time()), 0)
    body += socket.inet_aton(pub) + socket.inet_aton(priv) + ext
    return hdr(ANNOUNCE, src, gid, grtt=grtt) + body
