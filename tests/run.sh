#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs
# formatting, lints, every test (unit, property, golden-fixture, doc) and builds the
# fuzz target. The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages the suite needs: a C++ compiler for the fuzz target's libFuzzer; a C
# compiler and the ZooKeeper C client (libzookeeper-mt-dev) for tests/tests/c_client.rs;
# zkCli.sh (zookeeper, zookeeper-bin) and a Java runtime for tests/tests/zkcli.rs; pip
# for kazoo (tests/tests/kazoo.rs).
need_pkgs=()
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
command -v java >/dev/null 2>&1 || need_pkgs+=(default-jre-headless)
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || need_pkgs+=(zookeeper)
dpkg-query -W -f='${Status}' zookeeper-bin 2>/dev/null | grep -q 'ok installed' \
  || need_pkgs+=(zookeeper-bin)
[ -f /usr/include/zookeeper/zookeeper.h ] || need_pkgs+=(libzookeeper-mt-dev)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
# TLS tests make certificates and Java key stores (tests/src/pki.rs).
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v keytool >/dev/null 2>&1 || need_pkgs+=(default-jre-headless)
# ZooKeeper's AdminServer (Jetty) needs the servlet API, which Debian's zookeeper
# package does not pull in (tests/tests/admin_server.rs compares against it).
[ -f /usr/share/java/servlet-api.jar ] || need_pkgs+=(libservlet-api-java)
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}"
fi

# kazoo from PyPI, for the python3 the tests run. Debian's python3 is "externally
# managed" (PEP 668): pip refuses plain installs there, so retry with its override.
# Pinned, so every run tests against the same client.
# pure-sasl is kazoo's SASL client (tests/tests/sasl.rs).
KAZOO_VERSION=2.11.0
pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$1" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$1"
}
if [ "$(python3 -c 'import kazoo.version; print(kazoo.version.__version__)' 2>/dev/null)" != "$KAZOO_VERSION" ]; then
  log "installing kazoo $KAZOO_VERSION (pip)"
  pip_install "kazoo==$KAZOO_VERSION"
fi
# kazoo's own test harness (tests/tests/kazoo_own_suite.rs) needs pytest, and pyjks and
# pyOpenSSL to make its key stores. prometheus-client's parser reads /metrics
# (tests/tests/admin_server.rs); PyYAML parses packaging/k8s (tests/tests/packaging.rs).
for pinned in "pure-sasl==0.6.2" "pytest==8.3.4" "pyjks==20.0.0" "pyOpenSSL==24.3.0" \
  "prometheus-client==0.21.1" "PyYAML==6.0.3"; do
  name=${pinned%%==*}
  if [ "$(python3 -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null)" != "${pinned##*==}" ]; then
    log "installing $pinned (pip)"
    pip_install "$pinned"
  fi
done

# One clean build: incremental compilation's caches would only double the target
# directory's size (a clean CI machine once ran out of disk).
export CARGO_INCREMENTAL=0
log "disk before the build: $(df -h . | awk 'NR==2 {print $4 " free"}')"

log "cargo fmt --check"
cargo fmt --all -- --check

# Also the minimum Rust version check: clippy's incompatible_msrv lint fails on any
# standard-library API newer than the workspace's rust-version (1.88, for let chains).
# Dependencies are not built with 1.88 here (the machine has one toolchain).
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The integration tests start the real server binary; test builds do not build the
# binaries of other packages, so build them explicitly.
log "cargo build (the binaries the integration tests start)"
cargo build --workspace --bins --locked

# The publishable crates package and build from their packaged sources alone (cargo
# packages them together, so cli finds client and protocol before any is published).
log "cargo package (protocol, client, cli)"
cargo package --locked -p ferrokeeper-protocol -p ferrokeeper-client -p ferrokeeper-cli

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

log "disk after the run: target/ holds $(du -sh "${CARGO_TARGET_DIR:-target}" | cut -f1), $(df -h . | awk 'NR==2 {print $4 " free"}')"
log "all checks passed"
