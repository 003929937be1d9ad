#!/usr/bin/env bash
# Container entrypoint for ferrokeeper that takes the environment variables of the two
# ZooKeeper images operators already deploy:
#
#   - the official image (Docker Hub `zookeeper`, github.com/31z4/zookeeper-docker):
#     ZOO_MY_ID, ZOO_SERVERS (`server.N=host:2888:3888;2181`, space separated), ...
#     zoo.cfg and myid are written exactly as its docker-entrypoint.sh writes them, with
#     the defaults its Dockerfile sets;
#   - Bitnami's image (bitnami/zookeeper): ZOO_SERVER_ID, ZOO_SERVERS (comma separated
#     `host:2888:3888` or `host:2888:3888::id`), ZOO_PORT_NUMBER, ... zoo.cfg gets the
#     same keys and values as Bitnami's libzookeeper.sh sets (without the comments of
#     ZooKeeper's zoo_sample.cfg, which Bitnami starts from).
#
# Which set applies is told by the variables: any Bitnami-only one (or a ZOO_SERVERS
# without `server.` entries) selects Bitnami's; mixing the two is refused. Every ZOO_*
# variable must be one this script understands, with a value it can honour, or it
# exits non-zero naming it: nothing is dropped silently.
#
# Extension (both forms): ZOO_MY_ID_FROM_HOSTNAME=true derives the server id from a
# StatefulSet pod name, `name-N` -> N+1 (ordinals count from 0, ZooKeeper ids from 1).
#
# zoo.cfg is written only if $ZOO_CONF_DIR/zoo.cfg is absent and myid only if
# $ZOO_DATA_DIR/myid is absent, as both images do. Then, with no arguments (or the
# official image's `zkServer.sh start-foreground`) it execs
# `ferrokeeper $ZOO_CONF_DIR/zoo.cfg`; arguments starting with `-` are passed to
# ferrokeeper after the config path; any other command is exec'd as given, as the
# official entrypoint does.
set -e
# Values are written, never globbed: `4lw.commands.whitelist=*` stays a star.
set -f

die() {
    echo "entrypoint: $*" >&2
    exit 1
}

# Bitnami's is_boolean_yes / the opposite.
is_yes() { [[ "${1,,}" =~ ^(1|yes|true)$ ]]; }
is_no() { [[ "${1,,}" =~ ^(0|no|false)$ ]]; }

OFFICIAL_ONLY=(ZOO_MY_ID ZOO_CFG_EXTRA ZOO_STANDALONE_ENABLED ZOO_ADMINSERVER_ENABLED
    ZOO_AUTOPURGE_PURGEINTERVAL ZOO_AUTOPURGE_SNAPRETAINCOUNT ZOO_LOG_APPENDER)
BITNAMI_ONLY=(ZOO_SERVER_ID ZOO_PORT_NUMBER ZOO_ENABLE_ADMIN_SERVER
    ZOO_ADMIN_SERVER_PORT_NUMBER ZOO_ADMIN_SERVER_ADDRESS ZOO_MAX_CNXNS
    ZOO_AUTOPURGE_INTERVAL ZOO_AUTOPURGE_RETAIN_COUNT ZOO_MAX_SESSION_TIMEOUT
    ZOO_SNAPCOUNT ZOO_LISTEN_ALLIPS_ENABLED ZOO_PEER_TYPE ZOO_HEAP_SIZE ZOO_FIPS_MODE
    ZOO_ENABLE_AUTH ZOO_ENABLE_QUORUM_AUTH ZOO_TLS_CLIENT_ENABLE ZOO_TLS_QUORUM_ENABLE
    ZOO_RECONFIG_ENABLED ZOO_ENABLE_PROMETHEUS_METRICS)
SHARED=(ZOO_SERVERS ZOO_TICK_TIME ZOO_INIT_LIMIT ZOO_SYNC_LIMIT ZOO_MAX_CLIENT_CNXNS
    ZOO_4LW_COMMANDS_WHITELIST ZOO_DATA_DIR ZOO_DATA_LOG_DIR ZOO_CONF_DIR ZOO_LOG_DIR
    ZOO_LOG_LEVEL ZOO_MY_ID_FROM_HOSTNAME)

is_set() { [ -n "${!1+x}" ]; }
first_set() {
    local v
    for v in "$@"; do
        if is_set "$v"; then
            echo "$v"
            return
        fi
    done
}

