#!/usr/bin/env bash
# The programs the course needs beyond Python, installed with the system's package manager
# when it is there and the user may use it; otherwise the exact command to type is printed.
#   npm       MathJax for the offline book, JupyterHub's proxy (`make hub`, the hub test)  required
#   chromium  the browser tests                                                           for `make test`
#   bwrap     bubblewrap, the grading sandbox (Linux only)                                for grading
set -euo pipefail

declare -A PACKAGES=([npm]="nodejs npm" [chromium]=chromium [bwrap]=bubblewrap)
missing=()
for program in npm chromium bwrap; do
  command -v "$program" >/dev/null 2>&1 || missing+=(${PACKAGES[$program]})
done
(( ${#missing[@]} )) || exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo); else sudo=(none); fi
  if [ "${sudo[0]:-}" != none ]; then
    echo "Installing ${missing[*]} with apt-get"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    exit 0
  fi
  hint="sudo apt-get install -y ${missing[*]}"
else
  hint="install ${missing[*]} with your system's package manager (Debian/Ubuntu: apt-get install -y ${missing[*]})"
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing, and the book needs it for its offline MathJax. Run: $hint" >&2
  exit 1
fi
echo "Warning: ${missing[*]} missing: the browser tests fail and grading refuses to run without its sandbox." >&2
echo "Run: $hint" >&2
