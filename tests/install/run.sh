#!/bin/sh
# install.relocated — cmake --install into a prefix, move the prefix, and use
# it from outside: a CMake project (find_package(nnc) + nnc_add_model), a
# pkg-config link, a shared library's SONAME and dependencies, the manual
# page and bash completion.
# Usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$(cd "$2" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$t/first" >/dev/null
mv "$t/first" "$t/moved"          # nothing may remember where it was installed
p=$t/moved
grep -rqs "$t/first" "$p/lib" && fail "the install tree names its first prefix"

# the reference: what nnc itself computes for xor with seed 3
printf '0,0\n0,1\n1,0\n1,1\n' > "$t/x.csv"
"$p/bin/nnc" --predict --seed 3 --input "x=$t/x.csv" "$src/examples/xor.nn" > "$t/want"

# 1. CMake: find_package(nnc) through CMAKE_PREFIX_PATH, nnc_add_model at build time
cmake -S "$src/tests/install/app" -B "$t/app" -DCMAKE_PREFIX_PATH="$p" -DXOR_NN="$src/examples/xor.nn" \
      >"$t/log" 2>&1 || { cat "$t/log"; fail "cmake configure"; }
cmake --build "$t/app" >"$t/log" 2>&1 || { cat "$t/log"; fail "cmake build"; }
"$t/app/app" > "$t/cmake_out"
cmp -s "$t/want" "$t/cmake_out" || { diff "$t/want" "$t/cmake_out"; fail "the CMake app's outputs differ from nnc --predict"; }

# 2. pkg-config: the link line the object's header prints, run as it stands
#    (in the object's folder, app.c beside it), then the same with --static
mkdir "$t/obj" "$t/so"
"$p/bin/nnc" --emit=obj -o "$t/obj/xor.o" "$src/examples/xor.nn"
cp "$src/tests/install/app/app.c" "$t/obj/app.c"
line=$(sed -n '/Link with xor.o/,/))\./p' "$t/obj/xor.h" | sed 's/^ \* //' | tr '\n' ' ' | sed 's/.*(\(cc .*\))\. *$/\1/')
[ "$line" = 'cc app.c xor.o $(pkg-config --cflags --libs nnc-runtime)' ] || fail "the header's link line is '$line'"
(cd "$t/obj" && PKG_CONFIG_PATH="$p/lib/pkgconfig" sh -c "$line -o pc_app" >"$t/log" 2>&1) ||
    { cat "$t/log"; fail "the header's link line does not link"; }
"$t/obj/pc_app" > "$t/pc_out"
cmp -s "$t/want" "$t/pc_out" || fail "the pkg-config app's outputs differ from nnc --predict"
cc "$t/obj/app.c" -I "$t/obj" "$t/obj/xor.o" \
   $(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --cflags --static --libs nnc-runtime) -o "$t/pc_static"
"$t/pc_static" > "$t/pc_out"
cmp -s "$t/want" "$t/pc_out" || fail "the pkg-config --static app's outputs differ from nnc --predict"

# 3. a shared library names itself (SONAME) and needs nothing beyond libc and libm
"$p/bin/nnc" --emit=so -o "$t/so/libxor.so" "$src/examples/xor.nn"
soname=$(readelf -d "$t/so/libxor.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libxor.so ] || fail "SONAME is '$soname', not libxor.so"
needed=$(readelf -d "$t/so/libxor.so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "needed: $needed"
# (the dynamic loader is glibc's too: thread-local storage in a .so asks it for __tls_get_addr)
case "$needed" in
    "libc.so.6 libm.so.6 "|"ld-linux-x86-64.so.2 libc.so.6 libm.so.6 ") ;;
    *) fail "the library needs more than libc and libm: $needed" ;;
esac
# 4. the manual page (when help2man was there to make it) and bash completion
if [ -f "$build/nnc.1" ]; then
    man=$p/share/man/man1/nnc.1
    [ -f "$man" ] || fail "no manual page installed"
    grep -q -- 'chart' "$man" && grep -q '^\.SH DESCRIPTION' "$man" || fail "the manual page lacks --chart or DESCRIPTION"
fi
got=$(bash -c 'source "$1/share/bash-completion/completions/nnc"
    COMP_WORDS=("$1/bin/nnc" --ch); COMP_CWORD=1; _nnc; echo "${COMPREPLY[*]}"
    COMP_WORDS=("$1/bin/nnc" --emit=s); _nnc; echo "${COMPREPLY[*]}"' sh "$p")
[ "$got" = "--chart --check
--emit=so" ] || fail "bash completion gave: $got"
echo ok
