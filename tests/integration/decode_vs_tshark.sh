#!/usr/bin/env bash
# `akvo decode --pcap` on every NetFlow/IPFIX capture of ../shared/testdata/netflow, each
# flow's addresses, ports, protocol, bytes and packets compared with tshark's independent
# decode (templates first, as the captures were split).
source "$(dirname "$0")/../tools/lib.sh"
D="$ROOT/../shared/testdata/netflow"
ours() {  # ours FILE...: akvo decode over the files in order, same line format as tshark_flows
  local merged="$TMP/merged.pcap"
  mergecap -a -w "$merged" "$@"
  "$AKVO" decode --pcap "$merged" --format json 2>/dev/null | python3 -c 'import sys, json
rows = []
for l in sys.stdin:
    j = json.loads(l)
    rows.append(" ".join(str(j[k]) for k in ("SrcAddr","DstAddr","SrcPort","DstPort","Proto","Bytes","Packets")))
print("\n".join(sorted(rows)))'
}
for group in "nfv5.pcap" "template.pcap data.pcap" "options-template.pcap options-data.pcap template.pcap data.pcap" \
             "icmp-template.pcap icmp-data.pcap" "samplingrate-template.pcap samplingrate-data.pcap" \
             "mpls.pcap" "data+templates.pcap"; do
  files=()
  for f in $group; do files+=("$D/$f"); done
  want=$(python3 "$ROOT/tests/tools/tshark_flows.py" "${files[@]}")
  got=$(ours "${files[@]}")
  [[ -n "$want" ]] || fail "$group: tshark found no flow"
  if [[ "$got" != "$want" ]]; then
    diff <(echo "$want") <(echo "$got") >&2 || true
    fail "$group: akvo decode differs from tshark"
  fi
  pass "$group: $(echo "$got" | wc -l) flows equal tshark's"
done
# The table format and errors on a bad option.
"$AKVO" decode --pcap "$D/nfv5.pcap" --format table > "$TMP/table" 2>/dev/null
grep -q "161.202.212.212" "$TMP/table" || fail "table format"
if "$AKVO" decode --pcap "$D/nfv5.pcap" --format xml >"$TMP/err" 2>&1; then fail "bad format accepted"; fi
grep -q "expected json or table" "$TMP/err" || fail "bad format message: $(cat "$TMP/err")"
pass "table format and option errors"
