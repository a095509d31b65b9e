# Sourced by scripts/dev, scripts/test and scripts/bench: the virtual environment ($OCORE_VENV,
# default .venv) with this checkout installed (editable) with the given extra.
#
# pip runs only when needed: on a new venv, or when setup.py/pyproject.toml changed since the
# last install of that extra (a stamp file in the venv keyed on their hash), so a second
# ./scripts/dev starts without reinstalling anything.
VENV="${OCORE_VENV:-.venv}"

ensure_venv() {
  local extra="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  fi
  local stamp="$VENV/.ocore-install-$extra"
  local want
  want="$(cat setup.py pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ -x "$VENV/bin/ocore" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extra]"
  echo "$want" >"$stamp"
}
