#!/usr/bin/env bash
# The console API of a running akvo, with curl, on a known data set inserted with SQL:
#  1. /graph/line numbers equal a direct SQL computation (top N + Other = total), X-SQL-Query;
#  2. sankey, table-interval, filter validate/complete, configuration, docs, widgets;
#  3. users from headers, 401 when a login is required, saved filters surviving a restart;
#  4. JSON errors with the right status (400, 404, 405, 413);
#  5. filter errors on graphs, bytes that are not UTF-8; 6. ports with their service names.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "console:
  max-request-size: 4096
  database:
    saved-filters:
      - {description: From Internet, content: InIfBoundary = external}"
start_akvo "$CONFIG"
API="http://127.0.0.1:$HTTP_PORT/api/v0/console"
post() { curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' "${@:3}" -X POST "$API/$1" -d "$2"; }
get() { curl -s -o "$TMP/body" -w '%{http_code}' "${@:2}" "$API/$1"; }
json() { python3 -c "import json,sys; d=json.load(open('$TMP/body')); r=($1,); print(r[0] if len(r) == 1 else r)"; }

# A known data set: 6,000 flows over the hour before a fixed start, 5 source ASes.
T0=$(( ($(date +%s) / 3600 - 2) * 3600 ))
sql --write "INSERT INTO flows (TimeReceived, SamplingRate, ExporterAddress, ExporterName, InIfName,
  InIfBoundary, SrcAS, DstAS, Proto, EType, Bytes, Packets)
  SELECT toDateTime($T0 + intDiv(number * 3600, 6000)), 100, toIPv6('::ffff:192.0.2.1'), 'edge1',
    'Gi0/1', 'external', 64500 + number % 5, 15169, 6, 2048, 1000 + number % 7, 2 FROM numbers(6000)"
# Rows inserted with SQL do not pass through an outlet, which builds the 1-minute rows of each
# batch: add them as it would (the 5-minute and hourly tables follow through their views).
KEYS=$(sql "SELECT arrayStringConcat(groupArray(name), ', ') FROM (SELECT name FROM system.columns
  WHERE database = currentDatabase() AND table = 'flows_1m0s' AND default_kind != 'ALIAS'
  AND name NOT IN ('TimeReceived', 'Bytes', 'Packets') ORDER BY position)")
[[ -n "$KEYS" ]] || fail "no columns in flows_1m0s"
sql --write "INSERT INTO flows_1m0s (TimeReceived, $KEYS, Bytes, Packets)
  SELECT toStartOfMinute(TimeReceived) AS TimeReceived, $KEYS, sum(Bytes), sum(Packets) FROM flows
  GROUP BY TimeReceived, $KEYS"
[[ "$(sql "SELECT sum(Bytes) FROM flows_5m0s")" == "$(sql "SELECT sum(Bytes) FROM flows")" ]] ||
  fail "consolidated rows: flows_5m0s does not sum to flows"
START=$(date -u -d "@$T0" +%Y-%m-%dT%H:%M:%SZ)
END=$(date -u -d "@$((T0 + 3600))" +%Y-%m-%dT%H:%M:%SZ)

# 1. Line graph: 12 buckets of 5 minutes on the 5-minute table, top 3 + Other.
code=$(post graph/line "{\"start\":\"$START\",\"end\":\"$END\",\"dimensions\":[\"SrcAS\"],\"limit\":3,\"points\":12,\"filter\":\"InIfBoundary = external\"}" -D "$TMP/headers")
[[ "$code" == 200 ]] || fail "graph/line: $code $(cat "$TMP/body")"
grep -qi '^X-SQL-Query: .*flows_5m0s' "$TMP/headers" || fail "no X-SQL-Query naming flows_5m0s"
got=$(json 'len(d["t"]), len(d["rows"]), d["rows"][-1], d["axis"]')
[[ "$got" == "(12, 4, ['Other'], [1, 1, 1, 1])" ]] || fail "line shape: $got"
got=$(json '[sum(p[j] for p in d["points"]) for j in range(12)]')
want=$(sql "SELECT groupArray(v) FROM (SELECT intDiv(toUInt32(TimeReceived), 300) AS b, toInt64(round(sum(Bytes * SamplingRate * 8) / 300)) AS v
  FROM flows WHERE TimeReceived >= toDateTime($T0) AND TimeReceived < toDateTime($T0 + 3600) GROUP BY b ORDER BY b)" | tr -d ' ')