official_var="$(first_set "${OFFICIAL_ONLY[@]}")"
bitnami_var="$(first_set "${BITNAMI_ONLY[@]}")"
if [ -n "$official_var" ] && [ -n "$bitnami_var" ]; then
    die "$official_var (official image) and $bitnami_var (Bitnami image) are both set; use one image's variables"
fi
style=official
if [ -n "$bitnami_var" ]; then
    style=bitnami
elif [ -n "$ZOO_SERVERS" ] && [[ "$ZOO_SERVERS" != *server.* ]]; then
    [ -z "$official_var" ] || die "ZOO_SERVERS is in Bitnami's form (no server.N= entries) but $official_var (official image) is set"
    style=bitnami
fi

# Every ZOO_* variable must be one of this style's; anything else would be ignored.
known=" ${SHARED[*]} "
if [ "$style" = official ]; then known+="${OFFICIAL_ONLY[*]} "; else known+="${BITNAMI_ONLY[*]} "; fi
# Kubernetes injects service links for a Service named "zoo" (ZOO_SERVICE_HOST,
# ZOO_PORT=tcp://..., ZOO_PORT_2181_TCP_ADDR, ...): those are not settings.
service_link='^ZOO_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT|PORT_[0-9]+_(TCP|UDP|SCTP)(_[A-Z]+)?)$'
for name in $(compgen -e); do
    [[ "$name" =~ $service_link ]] && continue
    case "$name" in
    ZOO_*)
        [[ "$known" == *" $name "* ]] || die "$name is not supported by ferrokeeper's entrypoint ($style image variables; see packaging/README.md)"
        ;;
    esac
done
# Bitnami's *_FILE indirection is not implemented: refuse rather than ignore it.
for name in $(compgen -e); do
    case "$name" in ZOO_*_FILE | ALLOW_EMPTY_PASSWORD_FILE | JVMFLAGS_FILE) die "$name is not supported (set the variable itself)" ;; esac
done

# Log level: both images take ZOO_LOG_LEVEL (log4j/logback names).
log_level=""
if [ -n "$ZOO_LOG_LEVEL" ]; then
    case "${ZOO_LOG_LEVEL^^}" in
    TRACE | DEBUG | INFO | WARN | ERROR) log_level="${ZOO_LOG_LEVEL,,}" ;;
    *) die "ZOO_LOG_LEVEL=$ZOO_LOG_LEVEL: use TRACE, DEBUG, INFO, WARN or ERROR" ;;
    esac
fi
# The official 3.8.3 image's appender switch: ferrokeeper logs to the console only.
if [ -n "$ZOO_LOG_APPENDER" ] && [ "$ZOO_LOG_APPENDER" != CONSOLE ]; then
    die "ZOO_LOG_APPENDER=$ZOO_LOG_APPENDER: ferrokeeper logs to the console (stderr) only; use CONSOLE or unset it"
fi

# ZOO_MY_ID_FROM_HOSTNAME: the id from a StatefulSet ordinal.
id_var=ZOO_MY_ID
[ "$style" = bitnami ] && id_var=ZOO_SERVER_ID
if [ -n "$ZOO_MY_ID_FROM_HOSTNAME" ]; then
    if is_yes "$ZOO_MY_ID_FROM_HOSTNAME"; then
        is_set "$id_var" && die "ZOO_MY_ID_FROM_HOSTNAME=$ZOO_MY_ID_FROM_HOSTNAME and $id_var are both set; set one"
        host="${HOSTNAME:-$(hostname)}"
        ordinal="${host##*-}"
        [[ "$host" == *-* && "$ordinal" =~ ^[0-9]+$ ]] || die "ZOO_MY_ID_FROM_HOSTNAME: hostname '$host' does not end in -<ordinal>"
        printf -v "$id_var" '%s' "$((10#$ordinal + 1))"
    elif ! is_no "$ZOO_MY_ID_FROM_HOSTNAME"; then
        die "ZOO_MY_ID_FROM_HOSTNAME=$ZOO_MY_ID_FROM_HOSTNAME: use true or false"
    fi
fi

