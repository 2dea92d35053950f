#!/usr/bin/env bash
# Copies MathJax into _assets/vendor/ from the npm registry, at install time, so that the
# built pages load nothing from a CDN when a student reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
MATHJAX=mathjax@3.2.2
dest=_assets/vendor
stamp="$dest/.versions"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$MATHJAX" ]; then exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$MATHJAX" >/dev/null && tar -xzf mathjax-*.tgz)
rm -rf "$dest" && mkdir -p "$dest/mathjax"
cp -r "$work/package/es5/." "$dest/mathjax/"
echo "$MATHJAX" > "$stamp"
