#!/usr/bin/env bash
# Live migration on this machine: a real 3-server ZooKeeper 3.8 ensemble holding N znodes
# (default 1,000,000); how long a new ZooKeeper observer takes from start to its first read
# (SNAP sync) next to a new ferrokeeper following the ensemble (ferrokeeper.follow); then
# the cut-over: clients reading every 10 ms (one through ZooKeeper's servers and
# ferrokeeper, one through ferrokeeper), `ferrokeeper promote`, every ZooKeeper server
# stopped with SIGTERM, and the longest gap between two successful reads each client saw.
#
#   bash bench/follow.sh [--znodes N] [--zk-heap 2g] [--out FILE.md] [--keep]
#
# Every process it starts is killed by pid on exit, also on Ctrl-C. Installs nothing
# (bash tests/run.sh installs ZooKeeper, a JRE and kazoo).
set -euo pipefail

ZNODES=1000000
ZK_HEAP=2g
OUT=""
KEEP=0
ORIG_ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        --znodes) ZNODES="$2"; shift 2 ;;
        --zk-heap) ZK_HEAP="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ "$ZNODES" =~ ^[0-9]+$ ]] || { echo "not a whole number: $ZNODES" >&2; exit 2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=follow
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_prerequisites
python3 -c 'import kazoo' 2>/dev/null || { echo "missing: kazoo (bash tests/run.sh installs it)" >&2; exit 2; }
build_binaries
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zkfollow.XXXXXX")"
install_traps

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
srvr_mode() { timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf srvr >&3; cat <&3' _ "$1" 2>/dev/null | sed -n 's/^Mode: //p' || true; }
json_num() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }
ms_to_s() { awk -v ms="$1" 'BEGIN { if (ms == "" || ms == "null") print "–"; else printf "%.2f s", ms / 1000 }'; }

# Ports: client, quorum, election for ZooKeeper's 1-3, its observer 4, ferrokeeper 5.
declare -A CP QP EP
for i in 1 2 3 4 5; do CP[$i]=$(free_port); QP[$i]=$(free_port); EP[$i]=$(free_port); done
servers() {
    local i
    for i in 1 2 3; do echo "server.$i=127.0.0.1:${QP[$i]}:${EP[$i]}"; done
    echo "server.4=127.0.0.1:${QP[4]}:${EP[4]}:observer"
    echo "server.5=127.0.0.1:${QP[5]}:${EP[5]}:observer"
}
member_cfg() { # member_cfg ID [extra lines]
    mkdir -p "$WORK/m$1"
    echo "$1" >"$WORK/m$1/myid"
    {
        echo "tickTime=2000"; echo "initLimit=10"; echo "syncLimit=5"
        echo "dataDir=$WORK/m$1"; echo "clientPort=${CP[$1]}"; echo "clientPortAddress=127.0.0.1"
        echo "maxClientCnxns=0"; echo "admin.enableServer=false"; echo "4lw.commands.whitelist=*"
        servers
        shift; for line in "$@"; do echo "$line"; done
    } >"$WORK/m$1/zoo.cfg"
}
declare -A PID
launch_member() {
    "$JAVA" "-Xmx$ZK_HEAP" -cp "$ZK_JAR:$SLF4J_JAR" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -Dzookeeper.admin.enableServer=false -Dzookeeper.fastleader.maxNotificationInterval=1000 \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$WORK/m$1/zoo.cfg" \
        </dev/null >>"$WORK/m$1/server.log" 2>&1 &
    PID[$1]=$!
    STARTED+=("${PID[$1]}")
}

RESULTS="$WORK/results.jsonl"
for i in 1 2 3; do member_cfg "$i"; launch_member "$i"; done
log "waiting for ZooKeeper's ensemble to elect a leader"
for _ in $(seq 600); do
    modes="$(for i in 1 2 3; do srvr_mode "${CP[$i]}"; done | sort | tr '\n' ' ')"
    [ "$modes" = "follower follower leader " ] && break
    sleep 0.2
done
[ "$modes" = "follower follower leader " ] || { log "no ensemble: $modes"; exit 1; }

log "populating $ZNODES znodes through server.1"
"$ZKBENCH" populate --addr "127.0.0.1:${CP[1]}" --server zookeeper --count "$ZNODES" >>"$RESULTS"
POP_LINE="$(tail -1 "$RESULTS")"

time_first_read() { # time_first_read LABEL PORT T0_NS → READ_MS
    local line rc=0
    line="$("$ZKBENCH" probe --addr "127.0.0.1:$2" --server "$1" --phase follow \
        --path /zkbench-known --expect-size 37 --since-ns "$3" --timeout 600 --grace 600)" || rc=$?
    echo "$line" >>"$RESULTS"
    [ "$rc" = 0 ] || { log "$1: no read (probe exit $rc)"; exit 1; }
    READ_MS="$(json_num read_ms "$line")"
    log "$1: first read $(ms_to_s "$READ_MS") after its start"
}

log "a new ZooKeeper observer (server.4)"
member_cfg 4 "peerType=observer"
t0="$(now_ns)"; launch_member 4
time_first_read zookeeper-observer "${CP[4]}" "$t0"; ZK_OBS_MS=$READ_MS
ZK_OBS_RSS="$(awk '/VmRSS/ {print $2}' "/proc/${PID[4]}/status")"
stop_pid "zookeeper observer" "${PID[4]}"

