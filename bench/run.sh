#!/usr/bin/env bash
# make bench: isapid and nginx side by side, in one run, on the same core; writes bench/RESULTS.md.
#
# Builds a Release isapid and its examples in build-bench/, installs wrk, nginx (a peer only,
# never a system service), strace and valgrind from Debian's packages (as root; otherwise it
# prints the apt-get line and stops), starts isapid (--threads 1) and nginx
# (worker_processes 1) pinned to one core (BENCH_SERVER_CPU, default 1) with the clients on
# another (BENCH_CLIENT_CPU, default 0), and runs every test in interleaved rounds
# (isapid, nginx, isapid, nginx, ...) so that drift hits both alike. Both servers listen on
# free 127.0.0.1 ports only, and both are stopped when the script exits, however it exits.
#
# Settings (environment):
#   BENCH_DURATION=10s        each wrk measurement          BENCH_ROUNDS=3   rounds per test
#   BENCH_PROCS_ROUNDS=6, BENCH_PROCS_DURATION=5s  the procs test's (twice the rounds, half
#                             as long: the same time)
#   BENCH_WARMUP=2s           wrk warm-up per test/server   BENCH_CONNS=64   wrk connections
#   BENCH_FETCHES=10          big-file fetches/uploads per round
#   BENCH_BIG_MB=64           size of the big file and of the upload body (MiB)
#   BENCH_IDLE=10000          idle keep-alive connections   BENCH_LONGPOLL=10000 parked sessions
#   BENCH_SYSCALL_REQUESTS=10000  requests counted under strace -c
#   BENCH_CALLGRIND=1         instructions/request under callgrind (0 = skip)
#   BENCH_CALLGRIND_REQUESTS=10000
#   BENCH_ONLY="hello static pipeline procs big upload idle longpoll syscalls callgrind"  a subset of tests
#   BENCH_OUT=bench/RESULTS.md   BENCH_KEEP=1 keeps the work directory (raw outputs)
# Every client is bounded in count and time; the defaults take about 6 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNS:-64}
FETCHES=${BENCH_FETCHES:-10}
BIG_MB=${BENCH_BIG_MB:-64}
IDLE=${BENCH_IDLE:-10000}
LONGPOLL=${BENCH_LONGPOLL:-10000}
SYSCALL_REQUESTS=${BENCH_SYSCALL_REQUESTS:-10000}
CALLGRIND=${BENCH_CALLGRIND:-1}
CALLGRIND_REQUESTS=${BENCH_CALLGRIND_REQUESTS:-10000}
PROCS_ROUNDS=${BENCH_PROCS_ROUNDS:-$((ROUNDS * 2))}
case ${DURATION%s} in # half of DURATION when it is whole seconds, at least 2 s
    ''|*[!0-9]*) PROCS_DURATION=$DURATION ;;
    *) PROCS_DURATION=$(( ${DURATION%s} / 2 > 2 ? ${DURATION%s} / 2 : 2 ))s ;;
