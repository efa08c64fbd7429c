#!/bin/sh
# Every exported function has a man page, and every page renders cleanly.
set -e
for f in $(cat "$1"); do test -f man/man3/$f.3 || { echo "no man page: $f"; exit 1; }; done
for p in man/man*/*.[0-9]; do
  out=$(cd man && LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z ../$p 2>&1)
  [ -z "$out" ] || { echo "$p: $out"; exit 1; }
done
echo "man pages ok"
