#!/usr/bin/env bash
# Are the system libraries there that Qt (PySide6) needs to open TheraScope's window on Linux?
#
#   bash tools/qt_libs.sh [--platform xcb|offscreen] [--install]
#
# Exit status 0: all there (or not Linux). 1: some are missing; it says which, and prints the
# exact command that installs them on this distribution (Debian/Ubuntu apt-get, Fedora dnf, Arch
# pacman, openSUSE zypper; from /etc/os-release). --install runs that command (with sudo when not
# root), then checks again. The platform defaults to $QT_QPA_PLATFORM: "offscreen" (tests, no
# display) needs fewer libraries than "xcb" (a window on X11, and Qt's fallback under Wayland).
#
# The list is what PySide6's platform plugins link against (readelf -d on Qt/plugins/platforms/
# libqxcb.so and libqoffscreen.so and the Qt libraries they load; tests/tools/test_qt_libs.py
# checks it against the installed PySide6). Found with `ldconfig -p` (and $LD_LIBRARY_PATH).
# THERASCOPE_OS_RELEASE names another os-release file (tests).
set -euo pipefail

platform=${QT_QPA_PLATFORM:-xcb}
install=no
while [ $# -gt 0 ]; do
  case $1 in
    --platform) platform=$2; shift 2 ;;
    --install) install=yes; shift ;;
    *) echo "qt_libs.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(uname -s)" = Linux ] || exit 0
platform=${platform%%:*}  # "xcb:option=…"

# soname                  Debian/Ubuntu         Fedora                 Arch                 openSUSE             needed for
LIBS="
libEGL.so.1               libegl1               libglvnd-egl           libglvnd             libEGL1              all
libGL.so.1                libgl1                libglvnd-glx           libglvnd             libGL1               all
libfontconfig.so.1        libfontconfig1        fontconfig             fontconfig           libfontconfig1       all
libfreetype.so.6          libfreetype6          freetype               freetype2            libfreetype6         all
libX11.so.6               libx11-6              libX11                 libx11               libX11-6             all
libxkbcommon.so.0         libxkbcommon0         libxkbcommon           libxkbcommon         libxkbcommon0        all
libglib-2.0.so.0          libglib2.0-0          glib2                  glib2                libglib-2_0-0        all
libgthread-2.0.so.0       libglib2.0-0          glib2                  glib2                libgthread-2_0-0     all
libz.so.1                 zlib1g                zlib                   zlib                 libz1                all
libzstd.so.1              libzstd1              libzstd                zstd                 libzstd1             all
libdbus-1.so.3            libdbus-1-3           dbus-libs              dbus                 libdbus-1-3          xcb
libxkbcommon-x11.so.0     libxkbcommon-x11-0    libxkbcommon-x11       libxkbcommon-x11     libxkbcommon-x11-0   xcb
libxcb.so.1               libxcb1               libxcb                 libxcb               libxcb1              xcb
libX11-xcb.so.1           libx11-xcb1           libX11-xcb             libx11               libX11-xcb1          xcb
libxcb-cursor.so.0        libxcb-cursor0        xcb-util-cursor        xcb-util-cursor      libxcb-cursor0       xcb
libxcb-icccm.so.4         libxcb-icccm4         xcb-util-wm            xcb-util-wm          libxcb-icccm4        xcb
libxcb-util.so.1          libxcb-util1          xcb-util               xcb-util             libxcb-util1         xcb
libxcb-image.so.0         libxcb-image0         xcb-util-image         xcb-util-image       libxcb-image0        xcb
libxcb-keysyms.so.1       libxcb-keysyms1       xcb-util-keysyms       xcb-util-keysyms     libxcb-keysyms1      xcb
libxcb-render-util.so.0   libxcb-render-util0   xcb-util-renderutil    xcb-util-renderutil  libxcb-render-util0  xcb
libxcb-randr.so.0         libxcb-randr0         libxcb                 libxcb               libxcb-randr0        xcb
libxcb-render.so.0        libxcb-render0        libxcb                 libxcb               libxcb-render0       xcb
libxcb-shm.so.0           libxcb-shm0           libxcb                 libxcb               libxcb-shm0          xcb
libxcb-sync.so.1          libxcb-sync1          libxcb                 libxcb               libxcb-sync1         xcb
libxcb-xfixes.so.0        libxcb-xfixes0        libxcb                 libxcb               libxcb-xfixes0       xcb
libxcb-shape.so.0         libxcb-shape0         libxcb                 libxcb               libxcb-shape0        xcb
libxcb-xkb.so.1           libxcb-xkb1           libxcb                 libxcb               libxcb-xkb1          xcb
"

