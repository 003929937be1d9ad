#!/usr/bin/env bash
# Re-records expected/<scenario>.txt from Apache ZooKeeper 3.8 (Debian's zookeeper
# package): a fresh standalone server (tickTime 500, own temp dataDir, free port)
# per scenario, killed by pid on exit. Not run by the tests.
#
#   bash tests/clients/c/record_expected.sh [scenario...]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/zkc-record.XXXXXX)
SERVER_PID=
cleanup() {
    [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT

cc -DTHREADED -Wall -O1 -o "$WORK/zkc" "$HERE/zkc.c" -lzookeeper_mt -lpthread

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(basic multi auth expiry-kill expiry-stop)
for s in "${scenarios[@]}"; do
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'tickTime=500\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n' \
        "$WORK/data" "$port" > "$WORK/zoo.cfg"
    java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
        org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/zoo.cfg" > "$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1); s.sendall(b"srvr"); sys.exit(0 if s.recv(9)==b"Zookeeper" else 1)' "$port" 2>/dev/null && break
        sleep 0.2
    done
    "$WORK/zkc" "$s" "127.0.0.1:$port" > "$HERE/expected/$s.txt"
    echo "recorded $s"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
