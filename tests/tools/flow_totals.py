#!/usr/bin/env python3
"""Flow totals for exporter tests.
  flow_totals.py capture PCAP SCALE       -> what the capture holds per (src, dst), per tshark:
                                             "src dst bytes packets" (x SCALE), sorted
  flow_totals.py delta BEFORE AFTER       -> AFTER - BEFORE (both TSV "src dst bytes packets")
"""
import subprocess, sys
from collections import defaultdict


def read_tsv(path):
    t = defaultdict(lambda: [0, 0])
    for line in open(path):
        p = line.split()
        if len(p) == 4:
            t[(p[0], p[1])][0] += int(p[2])
            t[(p[0], p[1])][1] += int(p[3])
    return t


def show(t):
    for k in sorted(t):
        if t[k][0] or t[k][1]:
            print(k[0], k[1], t[k][0], t[k][1])


if sys.argv[1] == "capture":
    scale = int(sys.argv[3])
    out = subprocess.run(["tshark", "-r", sys.argv[2], "-T", "fields", "-e", "ip.src", "-e", "ipv6.src",
                          "-e", "ip.dst", "-e", "ipv6.dst", "-e", "ip.len", "-e", "ipv6.plen"],
                         capture_output=True, text=True, check=True).stdout
    t = defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        s4, s6, d4, d6, l4, l6 = line.split("\t")
        length = int(l4) if l4 else int(l6) + 40
        k = (s4 or s6, d4 or d6)
        t[k][0] += length * scale
        t[k][1] += scale
    show(t)
else:
    a, b = read_tsv(sys.argv[2]), read_tsv(sys.argv[3])
    for k in a:
        b[k][0] -= a[k][0]
        b[k][1] -= a[k][1]
    show(b)
