#!/usr/bin/env bash
# NetFlow v5 from UDP to table, checked against tshark's independent decode:
#  1. a real capture (../shared/testdata/netflow/nfv5.pcap) replayed over UDP;
# then SIGTERM and restart: nothing decoded is lost.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG"
start_akvo "$CONFIG"

# 1. The capture, replayed.
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
want=$(tshark_totals "$CAP" 9990)
sent=$(python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP")
[[ "$sent" -gt 0 ]] || fail "nothing sent"
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$want"
pass "nfv5.pcap: flows, bytes, packets equal tshark's ($want)"
# Exporter address is the UDP source, IPv4 shown as a dotted quad by toString.
got=$(sql "SELECT DISTINCT replaceRegexpOne(toString(ExporterAddress), '^::ffff:', '') FROM flows")
[[ "$got" == "127.0.0.1" ]] || fail "exporter address $got"
first=$(tshark -r "$CAP" -d udp.port==9990,cflow -T fields -e cflow.srcaddr -e cflow.dstaddr -e cflow.srcport -e cflow.dstport -e cflow.protocol 2>/dev/null | head -1 |
  python3 -c 'import sys; c=[x.split(",")[0] for x in sys.stdin.read().strip().split("\t")]; print("\t".join(c))')
got=$(sql "SELECT replaceRegexpOne(toString(SrcAddr), '^::ffff:', ''), replaceRegexpOne(toString(DstAddr), '^::ffff:', ''), SrcPort, DstPort, Proto FROM flows ORDER BY TimeReceived, SrcAddr = toIPv6('::ffff:${first%%$'\t'*}') DESC LIMIT 1")
[[ "$got" == "$first" ]] || fail "first flow: got '$got', tshark says '$first'"
pass "first flow fields equal tshark's"

want=$(sql "SELECT count(), sum(Bytes), sum(Packets) FROM flows")

# 2. SIGTERM then restart: the count survives.
stop_akvo
start_akvo "$CONFIG"
got=$(sql "SELECT count(), sum(Bytes), sum(Packets) FROM flows")
[[ "$got" == "$want" ]] || fail "after restart: $got, before: $want"
pass "restart keeps every flow ($got)"
# The consolidated tables got the same totals.
for t in flows_1m0s flows_5m0s flows_1h0m0s; do
  got=$(sql "SELECT sum(Bytes), sum(Packets) FROM $t")
  [[ "$got" == "${want#*$'\t'}" ]] || fail "$t totals $got, raw ${want#*$'\t'}"
done
pass "consolidated tables hold the same totals"

# 3. With akvo stopped, `akvo sql` opens the store itself: read-only unless --write.
stop_akvo
got=$(sql "SELECT count(), sum(Bytes), sum(Packets) FROM flows")
[[ "$got" == "$want" ]] || fail "akvo sql on the stopped store: $got, want $want"
if sql "CREATE TABLE scratch (a UInt8) ENGINE = Memory" 2>"$TMP/sql.err"; then
  fail "akvo sql without --write created a table"
fi
grep -q READONLY "$TMP/sql.err" || fail "no read-only error: $(cat "$TMP/sql.err")"
sql --write "CREATE TABLE scratch (a UInt8) ENGINE = Memory" || fail "akvo sql --write refused"
pass "akvo sql on a stopped store reads, and writes only with --write"
