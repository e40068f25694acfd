#!/usr/bin/env bash
# Runs Emacs's Eglot in batch mode with eglot_lsp.el against a small tree, configured with the
# README's Eglot snippet (the first ```elisp block), `indexer` found on PATH as the snippet says.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$(dirname "$0")/../fixtures/editors/shapes.py" "$root/"  # the tree both editor tests read
awk '/^```elisp$/{on=1; next} /^```$/{if (on) exit} on' "$here/../../README.md" > "$root/.snippet.el"
grep -q eglot-server-programs "$root/.snippet.el" || { echo "no Eglot snippet in README.md"; exit 1; }
export PATH="$(dirname "$1"):$PATH" ROOT="$root" OUT="$root/.answers" SNIPPET="$root/.snippet.el"
[ "$(command -v indexer)" = "$1" ] || { echo "indexer on PATH is $(command -v indexer), not $1"; exit 1; }
cd "$root"
timeout 60 emacs --batch -q -l "$here/eglot_lsp.el" </dev/null >"$root/.log" 2>&1 || { cat "$root/.log"; exit 1; }
expected='workspace area 1:8
workspace area_of 7:4
outline Class Shape
outline Method Shape
outline Function make
outline Function area_of
definition shapes.py 8
hover def area_of(s)
unsaved typed_in_emacs 9'
if [ "$(cat "$OUT")" != "$expected" ]; then
  echo "Eglot got:"; cat "$OUT"; echo "expected:"; echo "$expected"; cat "$root/.log"; exit 1
fi
echo "Eglot got the expected answers"
