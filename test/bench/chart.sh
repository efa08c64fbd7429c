#!/bin/sh
# chart.sh - draws the benchmark's comparison chart from its JSON results:
# for every workload that ran on cano and on at least one peer (W1, W1b, W3,
# W4, D1 at 1/4/16 threads, ...), one group of bars giving each system's
# throughput relative to cano's in the same run (cano = 1, log scale,
# higher is better), with cano's own throughput under the group's name.
#
#   test/bench/chart.sh [RESULTS.json [OUTDIR]]
#
# Defaults: test/bench/results/latest.json, written by ./bench, and the
# directory the JSON is in.  Writes OUTDIR/chart.svg and OUTDIR/chart.png.
# Needs python3 (reads the JSON) and gnuplot (Debian gnuplot-nox).
set -u
here=$(cd "$(dirname "$0")" && pwd)
json=${1:-$here/results/latest.json}
outdir=${2:-$(dirname "$json")}

for tool in python3 gnuplot; do
    command -v $tool >/dev/null || { echo "chart.sh: $tool is not installed" >&2; exit 2; }
done
[ -r "$json" ] || { echo "chart.sh: cannot read $json" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cano-chart.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The JSON as gnuplot input: a data block (one line per group: the
# systems' throughput relative to cano, "-" where a system did not run),
# the x tic labels, the legend titles and the subtitle.
python3 - "$json" > "$tmp/data.gp" <<'EOF' || exit 1
import json, math, re, sys
d = json.load(open(sys.argv[1]))
systems = [s["name"] for s in d["systems"]]
if "cano" not in systems:
    sys.exit("chart.sh: no cano results in " + sys.argv[1])
systems.remove("cano")
systems.insert(0, "cano")
what = {"W1": "append 1/call", "W1b": "append 100/call",
        "W3": "sequential read", "W4": "random read", "D1": "durable append"}
groups, rows = [], {}
for r in d["results"]:
    key = (r["workload"], r["measure"])
    if key not in rows:
        groups.append(key)
        rows[key] = {}
    rows[key][r["system"]] = r
def human(v):
    for div, suffix in ((1e6, " M"), (1e3, " k")):
        if v >= div:
            return "%.3g%s" % (v / div, suffix)
    return "%.0f" % v
# Only workloads with cano and a peer are compared, and only the systems
# that ran in at least one of them are shown.
groups = [k for k in groups if "cano" in rows[k] and len(rows[k]) > 1
          and rows[k]["cano"]["value"]]
systems = [s for s in systems if any(s in rows[k] for k in groups)]
print("$data << EOD")
tics, rel = [], [1.0]
for key in groups:
    row = rows[key]
    base = row["cano"]["value"]
    vals = [row[s]["value"] / base if s in row and row[s]["value"] else None
            for s in systems]
    rel += [v for v in vals if v]
    print(" ".join("-" if v is None else "%.6g" % v for v in vals))
    wl, measure = key
    name = wl
    threads = re.search(r"(\d+) threads?", measure)
    if threads:
        name += ", %s thread%s" % (threads.group(1),
                                   "" if threads.group(1) == "1" else "s")
    desc = what.get(wl, measure)
    unit = row["cano"]["unit"].split("/")[-1]
    tics.append('"%s\\n%s\\ncano %s/%s" %d'
                % (name, desc, human(base), unit, len(tics)))
print("EOD")
if not tics:
    sys.exit("chart.sh: no workload has both cano and a peer in " + sys.argv[1])
print("set xtics (%s)" % ", ".join(tics))
print("nsys = %d" % len(systems))
print("ngroups = %d" % len(tics))
shown = {"raw": "raw file", "sqlite": "SQLite", "lmdb": "LMDB",
         "rocksdb": "RocksDB"}
colour = {"cano": "#d62728", "raw": "#7f7f7f", "sqlite": "#1f77b4",
          "lmdb": "#2ca02c", "rocksdb": "#ff7f0e"}
spare = ["#9467bd", "#8c564b", "#e377c2", "#17becf"]
print("array sysname[%d] = [%s]" % (len(systems),
      ", ".join('"%s"' % shown.get(s, s) for s in systems)))
print("array syscolour[%d] = [%s]" % (len(systems), ", ".join(
      '"%s"' % (colour.get(s) or spare[i % len(spare)])
      for i, s in enumerate(systems))))
# A log axis with room below the smallest ratio and above the largest,
# labelled at powers of ten: ... 1/10, 1 = cano, 10 ...
ymin, ymax = min(rel) / 2, max(rel) * 2.5
print("set yrange [%g:%g]" % (ymin, ymax))
print("set ytics (%s)" % ", ".join(
    '"%s" %g' % ("1 = cano" if e == 0 else
                 "%d" % 10 ** e if e > 0 else "1/%d" % 10 ** -e, 10.0 ** e)
    for e in range(math.floor(math.log10(ymin)),
                   math.ceil(math.log10(ymax)) + 1)))
m, c = d.get("machine", {}), d.get("config", {})
sub = "%s records%s; W: no fsync, D1: every append durable; %s; load %.1f at start" % (
    "{:,}".format(c.get("records", 0)), " (--quick)" if c.get("quick") else "",
    m.get("description", "unknown machine"), m.get("load_at_start", 0))
print('subtitle = "%s"' % sub.replace('"', "'"))
EOF

# Shared by both outputs; the terminal is set first, by the caller.
cat > "$tmp/chart.gp" <<'EOF'
load tmpdir."/data.gp"
set title "cano vs. its peers: each system's throughput relative to cano (log scale, higher is better)\n{/*0.8 ".subtitle."}"
set ylabel "throughput / cano's throughput"
set logscale y
set mytics 10
set grid ytics lc rgb "#dddddd" lt 1
set border 3
set xtics nomirror scale 0 font ticfont
set xrange [-0.55:ngroups-0.45]
set bmargin 5
set ytics nomirror
set key top center horizontal outside samplen 1.5 width 2
set style data histograms
set style histogram clustered gap 1.2
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.95 relative
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#222222" lw 1.5 dt 2 back
plot for [i=1:nsys] $data using i title sysname[i] lc rgb syscolour[i]
EOF

set -e
gnuplot -e "tmpdir='$tmp'; ticfont=',10'" \
    -e "set terminal svg size 960,500 dynamic font 'DejaVu Sans,12' background rgb 'white'" \
    -e "set output '$outdir/chart.svg'" \
    "$tmp/chart.gp"
gnuplot -e "tmpdir='$tmp'; ticfont=',9'" \
    -e "set terminal pngcairo size 960,500 font 'DejaVu Sans,10' background rgb 'white'" \
    -e "set output '$outdir/chart.png'" \
    "$tmp/chart.gp"
echo "chart.sh: wrote $outdir/chart.svg and $outdir/chart.png"
