#!/usr/bin/env bash
# Copies the JavaScript the book needs into _assets/vendor/, from the npm registry at
# install time, so that the built pages load nothing from a CDN when a student reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
MATHJAX=mathjax@3.2.2
REQUIREJS=requirejs@2.3.7
WIDGETS=@jupyter-widgets/html-manager@1.0.15

dest=_assets/vendor
stamp="$dest/.versions"
want="$MATHJAX $REQUIREJS $WIDGETS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$MATHJAX" "$REQUIREJS" "$WIDGETS" >/dev/null)
rm -rf "$dest" && mkdir -p "$dest/mathjax" "$dest/html-manager"
for tgz in "$work"/*.tgz; do
  mkdir -p "$work/x" && tar -xzf "$tgz" -C "$work/x"
  case "$(basename "$tgz")" in
    mathjax-*) cp -r "$work/x/package/es5/." "$dest/mathjax/" ;;
    requirejs-*) cp "$work/x/package/require.js" "$dest/require.js" ;;
    jupyter-widgets-html-manager-*) cp -r "$work/x/package/dist/." "$dest/html-manager/" ;;
  esac
  rm -rf "$work/x"
done
echo "$want" > "$stamp"
