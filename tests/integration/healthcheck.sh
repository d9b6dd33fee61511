#!/usr/bin/env bash
# Health as Akvorado's: /api/v0/healthcheck (also under /api/v0/<service>/) gives the worst
# status and each component's; `akvo healthcheck` exits 0 on ok or warning. A real fault: the
# flows table detached, so inserts fail and are retried: the outlet turns to warning with the
# store's error, and back to ok once the table is back, with every flow stored. The same health
# over the abstract Unix sockets (GEN-10), here under a name of this test's own
# (http.health-socket): other tests' akvo may hold the default @akvo.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG"
SOCK="akvo-it-health-$$"
sed -i "s|^  listen: 127.0.0.1:$HTTP_PORT\$|&\n  health-socket: \"@$SOCK\"|" "$CONFIG"
grep -q "health-socket: \"@$SOCK\"" "$CONFIG" || fail "the config has no health-socket"
"$AKVO" healthcheck --http "127.0.0.1:$HTTP_PORT" > "$TMP/h0" 2>&1 && fail "healthcheck succeeded with nothing running"
rc=0; "$AKVO" healthcheck --socket "@$SOCK" > "$TMP/h0" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "healthcheck on a socket nobody has: exit $rc, want 1"
grep -q "no answer" "$TMP/h0" || fail "no reason given: $(cat "$TMP/h0")"
start_akvo "$CONFIG"
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
"$AKVO" healthcheck --socket "@$SOCK" > "$TMP/s1" || fail "healthcheck over @$SOCK failed: $(cat "$TMP/s1")"
[[ "$(field "$TMP/s1" 'd["status"], d["details"]["outlet"]["status"]')" == "('ok', 'ok')" ]] ||
  fail "unexpected health over the socket: $(cat "$TMP/s1")"
for s in inlet outlet orchestrator console; do
  "$AKVO" healthcheck --socket "$SOCK" --service "$s" > "$TMP/s2" || fail "@$SOCK/$s: $(cat "$TMP/s2")"
  grep -q '"status":"ok"' "$TMP/s2" || fail "@$SOCK/$s: $(cat "$TMP/s2")"
done
rc=0; "$AKVO" healthcheck --socket "@$SOCK" --service demo-exporter > "$TMP/s3" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "a service this akvo does not run answered (exit $rc)"
# HTTP/1.1 as Akvorado's: curl talks to it.
curl -sf --abstract-unix-socket "$SOCK" http://akvo/api/v0/healthcheck > "$TMP/s4" ||
  fail "curl --abstract-unix-socket $SOCK"
grep -q '"status":"ok"' "$TMP/s4" || fail "curl over the socket: $(cat "$TMP/s4")"
# Only the health check there.
code=$(curl -s -o /dev/null -w '%{http_code}' --abstract-unix-socket "$SOCK" http://akvo/api/v0/metrics)
[[ "$code" == 404 ]] || fail "/api/v0/metrics over the socket: $code, want 404"
# The requests are counted by route (OBS-3).
curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" > "$TMP/m1" || fail "metrics"
grep -q '^akvo_http_requests_total{handler="/api/v0/healthcheck",method="GET",code="200"} [1-9]' "$TMP/m1" ||
  fail "no count for the healthcheck route: $(grep akvo_http_requests_total "$TMP/m1")"
pass "health socket @$SOCK and @$SOCK/<service>: ok, exit codes, curl, health only"
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
