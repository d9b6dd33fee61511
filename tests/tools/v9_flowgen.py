#!/usr/bin/env python3
"""NetFlow v9 (RFC 3954) datagrams with distinct flows and a sampling rate carried by options,
to check that templates and sampling rates shared between outlets decode every flow once.

usage: v9_flowgen.py --flows N [--first ID] [--domain D] [--sampling R]
                     (--target HOST:PORT [--rate FLOWS_PER_S] [--source 127.0.0.N]
                      | --out FILE --template-partition P --data-partitions P,P,...
                        [--templates last|first|none])
Datagram 0 holds the template (id 256), the options template (id 257: scope System, fields
samplerId and samplingInterval) and one options record (sampler 1, interval R); the next ones
hold 20 flow records each. Flow i (from --first) has SrcAddr 10.(i>>16).(i>>8).i, SrcPort
1000 + i % 50000, DstPort 443, Proto 17, Bytes i+1, Packets 1, InIf 1, OutIf 2, sampler 1.
With --target, datagrams go over UDP (template first); with --out, lines
"<partition> <hex>" for akvo_kafka_tool produce (the template datagram on its own partition,
data round-robin over the others). Prints the number of flows.
"""
import argparse
import socket
import struct
import time

p = argparse.ArgumentParser()
p.add_argument("--flows", type=int, required=True)
p.add_argument("--first", type=int, default=0)
p.add_argument("--domain", type=int, default=7)
p.add_argument("--sampling", type=int, default=100)
p.add_argument("--target")
p.add_argument("--rate", type=float, default=2000)
p.add_argument("--source", default="127.0.0.1")
p.add_argument("--out")
p.add_argument("--template-partition", type=int, default=0)
p.add_argument("--data-partitions", default="1,2,3")
p.add_argument("--templates", default="first", choices=["first", "last", "none"])
a = p.parse_args()

FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (10, 2), (14, 2), (48, 1)]
seq = 0


def header(count):
    global seq
    now = int(time.time())
    h = struct.pack(">HHIIII", 9, count, 100000, now, seq, a.domain)
    seq += 1
    return h


def flowset(fid, body):
    pad = (-len(body)) % 4
    return struct.pack(">HH", fid, 4 + len(body) + pad) + body + bytes(pad)


def template_datagram():
    t = struct.pack(">HH", 256, len(FIELDS)) + b"".join(struct.pack(">HH", *f) for f in FIELDS)
    o = struct.pack(">HHH", 257, 4, 8) + struct.pack(">HH", 1, 4) + struct.pack(">HHHH", 48, 1, 34, 4)
    od = struct.pack(">IBI", 0, 1, a.sampling)
    return header(3) + flowset(0, t) + flowset(1, o) + flowset(257, od)


def data_datagram(first, n):
    recs = b""
    for i in range(first, first + n):
        src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        recs += src + bytes([192, 0, 2, 9]) + struct.pack(">HHBIIHHB", 1000 + i % 50000, 443, 17,
                                                          i + 1, 1, 1, 2, 1)
    return header(n) + flowset(256, recs)


datagrams = []
i = a.first
while i < a.first + a.flows:
    n = min(20, a.first + a.flows - i)
    datagrams.append(data_datagram(i, n))
    i += n

if a.out:
    parts = [int(x) for x in a.data_partitions.split(",")]
    lines = ["%d %s" % (parts[k % len(parts)], d.hex()) for k, d in enumerate(datagrams)]
    tl = "%d %s" % (a.template_partition, template_datagram().hex())
    if a.templates == "first":
        lines.insert(0, tl)
    elif a.templates == "last":
        lines.append(tl)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
else:
    h, port = a.target.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.source, 0))
    if a.templates != "none":
        sock.sendto(template_datagram(), (h, int(port)))
    start = time.time()
    sent = 0
    for d in datagrams:
        sock.sendto(d, (h, int(port)))
        sent += 20
        ahead = sent / a.rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
print(a.flows)
