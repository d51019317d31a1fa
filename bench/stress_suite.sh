#!/usr/bin/env bash
# The integration suite (the daemon suites included) under load: run it RUNS times (default 3) while
# HOGS CPU-bound processes (default 2) compete for the cores, and say how many tests failed in each run.
#
#   bench/stress_suite.sh                          # tests/integration tests/unit/daemon, 3 runs, 2 hogs
#   STRESS_RUNS=1 bench/stress_suite.sh tests/integration/test_daemon_on_apiserver.py -k drain
#
# Exit status 0 only if every run passed. Each run's pytest output is kept in $STRESS_LOGS
# (default: a new directory under /tmp). The result belongs in bench/RESULTS.md ("Suite under load").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${SRIOV_OPERATOR_VENV:-$ROOT/.venv}/bin/python"
RUNS="${STRESS_RUNS:-3}"
HOGS="${STRESS_HOGS:-2}"
LOGS="${STRESS_LOGS:-$(mktemp -d /tmp/stress-suite.XXXXXX)}"
mkdir -p "$LOGS"
if [ "$#" -eq 0 ]; then set -- tests/integration tests/unit/daemon; fi

hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT
for _ in $(seq "$HOGS"); do
  "$PYTHON" -c 'while True: pass' &
  hogs+=("$!")
done

cd "$ROOT"
failed_runs=0
summary=()
for run in $(seq "$RUNS"); do
  log="$LOGS/run-$run.log"
  started=$(date +%s)
  if "$PYTHON" -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1; then rc=0; else rc=$?; fi
  seconds=$(( $(date +%s) - started ))
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -1 || true)
  failures=$({ grep -oE '[0-9]+ (failed|errors?)' <<<"$line" || true; } | awk '{s += $1} END {print s + 0}')
  if [ "$rc" -ne 0 ] && [ "$failures" -eq 0 ]; then failures="?"; fi  # pytest itself failed
  [ "$rc" -eq 0 ] || failed_runs=$((failed_runs + 1))
  summary+=("run $run: ${failures} failed (${line:-no summary}; ${seconds}s)")
  echo "stress run $run/$RUNS with $HOGS CPU hogs: ${line:-pytest exited $rc} (${seconds}s, log $log)"
done
echo "== $RUNS run(s) with $HOGS CPU-bound competitors: $failed_runs run(s) with failures"
printf '   %s\n' "${summary[@]}"
[ "$failed_runs" -eq 0 ]