esac
PROCS_DURATION=${BENCH_PROCS_DURATION:-$PROCS_DURATION}
ONLY=${BENCH_ONLY:-hello static pipeline procs big upload idle longpoll syscalls callgrind}
OUT=${BENCH_OUT:-bench/RESULTS.md}
BUILD=build-bench
if [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=${BENCH_SERVER_CPU:-1}
    CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
else
    SERVER_CPU=${BENCH_SERVER_CPU:-0}
    CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
fi
BENCH="python3 $ROOT/bench/bench.py"
CLIENT="taskset -c $CLIENT_CPU"
SERVER="taskset -c $SERVER_CPU"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------------------------------------
# Packages: the build's (scripts/deps.sh), then the benchmark's own.
sh scripts/deps.sh
PACKAGES="wrk nginx strace util-linux"
[ "$CALLGRIND" = 1 ] && PACKAGES="$PACKAGES valgrind"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "make bench needs these Debian packages:$missing" >&2
        echo "Install them as root with:" >&2
        echo "    apt-get install -y$missing" >&2
        exit 1
    fi
    log "installing Debian packages:$missing"
    # nginx is a peer only: keep Debian from starting it as a system service on port 80.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || exit "$rc"
fi

# ---------------------------------------------------------------------------------------------
# Build (Release, no tests) into build-bench/.
log "building isapid (Release) in $BUILD/"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null

# ---------------------------------------------------------------------------------------------
# Work directory, servers, clean-up.
STARTED=""   # PIDs this script started, stopped by cleanup
W=$(mktemp -d /tmp/isapid-bench.XXXXXX)
cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in $STARTED; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in $(seq 50); do
        local alive=""
        for pid in $STARTED; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in $STARTED; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# File descriptors: the idle-connection test needs IDLE of them in the client and the server.
if [ "$(id -u)" = 0 ]; then ulimit -Hn 65536 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
if [ "$NOFILE" -lt $((IDLE + 200)) ] || [ "$NOFILE" -lt $((LONGPOLL + 200)) ]; then
    IDLE=$((NOFILE - 200)); LONGPOLL=$((NOFILE - 200))
    log "only $NOFILE file descriptors: idle and long-poll tests use $IDLE connections"
fi

chmod 755 "$W"   # nginx's worker runs as an unprivileged user when started by root
mkdir -p "$W/www" "$W/nginx/tmp" "$W/raw"
chmod 1777 "$W/nginx/tmp"
head -c 4096 /dev/urandom > "$W/www/f4k.bin"
head -c $((BIG_MB << 20)) /dev/urandom > "$W/www/big.bin"
chmod 644 "$W/www/"*
RES=$W/results.jsonl
: > "$RES"
cc -O3 -o "$W/fnv1a_cost" bench/fnv1a_cost.c

nginx_conf() { # PREFIX PORT
    sed -e "s|@PREFIX@|$1|g" -e "s|@WWW@|$W/www|g" -e "s|@PORT@|$2|g" -e "s|@NOFILE@|$NOFILE|g" \
        bench/nginx.conf.in > "$1/nginx.conf"
}

wait_http() { # PORT PATH
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1$2" && return 0
        sleep 0.1
    done
    log "no answer on 127.0.0.1:$1$2"; return 1
}

read -r IPORT NPORT CG_IPORT CG_NPORT LP_PORT <<<"$($BENCH ports 5)"

log "starting isapid on 127.0.0.1:$IPORT and nginx on 127.0.0.1:$NPORT, both on CPU $SERVER_CPU"
$SERVER "$BUILD/isapid" --threads 1 --listen "127.0.0.1:$IPORT" --root "$W/www" \
    --scripts "/examples=$BUILD/examples" --keepalive-timeout 600s \
    > "$W/isapid.log" 2>&1 &
ISAPID=$!
STARTED="$STARTED $ISAPID"
nginx_conf "$W/nginx" "$NPORT"
$SERVER nginx -p "$W/nginx" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" -g 'daemon off;' \
    > "$W/nginx/out.log" 2>&1 &
NGINX=$!
STARTED="$STARTED $NGINX"
wait_http "$IPORT" /examples/hello.dll
wait_http "$NPORT" /examples/hello.dll
NGINX_WORKER=$(pgrep -P "$NGINX" | head -1)
# Both run a master and one worker (isapid's default --processes 1): CPU and memory are the
# two processes' together, threads are the worker's (the master has none).
ISAPID_WORKER=$(pgrep -P "$ISAPID" | head -1)
IPIDS=$ISAPID,$ISAPID_WORKER
NPIDS=$NGINX,$NGINX_WORKER
IURL=http://127.0.0.1:$IPORT
NURL=http://127.0.0.1:$NPORT

python3 bench/report.py meta --phase start >> "$RES"

# ---------------------------------------------------------------------------------------------
# Idle keep-alive connections and parked long-poll sessions, first: memory and thread counts
# are read on servers that no load test has grown yet.
if want idle; then
    log "idle: $IDLE keep-alive connections per server"
    $CLIENT $BENCH idle --port "$IPORT" --pids "$IPIDS" --thread-pid "$ISAPID_WORKER" --conns "$IDLE" \
        --path /examples/hello.dll --tag test=idle --tag server=isapid >> "$RES"
    $CLIENT $BENCH idle --port "$NPORT" --pids "$NPIDS" --conns "$IDLE" \
        --path /examples/hello.dll --tag test=idle --tag server=nginx >> "$RES"
fi
if want longpoll; then
    # A fresh isapid of its own (same binary, same core), so that no memory freed by the
    # idle-connection test is reused and the threads counted are only the ones it needs.
    log "long-poll: $LONGPOLL parked sessions on a fresh isapid"
    $SERVER "$BUILD/isapid" --threads 1 --listen "127.0.0.1:$LP_PORT" --root "$W/www" \
        --scripts "/examples=$BUILD/examples" --keepalive-timeout 600s \
        > "$W/isapid-longpoll.log" 2>&1 &
    LP_PID=$!
    STARTED="$STARTED $LP_PID"
    wait_http "$LP_PORT" /examples/hello.dll
    $CLIENT $BENCH longpoll --port "$LP_PORT" --pid "$(pgrep -P "$LP_PID" | head -1)" --conns "$LONGPOLL" \
        --tag test=longpoll --tag server=isapid >> "$RES"
    kill -TERM "$LP_PID"
    wait "$LP_PID" || true
fi

# ---------------------------------------------------------------------------------------------
# wrk tests: TEST CONNS PATH [wrk options...]
CORES="--server-cpu $SERVER_CPU --client-cpu $CLIENT_CPU"
wrk_test() {
    local test=$1 conns=$2 path=$3 r
    shift 3
    log "$test: warm-up, then $ROUNDS rounds of $DURATION per server"
    $CLIENT wrk -t1 -c"$conns" -d"$WARMUP" "$@" "$IURL$path" > /dev/null
    $CLIENT wrk -t1 -c"$conns" -d"$WARMUP" "$@" "$NURL$path" > /dev/null
    for r in $(seq "$ROUNDS"); do
        $CLIENT $BENCH wrk --pids "$IPIDS" --thread-pid "$ISAPID_WORKER" --raw "$W/raw/wrk.txt" $CORES \
            ${IWORKERS:+--workers "$IWORKERS"} \
            --tag test="$test" --tag server=isapid --tag round="$r" \
            -- wrk -t1 -c"$conns" -d"$DURATION" --latency "$@" "$IURL$path" >> "$RES"
        $CLIENT $BENCH wrk --pids "$NPIDS" --raw "$W/raw/wrk.txt" $CORES \
            ${NWORKERS:+--workers "$NWORKERS"} \
            --tag test="$test" --tag server=nginx --tag round="$r" \
            -- wrk -t1 -c"$conns" -d"$DURATION" --latency "$@" "$NURL$path" >> "$RES"
    done
}

if want hello; then
    wrk_test hello-keepalive-$CONNS "$CONNS" /examples/hello.dll
    wrk_test hello-keepalive-1 1 /examples/hello.dll
    wrk_test hello-close-$CONNS "$CONNS" /examples/hello.dll -H 'Connection: close'
fi
if want static; then
    wrk_test static-4k-$CONNS "$CONNS" /f4k.bin
fi
# Pipelined: 16 requests in each write (bench/pipeline.lua), the same two URLs.
if want pipeline; then
    wrk_test hello-pipeline16-$CONNS "$CONNS" /examples/hello.dll -s "$ROOT/bench/pipeline.lua"
    wrk_test static-4k-pipeline16-$CONNS "$CONNS" /f4k.bin -s "$ROOT/bench/pipeline.lua"
fi

# ---------------------------------------------------------------------------------------------
# Worker processes: isapid --processes 2 --threads 1 against nginx worker_processes 2, and the
# same pair with one worker each as the control (same conditions, one process), each a server
# of its own on its own port, started for this test only. Both servers and wrk run unpinned:
# two workers need both cores, and a 2-core machine has none left to give the client alone, so
# all of them share both cores under the same scheduler (bench/README.md).
procs_pair() { # N TEST...: N worker processes each; TEST is hello or static
    local n=$1 iport nport ipid npid t
    shift
    read -r iport nport <<<"$($BENCH ports 2)"
    log "processes: isapid --processes $n on 127.0.0.1:$iport, nginx worker_processes $n on 127.0.0.1:$nport, unpinned"
    "$BUILD/isapid" --processes "$n" --threads 1 --listen "127.0.0.1:$iport" --root "$W/www" \
        --scripts "/examples=$BUILD/examples" --keepalive-timeout 600s > "$W/isapid-procs$n.log" 2>&1 &
    ipid=$!
    STARTED="$STARTED $ipid"
    mkdir -p "$W/nginx-procs$n/tmp"
    chmod 1777 "$W/nginx-procs$n/tmp"
    nginx_conf "$W/nginx-procs$n" "$nport"
    sed -i "s/^worker_processes 1; .*/worker_processes $n;/" "$W/nginx-procs$n/nginx.conf"
    nginx -p "$W/nginx-procs$n" -e "$W/nginx-procs$n/error.log" -c "$W/nginx-procs$n/nginx.conf" \
        -g 'daemon off;' > "$W/nginx-procs$n/out.log" 2>&1 &
    npid=$!
    STARTED="$STARTED $npid"
    wait_http "$iport" /examples/hello.dll
    wait_http "$nport" /examples/hello.dll
    # wrk_test against these servers: its variables, shadowed (bash scopes them dynamically).
    # More, shorter rounds than the pinned tests, in the same time: which worker takes how many
    # of wrk's connections is decided anew each round, and one that takes them all makes that
    # round a one-worker round (bench.py records each round's spread; report.py notes it).
    local IURL=http://127.0.0.1:$iport NURL=http://127.0.0.1:$nport CLIENT="" CORES=""
    local ROUNDS=$PROCS_ROUNDS DURATION=$PROCS_DURATION
    local ISAPID_WORKER IPIDS NPIDS IWORKERS NWORKERS
    ISAPID_WORKER=$(pgrep -P "$ipid" | head -1)
    IWORKERS=$(pgrep -P "$ipid" | tr '\n' , | sed "s/,\$//")
    NWORKERS=$(pgrep -P "$npid" | tr '\n' , | sed "s/,\$//")
    IPIDS=$ipid,$IWORKERS
    NPIDS=$npid,$NWORKERS
    for t in "$@"; do
        case $t in
            hello) wrk_test "procs$n-hello-keepalive-$CONNS" "$CONNS" /examples/hello.dll ;;
            static) wrk_test "procs$n-static-4k-$CONNS" "$CONNS" /f4k.bin ;;
        esac
    done
    kill -TERM "$ipid" "$npid"
    wait "$ipid" "$npid" || true
}
if want procs; then
    procs_pair 2 hello static
    procs_pair 1 hello