# the distribution: which column of names, which command
os_release=${THERASCOPE_OS_RELEASE:-/etc/os-release}
ID="" ID_LIKE="" PRETTY_NAME=""
# shellcheck disable=SC1090
[ -r "$os_release" ] && . "$os_release"
family="" name=${PRETTY_NAME:-this Linux}
for id in $ID $ID_LIKE; do
  case $id in
    debian | ubuntu) family=deb; break ;;
    fedora | rhel | centos) family=fedora; break ;;
    arch | archlinux) family=arch; break ;;
    suse | opensuse | opensuse-* | sles) family=suse; break ;;
  esac
done

# what the loader finds: ldconfig's cache for this machine's architecture, and $LD_LIBRARY_PATH
case $(uname -m) in
  x86_64) arch_tag="x86-64" ;;
  aarch64) arch_tag="AArch64" ;;
  *) arch_tag="" ;;
esac
ldconfig=$(command -v ldconfig || true)
[ -n "$ldconfig" ] || [ ! -x /sbin/ldconfig ] || ldconfig=/sbin/ldconfig
[ -n "$ldconfig" ] || exit 0  # no way to tell (not a glibc system): Qt will say it itself

found() {
  local dir
  grep -qE "^[[:space:]]+$(printf '%s' "$1" | sed 's/[.+]/\\&/g') " <<<"$cache" && return 0
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for dir in "${dirs[@]}"; do [ -n "$dir" ] && [ -e "$dir/$1" ] && return 0; done
  return 1
}

check() {  # sets $missing (sonames) and $packages (this distribution's names for them)
  cache=$("$ldconfig" -p 2>/dev/null | grep -F -- "$arch_tag" || true)
  missing="" packages=""
  local soname deb fedora arch suse needed_for pkg
  while read -r soname deb fedora arch suse needed_for; do
    [ -n "$soname" ] || continue
    [ "$needed_for" = all ] || [ "$platform" != offscreen ] || continue
    found "$soname" && continue
    missing="$missing $soname"
    [ -n "$family" ] || continue
    pkg=${!family}  # this row's package on this distribution (the variable named deb, fedora…)
    case " $packages " in *" $pkg "*) ;; *) packages="$packages $pkg" ;; esac
  done <<<"$LIBS"
  missing=${missing# } packages=${packages# }
}

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo "

command_for() {  # the install command for $packages on this distribution
  case $family in
    deb) echo "${sudo}apt-get install $packages" ;;
    fedora) echo "${sudo}dnf install $packages" ;;
    arch) echo "${sudo}pacman -S --needed $packages" ;;
    suse) echo "${sudo}zypper install $packages" ;;
  esac
}

check
[ -n "$missing" ] || exit 0

if [ "$install" = yes ] && [ -n "$family" ]; then
  cmd=$(command_for)
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "TheraScope: installing the Qt libraries needs root; as root, run: ${cmd#sudo }" >&2
    exit 1
  fi
  [ -t 0 ] || case $family in arch) cmd="$cmd --noconfirm" ;; *) cmd="$cmd -y" ;; esac
  echo "TheraScope: installing the system libraries Qt needs: $cmd"
  # a fresh system may have no package lists yet
  [ "$family" != deb ] || ${sudo}apt-get update -qq || true
  $cmd
  check
  [ -n "$missing" ] || exit 0
  echo "TheraScope: still missing after the installation: $missing" >&2
  exit 1
fi

{
  echo "TheraScope cannot open its window: Qt needs system libraries that are not installed on"
  echo "$name:"
  echo "$missing" | fold -s -w 94 | sed 's/^/  /'
  if [ -n "$family" ]; then
    echo "Install them with:"
    echo "  $(command_for)"
    echo "or let TheraScope do it: bash tools/run.sh --install-system-libs"
  else
    echo "Install the packages of your distribution that provide these files, then start again."
  fi
} >&2
exit 1
