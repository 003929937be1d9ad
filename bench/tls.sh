#!/usr/bin/env bash
# What TLS costs, side by side: ZooKeeper 3.8 (Debian; Netty, JKS stores, client
# certificates needed) and ferrokeeper (rustls, the same stores), each with a plain and
# a TLS client port, the same pipelined raw-protocol workloads (zkbench) against all
# four ports in one run. Prints two reports, plain and TLS, each with the ratios
# ferrokeeper/ZooKeeper; a server's own TLS cost is its TLS row against its plain row.
#
#   bash bench/tls.sh [--rounds N] [--duration S] [--warmup S] [--sessions N]
#                     [--inflight K] [--workloads "create set get"] [--out FILE.md] [--keep]
#
# Every process it starts is killed by pid on exit, also on Ctrl-C.
set -euo pipefail

ROUNDS=3
DURATION=10
WARMUP=2
SESSIONS=4
INFLIGHT=16
WORKLOADS="create set get"
OUT=""
KEEP=0
ORIG_ARGS="$*"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --sessions) SESSIONS="$2"; shift 2 ;;
        --inflight) INFLIGHT="$2"; shift 2 ;;
        --workloads) WORKLOADS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND_LINE="bash bench/tls.sh${ORIG_ARGS:+ $ORIG_ARGS}"
LOG_TAG=tls
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_prerequisites
for tool in openssl keytool; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (run bash tests/run.sh once)" >&2; exit 2; }
done
build_binaries

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zkbench-tls.XXXXXX")"
install_traps
PASS=benchpass

# --- certificates: a CA, the server (127.0.0.1) and a client, as PEM and JKS ---
(
    cd "$WORK"
    quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }
    quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -out ca.pem -days 2 -subj "/CN=zkbench CA"
    for who in server client; do
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$who.ext"
        quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$who.key" -out "$who.csr" -subj "/CN=$who"
        quiet openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 2 -extfile "$who.ext" -out "$who.pem"
    done
    quiet openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem \
        -name server -passout "pass:$PASS" -out server.p12
    quiet keytool -importkeystore -noprompt -srckeystore server.p12 -srcstoretype PKCS12 \
        -srcstorepass "$PASS" -destkeystore server.jks -deststoretype JKS -deststorepass "$PASS"
    quiet keytool -importcert -noprompt -alias ca -file ca.pem -keystore trust.jks \
        -storetype JKS -storepass "$PASS"
)
TLS_LINES="ssl.keyStore.location=$WORK/server.jks
ssl.keyStore.password=$PASS
ssl.trustStore.location=$WORK/trust.jks
ssl.trustStore.password=$PASS"

declare -A PORT=() SPORT=() PID=()
for s in zookeeper ferrokeeper; do
    PORT[$s]="$("$ZKBENCH" free-port)"
    SPORT[$s]="$("$ZKBENCH" free-port)"
    mkdir -p "$WORK/$s/data" "$WORK/$s/datalog"
done

# ZooKeeper: its defaults (forceSync=yes), the Netty factory TLS needs.
zk_cfg "$WORK/zookeeper/zoo.cfg" "$WORK/zookeeper/data" "$WORK/zookeeper/datalog" "${PORT[zookeeper]}"
cat >>"$WORK/zookeeper/zoo.cfg" <<CFG
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
secureClientPort=${SPORT[zookeeper]}
$TLS_LINES
CFG
launch_zookeeper "$WORK/zookeeper/zoo.cfg" "$WORK/zookeeper/server.log" 2g
PID[zookeeper]=$LAUNCHED_PID

cat >"$WORK/ferrokeeper/zoo.cfg" <<CFG
tickTime=2000
dataDir=$WORK/ferrokeeper/data
dataLogDir=$WORK/ferrokeeper/datalog
clientPort=${PORT[ferrokeeper]}
clientPortAddress=127.0.0.1
secureClientPort=${SPORT[ferrokeeper]}
secureClientPortAddress=127.0.0.1
maxClientCnxns=0
$TLS_LINES
CFG
RUST_LOG=warn,ferrokeeper=info "$FERROKEEPER" "$WORK/ferrokeeper/zoo.cfg" \
    </dev/null >>"$WORK/ferrokeeper/server.log" 2>&1 &
PID[ferrokeeper]=$!
STARTED+=("${PID[ferrokeeper]}")

TLS_ARGS=(--tls-ca "$WORK/ca.pem" --tls-cert "$WORK/client.pem" --tls-key "$WORK/client.key")
for s in zookeeper ferrokeeper; do
    if ! "$ZKBENCH" probe --addr "127.0.0.1:${PORT[$s]}" --server "$s" --phase start \
        --path / --since-ns "$(now_ns)" --timeout 120 >/dev/null; then
        log "$s did not start; its log:"; tail -30 "$WORK/$s/server.log" >&2; exit 1
    fi
    # The TLS port too (ZooKeeper binds it a moment after the plain one).
    ok=0
    for _ in $(seq 100); do
        if "$ZKBENCH" run --addr "127.0.0.1:${SPORT[$s]}" --server "$s" --workload get \
            --sessions 1 --inflight 1 --duration 0.2 --warmup 0 "${TLS_ARGS[@]}" >/dev/null 2>&1; then
            ok=1; break
        fi
        sleep 0.2
    done
    [ "$ok" = 1 ] || { log "$s: no TLS port; its log:"; tail -30 "$WORK/$s/server.log" >&2; exit 1; }
    log "$s up: pid ${PID[$s]}, plain ${PORT[$s]}, TLS ${SPORT[$s]}"
done

START_TIME="$(date -u '+%Y-%m-%d %H:%M UTC')"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$WORK/plain.jsonl"; : >"$WORK/tls.jsonl"
for round in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        # Alternate which server, and which port, goes first.
        if [ $((round % 2)) -eq 1 ]; then servers="zookeeper ferrokeeper"; else servers="ferrokeeper zookeeper"; fi
        for s in $servers; do
            for mode in plain tls; do
                if [ "$mode" = plain ]; then port="${PORT[$s]}"; extra=(); else port="${SPORT[$s]}"; extra=("${TLS_ARGS[@]}"); fi
                log "round $round/$ROUNDS: $w on $s ($mode)"
                "$ZKBENCH" run --addr "127.0.0.1:$port" --server "$s" --round "$round" \
                    --workload "$w" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
                    --duration "$DURATION" --warmup "$WARMUP" \
                    --create-parent "/zkbench-create-$mode-r$round" "${extra[@]}" \
                    | tee -a "$WORK/$mode.jsonl" >&2
            done
        done
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

{
    echo "## zkbench TLS run, $START_TIME"
    echo
    echo "- command: \`$COMMAND_LINE\`"
    echo "- commit: $(commit_line)"
    echo "- machine: $(machine_line); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- ZooKeeper: $(zookeeper_line), Netty, -Xmx2g, standalone, forceSync=yes; TLS with JKS stores and client certificates (ssl.clientAuth=need), both servers"
    echo
    echo "### Plain client ports"
    echo
    "$ZKBENCH" report "$WORK/plain.jsonl"
    echo
    echo "### TLS client ports"
    echo
    "$ZKBENCH" report "$WORK/tls.jsonl"
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ -n "$OUT" ]; then
    cp "$WORK/report.md" "$OUT"
    log "wrote $OUT"
fi
