#!/usr/bin/env bash
# Migration round trip on this machine: real ZooKeeper 3.8 (Debian) data into ferrokeeper
# (`ferrokeeper import`) and back (`ferrokeeper export`), timed against ZooKeeper loading
# the same data itself; znode counts are checked at every step. See docs/BENCHMARKS.md.
#
#   bash bench/import.sh [--znodes N] [--ephemerals SESSIONS] [--zk-heap 2g]
#                        [--zk-only] [--out FILE.md] [--keep]
#
# Every process it starts is killed by pid on exit, also on Ctrl-C. Exits 1 when a count
# does not match (after printing the table).
set -euo pipefail

ZNODES=1000000
EPH_SESSIONS=3
EPH_PER_SESSION=10
ZK_HEAP=2g
ZK_ONLY=0
OUT=""
KEEP=0
ORIG_ARGS="$*"

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --znodes) ZNODES="$2"; shift 2 ;;
        --ephemerals) EPH_SESSIONS="$2"; shift 2 ;;
        --zk-heap) ZK_HEAP="$2"; shift 2 ;;
        --zk-only) ZK_ONLY=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$ZNODES" "$EPH_SESSIONS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a whole number: $n" >&2; exit 2; }
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND_LINE="bash bench/import.sh${ORIG_ARGS:+ $ORIG_ARGS}"
LOG_TAG=import
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

require_prerequisites
build_binaries
if [ "$ZK_ONLY" = 0 ]; then
    for sub in import export; do
        # (without the subcommand, `ferrokeeper import --help` prints the server's help)
        if ! "$FERROKEEPER" "$sub" --help 2>&1 | grep -q -- --zk-data-dir; then
            echo "this ferrokeeper build has no '$sub' subcommand ('$FERROKEEPER $sub --help' fails); --zk-only runs the ZooKeeper half" >&2
            exit 2
        fi
    done
fi
GNU_TIME=0
if /usr/bin/time -v true >/dev/null 2>&1 && /usr/bin/time --version 2>&1 | grep -q GNU; then
    GNU_TIME=1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zkimport.XXXXXX")"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
install_traps

# ZooKeeper's INFO lines about loading and snapshotting; everything else at warn.
ZK_LOG_PROPS=(
    -Dorg.slf4j.simpleLogger.showDateTime=true
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"
    -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.ZKDatabase=info
    -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.persistence.FileTxnSnapLog=info
    -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.persistence.FileSnap=info
    -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.ZooKeeperServer=info
)

FAILURES=()
WARNINGS=()
fail() { log "FAIL: $*"; FAILURES+=("$*"); }
warn() { log "warning: $*"; WARNINGS+=("$*"); }
die() { log "FAIL: $*"; exit 1; }

# `mntr` over a plain TCP connection (bash's /dev/tcp; no nc needed).
mntr() {
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf mntr >&3; cat <&3' _ "$1" || true
}
mntr_value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
# json_num KEY LINE: a number (or null) field of a zkbench JSON line.
json_num() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

ms_to_s() { awk -v ms="$1" 'BEGIN { if (ms == "" || ms == "null") print "–"; else printf "%.2f s", ms / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "null" || b == "null" || b == 0) print "–"; else printf "%.2f", a / b }'; }
mib() { awk -v kb="$1" 'BEGIN { if (kb == "") print "–"; else printf "%.0f MiB", kb / 1024 }'; }
bytes_mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# Starts ZooKeeper on CFG (logging to LOG) and times spawn → first read of
# /zkbench-known (of / with a 4th argument "fresh"): zk_start LABEL CFG LOG PORT [fresh].
# Sets SRV_PID and READ_MS.
zk_start() {
    local label="$1" cfg="$2" logfile="$3" port="$4" t0 line rc=0
    local what=(--path /zkbench-known --expect-size 37)
    [ "${5:-}" != fresh ] || what=(--path /)
    t0="$(now_ns)"
    launch_zookeeper "$cfg" "$logfile" "$ZK_HEAP" "${ZK_LOG_PROPS[@]}"
    SRV_PID=$LAUNCHED_PID
    line="$("$ZKBENCH" probe --addr "127.0.0.1:$port" --server zookeeper --phase "$label" \
        "${what[@]}" --since-ns "$t0" --timeout 300 --grace 5)" || rc=$?
    echo "$line" >>"$RESULTS"
    READ_MS="$(json_num read_ms "$line")"
    probe_verdict "$label" "$rc" "$logfile"
}

