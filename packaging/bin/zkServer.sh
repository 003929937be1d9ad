#!/usr/bin/env bash
# zkServer.sh for ferrokeeper: the commands, variables, file locations, messages and
# exit codes of ZooKeeper 3.8's bin/zkServer.sh, so that deployment tooling written for
# ZooKeeper drives ferrokeeper unchanged. Where ZooKeeper's script would start a JVM,
# this one starts the `ferrokeeper` binary with the same zoo.cfg.
#
# Differences, on purpose (see packaging/README.md):
#   - `start` reports STARTED once the server logs that it listens (or after 5 s if it
#     is still alive then, e.g. an ensemble member waiting for its peers) instead of
#     after a fixed 1 s; a process that exits in that time is FAILED TO START.
#   - `stop` waits until the process has exited (ZooKeeper sleeps 1 s) and fails,
#     keeping the pid file, if it is still running after 60 s.
#   - A pid file naming a process that is not ferrokeeper is treated as stale, never
#     killed (the pid may have been reused).
#   - JVM-only settings that change behaviour (JMXPORT, ZOO_LOG_FILE,
#     ZOO_DATADIR_AUTOCREATE_DISABLE) stop the script naming the variable.
#   - An unknown command prints the usage and exits 1 (ZooKeeper exits 0).

# The script's own directory, as ZooKeeper computes it (a symlinked script resolves
# through `cd`), so that `ferrokeeper` and ../conf beside it are found.
ZOOBIN="${BASH_SOURCE-$0}"
ZOOBIN="$(dirname "${ZOOBIN}")"
ZOOBINDIR="$(cd "${ZOOBIN}" && pwd)"
ZOOKEEPER_PREFIX="${ZOOBINDIR}/.."

die() {
    echo "$*" >&2
    exit 1
}

