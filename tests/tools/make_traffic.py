#!/usr/bin/env python3
"""Writes a deterministic pcap of IPv4/IPv6 TCP, UDP and ICMP packets between a few hosts:
known traffic for real exporters (softflowd, pmacct) to turn into flows.

usage: make_traffic.py OUT.pcap [--packets N] [--seed S] [--v6]
"""
import random
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, bytes(src), bytes(dst)) + payload


def main():
    args = sys.argv[1:]
    out = args[0]
    n = int(args[args.index("--packets") + 1]) if "--packets" in args else 2000
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    v6 = "--v6" in args
    rnd = random.Random(seed)
    hosts4 = [[198, 51, 100, i] for i in range(1, 9)] + [[203, 0, 113, i] for i in range(1, 9)]
    hosts6 = [[0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [i] for i in range(1, 9)]
    t = 1700000000.0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        # Long-lived conversations so that exporters aggregate packets into flows.
        convs = []
        for _ in range(60):
            use6 = v6 and rnd.random() < 0.3
            hs = hosts6 if use6 else hosts4
            a, b = rnd.sample(hs, 2)
            proto = rnd.choice([6, 6, 6, 17, 17, 1])
            convs.append((use6, a, b, proto, rnd.randint(1024, 65535), rnd.choice([80, 443, 53, 123, 22])))
        for i in range(n):
            use6, a, b, proto, sport, dport = rnd.choice(convs)
            size = rnd.randint(0, 1200)
            if proto == 6:
                l4 = struct.pack("!HHIIBBHHH", sport, dport, i, 0, 5 << 4, 0x18, 65535, 0, 0) + b"x" * size
            elif proto == 17:
                l4 = struct.pack("!HHHH", sport, dport, 8 + size, 0) + b"x" * size
            else:
                proto = 58 if use6 else 1
                l4 = struct.pack("!BBHHH", 128 if use6 else 8, 0, 0, 1, i & 0xFFFF) + b"x" * size
            if use6:
                l3, etype = ipv6(a, b, proto, l4), 0x86DD
            else:
                l3, etype = ipv4(a, b, proto, l4, i & 0xFFFF), 0x0800
            frame = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + struct.pack("!H", etype) + l3
            t += 0.001
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
