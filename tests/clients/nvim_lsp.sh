#!/usr/bin/env bash
# Runs Neovim headless with nvim_lsp.lua against a small tree and compares its answers.
set -euo pipefail
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$(dirname "$0")/../fixtures/editors/shapes.py" "$root/"  # the tree both editor tests read
# The README's Neovim snippet (its first ```lua block), run as written: `indexer` on PATH, the
# tree's root the working directory.
here=$(cd "$(dirname "$0")" && pwd)
awk '/^```lua$/{on=1; next} /^```$/{if (on) exit} on' "$here/../../README.md" > "$root/.snippet.lua"
grep -q start_client "$root/.snippet.lua" || { echo "no Neovim snippet in README.md"; exit 1; }
export PATH="$(dirname "$1"):$PATH" ROOT="$root" OUT="$root/.answers" SNIPPET="$root/.snippet.lua"
[ "$(command -v indexer)" = "$1" ] || { echo "indexer on PATH is $(command -v indexer), not $1"; exit 1; }
cd "$root"
timeout 60 nvim --headless -u NONE -i NONE -n -c "luafile $here/nvim_lsp.lua" </dev/null >"$root/.log" 2>&1 || { cat "$root/.log"; exit 1; }
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