# Exit code of a probe → a failure or death (timeout: nothing to measure after it).
probe_verdict() {
    case "$2" in
        0) log "$1: first read after $(ms_to_s "$READ_MS")" ;;
        3) fail "$1: the server answers but /zkbench-known is missing (or has other data)" ;;
        *)
            log "$1: no successful read (probe exit $2); its log:"
            tail -30 "$3" >&2
            die "$1: the server did not serve /zkbench-known"
            ;;
    esac
}

# Reads mntr of the server on PORT into COUNT_<key>, EPH_<key>, SIZE_<key>.
record_counts() {
    local key="$1" port="$2" out
    out="$(mntr "$port")"
    printf -v "COUNT_$key" '%s' "$(mntr_value zk_znode_count "$out")"
    printf -v "EPH_$key" '%s' "$(mntr_value zk_ephemerals_count "$out")"
    printf -v "SIZE_$key" '%s' "$(mntr_value zk_approximate_data_size "$out")"
    local c="COUNT_$key" e="EPH_$key" z="SIZE_$key"
    [ -n "${!c}" ] || fail "$key: no zk_znode_count in mntr (got: $(head -c 200 <<<"$out"))"
    log "$key: zk_znode_count ${!c}, zk_ephemerals_count ${!e}, zk_approximate_data_size ${!z}"
}

# Runs a command in the background (killed by pid on exit), its output to PREFIX.log,
# and measures it: measured PREFIX CMD... Sets RUN_RC, RUN_MS, RUN_HWM_KB, RUN_CPU_S.
measured() {
    local prefix="$1" t0 t1 pid child="" hwm=0 k v
    shift
    RUN_RC=0 RUN_HWM_KB="" RUN_CPU_S=""
    t0="$(now_ns)"
    if [ "$GNU_TIME" = 1 ]; then
        /usr/bin/time -v -o "$prefix.time" "$@" </dev/null >"$prefix.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        # GNU time dies of SIGTERM without passing it on: record its child as well.
        while [ -z "$child" ] && alive "$pid"; do
            child="$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)"
            child="${child%% *}"
            [ -n "$child" ] || sleep 0.005
        done
        [ -z "$child" ] || STARTED+=("$child")
        wait "$pid" || RUN_RC=$?
        t1="$(now_ns)"
        RUN_HWM_KB="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$prefix.time")"
        RUN_CPU_S="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$prefix.time")"
    else
        # No GNU time: poll the peak (VmHWM) every 20 ms; it may miss a last-moment peak.
        "$@" </dev/null >"$prefix.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        while alive "$pid"; do
            while read -r k v _; do
                [ "$k" = VmHWM: ] && [ "$v" -gt "$hwm" ] && hwm="$v"
            done <"/proc/$pid/status" 2>/dev/null || true
            sleep 0.02
        done
        wait "$pid" || RUN_RC=$?
        t1="$(now_ns)"
        [ "$hwm" = 0 ] || RUN_HWM_KB="$hwm"
    fi
    RUN_MS=$(((t1 - t0) / 1000000))
}

# Bytes a directory takes on disk (ZooKeeper's preallocated logs are sparse).
disk_bytes() { du -s --block-size=1 "$1" 2>/dev/null | cut -f1; }

# Files in a ZooKeeper version-2 dir: "N snapshots, M logs, X MiB".
zk_files() {
    local dir="$1/version-2" snaps logs
    snaps="$(find "$dir" -maxdepth 1 -name 'snapshot.*' 2>/dev/null | wc -l)"
    logs="$(find "$dir" -maxdepth 1 -name 'log.*' 2>/dev/null | wc -l)"
    echo "$snaps snapshot(s), $logs log(s), $(bytes_mib "$(disk_bytes "$dir")") on disk"
}

