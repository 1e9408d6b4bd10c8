#!/usr/bin/env bash
# ab.sh: two isapid variants side by side on the workloads of make bench (hello ×CONNS,
# hello ×1, 4 KiB static ×CONNS, hello with Connection: close ×CONNS): two binaries (an old
# build against a new one) or one binary with two sets of options. Not part of make bench: a
# tool for one change's before/after, whose numbers go to bench/HISTORY.md (it made issue 13
# item 7's epoll / io_uring comparison, with the backend of branch wip-uring-backend).
#
# Both servers run at once, pinned to the same core (AB_SERVER_CPU), and each round measures
# A then B, so that the machine's load hits both alike; wrk runs on AB_CLIENT_CPU. It prints
# one JSON record per round (bench.py wrk: requests/s, server CPU per request), then system
# calls per request under strace -c (a 2 s wrk run per workload and variant) and, with
# AB_CALLGRIND=1, user-space instructions per request under callgrind (1,000 warm-up then
# 5,000 counted requests over bench.py's keep-alive client, at CONNS connections and at 1;
# hello and the static file only).
#
#   AB_BIN_A, AB_BIN_B   the binaries (default: both AB_BUILD/isapid, a Release build made here)
#   AB_ARGS_A, AB_ARGS_B extra isapid options of each (word-split)
#   AB_DURATION=3s AB_ROUNDS=3 AB_CONNS=64 AB_SERVER_CPU=1 AB_CLIENT_CPU=0 AB_BUILD=build-ab
#   AB_CALLGRIND=0 AB_ONLY="hello64 hello1 static64 close64"
# Examples (extensions and the static file come from AB_BUILD and a temporary root):
#   AB_BIN_A=/path/to/old/isapid bench/ab.sh        an older build (A) against this tree's (B)
#   AB_ARGS_B="--run-extensions pool" bench/ab.sh     one binary, two settings
# Needs wrk and strace (valgrind for AB_CALLGRIND=1), as make bench does.
set -eu
cd "$(dirname "$0")/.."
DURATION=${AB_DURATION:-3s}
ROUNDS=${AB_ROUNDS:-3}
CONNS=${AB_CONNS:-64}
SERVER="taskset -c ${AB_SERVER_CPU:-1}"
CLIENT="taskset -c ${AB_CLIENT_CPU:-0}"
BUILD=${AB_BUILD:-build-ab}
ONLY=${AB_ONLY:-"hello$CONNS hello1 static$CONNS close$CONNS"}
BENCH="python3 bench/bench.py"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j 2 >/dev/null
declare -A BIN=([A]=${AB_BIN_A:-$BUILD/isapid} [B]=${AB_BIN_B:-$BUILD/isapid})
declare -A ARGS=([A]=${AB_ARGS_A:-} [B]=${AB_ARGS_B:-})

STARTED=""
W=$(mktemp -d /tmp/isapid-ab.XXXXXX)
cleanup() {
    local pid
    for pid in $STARTED; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/www"
head -c 4096 /dev/urandom > "$W/www/f4k.bin"

workload() { # NAME → CONNS PATH
    case $1 in
    hello1) echo "1 /examples/hello.dll" ;;
    hello*) echo "$CONNS /examples/hello.dll" ;;
    static*) echo "$CONNS /f4k.bin" ;;
    close*) echo "$CONNS /examples/hello.dll" ;;
    esac
}
wrk_opts() { # NAME: wrk's extra options, in WRK_OPTS (a header's space survives no word split)
    WRK_OPTS=()
    case $1 in close*) WRK_OPTS=(-H "Connection: close") ;; esac
}

wait_http() { # PORT
    local i
    for i in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/examples/hello.dll" && return 0
        sleep 0.1
    done
    echo "no server on port $1" >&2
    exit 1
}

