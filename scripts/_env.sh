# Shared by scripts/*: make .venv and install the project into it when needed.
# Usage: source scripts/_env.sh [extras]   (extras e.g. "dev")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing paylink-es${extras:+[$extras]} into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import paylink_es, api, projections" \
    || { echo "install failed: see the pip output above" >&2; exit 1; }
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
