#!/usr/bin/env bash
# Make the Linux tarball from a built bundle:
#   make_tarball.sh dist/hearth VERSION OUTDIR  ->  OUTDIR/hearth-VERSION-linux-x86_64.tar.gz
# Inside: the bundle (hearth/), install.sh, uninstall.sh, the desktop entry and the icons.
set -euo pipefail
bundle=${1:?usage: make_tarball.sh BUNDLE_DIR VERSION OUTDIR}
version=${2:?version}
out=${3:?output folder}
here=$(cd "$(dirname "$0")" && pwd)
icons=$here/../../resources/icons
app_id=io.github.hearth.Hearth
name=hearth-$version-linux-$(uname -m)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tree=$stage/$name

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$here/$app_id.desktop"  # any error stops the build
else
    echo "make_tarball.sh: desktop-file-validate not installed; the desktop entry is not checked" >&2
fi
mkdir -p "$tree/icons/hicolor/scalable/apps"
cp -a "$bundle" "$tree/hearth"
cp "$here/install.sh" "$here/uninstall.sh" "$here/check_qt_libs.sh" "$here/$app_id.desktop" \
    "$here/README.txt" "$tree/"
echo "$version" > "$tree/VERSION"
for png in "$icons"/hearth-*.png; do
    size=$(basename "$png" .png); size=${size#hearth-}
    mkdir -p "$tree/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$tree/icons/hicolor/${size}x${size}/apps/$app_id.png"
done
cp "$icons/hearth.svg" "$tree/icons/hicolor/scalable/apps/$app_id.svg"
mkdir -p "$out"
# Reproducible order and owners; gzip without a time stamp.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" \
    | gzip -n -6 > "$out/$name.tar.gz.tmp"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "Made $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
