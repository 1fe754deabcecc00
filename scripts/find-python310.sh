#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter (Rasa 3.6 needs exactly 3.10).
# Looks where a user's machine offers one: $PYTHON310, PATH, pyenv, uv.
set -u

works() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }

if [ -n "${PYTHON310:-}" ]; then
  works "$PYTHON310" && { echo "$PYTHON310"; exit 0; }
  echo "PYTHON310=$PYTHON310 is not a working Python 3.10" >&2; exit 1
fi
for name in python3.10 python3; do
  p=$(command -v "$name" 2>/dev/null) && works "$p" && { echo "$p"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -t. -k3 -n -r); do
    p="$root/versions/$v/bin/python3.10"
    works "$p" && { echo "$p"; exit 0; }
  done
fi
if command -v uv >/dev/null 2>&1; then
  p=$(uv python find 3.10 2>/dev/null) && works "$p" && { echo "$p"; exit 0; }
fi
cat >&2 <<'MSG'
Rasa 3.6 needs Python 3.10, and none was found (looked at $PYTHON310, PATH, pyenv, uv).
Install one, then run the command again:
  pyenv install 3.10        # or: uv python install 3.10   # or: apt-get install python3.10
or point PYTHON310 at an existing interpreter: PYTHON310=/path/to/python3.10 make run
MSG
exit 1
