#!/usr/bin/env bash
# Builds the decoder fuzz targets (clang, libFuzzer, ASan/UBSan) in build/fuzz and runs each
# for SECONDS (default 60) on a seed corpus made of the captures' UDP payloads (packets/ frames
# for the packet parser). Any crash, sanitizer report, leak or memory past -rss_limit_mb fails.
# Usage: tests/tools/fuzz.sh [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SECONDS_EACH="${1:-60}"
BUILD="$ROOT/build/fuzz"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAKVO_FUZZ=ON >/dev/null
ninja -C "$BUILD" -j2 fuzz >/dev/null
CORPUS="$BUILD/corpus"
rm -rf "$CORPUS" && mkdir -p "$CORPUS"/{netflow,sflow,packet,bmp}
python3 - "$ROOT/../shared/testdata" "$CORPUS" <<'PY'
import sys, os, struct
data, out = sys.argv[1], sys.argv[2]
def frames(path):
    with open(path, "rb") as f:
        b = f.read()
    endian = "<" if b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(endian + "I", b[20:24])[0]
    off = 24
    while off + 16 <= len(b):
        incl = struct.unpack(endian + "I", b[off + 8:off + 12])[0]
        yield link, b[off + 16:off + 16 + incl]
        off += 16 + incl
def udp_payload(link, fr):
    off = 14 if link == 1 else 0
    if link == 1:
        et = int.from_bytes(fr[12:14], "big")
        while et in (0x8100, 0x88a8):
            et = int.from_bytes(fr[off + 2:off + 4], "big"); off += 4
    v = fr[off] >> 4
    if v == 4:
        ihl = (fr[off] & 15) * 4
        return fr[off + ihl + 8:] if fr[off + 9] == 17 else None
    if v == 6:
        return fr[off + 48:] if fr[off + 6] == 17 else None
    return None
n = 0
all_netflow = []
for kind in ("netflow", "sflow"):
    for name in sorted(os.listdir(os.path.join(data, kind))):
        for link, fr in frames(os.path.join(data, kind, name)):
            p = udp_payload(link, fr)
            if p:
                open(os.path.join(out, kind, f"{name}-{n}"), "wb").write(p); n += 1
                if kind == "netflow": all_netflow.append(p)
# Templates and data together in one input (the netflow target splits on "AKVO").
open(os.path.join(out, "netflow", "all"), "wb").write(b"AKVO".join(all_netflow))
# BMP: each capture's TCP payloads in order make one stream of BMP messages.
def tcp_payload(link, fr):
    off = 14 if link == 1 else 0
    v = fr[off] >> 4
    if v == 4 and fr[off + 9] == 6:
        ihl = (fr[off] & 15) * 4
        t = off + ihl
    elif v == 6 and fr[off + 6] == 6:
        t = off + 40
    else:
        return b""
    return fr[t + (fr[t + 12] >> 4) * 4:]
for name in sorted(os.listdir(os.path.join(data, "bmp"))):
    stream = b"".join(tcp_payload(l, fr) for l, fr in frames(os.path.join(data, "bmp", name)))
    if stream:
        open(os.path.join(out, "bmp", name), "wb").write(stream)
for name in sorted(os.listdir(os.path.join(data, "packets"))):
    for link, fr in frames(os.path.join(data, "packets", name)):
        for mode in (0, 1, 2):
            open(os.path.join(out, "packet", f"{name}-{mode}"), "wb").write(bytes([mode]) + fr)
PY
for t in netflow sflow packet bmp; do
  echo "fuzzing ${t} for ${SECONDS_EACH}s"
  "$BUILD/${t}_fuzz" -max_total_time="$SECONDS_EACH" -rss_limit_mb=512 -max_len=9216 \
    -print_final_stats=1 "$CORPUS/$t" 2>"$BUILD/${t}.log" || { tail -40 "$BUILD/${t}.log"; exit 1; }
  grep -E "stat::number_of_executed_units|cov:" "$BUILD/${t}.log" | tail -2
done
echo "fuzz: no crash, no sanitizer report"
