#!/usr/bin/env bash
# Two consoles behind one load balancer, as Akvorado's: two akvo processes share a real
# PostgreSQL for saved filters (console.database) and a real Redis for answers (http.cache).
#  1. both start, log where they keep filters and answers; the configured shared filter is
#     there once though both seeded it;
#  2. a filter saved through one console is listed, and deleted, through the other;
#  3. a graph one console computed, the other answers from Redis (its hits metric);
#  4. Redis stopped: graphs still answer (misses, errors counted);
#  5. a wrong database password stops akvo at start with the server's reason, never the
#     password.
source "$(dirname "$0")/../tools/lib.sh"
PG_BIN=/usr/lib/postgresql/15/bin
for b in "$PG_BIN/initdb" /usr/bin/redis-server; do
  [[ -x "$b" ]] || fail "$b missing (scripts/deps.sh --test installs it)"
done

# PostgreSQL as the postgres user (it refuses root), superuser akvo with a password.
PG_PORT=$(free_port); REDIS_PORT=$(free_port)
PG_DIR="$TMP/pg"; mkdir -p "$PG_DIR"; echo pg-secret > "$PG_DIR/pw"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chmod 755 "$TMP"  # mktemp made it private: postgres must reach its folder inside
  chown -R postgres:postgres "$PG_DIR"
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
"${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U akvo --pwfile "$PG_DIR/pw" -A scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 --no-sync > "$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; fail "initdb"; }
"${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" \
  -c listen_addresses=127.0.0.1 -c fsync=off > "$TMP/pg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  PGPASSWORD=pg-secret psql -h 127.0.0.1 -p "$PG_PORT" -U akvo -d postgres -qc "CREATE DATABASE akvo" \
    > /dev/null 2>&1 && break
  sleep 0.1
