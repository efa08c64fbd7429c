#!/bin/sh
# Packaging test: install into a fresh temporary prefix, then use the
# installed library the way a user would, through pkg-config alone.
# Run from the top directory after `make all` (`make pkgtest` does both).
#   - make install PREFIX=<tmp>/prefix installs every expected file;
#   - cano.pc gives the right version, and examples/hello.c (copied out of
#     the tree) compiles and links against the installed shared library
#     with `pkg-config --cflags --libs cano` only, and runs;
#   - hello also links statically (libcano.a) with
#     `pkg-config --static --libs cano`, and runs without libcano.so;
#   - the shared library's SONAME is libcano.so.MAJOR, and its links;
#   - the installed `cano` command answers --version;
#   - the man pages of the tree were installed, and man finds them;
#   - make uninstall PREFIX=... leaves no file behind.
# Every problem is reported; the exit status is 1 if there was any.

if [ ! -f include/cano.h ] || [ ! -f Makefile ] || [ ! -f examples/hello.c ]; then
    echo "$0: run from the top directory of the source tree" >&2
    exit 2
fi
MAKE=${MAKE:-make}
CC=${CC:-cc}
command -v pkg-config >/dev/null || { echo "$0: pkg-config is not installed" >&2; exit 2; }
command -v readelf >/dev/null || { echo "$0: readelf (binutils) is not installed" >&2; exit 2; }

ver_part() { sed -n "s/^#define CANO_VERSION_$1 *\\([0-9]*\\).*/\\1/p" include/cano.h; }
MAJOR=$(ver_part MAJOR)
VERSION=$MAJOR.$(ver_part MINOR).$(ver_part PATCH)
SONAME=libcano.so.$MAJOR
SHLIB=libcano.so.$VERSION

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cano-pkgtest.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
prefix=$tmp/prefix
fails=0
ok()   { echo "pkgtest: ok   $*"; }
fail() { echo "pkgtest: FAIL $*"; fails=$((fails + 1)); }
warn() { echo "pkgtest: WARN $*"; }
show() { sed 's/^/    /' "$1" | head -n 30; }

# ---- install ----
if ! $MAKE -s install PREFIX="$prefix" > "$tmp/install.log" 2>&1; then
    fail "make install PREFIX=$prefix:"
    show "$tmp/install.log"
    exit 1
fi
ok "make install PREFIX=$prefix"
libdir=$prefix/lib

missing=""
for f in bin/cano include/cano.h lib/libcano.a "lib/$SHLIB" "lib/$SONAME" \
         lib/libcano.so lib/pkgconfig/cano.pc; do
    [ -e "$prefix/$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then fail "not installed:$missing"; else ok "header, libraries, cano.pc and bin/cano installed"; fi

# ---- pkg-config ----
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pc_prefix=$(sed -n 's/^prefix=//p' "$libdir/pkgconfig/cano.pc" 2>/dev/null)
[ "$pc_prefix" = "$prefix" ] ||
    fail "the installed cano.pc says prefix=$pc_prefix, not $prefix: a cano.pc left in the tree by an earlier 'make install PREFIX=...' was installed without being regenerated"
if ! pkg-config --exists cano 2> "$tmp/pc.log"; then
    fail "pkg-config does not find cano in $PKG_CONFIG_PATH:"
    show "$tmp/pc.log"
else
    v=$(pkg-config --modversion cano)
    if [ "$v" = "$VERSION" ]; then ok "pkg-config --modversion cano = $v"
    else fail "pkg-config --modversion cano is '$v', include/cano.h says $VERSION"; fi
    pc_libdir=$(pkg-config --variable=libdir cano)
    if [ "$pc_libdir" = "$libdir" ]; then ok "pkg-config --variable=libdir cano = $pc_libdir"
    else fail "pkg-config --variable=libdir cano is '$pc_libdir', expected $libdir"; fi
    case " $(pkg-config --cflags cano) " in
    *" -I$prefix/include "*) ok "pkg-config --cflags cano points at $prefix/include" ;;
    *) fail "pkg-config --cflags cano ('$(pkg-config --cflags cano)') lacks -I$prefix/include" ;;
    esac
fi

# The example is built outside the tree (the pkg-config output is split
# into words on purpose, here and below), so nothing but pkg-config can
# lead the compiler to the header or the library.
mkdir "$tmp/src"
cp examples/hello.c "$tmp/src/hello.c"

# ---- shared link ----
if $CC -Wall -o "$tmp/hello" "$tmp/src/hello.c" $(pkg-config --cflags --libs cano) \
        > "$tmp/cc.log" 2>&1; then
    ok "hello.c built with \$(pkg-config --cflags --libs cano)"
    if readelf -d "$tmp/hello" | grep -q "(NEEDED).*\\[$SONAME\\]"; then
        ok "hello needs $SONAME"
    else
        fail "hello does not need $SONAME (readelf -d):"
        readelf -d "$tmp/hello" | grep NEEDED | sed 's/^/    /'
    fi
    run_libdir=$(pkg-config --variable=libdir cano)
    resolved=$(LD_LIBRARY_PATH=$run_libdir ldd "$tmp/hello" 2>/dev/null |
               sed -n "s/^[[:space:]]*$SONAME => \\([^ ]*\\).*/\\1/p")
    [ "$resolved" = "$run_libdir/$SONAME" ] ||
        fail "with LD_LIBRARY_PATH=$run_libdir, $SONAME resolves to '$resolved', not the installed copy"
    if (cd "$tmp" && LD_LIBRARY_PATH=$run_libdir ./hello "$tmp/store-shared") \
            > "$tmp/run.log" 2>&1; then
        ok "hello runs against the installed $SONAME"
    else
        fail "hello (shared) failed:"
        show "$tmp/run.log"
    fi
