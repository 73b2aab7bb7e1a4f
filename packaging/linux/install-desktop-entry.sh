#!/bin/sh
# Add TheraScope to this user's application menu (or remove it with --remove). Run it from the
# unpacked folder after moving that folder where it will stay; nothing outside your home changes.
set -eu
APPDIR="$(cd "$(dirname "$0")" && pwd)"
APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
ENTRY="$APPS/therascope.desktop"
if [ "${1:-}" = "--remove" ]; then
    rm -f "$ENTRY"
    echo "removed $ENTRY"
    exit 0
fi
mkdir -p "$APPS"
# the paths in the entry are quoted per the Desktop Entry specification (spaces are allowed)
ESCAPED="$(printf '%s' "$APPDIR" | sed -e 's/[\\"`$]/\\\\&/g')"
sed -e "s|^Exec=@APPDIR@/therascope|Exec=\"$ESCAPED/therascope\"|" \
    -e "s|@APPDIR@|$APPDIR|g" "$APPDIR/share/therascope.desktop" > "$ENTRY"
chmod 644 "$ENTRY"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" || true
echo "installed $ENTRY (TheraScope is in your application menu; --remove takes it out)"