start() { # VARIANT PORT [wrapper...] → its PID in $PID
    local v=$1 port=$2
    shift 2
    # shellcheck disable=SC2086
    $SERVER "$@" "${BIN[$v]}" --processes 0 --threads 1 --listen "127.0.0.1:$port" \
        --root "$W/www" --scripts "/examples=$BUILD/examples" --access-log '' ${ARGS[$v]} "${START_EXTRA[@]}" \
        > "$W/$v-$port.log" 2>&1 &
    PID=$!
    STARTED="$STARTED $PID"
}

START_EXTRA=()
declare -A PORT PIDS
read -r PORT[A] PORT[B] PORT_CG <<< "$($BENCH ports 3)"
for v in A B; do
    start "$v" "${PORT[$v]}"
    PIDS[$v]=$PID
    wait_http "${PORT[$v]}"
done
tags() { # VARIANT
    echo --tag variant="$1" --tag bin="${BIN[$1]}" --tag args="${ARGS[$1]// /_}"
}

for w in $ONLY; do
    read -r conns path <<< "$(workload "$w")"
    wrk_opts "$w"
    for v in A B; do
        $CLIENT wrk -t1 -c"$conns" -d1s "${WRK_OPTS[@]}" "http://127.0.0.1:${PORT[$v]}$path" > /dev/null
    done
    for r in $(seq "$ROUNDS"); do
        for v in A B; do
            # shellcheck disable=SC2046
            $CLIENT $BENCH wrk --pids "${PIDS[$v]}" --tag test="$w" $(tags "$v") --tag round="$r" \
                -- wrk -t1 -c"$conns" -d"$DURATION" "${WRK_OPTS[@]}" "http://127.0.0.1:${PORT[$v]}$path"
        done
    done
done

for w in $ONLY; do
    read -r conns path <<< "$(workload "$w")"
    wrk_opts "$w"
    for v in A B; do
        strace -c -f -qq -o "$W/strace-$w-$v.txt" -p "${PIDS[$v]}" &
        spid=$!
        STARTED="$STARTED $spid"
        sleep 0.5
        n=$($CLIENT wrk -t1 -c"$conns" -d2s "${WRK_OPTS[@]}" "http://127.0.0.1:${PORT[$v]}$path" |
            awk '/requests in/ {print $1}')
        kill -INT "$spid"
        wait "$spid" || true
        # shellcheck disable=SC2046
        $BENCH syscalls --file "$W/strace-$w-$v.txt" --requests "$n" --tag test="$w" \
            $(tags "$v") --tag measure=strace
    done
done

if [ "${AB_CALLGRIND:-0}" = 1 ]; then
    # Under valgrind a request takes long enough for the watchdog to hand the loop off: keep it
    # on one thread, as make bench's callgrind run does.
    START_EXTRA=(--handoff-after 1000)
    for v in A B; do
        for path in /examples/hello.dll /f4k.bin; do
            for conns in $CONNS 1; do
                start "$v" "$PORT_CG" valgrind --tool=callgrind --callgrind-out-file="$W/cg.out"
                vpid=$PID
                wait_http "$PORT_CG"
                $BENCH requests --port "$PORT_CG" --path "$path" --count 1000 --conns "$conns" >/dev/null
                callgrind_control -z "$vpid" >/dev/null 2>&1
                $BENCH requests --port "$PORT_CG" --path "$path" --count 5000 --conns "$conns" >/dev/null
                callgrind_control -d "$vpid" >/dev/null 2>&1
                # Bounded: valgrind 3.19 holds its lock across a blocking io_uring_enter, so
                # a server waiting in one never sees the signal.
                kill -TERM "$vpid"
                for i in $(seq 50); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.2; done
                kill -KILL "$vpid" 2>/dev/null || true
                wait "$vpid" || true
                f=$(ls "$W"/cg.out.* | head -1)
                ir=$(grep -m1 '^summary:\|^totals:' "$f" | awk '{print $2}')
                rm -f "$W"/cg.out*
                printf '{"test": "callgrind", "variant": "%s", "path": "%s", "conns": %s, "instructions_per_request": %d}\n' \
                    "$v" "$path" "$conns" $((ir / 5000))
            done
        done
    done
fi
