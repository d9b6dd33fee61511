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
python3 - "$CONFIG" "$SNMP_PORT" <<'PY'
import sys
p, port = sys.argv[1], sys.argv[2]
text = open(p).read()
text = text.replace("outlet:\n", f"""outlet:
  metadata:
    providers:
      - type: snmp
        ports: {{127.0.0.0/8: {port}}}
        poller-timeout: 500ms
  core:
    exporter-classifiers:
      - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1")
    interface-classifiers:
      - ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "$1") && ClassifyExternal()
      - ClassifyInternal()
""", 1)
open(p, "w").write(text)
PY
start_akvo "$CONFIG"
# The demo's first flows reach the table within the outlet's batch wait (1 s here).
wait_for "SELECT count() > 0 FROM flows WHERE InIfBoundary = 'external'" "1" 30
ARTIFACTS="${AKVO_E2E_ARTIFACTS:-$ROOT/build/e2e-artifacts}"
mkdir -p "$ARTIFACTS"
AKVO_URL="http://127.0.0.1:$HTTP_PORT" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  node "$ROOT/tests/e2e/console.mjs" || fail "browser checks failed (screenshots in $ARTIFACTS)"
stop_akvo
pass "web console end to end"
