#!/usr/bin/env bash
# A real Apache Kafka 4.x broker for the tests: one KRaft node (broker + controller) on
# loopback, from the Maven Central jars cached in $AKVO_CACHE/kafka (default ~/.cache/akvo).
#   kafka.sh fetch                 download the jars (idempotent; scripts/deps.sh --test runs it)
#   kafka.sh start DIR PORT CPORT [SPORT [JWKS_URL]]
#                                  format DIR and start a broker on 127.0.0.1:PORT (controller
#                                  on CPORT); waits until it answers; PID in DIR/kafka.pid.
#                                  With SPORT, also a SASL_SSL listener there: a certificate for
#                                  127.0.0.1 and localhost signed by DIR/tls/ca.pem (made with
#                                  openssl), mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512,
#                                  one user: alice, password alice-secret. And an SSL
#                                  listener on SPORT+1 that requires a client certificate
#                                  signed by that CA (DIR/tls/client.pem, key in client.key).
#                                  With JWKS_URL, a SASL_SSL listener on SPORT+2 (the same
#                                  certificate) whose only mechanism is OAUTHBEARER: tokens are
#                                  JWTs signed by a key of JWKS_URL, for audience "kafka"
#                                  (tests/tools/oidc_server.py).
#   kafka.sh stop DIR              SIGTERM the broker and wait for it
#   kafka.sh kill DIR              SIGKILL the broker
#   kafka.sh java | libs           the java binary and the jars' folder (to run Kafka's tools)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${AKVO_CACHE:-$HOME/.cache/akvo}/kafka"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
libs="$cache/$version/libs"

fetch() {
  [[ -f "$libs/.complete" ]] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
  mkdir -p "$libs"
  echo "kafka.sh: fetching Kafka $version jars into $libs" >&2
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  ls "$libs"/kafka_2.13-"$version".jar >/dev/null
  touch "$libs/.complete"
}

java17() {
  local j
  for j in /usr/lib/jvm/java-17-openjdk-*/bin/java; do [[ -x "$j" ]] && { echo "$j"; return; }; done
  command -v java
}

# tls DIR: a CA and a server certificate (key first, then the chain, as Kafka's PEM keystore
# file wants them) in DIR/tls.
tls() {
  local t="$1/tls"
  [[ -f "$t/server.pem" ]] && return 0
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=akvo test CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$t/server.key" \
    -out "$t/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/san.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 30 -extfile "$t/san.ext" -out "$t/server.crt" 2>/dev/null
  # Kafka reads unencrypted PKCS#8 keys.
  openssl pkcs8 -topk8 -nocrypt -in "$t/server.key" -out "$t/server.p8"
  cat "$t/server.p8" "$t/server.crt" "$t/ca.pem" > "$t/server.pem"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=akvo-client" -keyout "$t/client.key" \
    -out "$t/client.csr" 2>/dev/null
  openssl x509 -req -in "$t/client.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 30 -out "$t/client.pem" 2>/dev/null
}

start() {
  local dir="$1" port="$2" cport="$3" sport="${4:-}" jwks="${5:-}"
  fetch
  mkdir -p "$dir"
  local listeners="PLAINTEXT://127.0.0.1:$port" map="PLAINTEXT:PLAINTEXT" secure="" scram=()
  if [[ -n "$sport" ]]; then
    tls "$dir"
    listeners+=",SECURE://127.0.0.1:$sport,MTLS://127.0.0.1:$((sport + 1))"
    map+=",SECURE:SASL_SSL,MTLS:SSL"
    secure="listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.location=$dir/tls/server.pem
listener.name.mtls.ssl.keystore.type=PEM
listener.name.mtls.ssl.keystore.location=$dir/tls/server.pem
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=$dir/tls/ca.pem
listener.name.mtls.ssl.client.auth=required"
    if [[ -n "$jwks" ]]; then
      listeners+=",OAUTH://127.0.0.1:$((sport + 2))"
      map+=",OAUTH:SASL_SSL"
      secure+="
listener.name.oauth.ssl.keystore.type=PEM
listener.name.oauth.ssl.keystore.location=$dir/tls/server.pem
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oauth.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.oauth.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url=$jwks
sasl.oauthbearer.expected.audience=kafka"
    fi
    scram=(--add-scram "SCRAM-SHA-256=[name=alice,password=alice-secret]"
           --add-scram "SCRAM-SHA-512=[name=alice,password=alice-secret]")
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
listener.security.protocol.map=$map,CONTROLLER:PLAINTEXT
$secure
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
auto.create.topics.enable=true
log.segment.bytes=16777216
PROPS
  cat > "$dir/log4j2.properties" <<'PROPS'
rootLogger.level=WARN
rootLogger.appenderRef.f.ref=F
appender.f.type=File
appender.f.name=F
appender.f.fileName=${sys:kafka.logs.dir}/server.log
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
PROPS
  local java; java=$(java17)
  local jopts=(-Xms128m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$dir/log4j2.properties"
    -cp "$libs/*")
  # Kafka 4 fetches only the OAuth URLs it is told it may.
  [[ -n "$jwks" ]] && jopts+=(-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls="$jwks")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    "$java" "${jopts[@]}" kafka.tools.StorageTool format --standalone "${scram[@]}" \
      -t "akvo-test-cluster-0000" -c "$dir/server.properties" > "$dir/format.log" 2>&1 \
      || "$java" "${jopts[@]}" kafka.tools.StorageTool format "${scram[@]}" \
      -t "akvo-test-cluster-0000" -c "$dir/server.properties" >> "$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; exit 1; }
  fi
  "$java" "${jopts[@]}" kafka.Kafka "$dir/server.properties" >> "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
  for _ in $(seq 1 600); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      # The port opens before the broker registers: give it a moment more.
      sleep 1; return 0
    fi
    kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null || { tail -30 "$dir/stdout.log" "$dir/server.log" >&2 2>/dev/null; exit 1; }
    sleep 0.1
  done
  echo "kafka.sh: broker did not listen on $port" >&2; exit 1
}

stop() {
  local dir="$1" sig="${2:-TERM}" pid
  [[ -f "$dir/kafka.pid" ]] || return 0
  pid=$(cat "$dir/kafka.pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || { rm -f "$dir/kafka.pid"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "$2" "$3" "$4" "${5:-}" "${6:-}" ;;
  stop) stop "$2" TERM ;;
  kill) stop "$2" KILL ;;
  java) java17 ;;
  libs) fetch; echo "$libs" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
