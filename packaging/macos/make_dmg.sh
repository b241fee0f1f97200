#!/usr/bin/env bash
# Make the macOS disk image from a built app (pyinstaller.spec makes dist/Hearth.app on macOS):
#   packaging/macos/make_dmg.sh dist/Hearth.app VERSION   ->  dist/hearth-VERSION-macos-ARCH.dmg
# Signing: CODESIGN_IDENTITY="Developer ID Application: …" signs with hardened runtime; unset,
# the app is signed ad hoc ("-"), which runs on the building Mac only without a Gatekeeper
# prompt. Notarisation (xcrun notarytool submit … --wait; xcrun stapler staple) is the release
# manager's step, with the team's Apple credentials. NOT TESTED: never run (no Mac here).
set -euo pipefail
app=${1:?usage: make_dmg.sh dist/Hearth.app VERSION}
version=${2:?version}
out=$(dirname "$app")
dmg="$out/hearth-$version-macos-$(uname -m).dmg"
codesign --force --deep --options runtime --timestamp=none \
    --sign "${CODESIGN_IDENTITY:--}" "$app"
codesign --verify --deep --strict "$app"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"  # drag Hearth onto it to install
rm -f "$dmg"
hdiutil create -volname Hearth -srcfolder "$stage" -ov -format UDZO "$dmg"
echo "Made $dmg"
