#!/usr/bin/env bash
# One configuration file, on the orchestrator: inlet, outlet and console start with its URL
# (`akvo inlet http://orchestrator:port`, as Akvorado) and a tiny local file holding only their
# http.listen. On a real Kafka 4 broker, with the orchestrator's embedded store.
#  1. the inlet starts before the orchestrator and retries until it answers;
#  2. each role runs with the settings of the orchestrator's file (checked in their logs and
#     their behaviour), the outlet and console reach the store through the orchestrator;
#  3. flows sent to the inlet are stored and read back through the console;
#  4. no orchestrator: a clear error and exit code 2 once the timeout passes; an unknown
#     role is refused at once.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
start_kafka

ORCH_HTTP=$(free_port); OUT_HTTP=$(free_port); IN_HTTP=$(free_port); CONSOLE_HTTP=$(free_port)
IN_UDP=$(free_port)
URL="http://127.0.0.1:$ORCH_HTTP"
CONFIG="$TMP/akvo.yaml"
cat > "$CONFIG" <<YAML
clickhouse: {path: $TMP/data}
http: {listen: 127.0.0.1:$ORCH_HTTP, max-body-size: 268435456}
kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 3}, max-workers: 3}
inlet: {flow: {inputs: [{decoder: netflow, listen: "127.0.0.1:$IN_UDP"}]}}
outlet: {clickhouse: {maximum-wait-time: 300ms}}
YAML
for r in inlet outlet console; do
  case $r in inlet) port_var=IN_HTTP ;; outlet) port_var=OUT_HTTP ;; *) port_var=CONSOLE_HTTP ;; esac
  echo "http: {listen: 127.0.0.1:${!port_var}}" > "$TMP/$r-local.yaml"
done

# start_remote NAME ROLE PORT: `akvo ROLE URL -c local`, waits for its API.
start_remote() {
  "$AKVO" "$2" "$URL" -c "$TMP/$2-local.yaml" >> "$TMP/$1.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid"); printf -v "PID_$1" '%s' "$pid"
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$3/api/v0/healthcheck" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$1.log" >&2; fail "$1 exited at start"; }
    sleep 0.1
  done
  fail "$1 did not answer on port $3"
}

# 1. The inlet first: it waits for the orchestrator.
"$AKVO" inlet "$URL" -c "$TMP/inlet-local.yaml" >> "$TMP/inlet.log" 2>&1 &
PID_inlet=$!; PIDS+=("$PID_inlet")
sleep 1.5
kill -0 "$PID_inlet" 2>/dev/null || { cat "$TMP/inlet.log"; fail "the inlet did not wait for the orchestrator"; }
grep -q "not answering" "$TMP/inlet.log" || fail "the inlet did not say it retries"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$IN_HTTP/api/v0/healthcheck" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$IN_HTTP/api/v0/healthcheck" >/dev/null || { cat "$TMP/inlet.log"; fail "inlet not up"; }
grep -q "configuration of the inlet fetched from $URL" "$TMP/inlet.log" || fail "inlet: no fetch logged"
pass "inlet started before the orchestrator, retried, then fetched its configuration"

# 2. What the orchestrator serves, and roles running with it.
curl -sf "$URL/api/v0/orchestrator/configuration/outlet" > "$TMP/outlet-served.yaml"
grep -q "127.0.0.1:$ORCH_HTTP/clickhouse" "$TMP/outlet-served.yaml" || fail "outlet not given the orchestrator's store endpoint"
grep -q "maximum-wait-time: 300ms" "$TMP/outlet-served.yaml" || fail "outlet section not served"
! grep -q "^http:" "$TMP/outlet-served.yaml" || fail "http section served (each process has its own)"
! grep -q "^inlet:" "$TMP/outlet-served.yaml" || fail "inlet section served to the outlet"
# --dump and --check (Akvorado's flags): the configuration in force, then exit.
"$AKVO" outlet "$URL" --dump > "$TMP/outlet-dump.yaml" || fail "--dump failed"
grep -q "maximum-wait-time: 300ms" "$TMP/outlet-dump.yaml" || fail "--dump does not show the served outlet section"
echo "outlet: {workers: 0}" > "$TMP/bad-local.yaml"
rc=0; out=$("$AKVO" outlet "$URL" -c "$TMP/bad-local.yaml" --check 2>&1) || rc=$?
[[ $rc -eq 2 ]] && grep -q "bad-local.yaml:1:.*workers" <<< "$out" || fail "--check of a bad local file: rc $rc, $out"
"$AKVO" outlet "$URL" --check || fail "--check of a good configuration failed"
start_remote outlet outlet "$OUT_HTTP"
start_remote console console "$CONSOLE_HTTP"
grep -q "kafka consumer of flows-v1 on 127.0.0.1:$KAFKA_PORT (group akvo-outlet, classic protocol, 3 workers)" "$TMP/outlet.log" ||
  fail "the outlet does not run with the orchestrator's kafka section"
