#!/bin/sh
# The installed SDK is usable through pkg-config and isapi-cc: installs the "sdk" component of
# the build into a fresh prefix, asks pkg-config for the flags of isapi, and builds
# examples/hello.c with those flags alone (no path into the source tree), then with the
# installed bin/isapi-cc; both must link libisapi from the prefix, with its rpath.
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

libs=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --libs isapi)
echo "pkg-config --libs isapi: $libs"
case " $cflags " in *" -fcommon "*) ;; *) echo "FAIL: --cflags lacks -fcommon" >&2; exit 1 ;; esac
for flag in -lisapi -Wl,--no-undefined "-Wl,-rpath,$tmp/prefix/"; do
    case " $libs " in *" $flag"*) ;; *) echo "FAIL: --libs lacks $flag" >&2; exit 1 ;; esac
done

for h in windows.h httpext.h iisext.h; do
    if [ ! -f "$tmp/prefix/include/isapi/$h" ]; then
        echo "FAIL: include/isapi/$h was not installed" >&2
        exit 1
    fi
done

# The example is copied out so that its own directory cannot supply a header.
cp "$src/examples/hello.c" "$tmp/hello.c"
# shellcheck disable=SC2086
"$cc" -std=gnu11 -Wall -Wextra -Werror -shared -fPIC $cflags -o "$tmp/hello.so" "$tmp/hello.c" $libs

if [ ! -x "$tmp/prefix/bin/isapi-cc" ]; then
    echo "FAIL: bin/isapi-cc was not installed" >&2
    exit 1
fi
(cd "$tmp" && "$tmp/prefix/bin/isapi-cc" -o hello-cc.so hello.c) || {
    echo "FAIL: the installed isapi-cc did not build hello.c" >&2
    exit 1
}

for so in hello.so hello-cc.so; do
    nm -D --defined-only "$tmp/$so" | grep -q ' HttpExtensionProc$' || {
        echo "FAIL: $so does not export HttpExtensionProc" >&2
        exit 1
    }
    readelf -d "$tmp/$so" | grep -q "path: \[$tmp/prefix/" || {
        echo "FAIL: $so has no rpath into the install prefix" >&2
        readelf -d "$tmp/$so" >&2
        exit 1
    }
done
echo "pkgconfig.sh: OK"
