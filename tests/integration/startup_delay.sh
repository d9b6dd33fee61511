#!/usr/bin/env bash
# core.startup-delay (Akvorado's key, e.g. to let BMP converge): flows received in the first
# seconds wait (here in the embedded queue) and are processed once the delay has passed, none
# lost; a stop during the delay still stores what waited, at once.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "  core:
    startup-delay: 4s"
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
start_akvo "$CONFIG"
t0=$(date +%s.%N)
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
sleep 1.5
[[ "$(sql "SELECT count() FROM flows")" == 0 ]] || fail "flows processed during the startup delay"
wait_for "SELECT count() FROM flows" 29 20
t1=$(date +%s.%N)
grep -q "startup delay over" "$TMP/akvo.log" || fail "no log line at the end of the delay"
pass "flows held during core.startup-delay, then all 29 stored ($(python3 -c "print(f'{$t1-$t0:.1f}')") s after sending)"
stop_akvo

# Stopped during the delay: what waited is stored, and the stop does not wait for the delay.
write_config "$CONFIG" "  core:
    startup-delay: 1h"
rm -rf "$TMP/data"
start_akvo "$CONFIG"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP" >/dev/null
sleep 0.5
s0=$(date +%s)
stop_akvo
(( $(date +%s) - s0 < 10 )) || fail "the stop waited for the startup delay"
[[ "$(sql "SELECT count() FROM flows")" == 29 ]] || fail "flows waiting at the stop were lost"
pass "stop during the delay: the 29 waiting flows stored, stopped in $(( $(date +%s) - s0 )) s"