else
    fail "hello.c does not build with \$(pkg-config --cflags --libs cano):"
    show "$tmp/cc.log"
fi

# ---- static link ----
pc=$libdir/pkgconfig/cano.pc
if ! grep -q '^Libs\.private:' "$pc" || ! grep -q '^Requires\.private:.*zlib' "$pc"; then
    fail "cano.pc has no Libs.private / Requires.private (zlib, libxxhash): a static link cannot work"
else
    # -l:libcano.a makes the linker take the archive even though the
    # shared library sits beside it; everything else comes from the .pc.
    static_libs=$(pkg-config --static --libs cano | sed 's/-lcano\([[:space:]]\|$\)/-l:libcano.a\1/')
    if $CC -Wall -o "$tmp/hello-static" "$tmp/src/hello.c" \
            $(pkg-config --cflags cano) $static_libs > "$tmp/cc-static.log" 2>&1; then
        ok "hello.c built statically with \$(pkg-config --static --libs cano): $static_libs"
        if readelf -d "$tmp/hello-static" | grep -q "(NEEDED).*libcano"; then
            fail "hello-static still needs a shared libcano"
        elif (cd "$tmp" && env -u LD_LIBRARY_PATH ./hello-static "$tmp/store-static") \
                > "$tmp/run-static.log" 2>&1; then
            ok "hello-static runs without libcano.so"
        else
            fail "hello-static failed:"
            show "$tmp/run-static.log"
        fi
    else
        fail "hello.c does not link statically with $static_libs:"
        show "$tmp/cc-static.log"
    fi
fi

# ---- the shared library itself ----
if [ -f "$libdir/$SHLIB" ]; then
    so=$(readelf -d "$libdir/$SHLIB" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    if [ "$so" = "$SONAME" ]; then ok "SONAME of $SHLIB is $so"
    else fail "SONAME of $SHLIB is '$so', expected $SONAME"; fi
    l1=$(readlink "$libdir/$SONAME"); l2=$(readlink "$libdir/libcano.so")
    if [ "$l1" = "$SHLIB" ] && [ "$l2" = "$SONAME" ]; then
        ok "links: $SONAME -> $SHLIB, libcano.so -> $SONAME"
    else
        fail "links: $SONAME -> '$l1' (want $SHLIB), libcano.so -> '$l2' (want $SONAME)"
    fi
fi

# ---- the cano command ----
if [ -x "$prefix/bin/cano" ]; then
    "$prefix/bin/cano" --version > "$tmp/cli.out" 2> "$tmp/cli.err" < /dev/null
    rc=$?
    if [ $rc -eq 0 ] && grep -q "$VERSION" "$tmp/cli.out"; then
        ok "bin/cano --version: $(head -n 1 "$tmp/cli.out")"
    elif [ $rc -eq 2 ] && [ ! -s "$tmp/cli.out" ] && [ ! -s "$tmp/cli.err" ]; then
        # TODO: remove once examples/cli/main.c replaces the placeholder
        # (which exits 2 silently); from then on this is a failure.
        warn "bin/cano is still the placeholder (exits 2, prints nothing); --version not checked"
    else
        fail "bin/cano --version exited $rc, or did not print $VERSION:"
        cat "$tmp/cli.out" "$tmp/cli.err" | sed 's/^/    /' | head -n 10
    fi
else
    fail "$prefix/bin/cano is missing or not executable"
fi

# ---- man pages ----
mandir=$prefix/share/man
pages=$(ls man/man1/*.1 man/man3/*.3 man/man5/*.5 2>/dev/null)
missing=""
for p in $pages; do
    [ -f "$mandir/${p#man/}" ] || missing="$missing ${p#man/}"
done
if [ -n "$missing" ]; then fail "man pages not installed:$missing"
else ok "$(echo "$pages" | wc -l | tr -d ' ') man pages installed under $mandir"; fi
for must in man3/cano.3 man5/cano-format.5; do
    [ -f "$mandir/$must" ] || fail "$mandir/$must is missing"
done
if command -v man >/dev/null; then
    # man must find the pages under the prefix, .so stubs included.
    before=$fails
    for q in "3 cano" "3 cano_close" "5 cano-format"; do
        if ! MANPATH=$mandir MANWIDTH=80 man -P cat $q > "$tmp/man.out" 2> "$tmp/man.err" ||
                ! grep -q "${q#* }" "$tmp/man.out"; then
            fail "man $q does not render from $mandir:"
            show "$tmp/man.err"
        fi
    done
    if [ -f man/man1/cano.1 ]; then
        MANPATH=$mandir man -P cat 1 cano > /dev/null 2>&1 ||
            fail "man 1 cano does not render from $mandir"
    fi
    [ "$fails" -eq "$before" ] && ok "man finds and renders the installed pages"
fi

# ---- uninstall ----
if $MAKE -s uninstall PREFIX="$prefix" > "$tmp/uninstall.log" 2>&1; then
    left=$(cd "$prefix" && find . ! -type d | sort)
    if [ -n "$left" ]; then
        fail "make uninstall left files behind:"
        echo "$left" | sed 's/^/    /'
    else
        ok "make uninstall PREFIX=$prefix removed every file"
    fi
else
    fail "make uninstall PREFIX=$prefix:"
    show "$tmp/uninstall.log"
fi

if [ "$fails" -ne 0 ]; then
    echo "pkgtest: $fails failure(s)"
    exit 1
fi
echo "pkgtest: all ok"
