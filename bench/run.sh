#!/usr/bin/env bash
# Side-by-side benchmark: real ZooKeeper 3.8 (Debian) and ferrokeeper on this machine, the
# same pipelined raw-protocol workloads against both in one run (zkbench), then 1M znodes:
# populate rate, RSS, and restart-to-first-read; then watch fan-out (one change, many
# watchers) and many sessions held at once. See docs/BENCHMARKS.md.
#
#   bash bench/run.sh [--rounds N] [--duration S] [--warmup S] [--sessions N]
#                     [--inflight K] [--workloads "create set get"] [--znodes N]
#                     [--skip-million] [--watchers N] [--changes N] [--many-sessions N]
#                     [--hold S] [--zk-heap 2g] [--out FILE.md] [--keep]
#   (--watchers 0 or --many-sessions 0 skips that phase)
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
WATCHERS=1000
CHANGES=20
MANY_SESSIONS=10000
HOLD=30
ZK_HEAP=2g
OUT=""
KEEP=0
ORIG_ARGS="$*"

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
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
        --watchers) WATCHERS="$2"; shift 2 ;;
        --changes) CHANGES="$2"; shift 2 ;;
        --many-sessions) MANY_SESSIONS="$2"; shift 2 ;;
        --hold) HOLD="$2"; shift 2 ;;
        --zk-heap) ZK_HEAP="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$SESSIONS" "$INFLIGHT" "$ZNODES" "$WATCHERS" "$CHANGES" "$MANY_SESSIONS" "$HOLD"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a whole number: $n" >&2; exit 2; }
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND_LINE="bash bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}"
# log, now_ns, alive, cleanup, stop_pid, launch_zookeeper, zk_cfg, ...
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

# --- prerequisites (installed by `bash tests/run.sh`; this script installs nothing) ---
require_prerequisites

# --- build ---
build_binaries

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zkbench.XXXXXX")"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# --- process bookkeeping: every pid started here is killed on exit (cleanup, lib.sh) ---
declare -A PID=() PORT=() DIR=()
install_traps

# Starts server $1 on its existing port and directory (no waiting).
launch() {
    local s="$1" dir="${DIR[$1]}" port="${PORT[$1]}"
    case "$s" in
        zookeeper)
            # Standalone, forceSync=yes (ZooKeeper's default, written out), transaction
            # log and snapshots on the same disk; heap big enough for 1M znodes.
            launch_zookeeper "$dir/zoo.cfg" "$dir/server.log" "$ZK_HEAP"
            PID[$s]=$LAUNCHED_PID
            ;;
        ferrokeeper)
            # No per-IP connection limit: ZooKeeper's zoo.cfg says maxClientCnxns=0 too.
            RUST_LOG=warn,ferrokeeper=info "$FERROKEEPER" \
                --client-port-address 127.0.0.1 --client-port "$port" --data-dir "$dir/data" \
                --max-client-cnxns 0 \
                </dev/null >>"$dir/server.log" 2>&1 &
            PID[$s]=$!
            STARTED+=("${PID[$s]}")
            ;;
    esac
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
        zk_cfg "$dir/zoo.cfg" "$dir/data" "$dir/datalog" "${PORT[$s]}"
    fi
    launch "$s"
    wait_ready "$s"
    log "$s up: pid ${PID[$s]}, port ${PORT[$s]}"
}

# Stops server $1 with SIGTERM (SIGKILL after about 30 s); sets STOP_MS to the time it took.
stop() { stop_pid "$1" "${PID[$1]}"; }

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

# --- watch fan-out, then many sessions: one server at a time, fresh ---
if [ "$WATCHERS" -gt 0 ]; then
    for s in $(order $((ROUNDS + 2))); do
        start_fresh "$s"
        log "$s: $WATCHERS watchers, $CHANGES changes"
        "$ZKBENCH" fanout --addr "127.0.0.1:${PORT[$s]}" --server "$s" \
            --watchers "$WATCHERS" --changes "$CHANGES" | tee -a "$RESULTS" >&2 \
            || log "$s: fan-out failed"
        stop "$s"
    done
fi
if [ "$MANY_SESSIONS" -gt 0 ]; then
    for s in $(order $((ROUNDS + 3))); do
        start_fresh "$s"
        log "$s: $MANY_SESSIONS sessions, held ${HOLD}s"
        "$ZKBENCH" sessions --addr "127.0.0.1:${PORT[$s]}" --server "$s" \
            --count "$MANY_SESSIONS" --hold "$HOLD" --pid "${PID[$s]}" | tee -a "$RESULTS" >&2 \
            || log "$s: sessions failed"
        stop "$s"
    done
fi

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ---
{
    echo "## zkbench run, $START_TIME"
    echo
    echo "- command: \`$COMMAND_LINE\`"
    echo "- commit: $(commit_line)"
    echo "- machine: $(machine_line); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- ZooKeeper: $(zookeeper_line), -Xmx$ZK_HEAP, standalone, forceSync=yes"
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
