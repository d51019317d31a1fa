# Sourced by the scripts in this folder: make .venv with the project installed.
# EXTRAS selects optional dependency groups (e.g. "test").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SRIOV_OPERATOR_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
spec="$ROOT"
if [ -n "${EXTRAS:-}" ]; then spec="$ROOT[$EXTRAS]"; fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
