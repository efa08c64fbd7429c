#!/bin/sh
# The man pages keep the promises of the documentation (run from the top
# directory, after `make symbolstest`):
#   ./test/mantest.sh build/test/declared.txt
# declared.txt lists the exported functions, one a line.  Checked:
#   - every exported function has a page man/man3/<function>.3;
#   - a function page that is a `.so` stub points at an existing page whose
#     NAME or SYNOPSIS names the function; a full page names its function
#     in NAME and has NAME, SYNOPSIS, DESCRIPTION, RETURN VALUE, ERRORS,
#     EXAMPLES (or EXAMPLE) and SEE ALSO;
#   - the overview pages (cano.3) have NAME, SYNOPSIS, DESCRIPTION,
#     RETURN VALUE, ERRORS and SEE ALSO;
#   - every other man3 page documents an exported function;
#   - the SYNOPSIS shows each function's prototype exactly as include/cano.h
#     declares it (whitespace aside);
#   - the first example of each page compiles cleanly against include/cano.h
#     (set MANTEST_NO_CC=1 to skip);
#   - every page in man/ renders with groff -man -Tutf8 -ww without a warning
#     (and passes mandoc -T lint -W warning, when mandoc is installed).
# Every problem is reported; the exit status is 1 if there was any.

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
    echo "usage: $0 DECLARED_SYMBOLS_FILE (run from the top directory)" >&2
    exit 2
fi
if [ ! -d man/man3 ] || [ ! -f include/cano.h ]; then
    echo "$0: run from the top directory of the source tree" >&2
    exit 2
fi
command -v groff >/dev/null || { echo "$0: groff is not installed" >&2; exit 2; }

OVERVIEW="cano"                      # man3 pages that are not one function
FUNC_SECTIONS="NAME|SYNOPSIS|DESCRIPTION|RETURN VALUE|ERRORS|EXAMPLES|SEE ALSO"
OVERVIEW_SECTIONS="NAME|SYNOPSIS|DESCRIPTION|RETURN VALUE|ERRORS|SEE ALSO"
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mantest.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "mantest: $*"; fails=$((fails + 1)); }

syms=$(cat "$1")
[ -n "$syms" ] || { echo "$0: $1 lists no symbols" >&2; exit 2; }

