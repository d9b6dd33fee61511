#!/usr/bin/env python3
"""Prints the flows of a NetFlow/IPFIX capture as tshark decodes them, one per line:
src dst srcport dstport proto bytes packets (sorted), to compare with `akvo decode`.
Usage: tshark_flows.py FILE.pcap [FILE.pcap...] (decoded in order: templates carry over)."""
import subprocess, sys, tempfile, os

files = sys.argv[1:]
with tempfile.TemporaryDirectory() as d:
    merged = os.path.join(d, "m.pcap")
    subprocess.run(["mergecap", "-a", "-w", merged] + files, check=True)
    ports = subprocess.run(["tshark", "-r", merged, "-T", "fields", "-e", "udp.dstport"],
                           capture_output=True, text=True, check=True).stdout.split()
    args = ["tshark", "-r", merged]
    for p in sorted(set(ports)):
        args += ["-d", f"udp.port=={p},cflow"]
    fields = ["cflow.srcaddr", "cflow.srcaddrv6", "cflow.dstaddr", "cflow.dstaddrv6",
              "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.octets", "cflow.packets"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args + ["-T", "fields", "-E", "occurrence=a"], capture_output=True,
                         text=True, check=True).stdout
rows = []
for line in out.splitlines():
    cols = [c.split(",") if c else [] for c in line.split("\t")]
    # A packet holding both families has its IPv4 records first (one flowset per template).
    src = cols[0] + cols[1]
    dst = cols[2] + cols[3]
    n = len(cols[7])
    for i in range(n):
        rows.append(" ".join(str(x) for x in (src[i], dst[i], cols[4][i], cols[5][i], cols[6][i],
                                              cols[7][i], cols[8][i])))
for r in sorted(rows):
    print(r)
