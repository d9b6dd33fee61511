#!/usr/bin/env python3
"""Sends NetFlow v5 datagrams (RFC-less Cisco format: 24-byte header, 48-byte records) whose
flows are all distinct, to check that a pipeline stores every flow exactly once.

usage: kafka_flowgen.py --target HOST:PORT [--target HOST:PORT ...] --flows N --rate FLOWS_PER_S
                        [--first ID] [--source 127.0.0.N]
Flow i (from --first) has SrcAddr 10.(i>>16).(i>>8).i, SrcPort 1000 + i % 50000, DstPort 80,
Bytes i+1, Packets 1; 30 flows per datagram; datagrams round-robin over the targets.
Prints the number of flows sent.
"""
import argparse
import socket
import struct
import time

p = argparse.ArgumentParser()
p.add_argument("--target", action="append", required=True)
p.add_argument("--flows", type=int, required=True)
p.add_argument("--rate", type=float, default=1000)
p.add_argument("--first", type=int, default=0)
p.add_argument("--source", default="127.0.0.1")
a = p.parse_args()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((a.source, 0))
targets = []
for t in a.target:
    h, port = t.rsplit(":", 1)
    targets.append((h, int(port)))

start = time.time()
sent = 0
seq = 0
dgram = 0
while sent < a.flows:
    n = min(30, a.flows - sent)
    now = time.time()
    uptime = int((now - start) * 1000) + 100000
    hdr = struct.pack(">HHIIIIBBH", 5, n, uptime, int(now), 0, seq, 0, 0, 0)
    recs = b""
    for k in range(n):
        i = a.first + sent + k
        src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        recs += src + bytes([192, 0, 2, 1]) + bytes(4)  # src, dst, nexthop
        recs += struct.pack(">HHIIIIHHBBBBHHBBH", 1, 2, 1, i + 1, uptime - 1000, uptime - 10,
                            1000 + i % 50000, 80, 0, 0x10, 6, 0, 0, 0, 24, 24, 0)
    sock.sendto(hdr + recs, targets[dgram % len(targets)])
    dgram += 1
    sent += n
    seq += n
    # Pace to the rate.
    ahead = sent / a.rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
print(sent)
