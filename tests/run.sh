#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs
# formatting, lints, every test (unit, property, golden-fixture, doc) and builds the
# fuzz target. The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages the suite needs (a C++ compiler for the fuzz target's libFuzzer).
need_pkgs=()
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}"
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "fuzz target builds"
cargo build --manifest-path protocol/fuzz/Cargo.toml --locked

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests; run them first so nextest's summary closes the run.
  log "cargo test --doc"
  cargo test --workspace --doc --locked
  log "cargo nextest run"
  cargo nextest run --workspace --locked --no-fail-fast
else
  log "cargo test (cargo-nextest not installed)"
  cargo test --workspace --locked --no-fail-fast
fi

log "all checks passed"
