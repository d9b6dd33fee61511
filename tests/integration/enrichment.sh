#!/usr/bin/env bash
# Enrichment end to end: a real snmpd (started here on a free loopback port) answers for the
# exporter of a real NetFlow v5 capture; classifiers, network attributes and GeoIP (MaxMind's
# test databases) complete the flows; the rows in the store carry it all. Then a restart without
# snmpd: the persisted metadata cache names the flows at once.
source "$(dirname "$0")/../tools/lib.sh"
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
GEO="$ROOT/../shared/testdata/geoip"

# 1. snmpd for the exporter (127.0.0.1), with the interfaces the capture uses.
SNMP_PORT=$(free_port)
mkdir -p "$TMP/snmpd"
{
  echo "agentAddress udp:127.0.0.1:$SNMP_PORT"
  echo "rocommunity public 127.0.0.1"
  echo "sysName nfv5-router.example.net"
  override() { # index name alias speed
    echo "override .1.3.6.1.2.1.31.1.1.1.1.$1 octet_str \"$2\""
    echo "override .1.3.6.1.2.1.31.1.1.1.18.$1 octet_str \"$3\""
    echo "override .1.3.6.1.2.1.2.2.1.2.$1 octet_str \"$2 descr\""
    echo "override .1.3.6.1.2.1.31.1.1.1.15.$1 unsigned $4"
  }
  override 115 Gi0/0/115 "Transit: Cogent" 10000
  override 116 Gi0/0/116 "PNI: Netflix" 100000
  override 117 Gi0/0/117 "IX: FranceIX" 40000
  override 118 Gi0/0/118 "Transit: Lumen" 10000
  for i in 85 86 124 126; do override $i Te0/$i "Customer: cust$i" 1000; done
} > "$TMP/snmpd/snmpd.conf"
SNMP_PERSISTENT_DIR="$TMP/snmpd/persist" MIBS="" /usr/sbin/snmpd -f -C -c "$TMP/snmpd/snmpd.conf" \
  -Lf "$TMP/snmpd/log" -I -ifTable,ifXTable &
SNMPD_PID=$!
PIDS+=("$SNMPD_PID")
for _ in $(seq 1 50); do
  snmpget -v2c -c public -t 0.2 -r 0 "127.0.0.1:$SNMP_PORT" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
  sleep 0.1
done

CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "$(cat <<YAML
  metadata:
    cache-persist-file: $TMP/metadata-cache.json
    providers:
      - type: snmp
        ports: {::/0: $SNMP_PORT}
        credentials: {::/0: {communities: [public]}}
        poller-timeout: 500ms
  geoip:
    asn-database: [$GEO/GeoLite2-ASN-Test.mmdb]
    geo-database: [$GEO/GeoLite2-City-Test.mmdb]
  networks:
    networks:
      142.250.0.0/15: {name: google, role: cdn, site: mtv, region: us, tenant: t1}
      157.240.0.0/16: facebook
  core:
    exporter-classifiers:
      - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "\$1")
      - Exporter.Name endsWith ".net" && ClassifyRegion("europe")
    interface-classifiers:
      - ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "\$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "\$1") && ClassifyExternal()
      - ClassifyInternal()
YAML
)"
# write_config puts extra YAML at the top level: move ours under outlet.
python3 - "$CONFIG" <<'PY'
import sys
p = sys.argv[1]
text = open(p).read()
head, _, extra = text.partition("\n  metadata:\n")
open(p, "w").write(head.replace("outlet:\n", "outlet:\n  metadata:\n" + extra + "\n", 1) if extra else text)
PY
start_akvo "$CONFIG"
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" | awk -v m="$1" '$1==m {s+=$2} END {print s+0}'; }

# 2. The capture once: unknown interfaces are polled, the flows go on unnamed meanwhile.
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
wait_for "SELECT count() FROM flows" "29"
for _ in $(seq 1 50); do
  [[ $(metric akvo_outlet_metadata_provider_answers_total) -ge 8 ]] && break
  sleep 0.2
done
[[ $(metric akvo_outlet_metadata_provider_answers_total) -ge 8 ]] || fail "snmpd did not answer"
pass "8 interfaces polled from snmpd; no flow waited ($(metric akvo_outlet_metadata_cache_misses_total) misses)"

