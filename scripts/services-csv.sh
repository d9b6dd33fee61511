#!/usr/bin/env bash
# Regenerates data/tcp.csv and data/udp.csv (port,name: the well-known service names that the
# console shows as "443/https") from a services(5) file, by default Debian's /etc/services
# (package netbase). The first name given to a port wins. The CSVs are committed: a build does
# not depend on the build host's /etc/services.
set -euo pipefail
src="${1:-/etc/services}"
root="$(cd "$(dirname "$0")/.." && pwd)"
for proto in tcp udp; do
  {
    echo "port,name"
    awk -v p="$proto" '!/^[[:space:]]*#/ && NF >= 2 {
        split($2, a, "/")
        if (a[2] == p && !(a[1] in seen)) { seen[a[1]] = 1; print a[1] "," $1 }
      }' "$src" | sort -t, -k1,1n
  } > "$root/data/$proto.csv"
done