done
PGPASSWORD=pg-secret psql -h 127.0.0.1 -p "$PG_PORT" -U akvo -d akvo -qc "SELECT 1" > /dev/null ||
  { cat "$TMP/pg.log"; fail "postgres did not start"; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
  --requirepass redis-secret > "$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for _ in $(seq 1 100); do
  redis-cli -p "$REDIS_PORT" -a redis-secret --no-auth-warning ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done

DSN="host=127.0.0.1 port=$PG_PORT user=akvo password=pg-secret dbname=akvo"
# console_config N [DSN]: an all-in-one with its own store and ports, the shared database and cache.
console_config() {
  cat > "$TMP/akvo$1.yaml" <<YAML
clickhouse:
  path: $TMP/data$1
http:
  listen: 127.0.0.1:$(eval echo "\$HTTP$1")
  health-socket: ""
  cache: {type: redis, server: "127.0.0.1:$REDIS_PORT", password: redis-secret}
inlet:
  flow:
    inputs:
      - {decoder: netflow, listen: "127.0.0.1:$(free_port)"}
console:
  database:
    driver: postgresql
    dsn: "${2:-$DSN}"
    saved-filters:
      - {description: From Internet, content: InIfBoundary = external}
YAML
}
HTTP1=$HTTP_PORT; HTTP2=$(free_port)
console_config 1; console_config 2
"$AKVO" -c "$TMP/akvo1.yaml" > "$TMP/akvo1.log" 2>&1 & PIDS+=($!)
"$AKVO" -c "$TMP/akvo2.yaml" > "$TMP/akvo2.log" 2>&1 & PIDS+=($!)
for port in $HTTP1 $HTTP2; do
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/api/v0/healthcheck" > /dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/api/v0/healthcheck" > /dev/null ||
    { tail -20 "$TMP"/akvo*.log; fail "akvo on $port did not start"; }
done
for n in 1 2; do
  grep -q "console: cache in redis 127.0.0.1:$REDIS_PORT (database 0)" "$TMP/akvo$n.log" ||
    fail "console $n: no redis cache in its log"
  grep -q "console: saved filters in postgresql 127.0.0.1:$PG_PORT/akvo" "$TMP/akvo$n.log" ||
    fail "console $n: saved filters not in postgresql"
done
pass "two consoles on one PostgreSQL and one Redis"

api() { echo "http://127.0.0.1:$1/api/v0/console/$2"; }
list() { curl -sf -H "Remote-User: $2" "$(api "$1" filter/saved)"; }
count() { python3 -c "import json,sys; f=json.load(sys.stdin)['filters']; print(len([x for x in f if $1]))"; }
[[ $(list "$HTTP1" alice | count "x['user'] == '__system'") == 1 ]] ||
  fail "the configured filter is not there once: $(list "$HTTP1" alice)"
pass "seeded once by two consoles"

code=$(curl -s -o /dev/null -w '%{http_code}' -H "Remote-User: alice" -H 'Content-Type: application/json' \
  -X POST "$(api "$HTTP1" filter/saved)" -d '{"description":"web","content":"DstPort = 443","shared":false}')
[[ $code == 204 ]] || fail "save through console 1: $code"
id=$(list "$HTTP2" alice | python3 -c "import json,sys; print([x['id'] for x in json.load(sys.stdin)['filters'] if x['description'] == 'web'][0])")
[[ $(list "$HTTP2" bob | count "x['description'] == 'web'") == 0 ]] || fail "bob sees alice's filter"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Remote-User: alice" -X DELETE "$(api "$HTTP2" "filter/saved/$id")")
[[ $code == 204 ]] || fail "delete through console 2: $code"
[[ $(list "$HTTP1" alice | count "x['description'] == 'web'") == 0 ]] || fail "deleted filter still listed"
pass "saved through one console, listed and deleted through the other"

metric() { curl -sf "http://127.0.0.1:$1/api/v0/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
BODY='{"start":"2000-01-01T00:00:00Z","end":"2000-01-01T06:00:00Z","dimensions":["SrcAS"],"limit":5,"points":24}'
graph() { curl -sf -H 'Content-Type: application/json' -X POST "$(api "$1" graph/line)" -d "$BODY"; }
a=$(graph "$HTTP1") || fail "graph on console 1"
b=$(graph "$HTTP2") || fail "graph on console 2"
[[ "$a" == "$b" ]] || fail "different answers"
[[ "$(metric "$HTTP2" akvo_console_cache_hits_total)" == 1 ]] ||
  fail "console 2 did not answer from Redis: hits $(metric "$HTTP2" akvo_console_cache_hits_total)"
[[ "$(metric "$HTTP1" akvo_console_cache_misses_total)" == 1 ]] || fail "console 1 did not compute it"
[[ -n $(redis-cli -p "$REDIS_PORT" -a redis-secret --no-auth-warning --scan --pattern 'akvo:console:*') ]] ||
  fail "no akvo:console:* key in Redis"
pass "a graph computed by one console, answered from Redis by the other"

kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
BODY='{"start":"2000-01-02T00:00:00Z","end":"2000-01-02T06:00:00Z","dimensions":["SrcAS"],"limit":5,"points":24}'
graph "$HTTP2" > /dev/null || fail "graph with Redis down"
errors=$(metric "$HTTP2" akvo_console_cache_errors_total)
[[ ${errors%.*} -ge 1 ]] || fail "Redis down, no cache error counted ($errors)"
pass "Redis down: the graph still answers ($errors cache errors counted)"

HTTP3=$(free_port)
console_config 3 "host=127.0.0.1 port=$PG_PORT user=akvo password=not-the-secret dbname=akvo"
rc=0
timeout 120 "$AKVO" -c "$TMP/akvo3.yaml" > "$TMP/akvo3.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a wrong database password: exit $rc"
grep -q 'password authentication failed for user "akvo"' "$TMP/akvo3.log" || { tail -5 "$TMP/akvo3.log"; fail "no reason"; }
! grep -q not-the-secret "$TMP/akvo3.log" || fail "the password is in the log"
pass "a wrong database password stops akvo with the server's reason"
