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
  libsnmp-dev librdkafka-dev libprotobuf-dev protobuf-compiler libsqlite3-dev libpq-dev libmariadb-dev libhiredis-dev libssl-dev snmpd
  libgrpc++-dev protobuf-compiler-grpc)
test_pkgs=(tshark wireshark-common tcpreplay softflowd nfdump pmacct snmp clang libclang-rt-14-dev
  python3 curl chromium gobgpd clickhouse-server openjdk-17-jre-headless maven zstd jq openssl
  python3-grpcio python3-grpc-tools postgresql mariadb-server redis-server)

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
# The Kafka broker of the scale-out tests: Apache Kafka 4 jars from Maven Central, cached.
if [[ "${1:-}" == "--test" ]]; then
  AKVO_CACHE="$cache" bash "$(dirname "$0")/../tests/tools/kafka.sh" fetch
fi
echo "deps: ok (libchdb in $chdb_dir)"