# Prints "PAGE: no S section" for each section S of the |-separated list
# $2 that page $1 lacks (EXAMPLES is also satisfied by EXAMPLE).
missing_sections() {
    awk -v want="$2" -v page="$1" '
        /^\.SH[ \t]/ { h = $0; sub(/^\.SH[ \t]+/, "", h); gsub(/"/, "", h)
                       sub(/[ \t]+$/, "", h); have[h] = 1 }
        END { n = split(want, w, "|")
              for (i = 1; i <= n; i++)
                  if (!have[w[i]] && !(w[i] == "EXAMPLES" && have["EXAMPLE"]))
                      print page ": no " w[i] " section" }' "$1"
}

# The page a `.so` stub points at (relative to man/), or nothing.
so_target() { sed -n 's/^\.so[[:space:]]\{1,\}//p' "$1" | head -n 1; }

# The text of the NAME and SYNOPSIS sections of a page, rendered.
# Each page is rendered once, to plain text, into $tmp/txt.
mkdir "$tmp/txt"
rendered() {
    r=$tmp/txt/$(echo "$1" | tr / _)
    [ -f "$r" ] ||
        (cd man && LC_ALL=C groff -man -Tascii -P-cbou -rLL=250n "$1") \
            > "$r" 2>/dev/null
    cat "$r"
}
name_synopsis() {
    rendered "$1" |
        awk '/^(NAME|SYNOPSIS)$/ { s = 1; next } /^[A-Z]/ { s = 0 } s'
}

# A page's SYNOPSIS, rendered, one declaration a line, whitespace squeezed.
synopsis_decls() {
    rendered "$1" |
        awk '/^SYNOPSIS$/ { s = 1; next } /^[A-Z]/ { s = 0 } s' |
        awk '/^[[:space:]]*$/ { print ""; next }
             { printf "%s ", $0 } /;[[:space:]]*$/ { print "" }' |
        sed 's/[[:space:]]\{1,\}/ /g; s/^ //; s/ *; *$/;/; s/( /(/g; s/ )/)/g'
}

# The header's prototypes, one a line, normalised the same way.
awk '/^CANO_API/ { p = 1; s = "" } p { s = s " " $0 } p && /;/ { print s; p = 0 }' \
    include/cano.h |
    sed 's/CANO_API//; s/[[:space:]]\{1,\}/ /g; s/^ //; s/ *; *$/;/; s/( /(/g; s/ )/)/g' \
    > "$tmp/header.txt"

# The first EX/EE block of a page's EXAMPLES section, as C.
first_example() {
    awk '/^\.SH[[:space:]]+"?EXAMPLES?"?[[:space:]]*$/ { s = 1; next }
         /^\.SH/ { s = 0 }
         s && /^\.EX/ { e = 1; next }
         s && e && /^\.EE/ { exit }
         s && e { print }' "$1" |
        sed -e 's/\\e/\\/g' -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" \
            -e 's/\\(dq/"/g' -e 's/\\&//g'
}

# 1. Every exported function has a page; stubs and full pages are complete.
for f in $syms; do
    page=man/man3/$f.3
    if [ ! -f "$page" ]; then
        fail "no man page for $f ($page)"
        continue
    fi
    target=$(so_target "$page")
    if [ -n "$target" ]; then
        if [ ! -f "man/$target" ]; then
            fail "$page: .so points at man/$target, which does not exist"
        elif [ -n "$(so_target "man/$target")" ]; then
            fail "$page: .so points at man/$target, itself a .so stub"
        elif ! name_synopsis "$target" | grep -q "\\<$f\\>"; then
            fail "$page: man/$target does not name $f in NAME or SYNOPSIS"
        fi
        continue
    fi
    missing_sections "$page" "$FUNC_SECTIONS" > "$tmp/missing"
    if [ -s "$tmp/missing" ]; then
        while read -r line; do fail "$line"; done < "$tmp/missing"
    fi
    name_synopsis "man3/$f.3" | grep -q "\\<$f\\>" ||
        fail "$page: NAME and SYNOPSIS do not name $f"
done

# 2. Overview pages, and no page for a function that is not exported.
for page in man/man3/*.3; do
    b=$(basename "$page" .3)
    case " $OVERVIEW " in
    *" $b "*)
        missing_sections "$page" "$OVERVIEW_SECTIONS" > "$tmp/missing"
        if [ -s "$tmp/missing" ]; then
            while read -r line; do fail "$line"; done < "$tmp/missing"
        fi
        ;;
    *)
        echo "$syms" | grep -qxF "$b" ||
            fail "$page: $b is not an exported function (add it to OVERVIEW in $0 if it is an overview page)"
        ;;
    esac
done

# 3. Each SYNOPSIS shows the header's prototype.
for f in $syms; do
    [ -f "man/man3/$f.3" ] || continue
    proto=$(grep -e " $f(" -e " \\*$f(" "$tmp/header.txt")
    if [ -z "$proto" ]; then
        fail "$f: no prototype found in include/cano.h"
    elif ! synopsis_decls "man3/$f.3" | grep -qxF "$proto"; then
        fail "man/man3/$f.3: SYNOPSIS does not show the prototype of include/cano.h: $proto"
    fi
done

# 4. The first example of each full page compiles without a diagnostic.
if [ -z "$MANTEST_NO_CC" ] && command -v "$CC" >/dev/null; then
    for page in man/man3/*.3; do
        [ -n "$(so_target "$page")" ] && continue
        b=$(basename "$page" .3)
        first_example "$page" > "$tmp/$b.c"
        [ -s "$tmp/$b.c" ] || continue
        if ! out=$($CC -std=c99 -pedantic -Wall -Wextra -Iinclude \
                       -fsyntax-only "$tmp/$b.c" 2>&1) || [ -n "$out" ]; then
            fail "$page: the example does not compile cleanly:"
            echo "$out" | sed 's/^/    /' | head -n 20
        fi
    done
fi

# 5. Every page renders without a warning.
for p in man/man*/*.[0-9]; do
    [ -f "$p" ] || continue
    out=$(cd man && LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "../$p" 2>&1)
    [ -z "$out" ] || fail "$p: groff: $out"
    # mandoc, when installed, lints the full pages too (it cannot follow
    # .so, and calls every .so fragile).
    if command -v mandoc >/dev/null && ! grep -q '^\.so' "$p"; then
        out=$(cd man && mandoc -T lint -W warning "${p#man/}" 2>&1)
        [ -z "$out" ] || fail "$p: mandoc: $out"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "mantest: $fails problem(s)"
    exit 1
fi
echo "man pages ok ($(echo "$syms" | wc -l | tr -d ' ') functions)"
