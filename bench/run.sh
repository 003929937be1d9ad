#!/usr/bin/env bash
# Side-by-side benchmark: real ZooKeeper 3.8 (Debian) and ferrokeeper on this machine, the
# same pipelined raw-protocol workloads against both in one run (zkbench), then 1M znodes:
# populate rate, RSS, and restart-to-first-read. See docs/BENCHMARKS.md.
#
#   bash bench/run.sh [--rounds N] [--duration S] [--warmup S] [--sessions N]
#                     [--inflight K] [--workloads "create set get"] [--znodes N]
#                     [--skip-million] [--zk-heap 2g] [--out FILE.md] [--keep]
#
# Every process it starts is killed by pid on exit, also on Ctrl-C.
set -euo pipefail

ROUNDS=3
DURATION=10
WARMUP=2
SESSIONS=4
INFLIGHT=16
WORKLOADS="create set get"
ZNODES=1000000
SKIP_MILLION=0
ZK_HEAP=2g
OUT=""
KEEP=0
ORIG_ARGS="$*"

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --sessions) SESSIONS="$2"; shift 2 ;;
        --inflight) INFLIGHT="$2"; shift 2 ;;
        --workloads) WORKLOADS="$2"; shift 2 ;;
        --znodes) ZNODES="$2"; shift 2 ;;
        --skip-million) SKIP_MILLION=1; shift ;;
        --zk-heap) ZK_HEAP="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$SESSIONS" "$INFLIGHT" "$ZNODES"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a whole number: $n" >&2; exit 2; }
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND_LINE="bash bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}"
ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_JAR=/usr/share/java/slf4j-simple.jar
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- prerequisites (installed by `bash tests/run.sh`; this script installs nothing) ---
missing=()
[ -f "$ZK_JAR" ] || missing+=("$ZK_JAR (Debian package zookeeper)")
[ -f "$SLF4J_JAR" ] || missing+=("$SLF4J_JAR (Debian package libslf4j-java)")
"$JAVA" -version >/dev/null 2>&1 || missing+=("a Java runtime (Debian package default-jre-headless)")
command -v cargo >/dev/null 2>&1 || missing+=("cargo (a Rust toolchain)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}" >&2
    echo "run 'bash tests/run.sh' once (it installs them), or apt-get install zookeeper" >&2
    exit 2
fi

# --- build ---
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
log "building ferrokeeper and zkbench (release, target dir $TARGET)"
(cd "$REPO" && cargo build --release --quiet \
    -p ferrokeeper-server --bin ferrokeeper -p ferrokeeper-tests --bin zkbench)
FERROKEEPER="$TARGET/release/ferrokeeper"
ZKBENCH="$TARGET/release/zkbench"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zkbench.XXXXXX")"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# --- process bookkeeping: every pid started here is killed on exit ---
declare -A PID=() PORT=() DIR=()
STARTED=()

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
    if [ "$KEEP" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

now_ns() { date +%s%N; }

# Starts server $1 on its existing port and directory (no waiting).
launch() {
    local s="$1" dir="${DIR[$1]}" port="${PORT[$1]}"
    case "$s" in
        zookeeper)
            # Standalone, forceSync=yes (ZooKeeper's default, written out), transaction
            # log and snapshots on the same disk; heap big enough for 1M znodes.
            "$JAVA" "-Xmx$ZK_HEAP" -cp "$ZK_JAR:$SLF4J_JAR" \
                -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
                -Dzookeeper.admin.enableServer=false \
                org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
                </dev/null >>"$dir/server.log" 2>&1 &
            ;;
        ferrokeeper)
            RUST_LOG=warn,ferrokeeper=info "$FERROKEEPER" \
                --client-port-address 127.0.0.1 --client-port "$port" --data-dir "$dir/data" \
                </dev/null >>"$dir/server.log" 2>&1 &
            ;;
    esac
    PID[$s]=$!
    STARTED+=("${PID[$s]}")
}

# Waits until server $1 answers a read of "/".
wait_ready() {
    local s="$1"
    if ! "$ZKBENCH" probe --addr "127.0.0.1:${PORT[$s]}" --server "$s" --phase start \
        --path / --since-ns "$(now_ns)" --timeout 120 >>"$WORK/probes.log"; then
        log "$s did not start; its log:"
        tail -30 "${DIR[$s]}/server.log" >&2
        exit 1
    fi
}

