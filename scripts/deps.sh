#!/usr/bin/env bash
# Installs what akvo needs to build, run and test, idempotently. Downloads are cached in
# $AKVO_CACHE (default ~/.cache/akvo), outside the repository, so a second run downloads nothing.
#   scripts/deps.sh          build and run dependencies
#   scripts/deps.sh --test   also the real peers used by the tests (exporters, tshark, snmpd...)
set -euo pipefail
cache="${AKVO_CACHE:-$HOME/.cache/akvo}"
mkdir -p "$cache"

build_pkgs=(cmake ninja-build g++ ccache pkg-config libfmt-dev libspdlog-dev libyaml-cpp-dev
  libcli11-dev libboost-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libpcap-dev libcurl4-openssl-dev libzstd-dev liblz4-dev libre2-dev libmaxminddb-dev
  libsnmp-dev zlib1g-dev libsasl2-dev libprotobuf-dev protobuf-compiler libsqlite3-dev libpq-dev libmariadb-dev libhiredis-dev libssl-dev snmpd
  libgrpc++-dev protobuf-compiler-grpc)
test_pkgs=(tshark wireshark-common tcpreplay softflowd nfdump pmacct snmp clang libclang-rt-14-dev
  python3 curl chromium gobgpd clickhouse-server openjdk-17-jre-headless maven zstd jq openssl
  python3-grpcio python3-grpc-tools python3-cryptography postgresql mariadb-server redis-server)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm: any install that provides the commands (the machine's own, or Debian's).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  # tshark asks whether non-root users may capture: answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The embedded ClickHouse engine, pinned and verified.
CHDB_VERSION=26.7.3-stable.1
CHDB_SHA256=c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad
chdb_dir="$cache/chdb/$CHDB_VERSION"
if [[ ! -s "$chdb_dir/libchdb.so" ]]; then
  tgz="$cache/chdb-lib-linux-x64-gnu-$CHDB_VERSION.tgz"
  if [[ ! -s "$tgz" ]] || ! echo "$CHDB_SHA256  $tgz" | sha256sum -c --quiet - 2>/dev/null; then
    echo "deps: downloading libchdb $CHDB_VERSION (178 MB)"
    (cd "$cache" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
  fi
  echo "$CHDB_SHA256  $tgz" | sha256sum -c --quiet - || { echo "deps: libchdb checksum mismatch" >&2; exit 1; }
  tmp=$(mktemp -d "$cache/chdb-extract.XXXXXX")
  tar xzf "$tgz" -C "$tmp" package/libchdb.so
  mkdir -p "$chdb_dir"
  mv "$tmp/package/libchdb.so" "$chdb_dir/libchdb.so"
  rm -rf "$tmp"
fi
# librdkafka, the Kafka client, built from its source as node-rdkafka's npm package ships it,
# pinned and verified, into a static library in the cache. Debian 12's 2.0.2 fails SCRAM
# against Kafka 4 brokers and has no OIDC (Kafka's oauth mechanism).
RDKAFKA_VERSION=2.12.0
RDKAFKA_NPM=node-rdkafka-3.6.1
RDKAFKA_SHA256=148f7e7b65c510314c70762d8f1be052c8fe1fdf03a128e6c78083a729a57a30
# SSL (TLS, SCRAM), SASL (SCRAM, OAUTHBEARER, and Cyrus SASL for GSSAPI), curl (OIDC), zstd,
# lz4 and zlib, all from Debian. The stamp names the options: changing them rebuilds.
RDKAFKA_OPTIONS="-DWITH_SSL=ON -DWITH_SASL=ON -DWITH_CURL=ON -DWITH_ZSTD=ON -DWITH_ZLIB=ON"
rdkafka_dir="$cache/librdkafka/$RDKAFKA_VERSION"
if [[ "$(cat "$rdkafka_dir/.akvo-options" 2>/dev/null)" != "$RDKAFKA_OPTIONS" ]]; then
  tgz="$cache/$RDKAFKA_NPM.tgz"
  if [[ ! -s "$tgz" ]] || ! echo "$RDKAFKA_SHA256  $tgz" | sha256sum -c --quiet - 2>/dev/null; then
    echo "deps: downloading librdkafka $RDKAFKA_VERSION's source ($RDKAFKA_NPM, 5 MB)"
    (cd "$cache" && npm pack --silent "${RDKAFKA_NPM%-*}@${RDKAFKA_NPM##*-}" >/dev/null)
  fi
  echo "$RDKAFKA_SHA256  $tgz" | sha256sum -c --quiet - || { echo "deps: librdkafka checksum mismatch" >&2; exit 1; }
  echo "deps: building librdkafka $RDKAFKA_VERSION (about a minute)"
  tmp=$(mktemp -d "$cache/librdkafka-build.XXXXXX")
  tar xzf "$tgz" -C "$tmp" package/deps/librdkafka
  src="$tmp/package/deps/librdkafka"
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DRDKAFKA_BUILD_STATIC=ON -DRDKAFKA_BUILD_EXAMPLES=OFF -DRDKAFKA_BUILD_TESTS=OFF \
    $RDKAFKA_OPTIONS \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$tmp/install" \
    > "$tmp/build.log" 2>&1 &&
    cmake --build "$src/build" -j 2 >> "$tmp/build.log" 2>&1 &&
    cmake --install "$src/build" >> "$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log" >&2; echo "deps: librdkafka build failed (log: $tmp/build.log)" >&2; exit 1; }
  for feature in WITH_SASL_SCRAM WITH_OAUTHBEARER_OIDC WITH_SSL; do
    grep -q "$feature 1" "$src/build/generated/config.h" ||
      { echo "deps: librdkafka was built without $feature (log: $tmp/build.log)" >&2; exit 1; }
  done
  echo "$RDKAFKA_OPTIONS" > "$tmp/install/.akvo-options"
  rm -rf "$rdkafka_dir"
  mkdir -p "$(dirname "$rdkafka_dir")"
  mv "$tmp/install" "$rdkafka_dir"
  rm -rf "$tmp"
fi
# The Kafka broker of the scale-out tests: Apache Kafka 4 jars from Maven Central, cached.
if [[ "${1:-}" == "--test" ]]; then
  AKVO_CACHE="$cache" bash "$(dirname "$0")/../tests/tools/kafka.sh" fetch
fi
echo "deps: ok (libchdb in $chdb_dir, librdkafka in $rdkafka_dir)"
