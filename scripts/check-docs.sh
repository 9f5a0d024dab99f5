#!/usr/bin/env bash
# Runs every ```bash block of a Markdown document, in order, in one shell,
# against a fresh `lull serve` — so the commands in docs/ stay true.
#
#   scripts/check-docs.sh docs/quickstart.md [DATABASE_URL]
#
# DATABASE_URL defaults to a fresh SQLite file. For PostgreSQL pass an admin
# URL ending in /postgres: a throwaway database is created and dropped.
# The documents use Lull's default address, http://127.0.0.1:8080; it is
# rewritten to the test server's.
set -euo pipefail
cd "$(dirname "$0")/.."

doc="$1"
db="${2:-}"
bin="${LULL_BIN:-./target/release/lull}"
[ -x "$bin" ] || { echo "check-docs: $bin not built (cargo build --release -p server)"; exit 1; }

work="$(mktemp -d)"
pgdb=""
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  if [ -n "$pgdb" ]; then psql -q "$db" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

case "$db" in
  "") url="sqlite://$work/lull.db" ;;
  postgres*)
    pgdb="lull_docs_$(date +%s)_$$"
    psql -q "$db" -c "CREATE DATABASE $pgdb" >/dev/null
    url="${db%/*}/$pgdb"
    ;;
  *) url="$db" ;;
esac

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# A document may ask for server flags: <!-- check-docs: --auth token -->
extra="$(sed -n 's/^<!-- check-docs: \(.*\) -->$/\1/p' "$doc" | head -1)"
# shellcheck disable=SC2086
"$bin" serve --listen "127.0.0.1:$port" --database-url "$url" --static-dir ./dist $extra >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$base/health" >/dev/null || { cat "$work/server.log"; echo "check-docs: server did not start"; exit 1; }

# Extract the bash blocks and point them at the test server.
awk '/^```bash$/{on=1; next} /^```$/{on=0} on' "$doc" \
  | sed "s#http://127.0.0.1:8080#$base#g" >"$work/doc.sh"
echo "check-docs: running $(grep -c '' "$work/doc.sh") lines of $doc against $base ($url)"
# The documents may use the server's database and the binary (auth.md).
export DATABASE_URL="$url"
LULL_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export LULL_BIN
if (cd "$work" && bash -eo pipefail "$work/doc.sh" >"$work/doc.out" 2>&1); then
  echo "check-docs: $doc OK"
else
  cat "$work/doc.out"
  echo "--- server log ---"; tail -20 "$work/server.log"
  echo "check-docs: $doc FAILED"
  exit 1
fi
