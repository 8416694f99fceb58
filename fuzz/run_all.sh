#!/bin/sh
# Run every atheris harness for a time budget each, on the sanitized build.
#
#   fuzz/run_all.sh --seconds 25          # CI: about 2 minutes for the four harnesses
#   fuzz/run_all.sh --seconds 3600 -j 2   # long run (an hour each, 2 harnesses at once)
#
# Options: --seconds N (budget per harness, default 25), --only NAME (one harness:
# open_walk, recovery, reg_import, nt_api), --no-asan (plain build, faster), -j N
# (harnesses in parallel). Seeds are (re)written by make_seeds.py into fuzz/seeds/;
# the corpora grow in fuzz/work/NAME/ and crashes land in fuzz/work/crashes/.
# Exit status: 0 when no harness found anything, 1 otherwise.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python}
seconds=25
only=""
asan=1
jobs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --no-asan) asan=0; shift ;;
        -j) jobs=$2; shift 2 ;;
        *) echo "run_all.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$seconds" in ''|*[!0-9]*) echo "run_all.sh: --seconds needs a number" >&2; exit 2 ;; esac

# This checkout's regf (python -P keeps the current directory off sys.path).
export PYTHONPATH="$(dirname "$here")${PYTHONPATH:+:$PYTHONPATH}"
"$python" -P "$here/make_seeds.py" "$here/seeds" --count "${SEEDS:-10}" >/dev/null
if [ "$asan" = 1 ]; then
    [ -f "$here/.asan/env.sh" ] || "$here/build_asan.sh"
    . "$here/.asan/env.sh"  # puts the sanitized copy first on PYTHONPATH
fi
mkdir -p "$here/work/crashes"
names=${only:-"open_walk recovery reg_import nt_api"}
status=0
run_one() {
    name=$1
    mkdir -p "$here/work/$name"
    log="$here/work/$name.log"
    # -timeout: one input may take 20 s at most (a hang is a finding); -rss_limit_mb: a
    # runaway allocation is one too. libFuzzer writes crash-*/timeout-*/oom-* files.
    if "$python" -P "$here/fuzz_$name.py" -max_total_time="$seconds" -timeout=20 \
        -rss_limit_mb=3072 -max_len=262144 -print_final_stats=1 \
        -artifact_prefix="$here/work/crashes/$name-" \
        "$here/work/$name" "$here/seeds/$name" >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        echo "$name: OK, $runs executions in ${seconds}s"
    else
        echo "$name: FAILED (see $log)"; tail -n 30 "$log"
        return 1
    fi
}
if [ "$jobs" -gt 1 ]; then
    pids=""
    for name in $names; do run_one "$name" & pids="$pids $!"; done
    for pid in $pids; do wait "$pid" || status=1; done
else
    for name in $names; do run_one "$name" || status=1; done
fi
exit $status
