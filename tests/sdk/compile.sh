#!/bin/sh
# Compile test for the SDK headers: builds tests/sdk/winstyle.c, tests/sdk/winfilter.c and every examples/*.c as
# shared objects with warnings as errors and -fvisibility=hidden, in C or in C++, and
# checks which symbols they export.
#
#   compile.sh c   CC  SOURCE_DIR OUT_DIR
#   compile.sh c++ CXX SOURCE_DIR OUT_DIR     (exits 77 = skipped when CXX is missing)
#
# The headers alone are also compiled with -Wpedantic, which checks that they use nothing
# beyond ISO C/C++ but __attribute__ and __thread. Extensions are not: ISO C forbids the
# function-pointer-to-LPVOID cast that HSE_REQ_IO_COMPLETION requires of every asynchronous
# extension.
set -eu

lang=$1 compiler=$2 src=$3 out=$4

if ! command -v "$compiler" >/dev/null 2>&1; then
    echo "compile.sh: no $lang compiler ('$compiler'): test skipped" >&2
    exit 77
fi

case $lang in
c) langflags="-x c -std=gnu11" ;;
c++) langflags="-x c++" ;;
*) echo "compile.sh: unknown language $lang" >&2; exit 2 ;;
esac

mkdir -p "$out"
fail=0

# exports SO SYMBOL... : each SYMBOL must be a defined dynamic symbol of SO.
exports() {
    so=$1; shift
    syms=$(nm -D --defined-only "$so" | awk '{print $3}')
    for s in "$@"; do
        if ! printf '%s\n' "$syms" | grep -qx "$s"; then
            echo "FAIL: $so does not export $s" >&2
            fail=1
        fi
    done
}

# build NAME FILE [EXTRA_FLAGS]
build() {
    name=$1 file=$2 extra=${3:-}
    # shellcheck disable=SC2086
    if ! "$compiler" $langflags $extra -Wall -Wextra -Werror -fvisibility=hidden \
        -I"$src/include/isapi" -shared -fPIC -o "$out/$name.so" "$file"; then
        echo "FAIL: $file does not compile as $lang" >&2
        fail=1
        return 1
    fi
}

headers_only="$out/headers_only.$lang"
printf '#include <windows.h>\n#include <httpext.h>\n#include <iisext.h>\n#include <httpfilt.h>\nint isapi_headers_only;\n' > "$headers_only"
# shellcheck disable=SC2086
if ! "$compiler" $langflags -Wpedantic -Wall -Wextra -Werror -I"$src/include/isapi" \
    -fsyntax-only "$headers_only"; then
    echo "FAIL: the SDK headers are not clean under -Wpedantic as $lang" >&2
    fail=1
fi

if build winstyle "$src/tests/sdk/winstyle.c"; then
    exports "$out/winstyle.so" GetExtensionVersion HttpExtensionProc TerminateExtension DllMain ExtraExport
    if nm -D --defined-only "$out/winstyle.so" | awk '{print $3}' | grep -qx HiddenHelper; then
        echo "FAIL: winstyle.so exports HiddenHelper despite -fvisibility=hidden" >&2
        fail=1
    fi
fi

if build winfilter "$src/tests/sdk/winfilter.c"; then
    exports "$out/winfilter.so" GetFilterVersion HttpFilterProc TerminateFilter
fi

# An example is a filter when it defines HttpFilterProc, else an extension.
for f in "$src"/examples/*.c; do
    name=$(basename "$f" .c)
    if build "$name" "$f"; then
        if grep -q 'HttpFilterProc' "$f"; then
            exports "$out/$name.so" GetFilterVersion HttpFilterProc
        else
            exports "$out/$name.so" GetExtensionVersion HttpExtensionProc TerminateExtension
        fi
    fi
done

[ $fail = 0 ] && echo "compile.sh: $lang OK"
exit $fail
