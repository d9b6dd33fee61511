# Kafka helpers for the integration tests (sourced after lib.sh): a real broker from
# tests/tools/kafka.sh, stopped on exit before the temporary folder is removed.
KAFKA_PORT=$(free_port); KAFKA_CPORT=$(free_port)
KAFKA_DIR="$TMP/kafka"
KAFKA_SH="$ROOT/tests/tools/kafka.sh"
kafka_cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null || true; done
  PIDS=()
  bash "$KAFKA_SH" kill "$KAFKA_DIR" 2>/dev/null || true
  cleanup
}
trap kafka_cleanup EXIT
# start_kafka [SPORT [JWKS_URL]]: with SPORT, a SASL_SSL listener there too, and more on the
# next ports (kafka.sh).
start_kafka() { bash "$KAFKA_SH" start "$KAFKA_DIR" "$KAFKA_PORT" "$KAFKA_CPORT" "${1:-}" "${2:-}" || fail "kafka did not start"; }
stop_kafka() { bash "$KAFKA_SH" stop "$KAFKA_DIR"; }
kill_kafka() { bash "$KAFKA_SH" kill "$KAFKA_DIR"; }

# start_role NAME ROLE CONFIG HTTP_PORT: runs `akvo ROLE`, waits for its API; PID in PID_<NAME>.
start_role() {
  local name=$1 role=$2 config=$3 port=$4
  "$AKVO" "$role" -c "$config" >> "$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/api/v0/healthcheck" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$name.log" >&2; fail "$name exited at start"; }
    sleep 0.1
  done
  fail "$name did not answer on port $port"
}
# stop_role NAME: SIGTERM, must exit 0.
stop_role() {
  local v="PID_$1" rc=0
  kill -TERM "${!v}"
  wait "${!v}" || rc=$?
  [[ $rc -eq 0 ]] || { tail -20 "$TMP/$1.log" >&2; fail "$1 exited with $rc on SIGTERM"; }
}
# orchestrator_config: writes the orchestrator's config (embedded store in $TMP/data, $KAFKA,
# HTTP on $ORCH_HTTP) to $CONFIG.
orchestrator_config() {
  CONFIG="$TMP/orchestrator.yaml"
  cat > "$CONFIG" <<YAML
clickhouse: {path: $TMP/data}
http: {listen: 127.0.0.1:$ORCH_HTTP, max-body-size: 268435456}
$KAFKA
YAML
}

# outlet_config FILE HTTP_PORT [OUTLET]: an outlet's config written to FILE: the orchestrator's
# store through its ClickHouse endpoint ($ORCH_HTTP), HTTP on HTTP_PORT, $KAFKA, and OUTLET as
# the outlet section (YAML; default: batches every 500 ms).
outlet_config() {
  cat > "$1" <<YAML
clickhouse: {servers: ["127.0.0.1:$ORCH_HTTP/clickhouse"]}
http: {listen: 127.0.0.1:$2}
outlet: ${3:-"{clickhouse: {maximum-wait-time: 500ms}}"}
$KAFKA
YAML
}

# netflow_inlet_config FILE HTTP_PORT UDP_PORT [INPUT_EXTRA]: an inlet's config written to FILE:
# HTTP on HTTP_PORT, one NetFlow input on UDP_PORT (INPUT_EXTRA: more of its keys, YAML flow
# style, e.g. "receive-buffer: 8388608"), $KAFKA.
netflow_inlet_config() {
  cat > "$1" <<YAML
http: {listen: 127.0.0.1:$2}
inlet: {flow: {inputs: [{decoder: netflow, listen: "127.0.0.1:$3"${4:+, $4}}]}}
$KAFKA
YAML
}

# metric PORT NAME: sum of a metric over its labels.
metric() {
  curl -sf "http://127.0.0.1:$1/api/v0/metrics" |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d\n", s }'
}
pass() { echo "ok: $* (${SECONDS}s)"; }