if [ "$style" = official ]; then
    # The official Dockerfile's ENV defaults.
    : "${ZOO_CONF_DIR:=/conf}" "${ZOO_DATA_DIR:=/data}" "${ZOO_DATA_LOG_DIR:=/datalog}"
    : "${ZOO_LOG_DIR:=/logs}" "${ZOO_TICK_TIME:=2000}" "${ZOO_INIT_LIMIT:=5}" "${ZOO_SYNC_LIMIT:=2}"
    : "${ZOO_AUTOPURGE_PURGEINTERVAL:=0}" "${ZOO_AUTOPURGE_SNAPRETAINCOUNT:=3}"
    : "${ZOO_MAX_CLIENT_CNXNS:=60}" "${ZOO_STANDALONE_ENABLED:=true}"
    : "${ZOO_ADMINSERVER_ENABLED:=true}"
    for server in $ZOO_SERVERS; do
        [[ "$server" == server.* ]] || die "ZOO_SERVERS entry '$server' is not of the form server.N=host:2888:3888;2181"
    done
    mkdir -p "$ZOO_CONF_DIR" "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR"

    CONFIG="$ZOO_CONF_DIR/zoo.cfg"
    if [ ! -f "$CONFIG" ]; then
        {
            echo "dataDir=$ZOO_DATA_DIR"
            echo "dataLogDir=$ZOO_DATA_LOG_DIR"

            echo "tickTime=$ZOO_TICK_TIME"
            echo "initLimit=$ZOO_INIT_LIMIT"
            echo "syncLimit=$ZOO_SYNC_LIMIT"

            echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
            echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
            echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
            echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
            echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
            for server in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do
                echo "$server"
            done
            if [ -n "$ZOO_4LW_COMMANDS_WHITELIST" ]; then
                echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
            fi
            for cfg_extra_entry in $ZOO_CFG_EXTRA; do
                echo "$cfg_extra_entry"
            done
        } > "$CONFIG.tmp"
        mv "$CONFIG.tmp" "$CONFIG"
    fi
    if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
        echo "${ZOO_MY_ID:-1}" > "$ZOO_DATA_DIR/myid"
    fi
