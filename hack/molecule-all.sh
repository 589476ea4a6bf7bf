#!/usr/bin/env bash
# Runs `molecule test -s S` for every scenario given, MOLECULE_JOBS at a time (default 2).
# Why in parallel: a scenario spends most of its ~2 minutes waiting (containers booting, systemd,
# the podman connection, timed measurement windows), so two side by side fit the 2-core machine;
# each scenario has its own containers, networks and subnets (molecule/*/inventory), and every
# check in a scenario compares phases measured in the same window, not against a fixed time.
# Each scenario's output goes to build/molecule/<scenario>.log and is printed when it ends.
# MOLECULE_ALONE names scenarios that run first, one by one, with nothing beside them: those
# whose checks hold an absolute time (failover: failback <= 1 s, detection <= 1 s). Beside
# another scenario both CPUs are busy during its window and the watchdog's 100 ms probes wait
# for a CPU (one failback took 1.46 s in a CI run with two scenarios at a time).
set -uo pipefail

jobs="${MOLECULE_JOBS:-2}"
logs="build/molecule"
mkdir -p "$logs"
rm -f "$logs/failed"

run_one() {
    local scenario="$1" start rc
    start=$(date +%s)
    molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1
    rc=$?
    {
        echo "==> molecule test -s $scenario"
        cat "$logs/$scenario.log"
        echo "==> $scenario: $(( $(date +%s) - start )) s, exit $rc"
    } | flock "$logs/.print.lock" cat
    if [ "$rc" -ne 0 ]; then
        echo "$scenario" >>"$logs/failed"
    fi
}
export -f run_one
export logs

alone=" ${MOLECULE_ALONE:-} "
together=()
for scenario in "$@"; do
    if [[ "$alone" == *" $scenario "* ]]; then
        run_one "$scenario"
    else
        together+=("$scenario")
    fi
done
if [ "${#together[@]}" -gt 0 ]; then
    # shellcheck disable=SC2016  # $1 expands in the child bash, not here
    printf '%s\n' "${together[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}
fi
if [ -s "$logs/failed" ]; then
    echo "==> molecule FAILED: $(sort "$logs/failed" | paste -sd' ')"
    exit 1
fi
echo "==> molecule: all passed ($*)"
