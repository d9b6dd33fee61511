#!/usr/bin/env bash
# `akvo config import-akvorado`: an Akvorado configuration split over several files (the
# orchestrator's, including the inlet, outlet and console ones, as lists of services) becomes
# one akvo configuration; the settings akvo has no equivalent for are listed on stderr with
# their file and line (exit 2), and `akvo config check` accepts what was written.
source "$(dirname "$0")/../tools/lib.sh"
SRC="$TMP/akvorado"
mkdir -p "$SRC/services"
cat > "$SRC/akvorado.yaml" <<'YAML'
---
kafka:
  topic: lab-flows
  brokers: [kafka-1:9092]
  topic-configuration:
    num-partitions: 4
    config-entries:
      retention.ms: 7200000
      cleanup.policy: delete
clickhousedb:
  servers: [db-1:9000]
  username: writer
  dial-timeout: 3s
clickhouse:
  prometheus-endpoint: /metrics
  resolutions:
    - {interval: 0, ttl: 120h}
    - {interval: 5m, ttl: 720h}
inlet: !include "services/inlet.yaml"
outlet: !include "services/outlet.yaml"
console: !include "services/console.yaml"
YAML
cat > "$SRC/services/inlet.yaml" <<'YAML'
- flow:
    inputs:
      - {type: udp, decoder: netflow, listen: ":2055", workers: 2}
      - {type: udp, decoder: sflow, listen: ":6343"}
  kafka:
    compression-codec: zstd
- flow:
    inputs:
      - {type: udp, decoder: netflow, listen: ":3055"}
- flow:
    inputs:
      - {type: udp, decoder: sflow, listen: ":7343"}
YAML
cat > "$SRC/services/outlet.yaml" <<'YAML'
- core:
    default-sampling-rate: 512
    exporter-classifiers:
      - ClassifyRegion("eu-west")
  metadata:
    providers:
      - type: snmp
        credentials:
          ::/0: {communities: [lab-ro]}
        poller-coalesce: 5
  routing:
    provider: {type: bioris, ris-instances: []}
YAML
cat > "$SRC/services/console.yaml" <<'YAML'
- homepage-top-widgets: [src-as, exporter]
  branding: true
  http:
    listen: ":8181"
    cache: {type: redis, server: "valkey:6379", db: 1}
  database: {driver: postgresql, dsn: "host=pg dbname=akvorado"}
YAML
line() { grep -n -- "$2" "$1" | head -1 | cut -d: -f1; }

set +e
"$AKVO" config import-akvorado "$SRC/akvorado.yaml" -o "$TMP/akvo.yaml" > "$TMP/stdout" 2> "$TMP/stderr"
rc=$?
set -e
cat "$TMP/stderr"
[[ $rc -eq 2 ]] || fail "exit status $rc, expected 2 (settings left out)"
[[ -s "$TMP/akvo.yaml" ]] || fail "nothing written to -o"
[[ ! -s "$TMP/stdout" ]] || fail "with -o, nothing goes to stdout"

# Each left-out setting: file:line: key: why, the file being the included one where it is.
expect() {  # expect FILE NEEDLE KEY
  local l; l=$(line "$1" "$2")
  grep -qF "$1:$l: $3: " "$TMP/stderr" || fail "not reported as $1:$l: $3"
  grep -qF "#   $1:$l: $3: " "$TMP/akvo.yaml" || fail "$3 not in the comment at the top of the output"
}
expect "$SRC/akvorado.yaml" "dial-timeout" "clickhousedb.dial-timeout"
expect "$SRC/akvorado.yaml" "prometheus-endpoint" "clickhouse.prometheus-endpoint"
expect "$SRC/services/outlet.yaml" "poller-coalesce" "outlet[0].metadata.providers[0].poller-coalesce"
expect "$SRC/services/outlet.yaml" "type: bioris" "outlet[0].routing.provider"
expect "$SRC/services/console.yaml" "listen:" "console[0].http.listen"
[[ $(grep -c "^$SRC" "$TMP/stderr") -eq 5 ]] || fail "expected 5 settings left out"
grep -q "5 Akvorado settings left out" "$TMP/stderr" || fail "no summary line"
grep -q "^# inlet: entry 0 of 3 (--index N converts another)" "$TMP/akvo.yaml" \
  || fail "the comment does not say which inlet entry was used"
pass "left-out settings reported with their file and line"