else
    # Features of Bitnami's image that ferrokeeper does not offer through it: only
    # their "off" values are accepted.
    for name in ZOO_ENABLE_AUTH ZOO_ENABLE_QUORUM_AUTH ZOO_TLS_CLIENT_ENABLE \
        ZOO_TLS_QUORUM_ENABLE ZOO_RECONFIG_ENABLED ZOO_ENABLE_PROMETHEUS_METRICS; do
        if [ -n "${!name}" ] && ! is_no "${!name}"; then
            die "$name=${!name} is not supported by ferrokeeper's entrypoint (write a zoo.cfg into ZOO_CONF_DIR instead)"
        fi
    done
    # Bitnami's paths, overridable here (Bitnami fixes them).
    : "${ZOO_CONF_DIR:=/opt/bitnami/zookeeper/conf}" "${ZOO_DATA_DIR:=/bitnami/zookeeper/data}"
    : "${ZOO_LOG_DIR:=/opt/bitnami/zookeeper/logs}"
    # Bitnami's defaults (zookeeper-env.sh).
    : "${ZOO_PORT_NUMBER:=2181}" "${ZOO_SERVER_ID:=1}" "${ZOO_ENABLE_ADMIN_SERVER:=no}"
    : "${ZOO_ADMIN_SERVER_ADDRESS:=127.0.0.1}" "${ZOO_ADMIN_SERVER_PORT_NUMBER:=8080}"
    : "${ZOO_TICK_TIME:=2000}" "${ZOO_INIT_LIMIT:=10}" "${ZOO_SYNC_LIMIT:=5}"
    : "${ZOO_MAX_CNXNS:=0}" "${ZOO_MAX_CLIENT_CNXNS:=60}" "${ZOO_AUTOPURGE_INTERVAL:=0}"
    : "${ZOO_AUTOPURGE_RETAIN_COUNT:=3}" "${ZOO_4LW_COMMANDS_WHITELIST:=srvr, mntr}"
    : "${ZOO_LISTEN_ALLIPS_ENABLED:=no}" "${ZOO_MAX_SESSION_TIMEOUT:=40000}"
    : "${ZOO_SNAPCOUNT:=100000}"
    if [ -n "$ZOO_PEER_TYPE" ] && [ "$ZOO_PEER_TYPE" != observer ] && [ "$ZOO_PEER_TYPE" != participant ]; then
        die "ZOO_PEER_TYPE=$ZOO_PEER_TYPE: use observer or participant"
    fi
    [[ "$ZOO_PORT_NUMBER" =~ ^[0-9]+$ ]] || die "ZOO_PORT_NUMBER=$ZOO_PORT_NUMBER is not a port number"
    [[ "$ZOO_SERVER_ID" =~ ^[0-9]+$ ]] || die "ZOO_SERVER_ID=$ZOO_SERVER_ID is not a number"

    # ZOO_SERVERS: separated by commas, semicolons or blanks, as Bitnami splits it;
    # `::id` on any entry means every entry names its id.
    read -r -a servers <<< "${ZOO_SERVERS//[;, ]/ }"
    with_ids=no
    [[ "$ZOO_SERVERS" == *::* ]] && with_ids=yes
    for server in "${servers[@]}"; do
        if [ "$with_ids" = yes ]; then
            [[ "$server" =~ ^[^[:space:]]+:[0-9]+:[0-9]+(:observer|:participant)?::[0-9]+$ ]] ||
                die "ZOO_SERVERS entry '$server' should be host:port:port::id (e.g. zookeeper:2888:3888::1)"
        else
            [[ "$server" =~ ^[^[:space:]]+:[0-9]+:[0-9]+(:observer|:participant)?$ ]] ||
                die "ZOO_SERVERS entry '$server' should be host:port:port (e.g. zookeeper:2888:3888)"
        fi
    done
    mkdir -p "$ZOO_CONF_DIR" "$ZOO_DATA_DIR"
    [ -z "$ZOO_DATA_LOG_DIR" ] || mkdir -p "$ZOO_DATA_LOG_DIR"

    CONFIG="$ZOO_CONF_DIR/zoo.cfg"
    if [ ! -f "$CONFIG" ]; then
        tf() { is_yes "$1" && echo true || echo false; }
        {
            echo "tickTime=$ZOO_TICK_TIME"
            echo "initLimit=$ZOO_INIT_LIMIT"
            echo "syncLimit=$ZOO_SYNC_LIMIT"
            echo "snapCount=$ZOO_SNAPCOUNT"
            echo "dataDir=$ZOO_DATA_DIR"
            [ -z "$ZOO_DATA_LOG_DIR" ] || echo "dataLogDir=$ZOO_DATA_LOG_DIR"
            echo "clientPort=$ZOO_PORT_NUMBER"
            echo "maxCnxns=$ZOO_MAX_CNXNS"
            echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
            echo "reconfigEnabled=false"
            echo "quorumListenOnAllIPs=$(tf "$ZOO_LISTEN_ALLIPS_ENABLED")"
            echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_INTERVAL"
            echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_RETAIN_COUNT"
            # Bitnami's zookeeper_conf_set skips empty values.
            [ -z "$ZOO_4LW_COMMANDS_WHITELIST" ] || echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
            echo "maxSessionTimeout=$ZOO_MAX_SESSION_TIMEOUT"
            echo "admin.serverAddress=$ZOO_ADMIN_SERVER_ADDRESS"
            echo "admin.serverPort=$ZOO_ADMIN_SERVER_PORT_NUMBER"
            echo "admin.enableServer=$(tf "$ZOO_ENABLE_ADMIN_SERVER")"
            # One entry means standalone: Bitnami writes server lines only for more.
            if [ "${#servers[@]}" -gt 1 ]; then
                i=1
                for server in "${servers[@]}"; do
                    if [ "$with_ids" = yes ]; then
                        echo "server.${server##*::}=${server%%::*};$ZOO_PORT_NUMBER"
                    else
                        echo "server.$i=$server;$ZOO_PORT_NUMBER"
                        i=$((i + 1))
                    fi
                done
            fi
            [ -z "$ZOO_PEER_TYPE" ] || echo "peerType=$ZOO_PEER_TYPE"
        } > "$CONFIG.tmp"
        mv "$CONFIG.tmp" "$CONFIG"
    fi
    if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
        echo "$ZOO_SERVER_ID" > "$ZOO_DATA_DIR/myid"
    fi
fi

FK="${FERROKEEPER_BIN:-ferrokeeper}"
flags=()
[ -z "$log_level" ] || flags+=(--log-level "$log_level")
if [ $# -eq 0 ] || { [ $# -eq 2 ] && [ "$1" = zkServer.sh ] && [ "$2" = start-foreground ]; }; then
    exec "$FK" "$CONFIG" "${flags[@]}"
elif [[ "$1" == -* ]]; then
    exec "$FK" "$CONFIG" "${flags[@]}" "$@"
else
    exec "$@"
fi
