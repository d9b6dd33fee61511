#!/usr/bin/env bash
# The demo: its fake routers answer SNMP (one snmpd each, generated config), so the flows they
# send get exporter and interface names, and the classifiers find providers and boundaries.
source "$(dirname "$0")/../tools/lib.sh"
start_demo
got=$(sql "SELECT DISTINCT ExporterName, ExporterSite FROM flows WHERE ExporterName != '' ORDER BY 1")
[[ "$got" == $'par-edge1.example.net\tpar\nfra-edge1.example.net\tfra' || "$got" == $'fra-edge1.example.net\tfra\npar-edge1.example.net\tpar' ]] || fail "exporters: $got"
pass "demo routers named over SNMP and classified by site"
wait_for "SELECT countIf(InIfProvider = 'cogent' AND InIfConnectivity = 'transit' AND InIfBoundary = 'external' AND InIfSpeed = 10000) > 0, countIf(OutIfBoundary = 'internal' AND OutIfDescription LIKE 'Customer: cust%') > 0 FROM flows" $'1\t1' 30
pass "demo interfaces: names, speeds, providers and boundaries from SNMP + classifiers"

# Routers given as a list (Akvorado's demo exporter entries): their names and interface
# descriptions over SNMP, and the flows of their recipes.
stop_akvo
rm -rf "$TMP/data"
write_config "$CONFIG" "demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  protocol: netflow-v9
  snmp-port: $SNMP_PORT
  routers:
    - name: th2-edge1.example.com
      interfaces: {10: \"Transit: Telia\", 20: core}
      sampling-rate: 50000
      flows:
        - {per-second: 20, in-if-index: 10, out-if-index: 20, peak-hour: 16h, multiplier: 2,
           src-net: 198.51.100.0/24, dst-net: 192.0.2.0/24, src-as: 64600, dst-as: 64501,
           src-port: 443, dst-port: 0, protocol: tcp, size: 1300, reverse-direction-ratio: 0.1}
    - name: dc3-edge1.example.com
      interfaces: {11: \"IX: FranceIX\", 21: core}
      flows:
        - {per-second: 20, in-if-index: 11, out-if-index: 21, peak-hour: 4h, multiplier: 2,
           src-net: 2001:db8:100::/48, dst-net: 2001:db8:cafe:1::/64, src-as: 64700,
           dst-as: 64501, protocol: udp}"
add_demo_enrichment "$CONFIG" "$SNMP_PORT"
start_akvo "$CONFIG"
wait_for "SELECT uniqExact(ExporterName) FROM flows WHERE ExporterName != ''" "2" 40
wait_for "SELECT countIf(ExporterName = 'th2-edge1.example.com' AND InIfName = 'Gi0/0/0/10' AND InIfProvider = 'telia' AND InIfConnectivity = 'transit' AND SrcAS = 64600 AND SrcPort = 443 AND DstPort BETWEEN 33000 AND 34999 AND SamplingRate = 50000) > 0, countIf(ExporterName = 'th2-edge1.example.com' AND InIfName = 'Gi0/0/0/20' AND SrcAS = 64501 AND DstPort = 443) > 0, countIf(ExporterName = 'dc3-edge1.example.com' AND InIfDescription = 'IX: FranceIX' AND InIfSpeed = 10000 AND EType = 34525 AND Proto = 17) > 0 FROM flows" $'1\t1\t1' 30
got=$(sql "SELECT count() FROM flows WHERE ExporterName = 'th2-edge1.example.com' AND (SrcAS NOT IN (64600, 64501) OR InIfName NOT IN ('', 'Gi0/0/0/10', 'Gi0/0/0/20'))")
[[ "$got" == 0 ]] || fail "flows outside the recipe: $got"
pass "configured demo routers: names, interfaces and recipes' flows (and their reverse)"
