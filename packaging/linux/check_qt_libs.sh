#!/usr/bin/env bash
# Name the system packages Qt's X11 plugin still needs: check_qt_libs.sh PATH/TO/libqxcb.so
# Prints one line per missing library (and the Debian/Ubuntu package that has it) and exits 1,
# or prints nothing and exits 0. Used by install.sh and scripts/run.
set -uo pipefail
plugin=${1:?usage: check_qt_libs.sh PATH/TO/libqxcb.so}
command -v ldd >/dev/null || exit 0
missing=$(ldd "$plugin" 2>/dev/null | awk '/not found/ {print $1}' | sort -u)
[ -z "$missing" ] && exit 0
package_of() {
    case "$1" in
        libxcb-cursor.so.*) echo libxcb-cursor0 ;;
        libxcb-icccm.so.*) echo libxcb-icccm4 ;;
        libxcb-keysyms.so.*) echo libxcb-keysyms1 ;;
        libxcb-image.so.*) echo libxcb-image0 ;;
        libxcb-render-util.so.*) echo libxcb-render-util0 ;;
        libxcb-util.so.*) echo libxcb-util1 ;;
        libxkbcommon-x11.so.*) echo libxkbcommon-x11-0 ;;
        libxkbcommon.so.*) echo libxkbcommon0 ;;
        libX11-xcb.so.*) echo libx11-xcb1 ;;
        libxcb-*.so.*) echo "${1%%.so.*}${1##*.so.}" ;;  # libxcb-randr.so.0: libxcb-randr0
        libxcb.so.*) echo libxcb1 ;;
        libGL.so.*) echo libgl1 ;;
        libEGL.so.*) echo libegl1 ;;
        libfontconfig.so.*) echo libfontconfig1 ;;
        libfreetype.so.*) echo libfreetype6 ;;
        libdbus-1.so.*) echo libdbus-1-3 ;;
        libglib-2.0.so.*|libgthread-2.0.so.*) echo libglib2.0-0 ;;
        *) echo "the package that provides $1" ;;
    esac
}
packages=""
for lib in $missing; do
    package=$(package_of "$lib")
    echo "missing: $lib ($package)"
    case " $packages " in *" $package "*) ;; *) packages="$packages $package" ;; esac
done
echo "Qt needs these libraries to open a window on X11. On Debian or Ubuntu:"
echo "    sudo apt install${packages}"
exit 1