# `--config <dir>` before the command, as zkEnv.sh takes it.
if [ $# -gt 1 ] && [ "--config" = "$1" ]; then
    ZOOCFGDIR="$2"
    shift 2
fi

if [ -z "$ZOOCFGDIR" ]; then
    if [ -e "${ZOOKEEPER_PREFIX}/conf" ]; then
        ZOOCFGDIR="$ZOOBINDIR/../conf"
    else
        ZOOCFGDIR="$ZOOBINDIR/../etc/zookeeper"
    fi
fi

# Operators' overrides, read from the same files ZooKeeper's scripts read.
if [ -f "${ZOOCFGDIR}/zookeeper-env.sh" ]; then
    . "${ZOOCFGDIR}/zookeeper-env.sh"
fi
if [ -f "$ZOOCFGDIR/java.env" ]; then
    . "$ZOOCFGDIR/java.env"
fi

ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
# `zkServer.sh start other.cfg` names a file in ZOOCFGDIR; a path with a directory
# part is taken as it is (ZooKeeper's "more complicated path").
if [ -n "$2" ]; then
    case "$2" in
    */*) ZOOCFG="$2" ;;
    *) ZOOCFG="$ZOOCFGDIR/$2" ;;
    esac
fi

ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZOOKEEPER_PREFIX/logs}"

# Settings of ZooKeeper's script that would change what the server does and that have
# no ferrokeeper equivalent: refuse rather than run without them.
if [ -n "$JMXPORT" ]; then
    die "JMXPORT is set ($JMXPORT): ferrokeeper has no JMX; unset JMXPORT (its metrics come from the four-letter words and the AdminServer)"
fi
if [ -n "$ZOO_LOG_FILE" ]; then
    die "ZOO_LOG_FILE is set ($ZOO_LOG_FILE): ferrokeeper logs to stderr, which 'start' writes to \$ZOO_LOG_DIR/zookeeper-\$USER-server-\$HOSTNAME.out; unset ZOO_LOG_FILE"
fi
if [ -n "$ZOO_DATADIR_AUTOCREATE_DISABLE" ]; then
    die "ZOO_DATADIR_AUTOCREATE_DISABLE is set: ferrokeeper always creates its data directories; unset ZOO_DATADIR_AUTOCREATE_DISABLE"
fi

# JVMFLAGS and SERVER_JVMFLAGS (-D options) are read by ferrokeeper from its
# environment, in ZooKeeper's order; exported in case zookeeper-env.sh set them
# without `export`. -Xmx and other JVM-only flags in them are accepted and ignored.
export SERVER_JVMFLAGS JVMFLAGS

# The binary: FERROKEEPER_BIN, else next to this script, else on PATH.
if [ -n "$FERROKEEPER_BIN" ]; then
    FK="$FERROKEEPER_BIN"
elif [ -x "$ZOOBINDIR/ferrokeeper" ]; then
    FK="$ZOOBINDIR/ferrokeeper"
else
    FK="$(command -v ferrokeeper)"
fi

case $1 in
start | start-foreground | print-cmd | restart | stop | status) ;;
version)
    [ -x "$FK" ] || die "Error: ferrokeeper binary not found (set FERROKEEPER_BIN, put it beside $0, or on PATH)"
    exec "$FK" --version
    ;;
*)
    echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd}" >&2
    exit 1
    ;;
esac

if [ "$1" = restart ]; then
    # Stop waits for the old process to exit, so start can follow at once.
    shift
    "$0" --config "$ZOOCFGDIR" stop "$@" || exit $?
    exec "$0" --config "$ZOOCFGDIR" start "$@"
fi

echo "Using config: $ZOOCFG" >&2
[ -f "$ZOOCFG" ] || die "Error: config file $ZOOCFG not found"

# The last value of a key, as Java's Properties keeps it; surrounding blanks trimmed.
cfg_value() {
    grep "^[[:space:]]*$1" "$ZOOCFG" | tail -n 1 | sed -e 's/^[^=]*=//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'
}

ZOO_DATADIR="$(cfg_value 'dataDir[[:space:]]*=')"

if [ -z "$ZOOPIDFILE" ]; then
    [ -n "$ZOO_DATADIR" ] || die "Error: no dataDir in $ZOOCFG, so no place for the pid file; set dataDir or ZOOPIDFILE"
    mkdir -p "$ZOO_DATADIR" || die "Error: cannot create dataDir $ZOO_DATADIR"
    ZOOPIDFILE="$ZOO_DATADIR/zookeeper_server.pid"
else
    # ensure it exists, otherwise stop would fail
    mkdir -p "$(dirname "$ZOOPIDFILE")" || die "Error: cannot create the directory of ZOOPIDFILE $ZOOPIDFILE"
fi

_ZOO_DAEMON_OUT="$ZOO_LOG_DIR/zookeeper-$USER-server-$HOSTNAME.out"

need_binary() {
    [ -n "$FK" ] && [ -x "$FK" ] || die "Error: ferrokeeper binary not found (set FERROKEEPER_BIN, put it beside $0, or on PATH)"
}

# Whether a process runs. An exited child nobody has reaped yet (a zombie, e.g. where
# the container's init does not reap) still answers kill -0, so /proc decides.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        [ "$(sed -e 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ] || return 1
    fi
    return 0
}

# The pid in the pid file if that process runs and is a ferrokeeper; empty otherwise.
# /proc tells what a pid runs; where there is no /proc, liveness alone decides.
running_pid() {
    [ -f "$ZOOPIDFILE" ] || return 0
    local pid
    pid="$(tr -d '[:space:]' < "$ZOOPIDFILE")"
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    alive "$pid" || return 0
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' '\n' < "/proc/$pid/cmdline" | head -n 1 | grep -q ferrokeeper || return 0
    fi
    echo "$pid"
}

case $1 in
start)
    need_binary
    # Only start writes there (ZooKeeper creates it for every command; status must
    # also work where it cannot be created, e.g. on a read-only container image).
    if [ ! -w "$ZOO_LOG_DIR" ]; then
        mkdir -p "$ZOO_LOG_DIR" || die "Error: cannot create ZOO_LOG_DIR $ZOO_LOG_DIR"
    fi
    echo -n "Starting zookeeper ... "
    pid="$(running_pid)"
    if [ -n "$pid" ]; then
        echo "already running as process $pid."
        exit 1
    fi
    nohup "$FK" "$ZOOCFG" > "$_ZOO_DAEMON_OUT" 2>&1 < /dev/null &
    pid=$!
    if ! /bin/echo -n "$pid" > "$ZOOPIDFILE"; then
        echo FAILED TO WRITE PID
        exit 1
    fi
    # Ready when it logs that it listens; gone before that means it failed (the
    # reason is in the .out file). Still starting after 5 s (an ensemble member
    # waiting for a quorum) counts as started, as ZooKeeper's liveness check does.
    for _ in $(seq 1 50); do
        alive "$pid" || break
        if grep -q "ferrokeeper listening on" "$_ZOO_DAEMON_OUT" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if alive "$pid"; then
        echo STARTED
    else
        rm -f "$ZOOPIDFILE"
        echo FAILED TO START
        echo "See $_ZOO_DAEMON_OUT:" >&2
        tail -n 20 "$_ZOO_DAEMON_OUT" >&2
        exit 1
    fi
    ;;
start-foreground)
    need_binary
    if [ -n "${ZOO_NOEXEC}" ]; then
        "$FK" "$ZOOCFG"
    else
        exec "$FK" "$ZOOCFG"
    fi
    ;;
print-cmd)
    need_binary
    env_part=""
    [ -n "$SERVER_JVMFLAGS" ] && env_part="SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS\" "
    [ -n "$JVMFLAGS" ] && env_part="${env_part}JVMFLAGS=\"$JVMFLAGS\" "
    echo "${env_part}\"$FK\" \"$ZOOCFG\" > \"$_ZOO_DAEMON_OUT\" 2>&1 < /dev/null"
    ;;
stop)
    echo -n "Stopping zookeeper ... "
    if [ ! -f "$ZOOPIDFILE" ]; then
        echo "no zookeeper to stop (could not find file $ZOOPIDFILE)"
        exit 0
    fi
    pid="$(running_pid)"
    if [ -n "$pid" ]; then
        kill "$pid"
        # ferrokeeper stops cleanly on SIGTERM; wait for it so that a following
        # start finds the ports and the data directory free.
        for _ in $(seq 1 600); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            echo "FAILED TO STOP: process $pid still runs after 60 s"
            exit 1
        fi
    fi
    rm -f "$ZOOPIDFILE"
    echo STOPPED
    exit 0
    ;;
status)
    isSSL="false"
    clientPortAddress="$(cfg_value 'clientPortAddress[^[:alpha:]]')"
    [ -n "$clientPortAddress" ] || clientPortAddress="localhost"
    clientPort="$(cfg_value 'clientPort[^[:alpha:]]')"
    if ! [[ "$clientPort" =~ ^[0-9]+$ ]]; then
        # No clientPort: the client address of this server's own server.N line
        # (`server.1=host:2888:3888;[addr:]port`), as ZooKeeper's script finds it.
        dataDir="$ZOO_DATADIR"
        myid="$(tr -d '[:space:]' < "$dataDir/myid" 2>/dev/null)"
        if ! [[ "$myid" =~ ^[0-9]+$ ]]; then
            echo "myid could not be determined, will not able to locate clientPort in the server configs."
        else
            clientPortAndAddress="$(grep "^[[:space:]]*server.$myid=.*;.*" "$ZOOCFG" | tail -n 1 | sed -e 's/^[^=]*=//' -e 's/.*;//' -e 's/[[:space:]]*$//')"
            if [ -z "$clientPortAndAddress" ]; then
                echo "Client port not found in the server configs"
            else
                if [[ "$clientPortAndAddress" =~ ^.*:[0-9]+ ]]; then
                    if [[ "$clientPortAndAddress" =~ \[.*\]:[0-9]+ ]]; then
                        clientPortAddress="$(echo "$clientPortAndAddress" | sed -e 's|\[||' -e 's|\]:.*||')"
                    else
                        clientPortAddress="$(echo "$clientPortAndAddress" | sed -e 's/:.*//')"
                    fi
                fi
                clientPort="$(echo "$clientPortAndAddress" | sed -e 's/.*://')"
            fi
        fi
    fi
    if [ -z "$clientPort" ]; then
        echo "Client port not found. Looking for secureClientPort in the static config."
        secureClientPort="$(cfg_value 'secureClientPort[^[:alpha:]]')"
        if [ -n "$secureClientPort" ]; then
            # ZooKeeper asks over TLS with the Java client's key stores from
            # CLIENT_JVMFLAGS; this script has no TLS client, so it cannot ask.
            echo "Client port not found, and this script cannot ask over the secureClientPort ($secureClientPort): use 'echo srvr | openssl s_client' or add a clientPort."
            exit 1
        fi
        echo "Unable to find either secure or unsecure client port in any configs. Terminating."
        exit 1
    fi
    echo "Client port found: $clientPort. Client address: $clientPortAddress. Client SSL: $isSSL."
    # `srvr` is always enabled on ferrokeeper (and in ZooKeeper's default whitelist).
    # bash's /dev/tcp needs no nc; `timeout` bounds an address that never answers.
    STAT="$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf srvr >&3 && cat <&3' \
        "$clientPortAddress" "$clientPort" 2>/dev/null | grep Mode)"
    if [ -z "$STAT" ]; then
        echo "Error contacting service. It is probably not running."
        exit 1
    else
        echo $STAT
        exit 0
    fi
    ;;
esac