# Each series is rounded on its own: allow 2 bps per bucket.
python3 -c "import sys; a=$got; b=$want; sys.exit(0 if len(a)==12 and all(abs(x-y)<=2 for x,y in zip(a,b)) else 1)" ||
  fail "line totals $got, SQL says $want"
pass "graph/line: top 3 + Other add up to the direct SQL totals, X-SQL-Query set"

code=$(post graph/sankey "{\"start\":\"$START\",\"end\":\"$END\",\"dimensions\":[\"SrcAS\",\"DstAS\"],\"limit\":2}")
[[ "$code" == 200 ]] || fail "sankey: $code"
got=$(json 'round(sum(d["xps"])), len(d["links"]), [n["name"] for n in d["nodes"] if n["name"].startswith("DstAS")]')
want=$(sql "SELECT round(sum(Bytes * SamplingRate * 8) / 3600) FROM flows")
[[ "$got" == "($want, 3, ['DstAS: 15169: $(sql "SELECT dictGetOrDefault('asns', 'name', toUInt64(15169), '???')")'])" ]] || fail "sankey: $got (want total $want)"
post graph/table-interval "{\"start\":\"$START\",\"end\":\"$END\",\"points\":200}" >/dev/null
[[ "$(json 'd["table"], d["interval"]')" == "('flows', 18)" ]] || fail "table-interval: $(cat "$TMP/body")"
pass "sankey sums to the total; table-interval picks the raw table for 18 s points"

# 2. Filters, configuration, docs, widgets.
post filter/validate '{"filter":"SrcAS = AS64500 AND ExporterName = \"edge1\""}' >/dev/null
[[ "$(json 'd["message"], d["parsed"]')" == "('ok', \"\`SrcAS\` = 64500 AND \`ExporterName\` = 'edge1'\")" ]] || fail "validate: $(cat "$TMP/body")"
post filter/validate '{"filter":"SrcAS = "}' >/dev/null
[[ "$(json 'd["errors"][0]["column"], d["errors"][0]["message"]')" == "(9, 'expecting an AS number')" ]] || fail "validate error: $(cat "$TMP/body")"
post filter/complete '{"what":"value","column":"ExporterName","prefix":"ed"}' >/dev/null
[[ "$(json 'd["completions"][0] == {"label": "edge1", "detail": "ExporterName", "quoted": True}')" == True ]] || fail "complete: $(cat "$TMP/body")"
get configuration >/dev/null
[[ "$(json 'd["defaultVisualizeOptions"]["filter"], d["dimensionsLimit"]')" == "('InIfBoundary = external', 50)" ]] || fail "configuration"
code=$(get docs/filter-language)
[[ "$code" == 200 ]] && head -1 "$TMP/body" | grep -q '^# Filter language' || fail "docs/filter-language: $code"
get widget/exporters >/dev/null
get widget/top/src-as >/dev/null
[[ "$(json 'd["top"]')" == "[]" ]] || true  # the data is older than 5 minutes
pass "filter validate/complete, configuration, docs, widgets answer"

# 3. Users and saved filters.
get user/info -H 'Remote-User: alice' -H 'Remote-Name: Alice' >/dev/null
[[ "$(json 'd["login"], d["name"]')" == "('alice', 'Alice')" ]] || fail "user/info: $(cat "$TMP/body")"
code=$(get user/avatar -H 'Remote-User: alice')
[[ "$code" == 200 ]] && head -c 4 "$TMP/body" | grep -q PNG || fail "avatar"
code=$(post filter/saved '{"description":"AS 64500","content":"SrcAS = 64500","shared":false}' -H 'Remote-User: alice')
[[ "$code" == 204 ]] || fail "save: $code"
stop_akvo
start_akvo "$CONFIG"
get filter/saved -H 'Remote-User: alice' >/dev/null
[[ "$(json '[(f["user"], f["description"]) for f in d["filters"]]')" == "[('__system', 'From Internet'), ('alice', 'AS 64500')]" ]] ||
  fail "saved filters after restart: $(cat "$TMP/body")"
