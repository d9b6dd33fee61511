#!/usr/bin/env bash
# Bounded fuzzing in CI: each decoder's libFuzzer target (clang, ASan/UBSan) for 15 s on the
# seed corpus made of the captures. Longer runs: tests/tools/fuzz.sh SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
exec bash "$ROOT/tests/tools/fuzz.sh" "${FUZZ_SECONDS:-15}"
