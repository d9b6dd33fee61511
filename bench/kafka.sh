#!/usr/bin/env bash
# Flows/s through Kafka (producer → broker → consumer group → outlet → chDB) next to the
# embedded queue, on this machine: starts a Kafka broker (tests/tools/kafka.sh) on free loopback
# ports and runs BM_Pipeline from akvo_bench.   usage: bench/kafka.sh [build/release]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build/release}"
DIR="$(mktemp -d /tmp/akvo-kafka-bench.XXXXXX)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port); C=$(port)
trap 'bash "$ROOT/tests/tools/kafka.sh" stop "$DIR"; rm -rf "$DIR"' EXIT
bash "$ROOT/tests/tools/kafka.sh" start "$DIR" "$P" "$C"
AKVO_KAFKA_BROKERS="127.0.0.1:$P" "$BUILD/akvo_bench" --benchmark_filter=BM_Pipeline
