#!/usr/bin/env bash
# Make the macOS disk image from a built app (pyinstaller.spec makes dist/Hearth.app on macOS):
#   make_dmg.sh dist/Hearth.app VERSION [OUTDIR]   ->  OUTDIR/hearth-VERSION-macos-ARCH.dmg
# OUTDIR defaults to the app's folder; ARCH is the app's (arm64, x86_64, or universal2 for
# both), or $ARCH. The image holds Hearth.app and a link to /Applications to drag it onto.
#
# Signing (in place, before the image is made):
#   CODESIGN_IDENTITY unset   ad-hoc signature ("-"): runs on this Mac; other Macs' Gatekeeper
#                             refuses it ("damaged" / "unidentified developer")
#   CODESIGN_IDENTITY="Developer ID Application: NAME (TEAMID)"
#                             Developer ID with the hardened runtime and entitlements.plist;
#                             the image is signed too. Still to do, by the release manager:
#                             notarise and staple (README.md), e.g.
#       xcrun notarytool submit hearth-VERSION-macos-ARCH.dmg --keychain-profile PROFILE --wait
#       xcrun stapler staple hearth-VERSION-macos-ARCH.dmg
#   NO_CODESIGN=1             leave the app's signatures as PyInstaller made them
#
# Needs macOS (hdiutil, codesign, lipo; bash 3.2 is enough). NOT TESTED: never run on macOS.
set -euo pipefail
app=${1:?usage: make_dmg.sh PATH/TO/Hearth.app VERSION [OUTDIR]}
version=${2:?usage: make_dmg.sh PATH/TO/Hearth.app VERSION [OUTDIR]}
app=$(cd "$(dirname "$app")" && pwd)/$(basename "$app")
out=${3:-$(dirname "$app")}
here=$(cd "$(dirname "$0")" && pwd)
exe=$app/Contents/MacOS/hearth
[ "$(uname -s)" = Darwin ] || { echo "make_dmg.sh: needs macOS (hdiutil, codesign)" >&2; exit 1; }
[ -x "$exe" ] || { echo "make_dmg.sh: $exe is missing: build the app first" >&2; exit 1; }

if [ -z "${ARCH:-}" ]; then
    archs=$(lipo -archs "$exe" 2>/dev/null || uname -m)
    case "$archs" in
        *x86_64*arm64*|*arm64*x86_64*) ARCH=universal2 ;;
        *) ARCH=$archs ;;
    esac
fi
name=hearth-$version-macos-$ARCH

# Signing. --deep signs every Mach-O file inside (Python, Qt, llama.cpp's dylibs) with the one
# identity. The hardened runtime (--options runtime) is what notarisation requires; it is
# only used with a real identity, since an ad-hoc signature cannot be notarised anyway and a
# hardened, ad-hoc signed app may fail library validation when it loads its own dylibs.
if [ "${NO_CODESIGN:-0}" != 1 ]; then
    identity=${CODESIGN_IDENTITY:--}
    if [ "$identity" = - ]; then
        echo "Signing $app ad hoc (runs on this Mac only; see README.md) …"
        codesign --force --deep --sign - "$app"
    else
        echo "Signing $app as \"$identity\" (hardened runtime) …"
        codesign --force --deep --options runtime --timestamp \
            --entitlements "$here/entitlements.plist" --sign "$identity" "$app"
    fi
    codesign --verify --deep --strict --verbose=2 "$app"
fi

# The image: a staging folder with the app (ditto keeps its signatures, links and extended
# attributes) and the /Applications link, compressed read-only (UDZO).
stage=$(mktemp -d "${TMPDIR:-/tmp}/hearth-dmg.XXXXXX")
trap 'rm -rf "$stage"' EXIT
ditto "$app" "$stage/Hearth.app"
ln -s /Applications "$stage/Applications"
mkdir -p "$out"
dmg=$(cd "$out" && pwd)/$name.dmg
hdiutil create -volname Hearth -srcfolder "$stage" -ov -format UDZO "$dmg"
if [ "${NO_CODESIGN:-0}" != 1 ] && [ "${CODESIGN_IDENTITY:--}" != - ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
fi
echo "Made $dmg ($(du -h "$dmg" | cut -f1))"
