#!/usr/bin/env bash
# Installs what building and testing need, from Debian 12's packages. Idempotent: when everything
# is present it only checks, in well under a second.
set -euo pipefail

pkgs=(cmake ninja-build g++ pkg-config ccache
      libmimalloc-dev nlohmann-json3-dev catch2 libzstd-dev libxxhash-dev libdtl-dev libboost-dev
      universal-ctags neovim python3-websockets  # readtags, and the clients the tests drive
      emacs-nox elpa-eglot chromium              # Eglot and a headless browser: the editor clients the tests drive
      clang libclang-rt-14-dev                   # libFuzzer, for fuzz/
      libicu-dev                                 # Unicode categories for compress/tokens
      libpcre2-dev                               # the tags queries' #match? predicates
      libseccomp-dev bubblewrap                  # sandbox/ filters; bwrap is its benchmark peer
      libhiredis-dev redis-server                # the execution queue shared through Redis, and its test's server
      libsqlite3-dev rustc)                      # exec/: the job store, and the Rust language
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm fetches the pinned tree-sitter packages; any npm will do, Debian's if there is none.
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
