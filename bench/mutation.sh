#!/usr/bin/env bash
# Mutation score of the policy engine's rule modules and the host planner (issue 9).
#
#   bench/mutation.sh                       # all five modules, one after the other
#   bench/mutation.sh engine/merge.py ...   # some of them (paths under src/sriov_operator/)
#
# Not part of CI: it runs the unit tests once per mutant and takes long on 2 cores.
# mutmut lives in its own venv ($MUTMUT_VENV, default ~/.cache/sriov-operator/mutmut-venv),
# never in the project's dependencies. Each module is mutated in a scratch copy of the
# work tree (uncommitted changes included), with only the unit tests of its rules, at nice 19 and
# one test process at a time. Prints killed / total per module and overall, and the same
# without the survivors that change only the text of a message; every survivor's diff is
# written to survivors.diff in the printed folder (a behavioural one is a rule no test notices).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MUTMUT_VENV:-$HOME/.cache/sriov-operator/mutmut-venv}"
MUTMUT_VERSION=3.8.1

E=tests/unit/engine
RULES="$E/test_merge.py $E/test_rule_boundaries.py $E/test_upstream_differences.py $E/test_validation.py"
H=tests/unit/host
# The documented sessions run the installed sriov-operator in a subprocess, which never sees a mutant.
NO_CLI="--deselect=$H/test_switchdev.py::test_the_documented_switchdev_plan_of_hwoffload1_runs
  --deselect=$H/test_switchdev.py::test_the_documented_switchdev_diff_shows_the_order_and_why
  --deselect=$H/test_ovs_bridges.py::test_the_documented_bridge_session"
declare -A TESTS=(
  [engine/merge.py]="$RULES $E/test_properties.py $E/test_bridges.py"
  [engine/selection.py]="$RULES $E/test_selection.py $E/test_properties.py $E/test_incremental.py"
  [engine/device_plugin.py]="$RULES $E/test_device_plugin.py $E/test_openstack_seed.py"
  [engine/placement_validation.py]="$RULES $E/test_device_plugin.py $E/test_openstack_seed.py $E/test_vm_ports.py"
  [host/plan.py]="$H/test_plan_requirements.py $H/test_plan_apply.py $H/test_plan_reasons.py $H/test_plan_faults.py
    $H/test_switchdev.py $H/test_ovs_bridges.py $H/test_reset_and_admin_mac.py $H/test_udev_rules.py
    $H/test_vhost_net.py $H/test_kernel_args.py $H/test_rdma_mode.py $H/test_parallel_nics.py
    $H/test_infiniband.py $NO_CLI"
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
total_behavioural=0
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
  (cd "$work" && "$VENV/bin/mutmut" results 2>/dev/null | awk -F: '/: survived/ {print $1}' \
    | while read -r name; do echo "=== $name"; "$VENV/bin/mutmut" show "$name" 2>/dev/null; done) >"$work/survivors.diff"
  read -r killed mutants tested text_only < <("$VENV/bin/python" - "$work" <<'PY'
import json, re, sys
from pathlib import Path

work = Path(sys.argv[1])
stats = json.loads((work / "mutants/mutmut-cicd-stats.json").read_text())
literal = re.compile(r"""(["'])(?:\\.|(?!\1).)*\1""")
text_only = 0
for diff in (work / "survivors.diff").read_text().split("=== ")[1:]:
    lines = diff.splitlines()[1:]
    removed = [literal.sub('""', l[1:]) for l in lines if l.startswith("-") and not l.startswith("---")]
    added = [literal.sub('""', l[1:]) for l in lines if l.startswith("+") and not l.startswith("+++")]
    text_only += removed == added  # the mutant changes only the text of a message
killed = stats["killed"] + stats["timeout"]
print(killed, stats["total"] - stats["skipped"], killed + stats["survived"], text_only)
PY
)
  if [ "$tested" -eq 0 ]; then
    echo "$module: no mutant was tested (the tests fail without mutation?); see $work/mutmut.log" >&2
    exit 1
  fi
  behavioural=$((mutants - text_only))
  echo "$module: $killed of $mutants mutants killed ($(( 100 * killed / mutants ))%);" \
    "behavioural (not only message text): $killed of $behavioural ($(( 100 * killed / behavioural ))%);" \
    "survivors: $work/survivors.diff"
  total_killed=$((total_killed + killed))
  total_mutants=$((total_mutants + mutants))
  total_behavioural=$((total_behavioural + behavioural))
done
echo "overall: $total_killed of $total_mutants mutants killed ($(( 100 * total_killed / total_mutants ))%);" \
  "behavioural: $total_killed of $total_behavioural ($(( 100 * total_killed / total_behavioural ))%)"
