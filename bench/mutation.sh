#!/usr/bin/env bash
# Mutation score of the policy engine's rule modules and the host planner (issue 9).
#
#   bench/mutation.sh                       # all five modules, one after the other
#   bench/mutation.sh engine/merge.py ...   # some of them (paths under src/sriov_operator/)
#
# Not part of CI: it runs the unit tests once per mutant and takes long on 2 cores.
# mutmut lives in its own venv ($MUTMUT_VENV, default ~/.cache/sriov-operator/mutmut-venv),
# never in the project's dependencies. Each module is mutated in a scratch copy of the
# work tree (uncommitted changes included), with only its own unit tests, at nice 19 and
# one test process at a time. Prints killed / total per module and overall; a surviving
# mutant changes a rule that no test notices (`mutmut show NAME` in the printed folder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MUTMUT_VENV:-$HOME/.cache/sriov-operator/mutmut-venv}"
MUTMUT_VERSION=3.8.1

declare -A TESTS=(
  [engine/merge.py]="tests/unit/engine"
  [engine/selection.py]="tests/unit/engine"
  [engine/device_plugin.py]="tests/unit/engine"
  [engine/placement_validation.py]="tests/unit/engine"
  [host/plan.py]="tests/unit/host/test_plan_requirements.py tests/unit/host/test_plan_apply.py"
)
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(engine/merge.py engine/selection.py engine/device_plugin.py
  engine/placement_validation.py host/plan.py)

if [ ! -x "$VENV/bin/mutmut" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mutmut==$MUTMUT_VERSION" -e "$ROOT[test]"
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sriov-mutation.XXXXXX")"
echo "scratch copies in $scratch"
total_killed=0
total_mutants=0
for module in "${modules[@]}"; do
  tests="${TESTS[$module]:?no tests known for $module; known: ${!TESTS[*]}}"
  work="$scratch/${module//\//_}"
  mkdir -p "$work"
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work"
  {
    echo "[mutmut]"
    echo "source_paths = src/sriov_operator"
    echo "also_copy ="
    for extra in docs deploy README.md; do echo "    $extra"; done
    echo "only_mutate = src/sriov_operator/$module"
    echo "pytest_add_cli_args_test_selection ="
    for t in $tests; do echo "    $t"; done
    echo "pytest_add_cli_args = -p no:cacheprovider -q"
  } >"$work/setup.cfg"
  (cd "$work" && nice -n 19 "$VENV/bin/mutmut" run --max-children 1 >mutmut.log 2>&1 || true)
  (cd "$work" && "$VENV/bin/mutmut" export-cicd-stats >/dev/null)
  read -r killed mutants tested < <("$VENV/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["killed"] + s["timeout"], s["total"] - s["skipped"], s["killed"] + s["timeout"] + s["survived"])
' "$work/mutants/mutmut-cicd-stats.json")
  if [ "$tested" -eq 0 ]; then
    echo "$module: no mutant was tested (the tests fail without mutation?); see $work/mutmut.log" >&2
    exit 1
  fi
  echo "$module: $killed of $mutants mutants killed ($(( mutants ? 100 * killed / mutants : 0 ))%); details: $work"
  total_killed=$((total_killed + killed))
  total_mutants=$((total_mutants + mutants))
done
echo "overall: $total_killed of $total_mutants mutants killed ($(( total_mutants ? 100 * total_killed / total_mutants : 0 ))%)"
