#!/usr/bin/env python3
"""Sends the UDP payloads of pcap files to host:port, in file order (a replay without root).

usage: pcap_send.py HOST:PORT FILE.pcap [FILE.pcap...] [--source 127.0.0.N] [--delay-ms N]
Prints the number of datagrams sent.
"""
import socket
import struct
import sys
import time


def udp_payloads(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:  # Ethernet
            etype = struct.unpack(">H", pkt[12:14])[0]
            l3 = pkt[14:]
            while etype in (0x8100, 0x88A8):
                etype = struct.unpack(">H", l3[2:4])[0]
                l3 = l3[4:]
        elif linktype == 113:  # Linux cooked
            etype = struct.unpack(">H", pkt[14:16])[0]
            l3 = pkt[16:]
        elif linktype in (101, 12):  # raw IP
            l3 = pkt
            etype = 0x800 if (pkt[0] >> 4) == 4 else 0x86DD
        else:
            raise SystemExit(f"{path}: unsupported link type {linktype}")
        if etype == 0x800 and l3[9] == 17:
            ihl = (l3[0] & 0xF) * 4
            udp = l3[ihl:]
        elif etype == 0x86DD and l3[6] == 17:
            udp = l3[40:]
        else:
            continue
        length = struct.unpack(">H", udp[4:6])[0]
        yield udp[8:length]


def main():
    args = sys.argv[1:]
    source, delay = None, 0.0
    if "--source" in args:
        i = args.index("--source")
        source = args[i + 1]
        del args[i:i + 2]
    if "--delay-ms" in args:
        i = args.index("--delay-ms")
        delay = float(args[i + 1]) / 1000
        del args[i:i + 2]
    host, port = args[0].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if source:
        sock.bind((source, 0))
    n = 0
    for path in args[1:]:
        for payload in udp_payloads(path):
            sock.sendto(payload, (host, int(port)))
            n += 1
            if delay:
                time.sleep(delay)
    print(n)


if __name__ == "__main__":
    main()