fi

# ---------------------------------------------------------------------------------------------
# Large transfers: FETCHES per round over one keep-alive connection.
BIG=$((BIG_MB << 20))
if want big; then
    log "big file ($BIG_MB MiB): $ROUNDS rounds of $FETCHES fetches per server"
    # One fetch from each server in turn (fetch-alt), not a block of FETCHES from one and then
    # the next: loopback throughput drifts from second to second here, and blocks of a few
    # seconds each turned that drift into differences between the servers.
    for r in $(seq "$ROUNDS"); do
        $CLIENT $BENCH fetch-alt --count "$FETCHES" --min-bytes "$BIG" \
            --target "isapid-transmitfile,$IPORT,${IPIDS//,/+},/examples/transmit.dll?file=big.bin&headers=1" \
            --target "nginx,$NPORT,${NPIDS//,/+},/big.bin" \
            --target "isapid-static,$IPORT,${IPIDS//,/+},/big.bin" \
            --tag test=big-file --tag round="$r" >> "$RES"
    done
fi
if want upload; then
    log "upload ($BIG_MB MiB): $ROUNDS rounds of $FETCHES uploads per server"
    for r in $(seq "$ROUNDS"); do
        # The server's cost (the extension counts bytes only), then with upload.c's checksum.
        $CLIENT $BENCH upload --port "$IPORT" --pids "$IPIDS" --count "$FETCHES" --size "$BIG" \
            --path '/examples/upload.dll?checksum=none' --expect "bytes=$BIG" \
            --tag test=upload --tag server=isapid --tag round="$r" >> "$RES"
        $CLIENT $BENCH upload --port "$IPORT" --pids "$IPIDS" --count "$FETCHES" --size "$BIG" \
            --path /examples/upload.dll --expect "bytes=$BIG" \
            --tag test=upload --tag server=isapid-fnv1a --tag round="$r" >> "$RES"
        $CLIENT $BENCH upload --port "$NPORT" --pids "$NPIDS" --count "$FETCHES" --size "$BIG" \
            --path /upload --tag test=upload --tag server=nginx --tag round="$r" >> "$RES"
        $CLIENT $BENCH upload --port "$NPORT" --pids "$NPIDS" --count "$FETCHES" --size "$BIG" \
            --path /discard --tag test=upload --tag server=nginx-discard --tag round="$r" >> "$RES"
    done
    # The extension's own work: upload.c's FNV-1a over the same bytes, on the server's core.
    $SERVER "$W/fnv1a_cost" "$BIG" 5 | python3 bench/report.py tag test=fnv1a server=upload.c >> "$RES"
