#!/usr/bin/env bash
# Kafka's tls and sasl keys (as Akvorado's) on a real Kafka 4 broker whose only listener for
# akvo is SASL_SSL (certificate signed by a test CA; user alice in PLAIN and SCRAM):
#  1. the orchestrator with tls (the CA given, verified) and PLAIN, the outlet with the CA and
#     SCRAM-SHA-512, the inlet with SCRAM-SHA-256 and skip-verify: the orchestrator creates the
#     topic, a real capture goes through and its flows equal tshark's;
#  2. an inlet with a wrong password delivers nothing and says why (authentication);
#  3. an inlet that verifies the certificate without the CA delivers nothing and says why;
#  4. on a listener that requires a client certificate: an inlet with cert-file and key-file
#     delivers, one without is refused;
#  5. on a SASL_SSL listener whose only mechanism is OAUTHBEARER, tokens checked against the keys of a
#     real token endpoint (tests/tools/oidc_server.py): an inlet with mechanism oauth (client
#     credentials, a scope) delivers; one with a wrong client secret is refused and says why.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
SPORT=$(free_port)
# The mTLS and OAuth listeners take SPORT + 1 and + 2: ask until those are free and were given
# to no one else (the broker's other ports are not bound yet), then note them as given.
next_free() {
  local p
  for p in $((SPORT + 1)) $((SPORT + 2)); do
    grep -qx "$p" "$TMP/.ports" && return 1
    python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', $p))" 2>/dev/null || return 1
  done
}
until next_free; do SPORT=$(free_port); done
MPORT=$((SPORT + 1)); OPORT=$((SPORT + 2))
printf '%s\n' "$MPORT" "$OPORT" >> "$TMP/.ports"
# The token endpoint, up before the broker, which fetches its keys.
python3 "$ROOT/tests/tools/oidc_server.py" "$TMP/oidc.port" alice alice-secret > "$TMP/oidc.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do [[ -s "$TMP/oidc.port" ]] && break; sleep 0.1; done
[[ -s "$TMP/oidc.port" ]] || { cat "$TMP/oidc.log" >&2; fail "the token endpoint did not start"; }
OIDC="http://127.0.0.1:$(cat "$TMP/oidc.port")"
start_kafka "$SPORT" "$OIDC/jwks"
CA="$KAFKA_DIR/tls/ca.pem"
ORCH_HTTP=$(free_port); OUT_HTTP=$(free_port)
IN_HTTP=$(free_port); IN_UDP=$(free_port)
BAD_HTTP=$(free_port); BAD_UDP=$(free_port)
KAFKA="kafka: {brokers: [127.0.0.1:$SPORT], topic-configuration: {num-partitions: 2}, max-workers: 1,
  tls: {enable: true, ca-file: $CA},
  sasl: {mechanism: plain, username: alice, password: alice-secret}}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
# The outlet on SCRAM-SHA-512 (its own Kafka section).
KAFKA="${KAFKA/mechanism: plain/mechanism: scram-sha512}" outlet_config "$TMP/outlet.yaml" "$OUT_HTTP"
grep -q "scram-sha512" "$TMP/outlet.yaml" || fail "the outlet's configuration has no SCRAM"
# inlet_config FILE HTTP UDP TLS SASL [BROKER_PORT]
inlet_config() {
  cat > "$1" <<YAML
http: {listen: 127.0.0.1:$2}
inlet: {flow: {inputs: [{decoder: netflow, listen: "127.0.0.1:$3"}]}}
kafka: {brokers: [127.0.0.1:${6:-$SPORT}], message-timeout: 60s, tls: $4, sasl: $5}
YAML
}
inlet_config "$TMP/inlet.yaml" "$IN_HTTP" "$IN_UDP" "{enable: true, skip-verify: true}" \
  "{mechanism: scram-sha256, username: alice, password: alice-secret}"

start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "created topic flows-v1 (2 partitions" "$TMP/orch.log" || fail "orchestrator did not create the topic"
pass "orchestrator over SASL_SSL (PLAIN, CA verified): topic created"
start_role outlet outlet "$TMP/outlet.yaml" "$OUT_HTTP"
start_role inlet inlet "$TMP/inlet.yaml" "$IN_HTTP"
for _ in $(seq 1 150); do
  [[ $(metric "$OUT_HTTP" akvo_outlet_kafka_assigned_partitions) -eq 2 ]] && break
  sleep 0.2
done
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
want=$(tshark_totals "$CAP" 9990)
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$IN_UDP" "$CAP" >/dev/null
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$want" 30
pass "nfv5.pcap through an inlet on SCRAM-SHA-256 and skip-verify and an outlet on SCRAM-SHA-512 and the CA: tshark's totals ($want)"