# "Snapshot loaded in" / "txns loaded in" / "Snapshot taken in" lines of a ZooKeeper log.
zk_load_lines() {
    grep -E 'Snapshot loaded in|txns loaded in|Snapshot taken in|Reading snapshot' "$1" \
        | sed 's/^.*\] INFO  *//; s/^.*\] INFO //' || true
}
zk_snapshot_ms() { sed -n 's/.*Snapshot loaded in \([0-9]*\) ms.*/\1/p' "$1" | tail -1; }
zk_digest() { sed -n 's/.*Snapshot loaded in .*digest is \([0-9-]*\).*/\1/p' "$1" | tail -1; }
zk_txns() { sed -n 's/.* \([0-9]*\) txns loaded in \([0-9]*\) ms.*/\1 txns in \2 ms/p' "$1" | tail -1; }
zk_taken_ms() { sed -n 's/.*Snapshot taken in \([0-9]*\) ms.*/\1/p' "$1" | head -1; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START_TIME="$(date -u '+%Y-%m-%d %H:%M UTC')"

# --- 1. ZooKeeper: populate, sessions with ephemerals, kill -9 ---
ZK="$WORK/zk"
mkdir -p "$ZK/data" "$ZK/datalog"
ZK_PORT="$("$ZKBENCH" free-port)"
zk_cfg "$ZK/zoo.cfg" "$ZK/data" "$ZK/datalog" "$ZK_PORT"
log "ZooKeeper: starting on 127.0.0.1:$ZK_PORT, -Xmx$ZK_HEAP, dataDir $ZK/data, dataLogDir $ZK/datalog"
zk_start zk-fresh "$ZK/zoo.cfg" "$ZK/server.log" "$ZK_PORT" fresh
ZK_FRESH_MS="$READ_MS"
ZK_PID=$SRV_PID

# Holders: sessions that own ephemerals and stay alive (pings) until killed; half are
# opened before the znodes (so they are in ZooKeeper's later snapshots), the rest after
# (only in the log).
HOLDERS=()
EPH_BEFORE=$(((EPH_SESSIONS + 1) / 2))
EPH_AFTER=$((EPH_SESSIONS - EPH_BEFORE))
hold() {
    local tag="$1" sessions="$2" out="$WORK/holder-$1.json"
    [ "$sessions" -gt 0 ] || return 0
    "$ZKBENCH" ephemerals --addr "127.0.0.1:$ZK_PORT" --sessions "$sessions" \
        --per-session "$EPH_PER_SESSION" --tag "$tag" >"$out" 2>"$WORK/holder-$tag.err" &
    HOLDERS+=($!)
    STARTED+=($!)
    for _ in $(seq 500); do
        [ -s "$out" ] && break
        alive "${HOLDERS[-1]}" || die "ephemerals holder '$tag' exited: $(cat "$WORK/holder-$tag.err")"
        sleep 0.02
    done
    [ -s "$out" ] || die "ephemerals holder '$tag' did not report within 10 s"
    log "ZooKeeper: $(cat "$out")"
    cat "$out" >>"$RESULTS"
}
hold before "$EPH_BEFORE"
log "ZooKeeper: populating $ZNODES znodes"
POP_LINE="$("$ZKBENCH" populate --addr "127.0.0.1:$ZK_PORT" --server zookeeper --count "$ZNODES" \
    --known /zkbench-known --known-size 37)"
echo "$POP_LINE" >>"$RESULTS"
log "ZooKeeper: $POP_LINE"
[ "$(json_num errors "$POP_LINE")" = 0 ] || die "populate had errors: $POP_LINE"
hold after "$EPH_AFTER"
sleep 2
record_counts zk_populated "$ZK_PORT"
log "ZooKeeper: kill -9 (SIGKILL) with the ephemeral sessions still open"
kill -KILL "$ZK_PID"
wait "$ZK_PID" 2>/dev/null || true
for pid in "${HOLDERS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
ZK_FILES_SNAP="$(zk_files "$ZK/data")"
ZK_FILES_LOG="$(zk_files "$ZK/datalog")"
log "ZooKeeper dataDir: $ZK_FILES_SNAP; dataLogDir: $ZK_FILES_LOG"
# ZooKeeper writes to its dirs when it starts (a snapshot, session expiries), so the
# import reads a copy taken now, as the killed server left it.
SRC="$WORK/zk-killed"
mkdir -p "$SRC"
cp -a "$ZK/data" "$ZK/datalog" "$SRC/"

# --- 2. ZooKeeper loads its own data ---
ZK_PORT="$("$ZKBENCH" free-port)"
zk_cfg "$ZK/zoo.cfg" "$ZK/data" "$ZK/datalog" "$ZK_PORT"
log "ZooKeeper: restart on the same dirs (port $ZK_PORT), timing spawn → first read of /zkbench-known"
zk_start zk-load "$ZK/zoo.cfg" "$ZK/reload.log" "$ZK_PORT"
ZK_LOAD_MS="$READ_MS"
ZK_PID=$SRV_PID
record_counts zk_loaded "$ZK_PORT"
"$ZKBENCH" rss --pid "$ZK_PID" --server zookeeper --phase loaded >>"$RESULTS"
ZK_LOAD_RSS_KB="$(json_num vmhwm_kb "$(tail -1 "$RESULTS")")"
stop_pid zookeeper "$ZK_PID"
ZK_SNAP_MS="$(zk_snapshot_ms "$ZK/reload.log")"
ZK_TXNS="$(zk_txns "$ZK/reload.log")"
ZK_TAKEN_MS="$(zk_taken_ms "$ZK/reload.log")"
ZK_DIGEST="$(zk_digest "$ZK/reload.log")"
log "ZooKeeper load log lines:"
zk_load_lines "$ZK/reload.log" | sed 's/^/    /' >&2
[ "$COUNT_zk_loaded" = "$COUNT_zk_populated" ] \
    || fail "ZooKeeper's own reload has $COUNT_zk_loaded znodes, $COUNT_zk_populated before kill -9"

# --- 3.–5. ferrokeeper: import, start, export; ZooKeeper on the export ---
if [ "$ZK_ONLY" = 0 ]; then
    FK="$WORK/fk"
    mkdir -p "$FK/data"
    FK_PORT="$("$ZKBENCH" free-port)"
    cat >"$FK/zoo.cfg" <<EOF
tickTime=2000
dataDir=$FK/data
clientPort=$FK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
EOF
    log "ferrokeeper import --zk-data-dir $SRC/data --zk-data-log-dir $SRC/datalog --config $FK/zoo.cfg"
    measured "$FK/import" "$FERROKEEPER" import --zk-data-dir "$SRC/data" \
        --zk-data-log-dir "$SRC/datalog" --config "$FK/zoo.cfg"
    IMPORT_MS=$RUN_MS IMPORT_HWM_KB=$RUN_HWM_KB IMPORT_CPU_S=$RUN_CPU_S
    if [ "$RUN_RC" != 0 ]; then
        tail -30 "$FK/import.log" >&2
        die "ferrokeeper import exited $RUN_RC"
    fi
    log "import: $(ms_to_s "$IMPORT_MS"), peak RSS $(mib "$IMPORT_HWM_KB"); its output:"
    sed 's/^/    /' "$FK/import.log" | tail -20 >&2
    FK_DATA_BYTES="$(disk_bytes "$FK/data")"

    log "ferrokeeper: start on the imported data (port $FK_PORT)"
    t0="$(now_ns)"
    RUST_LOG=warn,ferrokeeper=info,ferrokeeper_server=info "$FERROKEEPER" "$FK/zoo.cfg" </dev/null >>"$FK/server.log" 2>&1 &
    FK_PID=$!
    STARTED+=("$FK_PID")
    rc=0
    line="$("$ZKBENCH" probe --addr "127.0.0.1:$FK_PORT" --server ferrokeeper --phase fk-start \
        --path /zkbench-known --expect-size 37 --since-ns "$t0" --timeout 300 --grace 5)" || rc=$?
    echo "$line" >>"$RESULTS"
    READ_MS="$(json_num read_ms "$line")"
    probe_verdict fk-start "$rc" "$FK/server.log"
    FK_START_MS="$READ_MS"
    record_counts fk "$FK_PORT"
    "$ZKBENCH" rss --pid "$FK_PID" --server ferrokeeper --phase imported >>"$RESULTS"
    FK_RSS_KB="$(json_num vmrss_kb "$(tail -1 "$RESULTS")")"
    stop_pid ferrokeeper "$FK_PID"
    [ "$COUNT_fk" = "$COUNT_zk_loaded" ] \
        || fail "ferrokeeper on the imported data has $COUNT_fk znodes, ZooKeeper loaded $COUNT_zk_loaded (ephemerals: $EPH_fk vs $EPH_zk_loaded)"
    [ "$EPH_fk" = "$EPH_zk_loaded" ] \
        || warn "ephemerals: ferrokeeper $EPH_fk, ZooKeeper $EPH_zk_loaded"
    [ "$SIZE_fk" = "$SIZE_zk_loaded" ] \
        || warn "zk_approximate_data_size: ferrokeeper $SIZE_fk, ZooKeeper $SIZE_zk_loaded"

    EXP="$WORK/export"
    mkdir -p "$EXP/data" "$EXP/datalog"
    log "ferrokeeper export --zk-data-dir $EXP/data --config $FK/zoo.cfg"
    measured "$EXP/export" "$FERROKEEPER" export --zk-data-dir "$EXP/data" --config "$FK/zoo.cfg"
    EXPORT_MS=$RUN_MS EXPORT_HWM_KB=$RUN_HWM_KB
    if [ "$RUN_RC" != 0 ]; then
        tail -30 "$EXP/export.log" >&2
        die "ferrokeeper export exited $RUN_RC"
    fi
    EXP_FILES="$(zk_files "$EXP/data")"
    log "export: $(ms_to_s "$EXPORT_MS"), peak RSS $(mib "$EXPORT_HWM_KB"); wrote $EXP_FILES: $(ls "$EXP/data/version-2" | tr '\n' ' ')"

    ZK_PORT="$("$ZKBENCH" free-port)"
    zk_cfg "$EXP/zoo.cfg" "$EXP/data" "$EXP/datalog" "$ZK_PORT"
    log "ZooKeeper: start on the exported snapshot (port $ZK_PORT)"
    zk_start zk-export "$EXP/zoo.cfg" "$EXP/server.log" "$ZK_PORT"
    ZK_EXP_MS="$READ_MS"
    ZK_PID=$SRV_PID
    record_counts zk_export "$ZK_PORT"
    stop_pid zookeeper "$ZK_PID"
    ZK_EXP_SNAP_MS="$(zk_snapshot_ms "$EXP/server.log")"
    ZK_EXP_DIGEST="$(zk_digest "$EXP/server.log")"
    log "ZooKeeper (exported data) load log lines:"
    zk_load_lines "$EXP/server.log" | sed 's/^/    /' >&2
    [ "$COUNT_zk_export" = "$COUNT_fk" ] \
        || fail "ZooKeeper on the exported snapshot has $COUNT_zk_export znodes, ferrokeeper had $COUNT_fk"
    [ "$EPH_zk_export" = "$EPH_fk" ] \
        || warn "ephemerals: ZooKeeper on the export $EPH_zk_export, ferrokeeper $EPH_fk"
    [ "$SIZE_zk_export" = "$SIZE_fk" ] \
        || warn "zk_approximate_data_size: ZooKeeper on the export $SIZE_zk_export, ferrokeeper $SIZE_fk"
    if [ -n "$ZK_DIGEST" ] && [ -n "$ZK_EXP_DIGEST" ]; then
        [ "$ZK_DIGEST" = "$ZK_EXP_DIGEST" ] \
            || warn "ZooKeeper's tree digest differs: $ZK_DIGEST loading its own data, $ZK_EXP_DIGEST loading the export"
    fi

    # export must refuse a directory that already holds ZooKeeper data.
    before="$(ls -l "$EXP/data/version-2")"
    rc=0
    "$FERROKEEPER" export --zk-data-dir "$EXP/data" --config "$FK/zoo.cfg" \
        </dev/null >"$EXP/export-again.log" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        fail "export into $EXP/data, which already holds snapshot/log files, exited 0"
        EXPORT_REFUSES="no (exit 0)"
    elif [ "$before" != "$(ls -l "$EXP/data/version-2")" ]; then
        fail "export into a non-empty dir exited $rc but changed the files"
        EXPORT_REFUSES="exit $rc, but files changed"
    else
        EXPORT_REFUSES="yes (exit $rc, files untouched)"
        log "export into a non-empty dir refused (exit $rc): $(tail -1 "$EXP/export-again.log")"
    fi
fi

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. report ---
{
    echo "## ZooKeeper ⇄ ferrokeeper migration, $START_TIME"
    echo
    echo "- command: \`$COMMAND_LINE\`"
    echo "- commit: $(commit_line)"
    echo "- machine: $(machine_line); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- ZooKeeper: $(zookeeper_line), -Xmx$ZK_HEAP, standalone, forceSync=yes, snapCount default"
    echo "- data: $ZNODES znodes of 100 B (\`zkbench populate\`) + /zkbench-known; $EPH_SESSIONS sessions × $EPH_PER_SESSION ephemerals ($EPH_BEFORE opened before populating, $EPH_AFTER after), alive when ZooKeeper was killed with **kill -9 (SIGKILL)**"
    echo "- ZooKeeper's dirs after kill -9: dataDir $ZK_FILES_SNAP; dataLogDir $ZK_FILES_LOG. The import read a copy of them taken right after the kill; ZooKeeper's timed reload ran on the originals."
    echo "- times are from spawning the process to the first getData of /zkbench-known returning its 37 bytes (\`zkbench probe\`), or to the exit of import/export; peak RSS from $([ "$GNU_TIME" = 1 ] && echo "GNU time -v (max RSS)" || echo "polling VmHWM every 20 ms")"
    echo
    echo "| step | time | ratio to ZooKeeper's own load | notes |"
    echo "|---|---:|---:|---|"
    echo "| ZooKeeper starts on an empty dataDir (JVM start, for scale) | $(ms_to_s "$ZK_FRESH_MS") | $(ratio "$ZK_FRESH_MS" "$ZK_LOAD_MS") | first read of / |"
    echo "| ZooKeeper loads its own dataDir (restart after kill -9) | $(ms_to_s "$ZK_LOAD_MS") | 1.00 | log: \"Snapshot loaded in ${ZK_SNAP_MS:-?} ms\" (snapshot + log replay; replay: ${ZK_TXNS:-no txns line}); startup snapshot taken in ${ZK_TAKEN_MS:-?} ms; peak RSS $(mib "$ZK_LOAD_RSS_KB") |"
    if [ "$ZK_ONLY" = 0 ]; then
        echo "| \`ferrokeeper import\` | $(ms_to_s "$IMPORT_MS") | $(ratio "$IMPORT_MS" "$ZK_LOAD_MS") | peak RSS **$(mib "$IMPORT_HWM_KB")**, CPU ${IMPORT_CPU_S:-?} s; wrote $(bytes_mib "$FK_DATA_BYTES") |"
        echo "| ferrokeeper start on the imported data | $(ms_to_s "$FK_START_MS") | $(ratio "$FK_START_MS" "$ZK_LOAD_MS") | RSS after first read $(mib "$FK_RSS_KB") |"
        echo "| import + start | $(ms_to_s "$((IMPORT_MS + ${FK_START_MS%.*}))") | $(ratio "$((IMPORT_MS + ${FK_START_MS%.*}))" "$ZK_LOAD_MS") | |"
        echo "| \`ferrokeeper export\` (server stopped) | $(ms_to_s "$EXPORT_MS") | $(ratio "$EXPORT_MS" "$ZK_LOAD_MS") | peak RSS $(mib "$EXPORT_HWM_KB"); wrote $EXP_FILES |"
        echo "| ZooKeeper start on the exported snapshot | $(ms_to_s "$ZK_EXP_MS") | $(ratio "$ZK_EXP_MS" "$ZK_LOAD_MS") | log: snapshot loaded in ${ZK_EXP_SNAP_MS:-?} ms |"
    fi
    echo
    echo "| mntr | ZooKeeper before kill -9 | ZooKeeper reloaded | ferrokeeper imported | ZooKeeper on export |"
    echo "|---|---:|---:|---:|---:|"
    for m in COUNT:zk_znode_count EPH:zk_ephemerals_count SIZE:zk_approximate_data_size; do
        p="${m%%:*}"
        row="| ${m#*:}"
        for k in zk_populated zk_loaded fk zk_export; do
            v="${p}_$k"
            row="$row | ${!v:-–}"
        done
        echo "$row |"
    done
    if [ -n "$ZK_DIGEST" ]; then
        echo "| ZooKeeper tree digest (log) | | $ZK_DIGEST | | ${ZK_EXP_DIGEST:-–} |"
    fi
    if [ "$ZK_ONLY" = 0 ]; then
        echo
        echo "- export into a directory that already holds ZooKeeper files refused: $EXPORT_REFUSES"
    fi
    for w in "${WARNINGS[@]}"; do echo "- warning: $w"; done
    for f in "${FAILURES[@]}"; do echo "- **FAILED: $f**"; done
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ -n "$OUT" ]; then
    cp "$WORK/report.md" "$OUT"
    cp "$RESULTS" "$OUT.jsonl"
    log "wrote $OUT and $OUT.jsonl"
fi
if [ ${#FAILURES[@]} -gt 0 ]; then
    log "${#FAILURES[@]} check(s) failed"
    exit 1
fi