fi

# ---------------------------------------------------------------------------------------------
# System calls per request (strace -c), and instructions per request (perf or callgrind).
count_syscalls() { # SERVER PID(S) PORT
    local out=$W/raw/strace-$1.txt spid
    strace -c -f -qq -o "$out" $(printf -- '-p %s ' ${2//,/ }) &
    spid=$!
    STARTED="$STARTED $spid"
    sleep 1   # attached to every thread
    $CLIENT $BENCH requests --port "$3" --path /examples/hello.dll --count "$SYSCALL_REQUESTS" \
        --conns "$CONNS" > /dev/null
    kill -INT "$spid"
    wait "$spid" || true
    $BENCH syscalls --file "$out" --requests "$SYSCALL_REQUESTS" \
        --tag test=syscalls --tag server="$1" >> "$RES"
}
if want syscalls; then
    log "system calls: $SYSCALL_REQUESTS hello requests over $CONNS connections under strace -c"
    count_syscalls isapid "$IPIDS" "$IPORT"
    count_syscalls nginx "$NGINX_WORKER" "$NPORT"
fi

# perf counts only where the machine has hardware counters (many guests have none).
perf_check=$(perf stat -x, -e instructions true 2>&1 || true)
if printf '%s\n' "$perf_check" | grep -Eq '^[0-9]+,.*instructions'; then
    PERF=1
else
    PERF=0
    echo '{"test": "perf", "supported": false}' >> "$RES"
fi
if want syscalls && [ "$PERF" = 1 ]; then
    log "perf: instructions per hello request"
    for s in isapid nginx; do
        if [ $s = isapid ]; then pids=$IPIDS port=$IPORT; else pids=$NPIDS port=$NPORT; fi
        perf stat -x, -e instructions,cycles -p "$pids" -o "$W/raw/perf-$s.txt" &
        ppid=$!
        STARTED="$STARTED $ppid"
        sleep 0.5
        $CLIENT $BENCH requests --port "$port" --path /examples/hello.dll \
            --count "$SYSCALL_REQUESTS" --conns "$CONNS" > /dev/null
        kill -INT "$ppid"
        wait "$ppid" || true
        python3 bench/report.py perf --file "$W/raw/perf-$s.txt" --requests "$SYSCALL_REQUESTS" \
            --tag test=perf --tag server=$s >> "$RES" || true
    done
fi

# callgrind: a server under valgrind on its own port; 1,000 warm-up requests, counters zeroed,
# CALLGRIND_REQUESTS requests, counters dumped. User-space instructions only, repeatable.
callgrind_server() { # SERVER PORT command...
    local name=$1 port=$2 vpid dump
    shift 2
    mkdir -p "$W/cg-$name"
    $SERVER valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$W/cg-$name/callgrind.out" "$@" > "$W/cg-$name/valgrind.log" 2>&1 &
    vpid=$!
    STARTED="$STARTED $vpid"
    wait_http "$port" /examples/hello.dll
    $CLIENT $BENCH requests --port "$port" --path /examples/hello.dll --count 1000 \
        --conns "$CONNS" > /dev/null
    callgrind_control -z "$vpid" > /dev/null 2>&1
    $CLIENT $BENCH requests --port "$port" --path /examples/hello.dll \
        --count "$CALLGRIND_REQUESTS" --conns "$CONNS" > /dev/null
    callgrind_control -d "$vpid" > /dev/null 2>&1
    if want pipeline; then # the same requests, 16 in each write: a second dump
        callgrind_control -z "$vpid" > /dev/null 2>&1
        $CLIENT $BENCH requests --port "$port" --path /examples/hello.dll \
            --count "$CALLGRIND_REQUESTS" --conns "$CONNS" --pipeline 16 > /dev/null
        callgrind_control -d "$vpid" > /dev/null 2>&1
    fi
    kill -TERM "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
    dump=$(ls "$W/cg-$name"/callgrind.out.* 2>/dev/null | head -1)
    if [ -n "$dump" ]; then
        python3 bench/report.py callgrind --file "$dump" \
            --requests "$CALLGRIND_REQUESTS" --tag test=callgrind --tag server="$name" >> "$RES"
    fi
    dump=$(ls "$W/cg-$name"/callgrind.out.* 2>/dev/null | sed -n 2p)
    if [ -n "$dump" ]; then
        python3 bench/report.py callgrind --file "$dump" --requests "$CALLGRIND_REQUESTS" \
            --tag test=callgrind-pipeline16 --tag server="$name" >> "$RES"
    fi
}
if want callgrind && [ "$CALLGRIND" = 1 ]; then
    log "callgrind: instructions per hello request ($CALLGRIND_REQUESTS requests per server)"
    # Under valgrind threads take turns and run ~50 times slower: with the default 1 ms, the
    # hand-off watchdog would take most calls and this would count the pool's path. One process
    # (--processes 0), as nginx runs with master_process off here: the request path is the
    # worker's either way, and callgrind's counters are then the serving process's.
    callgrind_server isapid "$CG_IPORT" "$BUILD/isapid" --processes 0 --threads 1 --handoff-after 1000 \
        --listen "127.0.0.1:$CG_IPORT" --root "$W/www" --scripts "/examples=$BUILD/examples"
    mkdir -p "$W/nginx-cg/tmp"
    chmod 1777 "$W/nginx-cg/tmp"
    nginx_conf "$W/nginx-cg" "$CG_NPORT"
    callgrind_server nginx "$CG_NPORT" nginx -p "$W/nginx-cg" -e "$W/nginx-cg/error.log" \
        -c "$W/nginx-cg/nginx.conf" -g 'daemon off; master_process off;'
fi

# ---------------------------------------------------------------------------------------------
python3 bench/report.py meta --phase end >> "$RES"
log "writing $OUT"
BENCH_SETTINGS="BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_PROCS_ROUNDS=$PROCS_ROUNDS BENCH_PROCS_DURATION=$PROCS_DURATION BENCH_WARMUP=$WARMUP BENCH_CONNS=$CONNS BENCH_FETCHES=$FETCHES BENCH_BIG_MB=$BIG_MB BENCH_IDLE=$IDLE BENCH_LONGPOLL=$LONGPOLL BENCH_SYSCALL_REQUESTS=$SYSCALL_REQUESTS BENCH_CALLGRIND=$CALLGRIND BENCH_CALLGRIND_REQUESTS=$CALLGRIND_REQUESTS" \
SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU \
    python3 bench/report.py write --results "$RES" --out "$OUT" --build "$BUILD"
cp "$RES" "$W/raw/" 2>/dev/null || true
log "done: $OUT"