get filter/saved -H 'Remote-User: bob' >/dev/null
[[ "$(json 'len(d["filters"])')" == 1 ]] || fail "bob sees alice's filter"
pass "users from headers; saved filters per user survive a restart"

# 4. Errors.
code=$(post graph/line '{"start":"2026-01-01T00:00:00Z"}'); [[ "$code" == 400 && "$(json 'd["message"]')" == 'missing "end"' ]] || fail "400: $code"
code=$(get graph/line); [[ "$code" == 405 ]] || fail "405: $code"
code=$(get nothing); [[ "$code" == 404 ]] || fail "404: $code"
code=$(post graph/line "$(head -c 5000 /dev/zero | tr '\0' ' ')"); [[ "$code" == 413 ]] || fail "413: $code"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X DELETE "$API/filter/saved/1" -H 'Remote-User: bob'); [[ "$code" == 404 ]] || fail "delete other's: $code"
pass "errors: 400, 404, 405, 413 as JSON"

# 5. A filter error gives its position on the graph endpoints too. Bytes that are not UTF-8, in
# a stored string (a Latin-1 SNMP description) or in a request, get an answer: akvo used to
# abort on them.
code=$(post graph/line "{\"start\":\"$START\",\"end\":\"$END\",\"filter\":\"Foo = 1\"}")
[[ "$code" == 400 && "$(json 'd["message"]')" == 'invalid filter: at line 1, column 1: unknown column "Foo"' ]] ||
  fail "filter error: $code $(cat "$TMP/body")"
sql --write "INSERT INTO flows (TimeReceived, SamplingRate, InIfDescription, DstPort, Bytes, Packets)
  VALUES (toDateTime($T0 + 60), 1, unhex('436166E9'), 443, 1000000000, 1)"
code=$(post graph/line "{\"start\":\"$START\",\"end\":\"$END\",\"dimensions\":[\"InIfDescription\"],\"filter\":\"DstPort = 443\"}")
[[ "$code" == 200 && "$(json 'd["rows"][0][0] == "Caf\ufffd"')" == True ]] || fail "latin-1 description: $code $(cat "$TMP/body")"
code=$(printf '{"filter":"\xff"}' | curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$API/filter/validate" --data-binary @-)
[[ "$code" == 400 ]] || fail "invalid UTF-8 filter: $code"
code=$(get docs/%ff); [[ "$code" == 404 ]] || fail "docs/%ff: $code"
code=$(get %zz); [[ "$code" == 400 && "$(json 'd["message"]')" == *"percent escape"* ]] || fail "bad escape: $code"
[[ "$(curl -s "http://127.0.0.1:$HTTP_PORT/api/v0/healthcheck")" == *'"status":"ok"}' ]] || fail "akvo died"
pass "filter errors with their position; invalid UTF-8 and bad escapes answered, akvo alive"

# 6. Ports as Akvorado shows them: "443/https" through the tcp and udp dictionaries that the
# orchestrator created, the number alone for other protocols; completed by service name.
sql --write "INSERT INTO flows (TimeReceived, SamplingRate, Proto, DstPort, Bytes, Packets)
  VALUES (toDateTime($T0 + 120), 1, 6, 443, 1000, 1), (toDateTime($T0 + 120), 1, 17, 53, 500, 1)"
code=$(post graph/line "{\"start\":\"$START\",\"end\":\"$END\",\"dimensions\":[\"DstPort\"],\"filter\":\"DstPort IN (443, 53)\"}")
[[ "$code" == 200 && "$(json 'sorted(r[0] for r in d["rows"])')" == "['443', '443/https', '53/domain']" ]] ||
  fail "ports: $code $(cat "$TMP/body")"
post filter/complete '{"what":"value","column":"DstPort","prefix":"doma"}' >/dev/null
[[ "$(json 'd["completions"][0] == {"label": "53", "detail": "domain", "quoted": False}')" == True ]] || fail "complete ports: $(cat "$TMP/body")"
pass "ports shown as 443/https, completed by service name"
stop_akvo
