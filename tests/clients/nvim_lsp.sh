#!/usr/bin/env bash
# Runs Neovim headless with nvim_lsp.lua against a small tree and compares its answers.
set -euo pipefail
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$(dirname "$0")/../fixtures/editors/shapes.py" "$root/"  # the tree both editor tests read
export INDEXER_BINARY="$1" ROOT="$root" OUT="$root/.answers"
timeout 60 nvim --headless -u NONE -i NONE -n -c "luafile $(dirname "$0")/nvim_lsp.lua" </dev/null >/dev/null 2>&1
expected='workspace area 1:8
workspace area_of 7:4
outline Shape
outline   area
outline make
outline area_of
definition shapes.py 7
unsaved typed_in_nvim 9'
if [ "$(cat "$OUT")" != "$expected" ]; then
  echo "Neovim got:"; cat "$OUT"; echo "expected:"; echo "$expected"; exit 1
fi
echo "Neovim's client got the expected answers"
