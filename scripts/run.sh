#!/usr/bin/env bash
# README command 1: build the dashboard and the server, then serve.
#
#   bash scripts/run.sh [lull serve flags...]
#
# Defaults (the `lull` binary applies them): SQLite at ./data/lull.db,
# listen on 127.0.0.1:8080, the dashboard embedded in the release binary
# (Trunk's dist/, built just before; --static-dir DIR serves another). For example:
#   bash scripts/run.sh --listen 127.0.0.1:9000
#   bash scripts/run.sh --database-url postgres://postgres@127.0.0.1:5432/lull
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/setup.sh
source scripts/setup.sh
echo "== setup (build tools) =="
lull_setup_build

echo "== trunk build --release (dashboard -> dist/) =="
trunk build --release

echo "== cargo build --release -p server (embeds dist/) =="
cargo build --release -p server

echo "== lull serve $* =="
exec ./target/release/lull serve "$@"
