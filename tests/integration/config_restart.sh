#!/usr/bin/env bash
# automatic-restart (Akvorado's orchestrator key, on by default): a configuration file written
# with a mistake is reported and the running akvo goes on; a valid one, put in place by a rename
# as editors do, restarts akvo in the same process (same pid); so does a change to an included
# file, with the new settings and the stored flows; SIGHUP does the same on demand; SIGTERM
# still stops it cleanly.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" 'console: !include "console.yaml"'
echo "{default-visualize-options: {start: 6 hours ago}}" > "$TMP/console.yaml"
start_akvo "$CONFIG"
api() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/console/configuration"; }
start_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["defaultVisualizeOptions"]["start"])'; }
[[ "$(api | start_of)" == "6 hours ago" ]] || fail "initial configuration not served"

CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
wait_for "SELECT count() FROM flows" 29

# 1. A mistake: reported, nothing restarts.
cp "$CONFIG" "$TMP/good.yaml"
echo "no-such-key: 1" >> "$CONFIG"
for _ in $(seq 1 50); do grep -q "not valid, akvo goes on" "$TMP/akvo.log" && break; sleep 0.1; done
grep -q "not valid, akvo goes on" "$TMP/akvo.log" || fail "invalid configuration not reported"
grep -q 'no-such-key' "$TMP/akvo.log" || fail "the report does not name the bad key"
grep -q "starting again" "$TMP/akvo.log" && fail "restarted on an invalid configuration"
kill -0 "$AKVO_PID" || fail "akvo died on an invalid configuration"
[[ "$(api | start_of)" == "6 hours ago" ]] || fail "configuration changed after an invalid file"

# 2. The main file put back by a rename (as editors save): a restart.
cp "$TMP/good.yaml" "$TMP/new.yaml"
mv "$TMP/new.yaml" "$CONFIG"
for _ in $(seq 1 300); do
  [[ $(grep -c "running (all-in-one)" "$TMP/akvo.log") -eq 2 ]] && break
  sleep 0.1
done
[[ $(grep -c "running (all-in-one)" "$TMP/akvo.log") -eq 2 ]] || fail "no restart after a rename"
# 3. The included file changed: restart with the new settings, same process.
echo "{default-visualize-options: {start: 2 days ago}}" > "$TMP/console.yaml"
got=""
for _ in $(seq 1 300); do
  got=$(api 2>/dev/null | start_of 2>/dev/null || true)
  [[ "$got" == "2 days ago" ]] && break
  kill -0 "$AKVO_PID" 2>/dev/null || fail "akvo exited instead of restarting"
  sleep 0.1
done
[[ "$got" == "2 days ago" ]] || fail "new configuration not applied after the file changed (got '$got')"
[[ $(grep -c "akvo stopped, starting again" "$TMP/akvo.log") -eq 2 ]] || fail "expected two restarts"
[[ $(grep -c "running (all-in-one)" "$TMP/akvo.log") -eq 3 ]] || fail "expected three starts"
grep -q "watching 2 configuration files" "$TMP/akvo.log" || fail "the included file is not watched"
# The store came back with its flows, and the inputs receive again.
wait_for "SELECT count() FROM flows" 29
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
wait_for "SELECT count() FROM flows" 58
pass "a changed configuration file (main, or included) restarts akvo in place (pid $AKVO_PID): new settings, flows kept, inputs open"

# 4. SIGHUP: read the file again and restart.
kill -HUP "$AKVO_PID"
for _ in $(seq 1 300); do
  [[ $(grep -c "running (all-in-one)" "$TMP/akvo.log") -eq 4 ]] && break
  sleep 0.1
done
[[ $(grep -c "running (all-in-one)" "$TMP/akvo.log") -eq 4 ]] || fail "SIGHUP did not restart akvo"
for _ in $(seq 1 100); do api >/dev/null 2>&1 && break; sleep 0.1; done
wait_for "SELECT count() FROM flows" 58
pass "SIGHUP restarts akvo with its file"

stop_akvo
grep -q "akvo stopped$" "$TMP/akvo.log" || fail "no clean stop after restarts"
pass "SIGTERM after restarts: clean stop"
