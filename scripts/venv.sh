# Sourced by scripts/demo and scripts/test (from the repository root): make ./.venv with a
# working Python >= 3.11 and install localcap into it.
# $1: the pip extra to install ("" for the server only, "test" for the test suite).
set -euo pipefail

# An interpreter that is >= 3.11 and can make a venv with pip. The checks run the candidate,
# because a pyenv shim can exist without working, and Debian's python3 lacks ensurepip
# unless python3-venv is installed.
usable() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
find_python() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then  # an explicit choice is not second-guessed
    usable "$PYTHON" && echo "$PYTHON"
    return
  fi
  for candidate in python3.11 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3.11 python3 /usr/bin/python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# A .venv whose python or pip does not run (half-made, or its interpreter went away) is rebuilt.
if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "== .venv is broken (no working python/pip): recreating it"
  rm -rf .venv
fi
if [ ! -d .venv ]; then
  if ! python=$(find_python); then
    echo "scripts/test: no Python >= 3.11 with the venv module found (tried \$PYTHON, python3.11," \
      "pyenv's 3.11, python3); on Debian: apt-get install python3-venv" >&2
    exit 1
  fi
  echo "== creating .venv with $python ($("$python" --version 2>&1))"
  "$python" -m venv .venv
fi

# Reinstall only when pyproject.toml changed since the last successful install.
extra=${1:-}
stamp=.venv/.localcap-installed${extra:+-$extra}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== installing localcap${extra:+ with its $extra dependencies} into .venv"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extra:+[$extra]}"
  touch "$stamp"
fi

