# Sourced by the scripts in this folder: make .venv with the project installed.
# EXTRAS selects optional dependency groups (e.g. "test").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SRIOV_OPERATOR_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV ..." >&2
  python3 -m venv "$VENV"
fi
spec=(-e "$ROOT")
if [ -n "${EXTRAS:-}" ]; then spec=(-e "$ROOT[$EXTRAS]"); fi
# The VM toolkit (tools/vmtest) is test tooling, a distribution of its own: only the test extra gets it.
case ",${EXTRAS:-}," in *,test,*) spec+=(-e "$ROOT/tools/vmtest") ;; esac
echo "bootstrap: installing the project into $VENV with pip (up to a minute the first time) ..." >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${spec[@]}"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