# akvo loads it: the values in force.
"$AKVO" config check "$TMP/akvo.yaml" > "$TMP/check" 2>&1 || { cat "$TMP/check"; fail "config check refuses the output"; }
python3 - "$TMP/check" <<'PY' || fail "unexpected values in force"
import sys, yaml
# PyYAML (YAML 1.1) does not read a plain "::/0" inside a flow mapping, as yaml-cpp writes it.
c = yaml.safe_load(open(sys.argv[1]).read().replace("{::/0:", '{"::/0":'))
inputs = c["inlet"]["flow"]["inputs"]
assert [i["listen"] for i in inputs] == [":2055", ":6343"], inputs
assert inputs[0]["workers"] == 2
assert c["kafka"]["topic"] == "lab-flows" and c["kafka"]["brokers"] == ["kafka-1:9092"]
assert c["kafka"]["compression-codec"] == "zstd"
assert c["kafka"]["topic-configuration"]["num-partitions"] == 4
# The topic's properties as they are: akvo keeps them on the topic.
assert c["kafka"]["topic-configuration"]["config-entries"] == {"retention.ms": "7200000", "cleanup.policy": "delete"} or \
  c["kafka"]["topic-configuration"]["config-entries"] == {"retention.ms": 7200000, "cleanup.policy": "delete"}, c["kafka"]["topic-configuration"]
assert c["clickhouse"]["servers"] == ["db-1:8123"], c["clickhouse"]["servers"]
assert c["clickhouse"]["username"] == "writer"
assert [(r["interval"], r["ttl"]) for r in c["clickhouse"]["resolutions"]] == [("0s", "5d"), ("5m", "30d")], c["clickhouse"]["resolutions"]
assert c["outlet"]["core"]["exporter-classifiers"] == ['ClassifyRegion("eu-west")']
assert c["outlet"]["metadata"]["providers"][0]["credentials"] == {"::/0": {"communities": ["lab-ro"]}}
assert c["outlet"]["routing"]["provider"]["type"] == "none"
assert c["console"]["homepage-top-widgets"] == ["src-as", "exporter"]
assert c["console"]["branding"] is True
# The console's shared cache and saved filters' database, as they are.
assert c["http"]["cache"]["type"] == "redis" and c["http"]["cache"]["server"] == "valkey:6379", c["http"]
assert c["http"]["cache"]["db"] == 1
assert c["console"]["database"]["driver"] == "postgresql", c["console"]["database"]
assert c["console"]["database"]["dsn"] == "host=pg dbname=akvorado"
PY
pass "config check accepts the output, with Akvorado's values"

# To stdout by default; --index converts another entry of each list.
set +e
"$AKVO" config import-akvorado "$SRC/akvorado.yaml" --index 2 > "$TMP/index2.yaml" 2> /dev/null
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--index 2: exit status $rc"
grep -q "^# inlet: entry 2 of 3" "$TMP/index2.yaml" || fail "--index 2: inlet entry not said"
grep -q "^# outlet: entry 0 of 1 (no entry 2: entry 0, as Akvorado)" "$TMP/index2.yaml" \
  || fail "--index 2: the fallback to entry 0 is not said"
"$AKVO" config check "$TMP/index2.yaml" > "$TMP/index2.check" || fail "--index 2: config check refuses it"
grep -q ':7343' "$TMP/index2.check" || fail "--index 2: not the third inlet"
pass "--index"

# Everything carried over: exit 0, no comment about left-out settings.
cat > "$TMP/simple.yaml" <<'YAML'
clickhousedb: {servers: ["db-2:8123"]}
outlet:
  core: {default-sampling-rate: 100}
YAML
"$AKVO" config import-akvorado "$TMP/simple.yaml" > "$TMP/simple.out" 2> "$TMP/simple.err" \
  || fail "a configuration fully carried over exits $?"
[[ ! -s "$TMP/simple.err" ]] || fail "stderr not empty: $(cat "$TMP/simple.err")"
grep -q "Left out" "$TMP/simple.out" && fail "a left-out comment with nothing left out"
pass "nothing left out: exit 0"

