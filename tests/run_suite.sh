#!/usr/bin/env bash
# The whole suite as three pytest processes on two cores (the e2e tests mostly wait on
# queues and subprocesses, not on the CPU):
#   rest     the unit and infra tests;
#   e2e-cli  the e2e tests that drive the command in subprocesses (README examples,
#            demo, local up);
#   e2e      the other e2e tests, which share one embedded local cloud in their own
#            process: a unit test's mock_aws would reset it, so they never share one.
# A new e2e file runs in "e2e". Each process writes build/test-<name>.log; the logs are
# printed when all are done, and the suite fails if any process fails.
# Usage: tests/run_suite.sh PYTHON [pytest options...]
set -u
# Job control: each process gets its own process group and SIGINT is not ignored in it,
# as it would be for a background job of a non-interactive shell (the README and demo
# tests press Ctrl-C in their subprocesses). Ctrl-C here stops them through the trap.
set -m
python=$1
shift
E2E_CLI=(tests/e2e/test_readme_examples.py tests/e2e/test_demo.py tests/e2e/test_local_up.py)
ignored=()
for file in "${E2E_CLI[@]}"; do ignored+=("--ignore=$file"); done

mkdir -p build
names=()
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT INT TERM
start() {
    local name=$1
    shift
    "$python" -m pytest "$@" >"build/test-$name.log" 2>&1 &
    names+=("$name")
    pids+=($!)
}
start e2e-cli "${E2E_CLI[@]}" "$@"
start e2e tests/e2e "${ignored[@]}" "$@"
start rest --ignore=tests/e2e "$@"

status=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || status=1
    echo "== ${names[$i]} (build/test-${names[$i]}.log) =="
    cat "build/test-${names[$i]}.log"
done
exit "$status"
