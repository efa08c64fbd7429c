#!/bin/sh
# demo.sh - the quick-start demo run by `make run`.
#
# Usage: examples/demo.sh path/to/cano DEMO_DIR
#
# Turns dpkg's log (/var/log/dpkg.log, or generated lines in the same format
# when it is missing or empty) into a compacted topic keyed by package, each
# record stamped with its line's own time; then compacts it, asks for the
# latest status of a few packages, seeks by time, shows a consumer group's
# lag and verifies the files.  DEMO_DIR is removed and recreated.
set -e
CANO=$1
DIR=$2
if [ -z "$CANO" ] || [ -z "$DIR" ]; then
    echo "usage: $0 path/to/cano DEMO_DIR" >&2
    exit 2
fi
LOG=${DPKG_LOG:-/var/log/dpkg.log}     # DPKG_LOG=/dev/null: generated lines
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
heading() { printf '\n== %s\n' "$*"; }
cano() { "$CANO" "$DIR" "$@"; }

# dpkg.log lines look like
#   2024-05-01 10:20:33 status installed libfoo:amd64 1.2-3
# Without one, make up five days of such lines for ten packages.
if [ -s "$LOG" ]; then
    SRC=$LOG
else
    SRC=$TMP/dpkg.log
    awk 'BEGIN {
        n = split("libc6 dpkg bash coreutils openssl curl zlib1g tzdata " \
                  "systemd vim", pkg, " ")
        split("half-installed unpacked half-configured installed", st, " ")
        srand(42)
        for (d = 1; d <= 5; d++)
            for (i = 0; i < 300; i++) {
                t = i * 288
                printf "2026-01-%02d %02d:%02d:%02d status %s %s:amd64 " \
                       "1.%d-%d\n", d, t / 3600, t % 3600 / 60, t % 60,
                       st[1 + i % 4], pkg[1 + int(rand() * n)], d, i
            }
    }' > "$SRC"
fi

# Only "status" lines name a package and its state.  Each becomes
# TIME<TAB>PACKAGE<TAB>LINE: produce reads the time before the first tab
# and the key before the next one.
awk '$3 == "status" { printf "%sT%s\t%s\t%s\n", $1, $2, $5, $0 }' "$SRC" \
    > "$TMP/dpkg.tsv"

heading "Ingest: $(wc -l < "$TMP/dpkg.tsv") status lines of $SRC"
rm -rf "$DIR"
cano topic create dpkg --cleanup-policy compact --segment-bytes 32K
cano produce dpkg --file "$TMP/dpkg.tsv" --batch 64 \
    --timestamp-separator '\t' --key-separator '\t'
cano stats dpkg

heading "Compact: keep the latest record of each package"
echo "records before: $(cano consume dpkg | wc -l)"
cano compact dpkg --verbose
echo "records after:  $(cano consume dpkg | wc -l)"

# The three packages dpkg touched most often.
PKGS=$(cut -f2 "$TMP/dpkg.tsv" | sort | uniq -c | sort -rn | head -3 |
       awk '{ print $2 }' | paste -sd ' ')
heading "Latest status of $PKGS"
cano consume dpkg --print-key | awk -F '\t' -v pkgs="$PKGS" '
    BEGIN { n = split(pkgs, p, " "); for (i = 1; i <= n; i++) want[p[i]] }
    $1 in want { last[$1] = $2 }
    END { for (k in last) print last[k] }' | sort

# "What changed since yesterday", where today is the newest line's day
# (the log may be old): a seek by time, one day before the newest record.
NEWEST=$(cano consume dpkg --print-timestamp | cut -f1 | sort -n | tail -1)
SINCE=$((NEWEST - 86400000))
WHEN=$(date -u -d "@$((SINCE / 1000))" '+%Y-%m-%d %H:%M UTC' 2>/dev/null ||
       echo "$SINCE ms")
heading "Changed in the last day of the log (since $WHEN)"
cano consume dpkg --from-time "$SINCE" > "$TMP/recent"
echo "$(wc -l < "$TMP/recent") records; the last five:"
tail -5 "$TMP/recent"

heading "A consumer group reads 100 records, then stops"
cano consume dpkg --group demo --max 100 > /dev/null
cano stats

heading "Verify every checksum and index"
cano verify
echo "store left in $DIR"
