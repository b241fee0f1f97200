#!/usr/bin/env bash
# Install Hearth from this folder (the unpacked tarball).
#   ./install.sh                   for you alone, into ~/.local (no root needed)
#   sudo ./install.sh --system     for everyone, into /usr/local
#   ./install.sh --prefix DIR      into DIR (DIR/lib/hearth, DIR/bin, DIR/share)
# Installing again replaces the earlier version; your chats, models and settings are kept
# (they live in your user folders, never inside the installed app).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app_id=io.github.hearth.Hearth
prefix=$HOME/.local
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --system) prefix=/usr/local; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
version=$(cat "$here/VERSION")
libdir=$prefix/lib/hearth
[ -x "$here/hearth/hearth" ] || { echo "install.sh: $here/hearth/hearth is missing" >&2; exit 1; }

# The app: copied to a temporary name, then moved in, so a failed copy leaves the old one.
mkdir -p "$prefix/lib" "$prefix/bin" "$prefix/share/applications"
rm -rf "$libdir.new"
cp -a "$here/hearth" "$libdir.new"
cp "$here/uninstall.sh" "$here/VERSION" "$libdir.new/"
if [ -e "$libdir" ]; then
    chmod -R u+w "$libdir"
    rm -rf "$libdir"
fi
mv "$libdir.new" "$libdir"
chmod -R a-w "$libdir"  # Hearth never writes inside itself; the built-in model stays as shipped
ln -sfn "$libdir/hearth" "$prefix/bin/hearth"

# The menu entry and icons (freedesktop: applications/, icons/hicolor/).
sed -e "s|^Exec=.*|Exec=$libdir/hearth|" -e "s|^TryExec=.*|TryExec=$libdir/hearth|" \
    -e '/^#/d' "$here/$app_id.desktop" > "$prefix/share/applications/$app_id.desktop"
(cd "$here/icons" && find hicolor -type f) | while read -r icon; do
    mkdir -p "$prefix/share/icons/$(dirname "$icon")"
    cp "$here/icons/$icon" "$prefix/share/icons/$icon"
done
command -v update-desktop-database >/dev/null \
    && update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
[ -f "$prefix/share/icons/hicolor/index.theme" ] && command -v gtk-update-icon-cache >/dev/null \
    && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" 2>/dev/null || true

echo "Installed Hearth $version into $prefix."
"$here/check_qt_libs.sh" "$libdir/_internal/PySide6/Qt/plugins/platforms/libqxcb.so" >&2 || true
case ":$PATH:" in
    *":$prefix/bin:"*) echo "Start it from your applications menu, or type: hearth" ;;
    *) echo "Start it from your applications menu, or type: $prefix/bin/hearth" ;;
esac
echo "To remove it: $libdir/uninstall.sh"
