#!/usr/bin/env bash
# The demo: its fake routers answer SNMP (one snmpd each, generated config), so the flows they
# send get exporter and interface names, and the classifiers find providers and boundaries.
source "$(dirname "$0")/../tools/lib.sh"
SNMP_PORT=$(free_port)
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  flows-per-second: 400
  routers: 2
  snmp-port: $SNMP_PORT"
add_demo_enrichment "$CONFIG" "$SNMP_PORT"
start_akvo "$CONFIG"
wait_for "SELECT uniqExact(ExporterName) FROM flows WHERE ExporterName != ''" "2" 40
got=$(sql "SELECT DISTINCT ExporterName, ExporterSite FROM flows WHERE ExporterName != '' ORDER BY 1")
[[ "$got" == $'par-edge1.example.net\tpar\nfra-edge1.example.net\tfra' || "$got" == $'fra-edge1.example.net\tfra\npar-edge1.example.net\tpar' ]] || fail "exporters: $got"
pass "demo routers named over SNMP and classified by site"
wait_for "SELECT countIf(InIfProvider = 'cogent' AND InIfConnectivity = 'transit' AND InIfBoundary = 'external' AND InIfSpeed = 10000) > 0, countIf(OutIfBoundary = 'internal' AND OutIfDescription LIKE 'Customer: cust%') > 0 FROM flows" $'1\t1' 30
pass "demo interfaces: names, speeds, providers and boundaries from SNMP + classifiers"
