#!/bin/sh
# make fuzz: build the libFuzzer harnesses with clang (ASan+UBSan) into build-fuzz/ and run each
# one for FUZZ_SECONDS seconds (default 60) starting from its corpus, JOBS of them at a time.
#
#   FUZZ_SECONDS=N     seconds per fuzzer; 0 only replays the corpora once
#   FUZZ_TARGETS="..." which fuzzers (default: all of them, the names in fuzz/CMakeLists.txt)
#   FUZZ_BUILD=DIR     build directory (default build-fuzz)
#   JOBS=N             fuzzers run at once, and build jobs (default: the number of cores)
#
# The repository's corpus is read, never written: new inputs go to DIR/corpus/NAME/, crashes to
# DIR/artifacts/ (reproduce with: DIR/fuzz/fuzz_NAME FILE), each run's output to DIR/logs/.
# To add what a run found to the repository's corpus (kept to ~100 files): fuzz/grow_corpus.py NAME.
# Exit status 1 if any fuzzer found a crash, a leak or a timeout.
set -eu
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_TARGETS=${FUZZ_TARGETS:-"request isapi chunked resphead path config proxyproto"}
JOBS=${JOBS:-$(nproc)}

# Debian packages for this step only (the server itself builds with gcc): clang and its
# libFuzzer runtime. Same convention as scripts/deps.sh: root installs, others get the command.
sh scripts/deps.sh
clang_major=14
if command -v clang >/dev/null 2>&1; then
    clang_major=$(clang -dumpversion | cut -d. -f1)
fi
missing=""
for p in clang "libclang-rt-$clang_major-dev"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "make fuzz needs these Debian packages:$missing" >&2
        echo "Install them as root with:" >&2
        echo "    apt-get install -y$missing" >&2
        exit 1
    fi
    echo "Installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
    CC=clang cmake -S . -B "$FUZZ_BUILD" -DISAPID_FUZZ=ON -DISAPID_SANITIZE=address,undefined \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$FUZZ_BUILD" -j "$JOBS" --target fuzzers

mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/logs"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"
# One fuzzer, its output in its log; its exit status in LOG.rc.
run_one() {
    name=$1
    bin="$FUZZ_BUILD/fuzz/fuzz_$name"
    seeds="fuzz/corpus/$name"
    scratch="$FUZZ_BUILD/corpus/$name"
    log="$FUZZ_BUILD/logs/$name.log"
    mkdir -p "$scratch"
    dict=""
    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
    # Requests: room for a full head (2048) plus a body over the limit (4096) plus pipelining.
    max_len=4096
    case $name in request | isapi) max_len=8192 ;; esac
    if [ "$FUZZ_SECONDS" = 0 ]; then
        set -- -runs=0 "$seeds"
    else
        set -- -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 $dict "$scratch" "$seeds"
    fi
    rc=0
    "$bin" -artifact_prefix="$FUZZ_BUILD/artifacts/$name-" "$@" >"$log" 2>&1 || rc=$?
    echo "$rc" >"$log.rc"
}

# What one finished fuzzer did: the last status line and the final statistics (executions,
# speed, coverage), or the end of its log when it failed.
report_one() {
    name=$1
    log="$FUZZ_BUILD/logs/$name.log"
    if [ "$(cat "$log.rc" 2>/dev/null)" = 0 ]; then
        echo "== fuzz_$name: ${FUZZ_SECONDS}s (log: $log)"
        grep -E '^#[0-9]+.*(DONE|INITED|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
    else
        echo "fuzz_$name FAILED; the end of its log:" >&2
        tail -n 60 "$log" >&2
        failed="$failed $name"
    fi
}

# In batches of JOBS: a fuzzer keeps about one core busy (fuzz_isapi's threads take turns);
# reported in order.
failed=""
set -- $FUZZ_TARGETS
while [ $# -gt 0 ]; do
    batch=""
    n=0
    while [ $# -gt 0 ] && [ "$n" -lt "$JOBS" ]; do
        rm -f "$FUZZ_BUILD/logs/$1.log.rc"
        run_one "$1" &
        batch="$batch $1"
        n=$((n + 1))
        shift
    done
    echo "== running:$batch (${FUZZ_SECONDS}s each)"
    wait
    for name in $batch; do
        report_one "$name"
    done
done
if [ -n "$failed" ]; then
    echo "fuzzers that failed:$failed (inputs in $FUZZ_BUILD/artifacts/)" >&2
    exit 1
fi
echo "fuzz: all passed ($FUZZ_TARGETS)"