# 3. Again: every flow named and classified as the rules say.
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
wait_for "SELECT count() FROM flows" "58"
named=$(sql "SELECT count() FROM flows WHERE ExporterName = 'nfv5-router.example.net'")
[[ $named -ge 29 ]] || fail "only $named flows named"
got=$(sql "SELECT DISTINCT ExporterSite, ExporterRegion FROM flows WHERE ExporterName != ''")
[[ "$got" == $'nfv5\teurope' ]] || fail "exporter classification: $got"
got=$(sql "SELECT DISTINCT InIfName, InIfDescription, InIfSpeed, InIfConnectivity, InIfProvider, InIfBoundary FROM flows WHERE ExporterName != '' ORDER BY InIfName FORMAT TSV")
want=$'Gi0/0/115\tTransit: Cogent\t10000\ttransit\tcogent\texternal
Gi0/0/116\tPNI: Netflix\t100000\tpni\tnetflix\texternal
Gi0/0/117\tIX: FranceIX\t40000\tix\tfranceix\texternal
Gi0/0/118\tTransit: Lumen\t10000\ttransit\tlumen\texternal'
[[ "$got" == "$want" ]] || fail "input interfaces: got
$got"
got=$(sql "SELECT DISTINCT OutIfName, OutIfDescription, OutIfSpeed, OutIfConnectivity, OutIfProvider, OutIfBoundary FROM flows WHERE ExporterName != '' ORDER BY OutIfName LIMIT 1")
[[ "$got" == $'Te0/124\tCustomer: cust124\t1000\t\t\tinternal' ]] || fail "output interface: $got"
pass "ExporterName, site, region, In/OutIf name, description, speed, connectivity, provider, boundary"

# Network attributes: as many Google-sourced flows as tshark sees in 142.250.0.0/15.
want=$(tshark -r "$CAP" -d udp.port==9990,cflow -T fields -e cflow.srcaddr 2>/dev/null | tr ',' '\n' | grep -c '^142\.25[01]\.')
got=$(sql "SELECT countIf(SrcNetName = 'google' AND SrcNetRole = 'cdn' AND SrcNetSite = 'mtv' AND SrcNetTenant = 't1'), countIf(SrcNetName = 'facebook') > 0, countIf(SrcNetName = 'google' AND NOT isIPAddressInRange(replaceRegexpOne(toString(SrcAddr), '^::ffff:', ''), '142.250.0.0/15')) FROM flows")
[[ "$got" == "$((2 * want))"$'\t1\t0' ]] || fail "network attributes: $got (want $((2 * want)) google flows, facebook, no google outside its prefix)"
pass "network attributes from config ($got)"

# 4. GeoIP: the first record of the capture's first datagram, with its addresses set to known
# answers of MaxMind's test databases and its AS numbers cleared.
python3 - "$CAP" "$NETFLOW_PORT" <<'PY'
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
endian = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
incl = struct.unpack(endian + "IIII", data[24:40])[2]
pkt = data[40:40 + incl]
payload = bytearray(pkt[14 + 20 + 8:])           # NetFlow v5 after Ethernet/IPv4/UDP
assert payload[:2] == b"\x00\x05", payload[:2]
payload[2:4] = struct.pack(">H", 1)              # one record
rec = bytearray(payload[24:72])
rec[0:4] = socket.inet_aton("89.160.20.112")     # SE, AS29518
rec[4:8] = socket.inet_aton("81.2.69.142")       # GB, London
rec[40:42] = b"\0\0"; rec[42:44] = b"\0\0"       # src_as, dst_as: unknown
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.sendto(bytes(payload[:24] + rec), ("127.0.0.1", int(sys.argv[2])))
PY
wait_for "SELECT count() FROM flows" "59"
got=$(sql "SELECT SrcCountry, DstCountry, SrcAS, DstGeoCity, DstGeoState, SrcGeoCity FROM flows WHERE SrcAddr = toIPv6('::ffff:89.160.20.112')")
[[ "$got" == $'SE\tGB\t29518\tLondon\tENG\tLinköping' ]] || fail "GeoIP: $got"
pass "SrcCountry/DstCountry/SrcAS/cities from the test MMDBs ($got)"

# 5. Restart without snmpd: the persisted cache names the flows at once.
named=$(sql "SELECT count() FROM flows WHERE ExporterName = 'nfv5-router.example.net'")
stop_akvo
kill "$SNMPD_PID"; wait "$SNMPD_PID" 2>/dev/null || true
[[ -s "$TMP/metadata-cache.json" ]] || fail "no metadata cache file"
start_akvo "$CONFIG"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
wait_for "SELECT count() FROM flows" "88"
after=$(sql "SELECT count() FROM flows WHERE ExporterName = 'nfv5-router.example.net'")
[[ $after -eq $((named + 29)) ]] || fail "after restart: $after named, expected $((named + 29))"
[[ $(metric akvo_outlet_metadata_snmp_requests_total) -eq 0 ]] || fail "polled again after restart"
pass "restart: the persisted cache named all 29 new flows without polling"