# Starts server $1 with a fresh directory and port and waits for it.
start_fresh() {
    local s="$1" dir
    dir="$(mktemp -d "$WORK/$s.XXXX")"
    DIR[$s]="$dir"
    PORT[$s]="$("$ZKBENCH" free-port)"
    mkdir -p "$dir/data" "$dir/datalog"
    if [ "$s" = zookeeper ]; then
        cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
dataLogDir=$dir/datalog
clientPort=${PORT[$s]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
4lw.commands.whitelist=*
EOF
    fi
    launch "$s"
    wait_ready "$s"
    log "$s up: pid ${PID[$s]}, port ${PORT[$s]}"
}

# True while pid $1 runs (a zombie counts as gone).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)"
    [ "$state" != Z ]
}

# Stops server $1 with SIGTERM (SIGKILL after about 30 s); sets STOP_MS to the time it took.
STOP_MS=0
stop() {
    local s="$1" pid="${PID[$1]}" t0 t1
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

# Order of the servers in round $1: alternate which one goes first.
order() {
    if [ $(($1 % 2)) -eq 1 ]; then echo "zookeeper ferrokeeper"; else echo "ferrokeeper zookeeper"; fi
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START_TIME="$(date -u '+%Y-%m-%d %H:%M UTC')"

# --- workloads: both servers up, runs interleaved ---
if [ "$ROUNDS" -gt 0 ] && [ -n "$WORKLOADS" ]; then
    start_fresh zookeeper
    start_fresh ferrokeeper
    for round in $(seq "$ROUNDS"); do
        for w in $WORKLOADS; do
            for s in $(order "$round"); do
                log "round $round/$ROUNDS: $w on $s"
                "$ZKBENCH" run --addr "127.0.0.1:${PORT[$s]}" --server "$s" --round "$round" \
                    --workload "$w" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
                    --duration "$DURATION" --warmup "$WARMUP" \
                    --create-parent "/zkbench-create-r$round" | tee -a "$RESULTS" >&2
            done
        done
    done
    for s in zookeeper ferrokeeper; do "$ZKBENCH" rss --pid "${PID[$s]}" --server "$s" --phase after-workloads >>"$RESULTS"; done
    for s in zookeeper ferrokeeper; do stop "$s"; done
fi

# --- 1M znodes: one server at a time, fresh ---
DURABILITY_NOTE=""
if [ "$SKIP_MILLION" = 0 ]; then
    for s in $(order $((ROUNDS + 1))); do
        start_fresh "$s"
        log "$s: populating $ZNODES znodes"
        "$ZKBENCH" populate --addr "127.0.0.1:${PORT[$s]}" --server "$s" --count "$ZNODES" \
            --known /zkbench-known --known-size 37 | tee -a "$RESULTS" >&2
        sleep 2
        "$ZKBENCH" rss --pid "${PID[$s]}" --server "$s" --phase populated | tee -a "$RESULTS" >&2
        log "$s: restarting (SIGTERM, start again, wait for the first read of /zkbench-known)"
        stop "$s"
        shutdown_ms="$STOP_MS"
        t0="$(now_ns)"
        launch "$s"
        rc=0
        "$ZKBENCH" probe --addr "127.0.0.1:${PORT[$s]}" --server "$s" --phase restart \
            --path /zkbench-known --expect-size 37 --since-ns "$t0" --timeout 300 --grace 5 \
            --shutdown-ms "$shutdown_ms" | tee -a "$RESULTS" >&2 || rc=$?
        case "$rc" in
            0) ;;
            3)
                log "$s: restart: data not durable yet (served again, but /zkbench-known was gone)"
                DURABILITY_NOTE="$DURABILITY_NOTE $s"
                ;;
            *) log "$s: no successful read after restart (probe exit $rc)" ;;
        esac
        if kill -0 "${PID[$s]}" 2>/dev/null; then
            "$ZKBENCH" rss --pid "${PID[$s]}" --server "$s" --phase restarted | tee -a "$RESULTS" >&2
        fi
        stop "$s"
    done
fi

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ---
{
    echo "## zkbench run, $START_TIME"
    echo
    echo "- command: \`$COMMAND_LINE\`"
    echo "- commit: $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO" && [ -n "$(git status --porcelain -- server protocol 2>/dev/null)" ] && echo ' (server/ or protocol/ had uncommitted changes)')"
    echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- ZooKeeper: Debian package $(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo '?'), $("$JAVA" -version 2>&1 | head -1), -Xmx$ZK_HEAP, standalone, forceSync=yes"
    if [ -n "$DURABILITY_NOTE" ]; then
        echo "- restart: data not durable yet for:$DURABILITY_NOTE (the znodes were gone after the restart)"
    fi
    echo
    "$ZKBENCH" report "$RESULTS"
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ -n "$OUT" ]; then
    cp "$WORK/report.md" "$OUT"
    cp "$RESULTS" "$OUT.jsonl"
    log "wrote $OUT and $OUT.jsonl"
fi
