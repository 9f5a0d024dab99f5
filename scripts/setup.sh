#!/usr/bin/env bash
# Idempotent installer for everything Lull needs to build, run and test.
# Every step checks first and prints one line: "present" or "installing".
#
# Run it:     bash scripts/setup.sh [STEP...]      (no STEP = --all)
#   --all          everything below
#   --build        --wasm-target --trunk --wasm-bindgen --binaryen (what scripts/run.sh needs)
#   --e2e          --cli-tools --chromium --playwright
#   --wasm-target  rustup target wasm32-unknown-unknown
#   --trunk        trunk 0.22.1 (cargo install)
#   --wasm-bindgen wasm-bindgen-cli 0.2.130 (cargo install, without --locked)
#   --binaryen     wasm-opt from binaryen 132 (npm, in tools/)
#   --cli-tools    jq, curl and tmux (apt; tmux drives the `lull tui` end-to-end test)
#   --chromium     /usr/bin/chromium (apt; never `npx playwright install`)
#   --playwright   @playwright/test in end2end/ (npm ci)
#   --postgres     PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres
#   --mcp-client   the official Python MCP SDK and pytest in a venv, tools/venv
#                  (pip from PyPI; the MCP end-to-end test in end2end/mcp/)
#   --schemathesis the API fuzzer schemathesis in a venv, tools/schemathesis-venv
#                  (pip from PyPI; end2end/schemathesis/run.sh)
#   --service-tools systemd-analyze, zsh, fish, groff (apt; the packaging tests:
#                  unit verification, completion syntax, man page rendering)
#
# Source it:  source scripts/setup.sh   defines the lull_setup_* functions and
#             puts cargo's bin and tools/node_modules/.bin on PATH; runs nothing.
#
# PostgreSQL: lull_setup_postgres sets LULL_PG_AVAILABLE=1 or 0. When it cannot
# get a server: with CI=true it exits non-zero, otherwise it warns and returns 0
# so the caller can skip the PostgreSQL tests.

# ---------------------------------------------------------------- constants
LULL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LULL_TRUNK_VERSION="0.22.1"
LULL_WASM_BINDGEN_VERSION="0.2.130"
LULL_PG_HOST="127.0.0.1"
LULL_PG_PORT="5432"
# The Python MCP client the end-to-end test drives /mcp with.
LULL_MCP_SDK_VERSION="2.3.0"
LULL_PYTEST_VERSION="8.4.2"
# The API fuzzer run over /api/openapi.json (end2end/schemathesis/).
LULL_SCHEMATHESIS_VERSION="4.32.5"
export LULL_ROOT

# cargo-installed tools and the npm-installed wasm-opt (binaryen 132 must win
# over any Debian binaryen 108 on PATH: that one produces WASM that loads to a
# blank page).
_lull_path_prepend() {
  case ":$PATH:" in
    *":$1:"*) ;;
    *) PATH="$1:$PATH" ;;
  esac
}
_lull_path_prepend "${CARGO_HOME:-$HOME/.cargo}/bin"
_lull_path_prepend "$LULL_ROOT/tools/node_modules/.bin"
export PATH

# ---------------------------------------------------------------- helpers
_lull_step() { printf '[setup] %-28s %s\n' "$1" "$2"; }
_lull_warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
_lull_die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}

_lull_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get update at most once per script run (exported, so a child script
# started from the same run does not repeat it).
_lull_apt_install() {
  if [ "${LULL_APT_UPDATED:-0}" != "1" ]; then
    _lull_step "apt-get update" "running (once)"
    _lull_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export LULL_APT_UPDATED=1
  fi
  _lull_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Do not start a duplicate `cargo install` of a crate that is being installed
# by another process right now: wait for it (at most 60 min), then re-check.
_lull_wait_for_cargo_install() {
  local crate="$1" waited=0
  while pgrep -f "cargo install .*${crate}" >/dev/null 2>&1; do
    if [ "$waited" -eq 0 ]; then
      _lull_step "$crate" "another 'cargo install $crate' is running: waiting for it"
    fi
    if [ "$waited" -ge 3600 ]; then
      _lull_warn "still waiting for another 'cargo install $crate' after 60 min; installing anyway"
      return 0
    fi
    sleep 15
    waited=$((waited + 15))
  done
}

_lull_require_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    _lull_step "node/npm" "installing (apt)"
    _lull_apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 20 ]; then
    _lull_warn "Node.js $(node --version 2>/dev/null) found; @playwright/test 1.65 needs Node >= 20"
  fi
}

