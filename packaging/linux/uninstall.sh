#!/usr/bin/env bash
# Remove Hearth installed by install.sh. Run the copy inside the installation
# (PREFIX/lib/hearth/uninstall.sh), or this one with --prefix DIR (default ~/.local).
# Your chats, models and settings are kept; the end of this script says where they are.
set -euo pipefail
app_id=io.github.hearth.Hearth
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(basename "$here")" = hearth ] && [ "$(basename "$(dirname "$here")")" = lib ]; then
    prefix=$(dirname "$(dirname "$here")")
else
    prefix=$HOME/.local
fi
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
libdir=$prefix/lib/hearth
if [ ! -x "$libdir/hearth" ]; then
    echo "uninstall.sh: Hearth is not installed in $prefix" >&2
    exit 1
fi
if [ -L "$prefix/bin/hearth" ] && [ "$(readlink "$prefix/bin/hearth")" = "$libdir/hearth" ]; then
    rm -f "$prefix/bin/hearth"
fi
rm -f "$prefix/share/applications/$app_id.desktop"
find "$prefix/share/icons/hicolor" -name "$app_id.*" -path '*/apps/*' -delete 2>/dev/null || true
command -v update-desktop-database >/dev/null \
    && update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
cd /  # this script may live in the folder it removes
chmod -R u+w "$libdir"
rm -rf "$libdir"
echo "Removed Hearth from $prefix."
echo "Your chats, models and settings are kept in ${XDG_DATA_HOME:-$HOME/.local/share}/hearth" \
     "and ${XDG_CONFIG_HOME:-$HOME/.config}/hearth; delete those folders to remove them too."
