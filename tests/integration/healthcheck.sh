#!/usr/bin/env bash
# Health as Akvorado's: /api/v0/healthcheck (also under /api/v0/<service>/) gives the worst
# status and each component's; `akvo healthcheck` exits 0 on ok or warning. A real fault: the
# flows table detached, so inserts fail and are retried: the outlet turns to warning with the
# store's error, and back to ok once the table is back, with every flow stored.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG"
"$AKVO" healthcheck --http "127.0.0.1:$HTTP_PORT" > "$TMP/h0" 2>&1 && fail "healthcheck succeeded with nothing running"
start_akvo "$CONFIG"
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
"$AKVO" healthcheck -c "$CONFIG" > "$TMP/h1" || fail "healthcheck failed: $(cat "$TMP/h1")"
[[ "$(field "$TMP/h1" 'd["status"], d["details"]["outlet"]["status"], d["details"]["http"]["status"]')" == "('ok', 'ok', 'ok')" ]] ||
  fail "unexpected health: $(cat "$TMP/h1")"
# Answers are read whole before grep: with pipefail, `curl | grep -q` fails when grep exits
# first and curl gets SIGPIPE (the metrics page is large).
get() { curl -sf "http://127.0.0.1:$HTTP_PORT$1" > "$TMP/body" || fail "GET $1"; }
for p in outlet inlet console orchestrator; do
  get "/api/v0/$p/healthcheck"; grep -q '"status":"ok"' "$TMP/body" || fail "/api/v0/$p/healthcheck"
  get "/api/v0/$p/version"; grep -q '"version"' "$TMP/body" || fail "/api/v0/$p/version"
done
get /api/v0/outlet/metrics; grep -q '^akvo_' "$TMP/body" || fail "/api/v0/outlet/metrics"
pass "healthy: ok for every component, and under each service's prefix"

sql --write "DETACH TABLE flows" >/dev/null
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
for _ in $(seq 1 100); do
  "$AKVO" healthcheck --http "127.0.0.1:$HTTP_PORT" > "$TMP/h2" || true
  grep -q '"warning"' "$TMP/h2" && break
  sleep 0.1
done
[[ "$(field "$TMP/h2" 'd["status"], d["details"]["outlet"]["status"]')" == "('warning', 'warning')" ]] ||
  fail "failing inserts not reported: $(cat "$TMP/h2")"
grep -q "inserts failing" "$TMP/h2" || fail "no reason given: $(cat "$TMP/h2")"
"$AKVO" healthcheck --http "127.0.0.1:$HTTP_PORT" >/dev/null || fail "a warning must exit 0"
pass "failing inserts: outlet warning with the reason ($(field "$TMP/h2" 'd["details"]["outlet"]["reason"][:60]'))"

sql --write "ATTACH TABLE flows" >/dev/null
wait_for "SELECT count() FROM flows" 29 60
for _ in $(seq 1 50); do
  "$AKVO" healthcheck --http "127.0.0.1:$HTTP_PORT" > "$TMP/h3" &&
    [[ "$(field "$TMP/h3" 'd["status"]')" == "ok" ]] && break
  sleep 0.1
done
[[ "$(field "$TMP/h3" 'd["status"]')" == "ok" ]] || fail "not ok again: $(cat "$TMP/h3")"
pass "table back: ok again, the 29 flows stored"
stop_akvo