# ---------------------------------------------------------------- steps
lull_setup_wasm_target() {
  if rustup target list --installed 2>/dev/null | grep -qx 'wasm32-unknown-unknown'; then
    _lull_step "rust wasm32 target" "present"
  else
    _lull_step "rust wasm32 target" "installing"
    rustup target add wasm32-unknown-unknown
  fi
}

_lull_trunk_version() { trunk --version 2>/dev/null | awk '{print $2}' || true; }

lull_setup_trunk() {
  if ! command -v trunk >/dev/null 2>&1; then
    _lull_wait_for_cargo_install trunk
  fi
  if command -v trunk >/dev/null 2>&1; then
    local v
    v="$(_lull_trunk_version)"
    _lull_step "trunk" "present ($v)"
    if [ "$v" != "$LULL_TRUNK_VERSION" ]; then
      _lull_warn "trunk $v found; the project is tested with trunk $LULL_TRUNK_VERSION"
    fi
  else
    _lull_step "trunk $LULL_TRUNK_VERSION" "installing (cargo install, ~17 min on 2 cores)"
    # trunk 0.22.1 declares rustc 1.96 but builds fine on 1.95.
    cargo install trunk --version "$LULL_TRUNK_VERSION" --locked --ignore-rust-version
  fi
}

_lull_wasm_bindgen_version() { wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true; }

lull_setup_wasm_bindgen() {
  if [ "$(_lull_wasm_bindgen_version)" != "$LULL_WASM_BINDGEN_VERSION" ]; then
    _lull_wait_for_cargo_install wasm-bindgen-cli
  fi
  local v
  v="$(_lull_wasm_bindgen_version)"
  if [ "$v" = "$LULL_WASM_BINDGEN_VERSION" ]; then
    _lull_step "wasm-bindgen-cli" "present ($v)"
  else
    _lull_step "wasm-bindgen-cli $LULL_WASM_BINDGEN_VERSION" "installing (cargo install, ~6 min; found: ${v:-none})"
    # Without --locked: its lockfile pins a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$LULL_WASM_BINDGEN_VERSION"
  fi
}

lull_setup_binaryen() {
  local bin="$LULL_ROOT/tools/node_modules/.bin/wasm-opt"
  if [ -x "$bin" ]; then
    _lull_step "binaryen (wasm-opt)" "present ($("$bin" --version 2>/dev/null | awk '{print $3}'))"
  else
    _lull_step "binaryen 132 (wasm-opt)" "installing (npm, tools/)"
    _lull_require_npm
    if [ -f "$LULL_ROOT/tools/package-lock.json" ]; then
      (cd "$LULL_ROOT/tools" && npm ci --no-audit --no-fund)
    else
      (cd "$LULL_ROOT/tools" && npm i --no-audit --no-fund)
    fi
  fi
  hash -r
  local found
  found="$(command -v wasm-opt || true)"
  if [ "$found" != "$bin" ]; then
    _lull_die "wasm-opt on PATH is '${found:-none}', expected $bin"
  fi
}

lull_setup_cli_tools() {
  local missing=() t
  for t in jq curl tmux; do
    if command -v "$t" >/dev/null 2>&1; then
      _lull_step "$t" "present"
    else
      _lull_step "$t" "installing (apt)"
      missing+=("$t")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    _lull_apt_install "${missing[@]}"
  fi
}

# The tools server/tests/packaging.rs checks our packaging with: systemd's
# `systemd-analyze verify` on the units, `zsh -n` / `fish --no-execute` on the
# completions (bash is here already), groff on the man pages. Installing the
# `systemd` package does not make it PID 1 in a container; it only brings the
# tools.
lull_setup_service_tools() {
  local missing=() t pkg
  for t in systemd-analyze:systemd zsh:zsh fish:fish groff:groff-base; do
    pkg="${t#*:}"
    t="${t%%:*}"
    if command -v "$t" >/dev/null 2>&1; then
      _lull_step "$t" "present"
    else
      _lull_step "$t" "installing (apt: $pkg)"
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    _lull_apt_install "${missing[@]}"
  fi
}

lull_setup_chromium() {
  if [ -x /usr/bin/chromium ]; then
    _lull_step "chromium" "present"
  else
    # Debian's package; never `npx playwright install` (it downloads browsers).
    _lull_step "chromium" "installing (apt)"
    _lull_apt_install chromium
  fi
}

