# Shell functions shared by bench/run.sh, bench/import.sh and bench/tls.sh (sourced, not run).
#
# The caller sets REPO and KEEP, and WORK once its temp dir exists; every process started
# through these functions is recorded in STARTED and killed by pid in `cleanup`.

ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_JAR=/usr/share/java/slf4j-simple.jar
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
LOG_TAG="${LOG_TAG:-bench}"
STARTED=()
STOP_MS=0
WORK=""

log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }

now_ns() { date +%s%N; }

# Exits 2 naming what is missing (installed by `bash tests/run.sh`; nothing is installed here).
require_prerequisites() {
    local missing=()
    [ -f "$ZK_JAR" ] || missing+=("$ZK_JAR (Debian package zookeeper)")
    [ -f "$SLF4J_JAR" ] || missing+=("$SLF4J_JAR (Debian package libslf4j-java)")
    "$JAVA" -version >/dev/null 2>&1 || missing+=("a Java runtime (Debian package default-jre-headless)")
    command -v cargo >/dev/null 2>&1 || missing+=("cargo (a Rust toolchain)")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]}" >&2
        echo "run 'bash tests/run.sh' once (it installs them), or apt-get install zookeeper" >&2
        exit 2
    fi
}

# Builds ferrokeeper and zkbench in release mode; sets TARGET, FERROKEEPER and ZKBENCH.
build_binaries() {
    TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
    log "building ferrokeeper and zkbench (release, target dir $TARGET)"
    (cd "$REPO" && cargo build --release --quiet \
        -p ferrokeeper-server --bin ferrokeeper -p ferrokeeper-tests --bin zkbench)
    FERROKEEPER="$TARGET/release/ferrokeeper"
    ZKBENCH="$TARGET/release/zkbench"
}

# True while pid $1 runs (a zombie counts as gone).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)"
    [ "$state" != Z ]
}

# Kills every started process (SIGTERM, SIGKILL after about 10 s), then removes WORK
# unless KEEP=1.
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -z "$WORK" ]; then
        :
    elif [ "$KEEP" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

install_traps() {
    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
}

# Writes a standalone ZooKeeper config: zk_cfg FILE DATADIR DATALOGDIR PORT.
# forceSync=yes (ZooKeeper's default, written out); default snapCount.
zk_cfg() {
    cat >"$1" <<EOF
tickTime=2000
dataDir=$2
dataLogDir=$3
clientPort=$4
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
4lw.commands.whitelist=*
EOF
}

# Starts a standalone ZooKeeper in the background: launch_zookeeper CFG LOGFILE HEAP
# [JVM ARGS...]. Sets LAUNCHED_PID and records it in STARTED.
launch_zookeeper() {
    local cfg="$1" logfile="$2" heap="$3"
    shift 3
    # Netty's codec module: the Netty connection factory (TLS) needs it and Debian's
    # zookeeper.jar manifest does not list it.
    "$JAVA" "-Xmx$heap" -cp "$ZK_JAR:$SLF4J_JAR:/usr/share/java/netty-codec.jar" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -Dzookeeper.admin.enableServer=false \
        "$@" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" \
        </dev/null >>"$logfile" 2>&1 &
    LAUNCHED_PID=$!
    STARTED+=("$LAUNCHED_PID")
}

# Stops pid $2 (named $1 in messages) with SIGTERM, SIGKILL after about 30 s; sets STOP_MS
# to the time it took.
stop_pid() {
    local s="$1" pid="$2" t0 t1
    t0="$(now_ns)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1200); do alive "$pid" || break; sleep 0.02; done
    if alive "$pid"; then
        log "$s did not exit within about 30 s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    t1="$(now_ns)"
    STOP_MS=$(((t1 - t0) / 1000000))
}

# Machine description for reports.
machine_line() {
    echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
}

# Commit, and whether server/ or protocol/ had uncommitted changes.
commit_line() {
    echo "$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO" && [ -n "$(git status --porcelain -- server protocol 2>/dev/null)" ] && echo ' (server/ or protocol/ had uncommitted changes)')"
}

zookeeper_line() {
    echo "Debian package $(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo '?'), $("$JAVA" -version 2>&1 | head -1)"
}