log "a new ferrokeeper following the ensemble (server.5)"
member_cfg 5 "peerType=observer" "ferrokeeper.follow=zookeeper"
t0="$(now_ns)"
"$FERROKEEPER" --config "$WORK/m5/zoo.cfg" </dev/null >"$WORK/m5/server.log" 2>&1 &
PID[5]=$!; STARTED+=("${PID[5]}")
time_first_read ferrokeeper-follower "${CP[5]}" "$t0"; FK_MS=$READ_MS
FK_RSS="$(awk '/VmRSS/ {print $2}' "/proc/${PID[5]}/status")"

log "cut-over: two clients reading every 10 ms, promote, then SIGTERM to every ZooKeeper server"
STOP="$WORK/stop"
ALL="127.0.0.1:${CP[1]},127.0.0.1:${CP[2]},127.0.0.1:${CP[3]},127.0.0.1:${CP[5]}"
python3 "$REPO/bench/cutover_gap.py" "$ALL" /zkbench-known "$STOP" >"$WORK/gap-all.json" 2>"$WORK/gap-all.log" &
G1=$!; STARTED+=("$G1")
python3 "$REPO/bench/cutover_gap.py" "127.0.0.1:${CP[5]}" /zkbench-known "$STOP" >"$WORK/gap-fk.json" 2>"$WORK/gap-fk.log" &
G2=$!; STARTED+=("$G2")
sleep 3
"$FERROKEEPER" promote --config "$WORK/m5/zoo.cfg" --timeout 300 >"$WORK/promote.log" 2>&1 &
P=$!; STARTED+=("$P")
for _ in $(seq 100); do [ -e "$WORK/m5/ferrokeeper/promote" ] && break; sleep 0.05; done
t_stop="$(now_ns)"
for i in 1 2 3; do kill -TERM "${PID[$i]}"; done
rc=0; wait "$P" || rc=$?
t_promoted="$(now_ns)"
[ "$rc" = 0 ] || { log "promote failed:"; cat "$WORK/promote.log" >&2; exit 1; }
PROMOTE_MS=$(((t_promoted - t_stop) / 1000000))
log "promoted $(ms_to_s "$PROMOTE_MS") after the SIGTERMs"
sleep 5
touch "$STOP"; wait "$G1" || true; wait "$G2" || true
GAP_ALL="$(cat "$WORK/gap-all.json")"; GAP_FK="$(cat "$WORK/gap-fk.json")"
FK_COUNT="$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf mntr >&3; cat <&3' _ "${CP[5]}" | awk '$1=="zk_znode_count" {print $2}')"

report() {
    echo "## Following ZooKeeper and cutting over, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "- command: \`bash bench/follow.sh${ORIG_ARGS:+ $ORIG_ARGS}\`; commit $(commit_line)"
    echo "- machine: $(machine_line); load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- ZooKeeper: $(zookeeper_line), 3 servers, -Xmx$ZK_HEAP each, tickTime 2000, forceSync"
    echo "- data: $ZNODES znodes of 100 B (\`zkbench populate\`: $(json_num ops_per_s "$POP_LINE") creates/s)"
    echo
    echo "| | ZooKeeper observer | ferrokeeper following | ratio |"
    echo "|---|---:|---:|---:|"
    echo "| start → first read (SNAP sync of $ZNODES znodes) | $(ms_to_s "$ZK_OBS_MS") | $(ms_to_s "$FK_MS") | $(awk -v a="$FK_MS" -v b="$ZK_OBS_MS" 'BEGIN { printf "%.2f", a / b }') |"
    echo "| RSS after the first read | $(awk -v k="$ZK_OBS_RSS" 'BEGIN { printf "%.0f MiB", k/1024 }') | $(awk -v k="$FK_RSS" 'BEGIN { printf "%.0f MiB", k/1024 }') | $(awk -v a="$FK_RSS" -v b="$ZK_OBS_RSS" 'BEGIN { printf "%.2f", a / b }') |"
    echo
    echo "Cut-over (SIGTERM to the 3 ZooKeeper servers right after \`promote\`): promoted $(ms_to_s "$PROMOTE_MS") after the SIGTERMs; znodes on ferrokeeper afterwards: $FK_COUNT."
    echo
    echo "| client | longest gap between successful reads | failed reads | same session |"
    echo "|---|---:|---:|---|"
    echo "| kazoo, ZooKeeper's servers + ferrokeeper | $(ms_to_s "$(json_num longest_ms "$GAP_ALL")") | $(json_num failed_reads "$GAP_ALL") | $(json_num same_session "$GAP_ALL") |"
    echo "| kazoo, ferrokeeper only | $(ms_to_s "$(json_num longest_ms "$GAP_FK")") | $(json_num failed_reads "$GAP_FK") | $(json_num same_session "$GAP_FK") |"
}
report | tee /dev/stderr >"$WORK/report.md"
[ -z "$OUT" ] || { cp "$WORK/report.md" "$OUT"; cp "$RESULTS" "$OUT.jsonl"; log "wrote $OUT"; }