grep -q "kafka producer to flows-v1 on 127.0.0.1:$KAFKA_PORT (random partitioning)" "$TMP/inlet.log" ||
  fail "the inlet does not run with the orchestrator's kafka section"
for _ in $(seq 1 150); do [[ $(metric "$OUT_HTTP" akvo_outlet_kafka_assigned_partitions) -eq 3 ]] && break; sleep 0.2; done
[[ $(metric "$OUT_HTTP" akvo_outlet_kafka_assigned_partitions) -eq 3 ]] || fail "outlet holds no partition"
pass "outlet and console fetched their configuration (kafka, store endpoint, 3 workers)"

# 3. Flows through the inlet and the outlet, read back by the console.
N=3000
python3 "$ROOT/tests/tools/kafka_flowgen.py" --target "127.0.0.1:$IN_UDP" --flows $N --rate 3000 \
  --source 127.0.0.5 >/dev/null
wait_for "SELECT count() FROM flows WHERE ExporterAddress = toIPv6('::ffff:127.0.0.5')" "$N" 30
got=$(curl -sf "http://127.0.0.1:$CONSOLE_HTTP/api/v0/sql" -d "{\"query\":\"SELECT count() FROM flows WHERE ExporterAddress = toIPv6('::ffff:127.0.0.5')\"}")
[[ "$got" == "$N" ]] || fail "console sees $got flows"
pass "$N flows: inlet → Kafka → outlet → orchestrator's store → console"
for r in inlet outlet console orch; do stop_role "$r"; done
pass "everyone exits 0 on SIGTERM"

# 4. Errors: nobody answers (after the timeout), or the orchestrator refuses the role.
rc=0
out=$("$AKVO" outlet "http://127.0.0.1:$ORCH_HTTP" --orchestrator-timeout 1s 2>&1) || rc=$?
[[ $rc -eq 2 ]] || fail "no orchestrator: exit code $rc"
grep -q "cannot fetch the configuration from the orchestrator at http://127.0.0.1:$ORCH_HTTP" <<< "$out" || fail "unclear error: $out"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
rc=0
out=$("$AKVO" outlet "http://127.0.0.1:$ORCH_HTTP/nowhere" --orchestrator-timeout 30s 2>&1) || rc=$?
[[ $rc -eq 2 ]] || fail "refused: exit code $rc"
grep -q "the orchestrator answered 404" <<< "$out" || fail "unclear error: $out"
# Akvorado's URL fragment: #0 is the one configuration akvo serves, #1 a clear 404.
curl -sf "$URL/api/v0/orchestrator/configuration/outlet/0" | cmp -s - "$TMP/outlet-served.yaml" ||
  fail "/configuration/outlet/0 differs from /configuration/outlet"
rc=0
out=$("$AKVO" outlet "http://127.0.0.1:$ORCH_HTTP#1" --orchestrator-timeout 30s 2>&1) || rc=$?
[[ $rc -eq 2 ]] || fail "#1: exit code $rc"
grep -q "answered 404: .*no configuration 1 for the outlet: akvo serves one per service" <<< "$out" || fail "#1: unclear error: $out"
out=$("$AKVO" outlet "http://127.0.0.1:$ORCH_HTTP#x" 2>&1) || true
grep -q "the fragment must be a configuration index" <<< "$out" || fail "#x: unclear error: $out"
stop_role orch
pass "no orchestrator: exit 2 after the timeout; a 404 fails at once; #0 serves the configuration, #1 and #x are refused"