# The demo, as Akvorado ships it: an included file whose "" key holds the list, recipes built
# from hidden anchors and merge keys, entries sharing the first one's BMP and flows. Each entry
# becomes one router, with its name, interfaces and recipes: nothing left out.
mkdir -p "$TMP/demo"
printf 'demo-exporter: !include "demo.yaml"\n' > "$TMP/demo/akvorado.yaml"
cat > "$TMP/demo/demo.yaml" <<'YAML'
---
.recipes:
  - &web {src-port: [80, 443], dst-port: 0, protocol: tcp, size: 1300}
  - &to-customers {dst-net: 192.0.2.0/24, dst-as: 64501}
  - &to-customers6 {dst-net: "2001:db8:cafe:1::/64", dst-as: 64501}
  - &from-cdn {src-net: 198.51.100.0/24, src-as: 64600}
  - &from-isps6 {src-net: "2001:db8:100::/48", src-as: [64700, 64701]}
"":
  - snmp:
      name: edge1.example.com
      interfaces: {10: "Transit: Cogent", 11: "IX: FranceIX", 20: core, 21: core}
      listen: :1161
    bmp: &bmp
      target: 127.0.0.1:10179
      routes:
        - {prefixes: "192.0.2.0/24,2001:db8:cafe:1::/64", aspath: 64501}
    flows: &flows
      samplingrate: 50000
      target: 127.0.0.1:2055
      flows:
        - per-second: 1
          in-if-index: 10
          out-if-index: [20, 21]
          peak-hour: 16h
          multiplier: 3
          reverse-direction-ratio: 0.1
          <<: [*from-cdn, *to-customers, *web]
        - &noise
          per-second: 0.5
          in-if-index: [10, 11]
          out-if-index: 20
          peak-hour: 20h
          multiplier: 1
          protocol: [tcp, udp]
          srcport: [22, 4500]
          <<: [*from-cdn, *to-customers]
        - <<: [*from-isps6, *to-customers6, *noise]
  - snmp:
      name: edge2.example.com
      interfaces: {10: "Transit: Lumen", 20: core}
      listen: :1161
    bmp: {<<: *bmp}
    flows: {<<: *flows, seed: 100}
YAML
"$AKVO" config import-akvorado "$TMP/demo/akvorado.yaml" -o "$TMP/demo/akvo.yaml" 2> "$TMP/demo.err" \
  || { cat "$TMP/demo.err"; fail "Akvorado's demo: something left out"; }
"$AKVO" config check "$TMP/demo/akvo.yaml" > "$TMP/demo.check" 2>&1 || { cat "$TMP/demo.check"; fail "config check refuses the converted demo"; }
python3 - "$TMP/demo.check" <<'PY' || fail "unexpected demo values in force"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]).read().replace("{::/0:", '{"::/0":'))["demo-exporter"]
assert d["enabled"] is True and d["protocol"] == "netflow-v9", d
assert d["target"] == "127.0.0.1:2055" and d["snmp-port"] == 1161, d
r = d["routers"]
assert [x["name"] for x in r] == ["edge1.example.com", "edge2.example.com"], r
assert r[0]["interfaces"] == {10: "Transit: Cogent", 11: "IX: FranceIX", 20: "core", 21: "core"}, r[0]["interfaces"]
assert [x["sampling-rate"] for x in r] == [50000, 50000] and r[1]["seed"] == 100, r
assert len(r[0]["flows"]) == 3 and len(r[1]["flows"]) == 3, r
web, noise, noise6 = r[0]["flows"]
assert web["src-net"] == "198.51.100.0/24" and web["src-port"] == [80, 443] and web["size"] == 1300, web
assert noise["src-port"] == [22, 4500] and noise["protocol"] == ["tcp", "udp"], noise
assert noise6["src-net"] == "2001:db8:100::/48" and noise6["src-as"] == [64700, 64701], noise6
assert noise6["per-second"] in (0.5, "0.5") and noise6["src-port"] == [22, 4500], noise6
PY
pass "Akvorado's demo: one router per entry, names, interfaces and recipes, nothing left out"

# Hard errors: exit 1.
echo "inlet: [unclosed" > "$TMP/broken.yaml"
set +e
"$AKVO" config import-akvorado "$TMP/broken.yaml" > /dev/null 2> "$TMP/broken.err"; rc=$?
"$AKVO" config import-akvorado "$TMP/missing.yaml" > /dev/null 2>&1; rc_missing=$?
set -e
[[ $rc -eq 1 ]] || fail "invalid YAML: exit $rc, expected 1"
grep -qE "broken.yaml:[0-9]+:[0-9]+: invalid YAML" "$TMP/broken.err" || fail "invalid YAML: the error does not name the file"
[[ $rc_missing -eq 1 ]] || fail "missing file: exit $rc_missing, expected 1"
pass "hard errors exit 1"
