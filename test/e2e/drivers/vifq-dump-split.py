#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vifq-dump-split.py SENT_FILE GO_FILE

A vif-get dump of the vifq generic netlink family, read part by part over a raw
socket: after the request (the kernel builds the first part at once) it creates
SENT_FILE and waits until GO_FILE exists, so that the caller can create or
destroy vifs between the first part and the next, then reads every part.

Prints one JSON line: {"parts": [[ifindex, ...], ...], "intr": [bool, ...]}
(intr: whether a part's messages carry NLM_F_DUMP_INTR).
"""
import json
import os
import socket
import struct
import sys
import time

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR = 2
NLMSG_DONE = 3
VIFQ_CMD_VIF_GET = 1
VIFQ_A_VIF_IFINDEX = 1


def request(family, flags, seq, cmd, attrs=b""):
    payload = struct.pack("BBH", cmd, 1, 0) + attrs
    return struct.pack("IHHII", 16 + len(payload), family, flags, seq, 0) + payload


def attr(kind, data):
    n = 4 + len(data)
    return struct.pack("HH", n, kind) + data + b"\0" * (-n % 4)


def attrs_of(buf):
    """(type, payload) of the attributes after a genl header."""
    out, off = [], 0
    while off + 4 <= len(buf):
        n, kind = struct.unpack_from("HH", buf, off)
        if n < 4:
            break
        out.append((kind & 0x3FFF, buf[off + 4:off + n]))
        off += (n + 3) & ~3
    return out


def messages(data):
    off = 0
    while off + 16 <= len(data):
        n, kind, flags, _, _ = struct.unpack_from("IHHII", data, off)
        yield kind, flags, data[off + 16:off + n]
        off += (n + 3) & ~3


def main():
    sent, go = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.bind((0, 0))
    s.send(request(GENL_ID_CTRL, NLM_F_REQUEST, 1, CTRL_CMD_GETFAMILY,
                   attr(CTRL_ATTR_FAMILY_NAME, b"vifq\0")))
    family = None
    for kind, _, body in messages(s.recv(4096)):
        if kind == NLMSG_ERROR:
            sys.exit("vifq family not found (is the patched xen_netback loaded?)")
        for a, v in attrs_of(body[4:]):
            if a == CTRL_ATTR_FAMILY_ID:
                family = struct.unpack("H", v[:2])[0]
    if family is None:
        sys.exit("no family id in the CTRL_CMD_GETFAMILY answer")

    s.send(request(family, NLM_F_REQUEST | NLM_F_DUMP, 2, VIFQ_CMD_VIF_GET))
    open(sent, "w").close()
    for _ in range(600):
        if os.path.exists(go):
            break
        time.sleep(0.1)
    else:
        sys.exit(f"{go} never appeared")

    parts, intr = [], []
    done = False
    while not done:
        # one recv() returns one part; netlink sizes parts by the largest recv()
        # buffer seen (at least ~3.7 KiB), so small buffers keep the parts small
        data = s.recv(4096)
        ifindexes, flagged = [], False
        for kind, flags, body in messages(data):
            if kind == NLMSG_DONE:
                done = True
                flagged = flagged or bool(flags & NLM_F_DUMP_INTR)
                continue
            if kind == NLMSG_ERROR:
                code = struct.unpack_from("i", body)[0]
                sys.exit(f"dump failed: errno {-code}")
            flagged = flagged or bool(flags & NLM_F_DUMP_INTR)
            for a, v in attrs_of(body[4:]):
                if a == VIFQ_A_VIF_IFINDEX:
                    ifindexes.append(struct.unpack("I", v[:4])[0])
        parts.append(ifindexes)
        intr.append(flagged)
    print(json.dumps({"parts": parts, "intr": intr}))


if __name__ == "__main__":
    main()
