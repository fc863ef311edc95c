#!/usr/bin/env bash
# Fetches rasa-webchat 1.0.1 (the npm package, unmodified) into build/webchat/ for the browser test that
# a clinic's existing Rasa widget still works with our socket.io channel (tests/web/test_rasa_webchat.py).
# Nothing of it is kept in git. The tarball comes from the npm registry (`npm pack`, no install scripts)
# and must match the sha512 pinned below (the registry's `dist.integrity` for that version); a copy that
# is already there is checked the same way and kept. `make webchat` and the test both run this.
#   usage: scripts/fetch_webchat.sh [DEST]    (DEST defaults to build/webchat)
set -euo pipefail

NAME=rasa-webchat
VERSION=1.0.1
# `npm view rasa-webchat@1.0.1 dist.integrity`
INTEGRITY="sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w=="

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/build/webchat}"
TARBALL="$DEST/$NAME-$VERSION.tgz"
PACKAGE="$DEST/$NAME-$VERSION"
BUNDLE=lib/index.js # the UMD bundle a page loads with a <script> tag (global `WebChat`)

die() {
  echo "fetch_webchat: $*" >&2
  exit 1
}

# The Subresource-Integrity form of a file's sha512 ("sha512-<base64>"), as npm writes it.
sri_sha512() {
  if command -v openssl >/dev/null 2>&1; then
    printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n')"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(), end="")' "$1"
  elif command -v node >/dev/null 2>&1; then
    node -e 'const c = require("crypto"), fs = require("fs"); process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$1"
  else
    die "need openssl, python3 or node to check the tarball's sha512"
  fi
}

# True when DEST holds the pinned tarball and the bundle unpacked from it, unchanged.
verified() {
  [ -f "$TARBALL" ] && [ -f "$PACKAGE/$BUNDLE" ] && [ -f "$PACKAGE/package.json" ] || return 1
  [ "$(sri_sha512 "$TARBALL")" = "$INTEGRITY" ] || return 1
  tar -xzOf "$TARBALL" "package/$BUNDLE" | cmp -s - "$PACKAGE/$BUNDLE" || return 1
  tar -xzOf "$TARBALL" package/package.json | cmp -s - "$PACKAGE/package.json"
}

if verified; then
  echo "$NAME $VERSION: present and verified ($PACKAGE)."
  exit 0
fi

command -v npm >/dev/null 2>&1 ||
  die "npm is not installed, and it is needed once to fetch $NAME@$VERSION from the npm registry.
Install it with \`make system-deps\` (scripts/system_deps.sh), or: sudo apt-get install -y npm"

mkdir -p "$DEST"
WORK="$(mktemp -d "$DEST/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "Fetching $NAME@$VERSION from $(npm config get registry 2>/dev/null || echo 'the npm registry') ..."
(cd "$WORK" && npm pack "$NAME@$VERSION" --ignore-scripts --silent >/dev/null) ||
  die "npm could not fetch $NAME@$VERSION (is the npm registry reachable?)"
[ -f "$WORK/$NAME-$VERSION.tgz" ] || die "npm pack did not write $NAME-$VERSION.tgz"

actual="$(sri_sha512 "$WORK/$NAME-$VERSION.tgz")"
[ "$actual" = "$INTEGRITY" ] || die "$NAME-$VERSION.tgz does not match the pinned sha512:
  expected $INTEGRITY
  got      $actual
Nothing was kept."

mkdir "$WORK/unpacked"
tar -xzf "$WORK/$NAME-$VERSION.tgz" -C "$WORK/unpacked" --no-same-owner --no-same-permissions
[ -f "$WORK/unpacked/package/$BUNDLE" ] || die "the package has no $BUNDLE"
grep -q "\"version\": \"$VERSION\"" "$WORK/unpacked/package/package.json" || die "the package is not version $VERSION"

rm -rf "$PACKAGE" "$TARBALL"
mv "$WORK/unpacked/package" "$PACKAGE"
mv "$WORK/$NAME-$VERSION.tgz" "$TARBALL"
verified || die "the unpacked copy in $PACKAGE does not match the tarball"
echo "$NAME $VERSION: fetched and verified ($PACKAGE)."