# bad_inlet NAME TLS SASL PATTERN [BROKER_PORT]: its datagrams are not delivered, its log
# matches PATTERN.
bad_inlet() {
  inlet_config "$TMP/$1.yaml" "$BAD_HTTP" "$BAD_UDP" "$2" "$3" "${5:-}"
  start_role "$1" inlet "$TMP/$1.yaml" "$BAD_HTTP"
  python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$BAD_UDP" "$CAP" >/dev/null
  for _ in $(seq 1 100); do
    grep -Eq "$4" "$TMP/$1.log" && break
    sleep 0.2
  done
  grep -Eq "$4" "$TMP/$1.log" || { tail -5 "$TMP/$1.log" >&2; fail "$1: no log matching $4"; }
  local sent delivered
  sent=$(metric "$BAD_HTTP" akvo_inlet_kafka_sent_datagrams_total)
  delivered=$(metric "$BAD_HTTP" akvo_inlet_kafka_delivered_datagrams_total)
  [[ $sent -gt 0 && $delivered -eq 0 ]] || fail "$1: sent $sent, delivered $delivered"
  stop_role "$1"
  pass "$1: $sent datagrams sent, none delivered; the log says: $(grep -Eo "$4" "$TMP/$1.log" | head -1)"
}
bad_inlet wrong_password "{enable: true, ca-file: $CA}" \
  "{mechanism: plain, username: alice, password: wrong}" "[Aa]uthentication failed[^.(]*"
bad_inlet wrong_scram_password "{enable: true, ca-file: $CA}" \
  "{mechanism: scram-sha512, username: alice, password: wrong}" "[Aa]uthentication failed[^(]*SCRAM[^(]*"
bad_inlet unknown_ca "{enable: true}" \
  "{mechanism: plain, username: alice, password: alice-secret}" "certificate verify failed[^)]*"
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$want" 5

# 4. Client certificates: the inlet's datagrams reach the outlet (twice the capture in all).
bad_inlet no_client_cert "{enable: true, ca-file: $CA}" "{}" \
  "alert bad certificate" "$MPORT"
inlet_config "$TMP/inlet_mtls.yaml" "$BAD_HTTP" "$BAD_UDP" \
  "{enable: true, ca-file: $CA, cert-file: $KAFKA_DIR/tls/client.pem, key-file: $KAFKA_DIR/tls/client.key}" \
  "{}" "$MPORT"
start_role inlet_mtls inlet "$TMP/inlet_mtls.yaml" "$BAD_HTTP"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$BAD_UDP" "$CAP" >/dev/null
twice=$(awk -F'\t' '{ printf "%d\t%d\t%d", 2 * $1, 2 * $2, 2 * $3 }' <<< "$want")
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$twice" 30
stop_role inlet_mtls
pass "an inlet with a client certificate on the mTLS listener: delivered, stored ($twice)"


# 5. OAuth: client credentials at the token endpoint, the token checked by the broker.
thrice=$(awk -F'\t' '{ printf "%d\t%d\t%d", 3 * $1, 3 * $2, 3 * $3 }' <<< "$want")
bad_inlet oauth_wrong_secret "{enable: true, ca-file: $CA}" \
  "{mechanism: oauth, username: alice, password: wrong, oauth-token-url: $OIDC/token}" \
  'Failed to retrieve OIDC token[^{]*\{"error": "invalid_client"\} \(401\)' "$OPORT"
grep -q "token client=alice scope= status=401" "$TMP/oidc.log" ||
  fail "the token endpoint saw no refused request: $(cat "$TMP/oidc.log")"
inlet_config "$TMP/inlet_oauth.yaml" "$BAD_HTTP" "$BAD_UDP" "{enable: true, ca-file: $CA}" \
  "{mechanism: oauth, username: alice, password: alice-secret, oauth-token-url: $OIDC/token, oauth-scopes: [kafka-produce, flows]}" \
  "$OPORT"
start_role inlet_oauth inlet "$TMP/inlet_oauth.yaml" "$BAD_HTTP"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$BAD_UDP" "$CAP" >/dev/null
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$thrice" 30
grep -q "token client=alice scope=kafka-produce flows status=200" "$TMP/oidc.log" ||
  fail "no token granted with the scopes: $(cat "$TMP/oidc.log")"
stop_role inlet_oauth
pass "an inlet with oauth (client credentials, two scopes) and TLS on the OAUTHBEARER listener: delivered, stored ($thrice)"

stop_role inlet
stop_role outlet
stop_role orch
pass "clean exits"
