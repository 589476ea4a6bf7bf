#!/usr/bin/env bash
# `make test`: the static checks (argument 1) and the live checks (argument 2) in two lanes side
# by side, each lane one check after the other. Why: the live checks spend most of their time
# waiting (containers booting, timed measurement windows, the podman connection), so the CPU-only
# checks fit beside them on the 2-core machine; run one after the other they took twice as long.
# The live lane streams to the terminal; the static lane writes build/test/static.log, which is
# printed when it ends. Exit 1 when any check failed, naming each.
set -uo pipefail

static="$1"
live="$2"
mkdir -p build/test
log=build/test/static.log

run_lane() {
    local name="$1" failed="" check start
    shift
    for check in $1; do
        echo "==> [$name] make $check"
        start=$(date +%s)
        make --no-print-directory "$check" || failed="$failed $check"
        echo "==> [$name] $check: $(( $(date +%s) - start )) s"
    done
    echo "$failed" >"build/test/$name.failed"
}

begin=$(date +%s)
run_lane static "$static" >"$log" 2>&1 &
static_pid=$!
run_lane live "$live"
wait "$static_pid"
echo "==> [static] log (build/test/static.log):"
cat "$log"

failed="$(cat build/test/static.failed build/test/live.failed | tr '\n' ' ' | xargs)"
echo "==> make test: $(( $(date +%s) - begin )) s"
if [ -n "$failed" ]; then
    echo "==> FAILED: $failed"
    exit 1
fi
echo "==> all checks passed: $static $live"
