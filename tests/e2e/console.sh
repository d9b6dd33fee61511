#!/usr/bin/env bash
# End-to-end test of the web console: a real akvo all-in-one (chDB, demo exporter) serving the
# built web/dist, driven by playwright-core with Debian's chromium (headless). Screenshots go to
# build/e2e-artifacts/*.png.
source "$(dirname "$0")/../tools/lib.sh"
[[ -s "$ROOT/web/dist/index.html" ]] || fail "web/dist is not built: run make build (or make web)"
[[ -d "$ROOT/web/node_modules/playwright-core" ]] || fail "web/node_modules missing: run make web"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[[ -n "$CHROMIUM" ]] || fail "chromium not installed (scripts/deps.sh --test installs it)"
CONFIG="$TMP/akvo.yaml"
# The demo as `make run` shows it: routers answering SNMP, Akvorado's shipped classifiers.
SNMP_PORT=$(free_port)
write_config "$CONFIG" "console:
  web-root: $ROOT/web/dist
demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  flows-per-second: 500
  snmp-port: $SNMP_PORT"
add_demo_enrichment "$CONFIG" "$SNMP_PORT"
start_akvo "$CONFIG"
# The demo's first flows reach the table within the outlet's batch wait (1 s here).
wait_for "SELECT count() > 0 FROM flows WHERE InIfBoundary = 'external'" "1" 30
ARTIFACTS="${AKVO_E2E_ARTIFACTS:-$ROOT/build/e2e-artifacts}"
mkdir -p "$ARTIFACTS"
AKVO_URL="http://127.0.0.1:$HTTP_PORT" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  node "$ROOT/tests/e2e/console.mjs" || fail "browser checks failed (screenshots in $ARTIFACTS)"
stop_akvo
pass "web console end to end"

# The same akvo published under /akvo/ by a reverse proxy that strips it (console.url-prefix).
write_config "$CONFIG" "console:
  web-root: $ROOT/web/dist
  url-prefix: /akvo/
demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  flows-per-second: 500
  snmp-port: $SNMP_PORT"
add_demo_enrichment "$CONFIG" "$SNMP_PORT"
start_akvo "$CONFIG"
AKVO_URL="http://127.0.0.1:$HTTP_PORT" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  node "$ROOT/tests/e2e/console_prefix.mjs" || fail "browser checks under url-prefix failed"
stop_akvo
pass "web console under a URL prefix"
