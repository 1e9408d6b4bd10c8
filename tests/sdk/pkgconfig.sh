#!/bin/sh
# The installed SDK is usable through pkg-config: installs the "sdk" component of the build
# into a fresh prefix, asks pkg-config for the flags of isapi, and compiles examples/hello.c
# with those flags alone (no path into the source tree).
#
#   pkgconfig.sh BUILD_DIR SOURCE_DIR CC
set -eu

build=$1 src=$2 cc=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" --component sdk >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log" >&2
    echo "FAIL: cmake --install" >&2
    exit 1
}

pcdir="$tmp/prefix/share/pkgconfig"
if [ ! -f "$pcdir/isapi.pc" ]; then
    echo "FAIL: $pcdir/isapi.pc was not installed" >&2
    exit 1
fi
cflags=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --cflags isapi)
echo "pkg-config --cflags isapi: $cflags"
case $cflags in
*"$tmp/prefix/"*) ;;
*) echo "FAIL: the flags do not point into the install prefix $tmp/prefix" >&2; exit 1 ;;
esac

for h in windows.h httpext.h iisext.h; do
    if [ ! -f "$tmp/prefix/include/isapi/$h" ]; then
        echo "FAIL: include/isapi/$h was not installed" >&2
        exit 1
    fi
done

# The example is copied out so that its own directory cannot supply a header.
cp "$src/examples/hello.c" "$tmp/hello.c"
# shellcheck disable=SC2086
"$cc" -std=gnu11 -Wall -Wextra -Werror -shared -fPIC $cflags -o "$tmp/hello.so" "$tmp/hello.c"
nm -D --defined-only "$tmp/hello.so" | grep -q ' HttpExtensionProc$' || {
    echo "FAIL: hello.so does not export HttpExtensionProc" >&2
    exit 1
}
echo "pkgconfig.sh: OK"
