#!/usr/bin/env bash
# Runs Emacs's Eglot in batch mode with eglot_lsp.el against a small tree and compares its answers.
set -euo pipefail
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir "$root/.git"  # project.el's root, which Eglot hands the server
cp "$(dirname "$0")/../fixtures/editors/shapes.py" "$root/"  # the tree both editor tests read
export INDEXER_BINARY="$1" ROOT="$root" OUT="$root/.answers" HOME="$root/.home"
mkdir -p "$HOME"
timeout 60 emacs -q --batch -l "$(dirname "$0")/eglot_lsp.el" </dev/null >"$root/.log" 2>&1 || true
expected='workspace def area(self): 2
workspace def area_of(s): 8
outline Class Shape
outline Method Shape.area
outline Function make
outline Function area_of
definition shapes.py 8
unsaved def typed_in_emacs(): 10
shutdown answered'
if [ "$(cat "$OUT" 2>/dev/null)" != "$expected" ]; then
  echo "Eglot got:"; cat "$OUT" 2>/dev/null || true; echo "expected:"; echo "$expected"; echo "Emacs said:"; tail -30 "$root/.log"; exit 1
fi
echo "Eglot got the expected answers"
