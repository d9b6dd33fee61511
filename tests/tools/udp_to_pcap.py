#!/usr/bin/env python3
"""Receives UDP datagrams on a loopback port for some seconds and writes them to a pcap file
(raw IPv4 link type, so that tshark sees the UDP ports), as a router's export would be captured.
Usage: udp_to_pcap.py PORT SECONDS OUT.pcap"""
import socket, struct, sys, time

port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(0.2)
end = time.time() + seconds
n = 0
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
    while time.time() < end:
        try:
            data, (src, sport) = s.recvfrom(65535)
        except socket.timeout:
            continue
        udp = struct.pack("!HHHH", sport, port, 8 + len(data), 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton("127.0.0.1"))
        t = time.time()
        f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(ip + udp), len(ip + udp)))
        f.write(ip + udp)
        n += 1
print(n)