lull_setup_playwright() {
  local dir="$LULL_ROOT/end2end" want have
  want="$(sed -n 's/.*"@playwright\/test": *"\([^"]*\)".*/\1/p' "$dir/package.json")"
  have=""
  if [ -f "$dir/node_modules/@playwright/test/package.json" ]; then
    have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
      "$dir/node_modules/@playwright/test/package.json" | head -n1)"
  fi
  if [ -n "$have" ] && [ "$have" = "$want" ]; then
    _lull_step "@playwright/test" "present ($have)"
  else
    _lull_step "@playwright/test $want" "installing (npm ci in end2end/)"
    _lull_require_npm
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# --- PostgreSQL
_lull_pg_ready() { pg_isready -q -h "$LULL_PG_HOST" -p "$LULL_PG_PORT" >/dev/null 2>&1; }

_lull_pg_login_ok() {
  PGCONNECT_TIMEOUT=5 psql -w -h "$LULL_PG_HOST" -p "$LULL_PG_PORT" -U postgres -d postgres \
    -Atqc 'SELECT 1' >/dev/null 2>&1
}

_lull_pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true; }

_lull_pg_wait_ready() {
  local i
  for i in $(seq 1 30); do
    _lull_pg_ready && return 0
    sleep 1
  done
  return 1
}

_lull_pg_start_cluster() {
  local v
  v="$(_lull_pg_version)"
  [ -n "$v" ] || return 1
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  if [ ! -d "/etc/postgresql/$v/main" ]; then
    _lull_sudo pg_createcluster "$v" main >/dev/null || return 1
  fi
  # --skip-systemctl-redirect: these machines run no systemd.
  _lull_sudo pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 ||
    _lull_sudo pg_ctlcluster "$v" main start >/dev/null 2>&1 || true
  _lull_pg_wait_ready
}

# Make `psql -h 127.0.0.1 -U postgres` work without a password (trust for user
# postgres from the loopback addresses only), then reload the server.
_lull_pg_trust_loopback() {
  local v hba
  v="$(_lull_pg_version)"
  hba="/etc/postgresql/$v/main/pg_hba.conf"
  [ -n "$v" ] && [ -f "$hba" ] || return 1
  if ! grep -q '^# lull: trust loopback' "$hba"; then
    _lull_step "postgresql auth" "adding trust for user postgres on 127.0.0.1 and ::1 to $hba"
    local tmp
    tmp="$(mktemp)"
    {
      echo '# lull: trust loopback (added by scripts/setup.sh)'
      echo 'host all postgres 127.0.0.1/32 trust'
      echo 'host all postgres ::1/128 trust'
      cat "$hba"
    } >"$tmp"
    _lull_sudo cp "$tmp" "$hba"
    rm -f "$tmp"
  fi
  _lull_sudo pg_ctlcluster --skip-systemctl-redirect "$v" main reload >/dev/null 2>&1 ||
    _lull_sudo pg_ctlcluster "$v" main reload >/dev/null 2>&1 || true
  sleep 1
  _lull_pg_login_ok
}

_lull_pg_unavailable() {
  export LULL_PG_AVAILABLE=0
  if [ "${CI:-}" = "true" ]; then
    _lull_die "PostgreSQL is not available on $LULL_PG_HOST:$LULL_PG_PORT with trust auth for user postgres ($*). Under CI=true the PostgreSQL tests are mandatory."
  fi
  _lull_warn "PostgreSQL is not available on $LULL_PG_HOST:$LULL_PG_PORT ($*): the PostgreSQL tests will be SKIPPED."
  return 0
}

lull_setup_postgres() {
  export LULL_PG_AVAILABLE=0
  if command -v pg_isready >/dev/null 2>&1 && _lull_pg_ready; then
    _lull_step "postgresql" "present (running on $LULL_PG_HOST:$LULL_PG_PORT)"
  elif command -v pg_isready >/dev/null 2>&1 && _lull_pg_start_cluster; then
    _lull_step "postgresql" "present (started cluster $(_lull_pg_version)/main)"
  elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(_lull_pg_version)" ]; then
    # Installed, but neither running nor startable: installing again won't help.
    _lull_pg_unavailable "cluster $(_lull_pg_version)/main is installed but does not start"
    return 0
  else
    _lull_step "postgresql" "installing (apt)"
    if ! _lull_apt_install postgresql; then
      _lull_pg_unavailable "apt-get install postgresql failed"
      return 0
    fi
    if ! _lull_pg_ready && ! _lull_pg_start_cluster; then
      _lull_pg_unavailable "installed, but the server did not start"
      return 0
    fi
  fi
  if ! command -v psql >/dev/null 2>&1; then
    _lull_step "psql" "installing (apt)"
    _lull_apt_install postgresql-client || true
  fi
  if ! _lull_pg_login_ok && ! _lull_pg_trust_loopback; then
    _lull_pg_unavailable "cannot log in as postgres without a password over TCP"
    return 0
  fi
  export LULL_PG_AVAILABLE=1
  _lull_step "postgresql login" "ok (postgres@$LULL_PG_HOST:$LULL_PG_PORT, trust)"
}

# --- Python venvs under tools/: python3 with venv and ensurepip (apt if
# missing), then the venv itself if it is not there yet.
_lull_python_venv() {
  local venv="$1"
  if ! command -v python3 >/dev/null 2>&1; then
    _lull_apt_install python3 python3-venv
  fi
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    _lull_apt_install python3-venv
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
}

# The version of a package installed in a venv's python (empty if none).
_lull_pip_version() {
  "$1" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null
}

# --- the Python MCP client (end2end/mcp/): a venv in tools/venv
lull_setup_mcp_client() {
  local venv="$LULL_ROOT/tools/venv" py="$LULL_ROOT/tools/venv/bin/python"
  if [ -x "$py" ] &&
    [ "$(_lull_pip_version "$py" mcp)" = "$LULL_MCP_SDK_VERSION" ] &&
    "$py" -c 'import pytest' >/dev/null 2>&1; then
    _lull_step "python mcp client" "present (mcp $LULL_MCP_SDK_VERSION in tools/venv)"
    return 0
  fi
  _lull_step "python mcp client" "installing (mcp $LULL_MCP_SDK_VERSION + pytest in tools/venv, pip)"
  _lull_python_venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check \
    "mcp==$LULL_MCP_SDK_VERSION" "pytest==$LULL_PYTEST_VERSION"
}

# --- schemathesis (end2end/schemathesis/): its own venv in
# tools/schemathesis-venv, so its pins never meet the MCP client's
lull_setup_schemathesis() {
  local venv="$LULL_ROOT/tools/schemathesis-venv" py="$LULL_ROOT/tools/schemathesis-venv/bin/python"
  if [ -x "$py" ] && [ "$(_lull_pip_version "$py" schemathesis)" = "$LULL_SCHEMATHESIS_VERSION" ]; then
    _lull_step "schemathesis" "present ($LULL_SCHEMATHESIS_VERSION in tools/schemathesis-venv)"
    return 0
  fi
  _lull_step "schemathesis" "installing ($LULL_SCHEMATHESIS_VERSION in tools/schemathesis-venv, pip)"
  _lull_python_venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check "schemathesis==$LULL_SCHEMATHESIS_VERSION"
}

# ---------------------------------------------------------------- groups
lull_setup_build() {
  lull_setup_wasm_target
  lull_setup_trunk
  lull_setup_wasm_bindgen
  lull_setup_binaryen
}

lull_setup_e2e() {
  lull_setup_cli_tools
  lull_setup_chromium
  lull_setup_playwright
}

lull_setup_all() {
  lull_setup_build
  lull_setup_e2e
  lull_setup_service_tools
  lull_setup_postgres
  lull_setup_mcp_client
  lull_setup_schemathesis
}

# ---------------------------------------------------------------- main
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ "$#" -gt 0 ] || set -- --all
  for arg in "$@"; do
    case "$arg" in
      --all) lull_setup_all ;;
      --build) lull_setup_build ;;
      --e2e) lull_setup_e2e ;;
      --wasm-target) lull_setup_wasm_target ;;
      --trunk) lull_setup_trunk ;;
      --wasm-bindgen) lull_setup_wasm_bindgen ;;
      --binaryen) lull_setup_binaryen ;;
      --cli-tools) lull_setup_cli_tools ;;
      --chromium) lull_setup_chromium ;;
      --playwright) lull_setup_playwright ;;
      --postgres) lull_setup_postgres ;;
      --mcp-client) lull_setup_mcp_client ;;
      --schemathesis) lull_setup_schemathesis ;;
      --service-tools) lull_setup_service_tools ;;
      -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "setup.sh: unknown step '$arg' (try --help)" >&2; exit 2 ;;
    esac
  done
fi
