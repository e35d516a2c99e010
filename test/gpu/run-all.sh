#!/usr/bin/env bash
# Every GPU correctness check in one command on a GPU machine (the device tool's: no node_modules,
# so no jest): each test/gpu/*-checks.cjs in turn, then compute-sanitizer memcheck over a few of
# them. Results land under $OUT (default ./gpu-checks-out): <script>.json (the script's
# { checks: [...] }), <script>.err, memcheck-<script>.txt, and summary.txt (also printed).
#
#   source .devkit/env.sh && bash test/gpu/run-all.sh        # needs dist/ and the CUDA addon
#   ONLY=gemm bash test/gpu/run-all.sh                          # one script (gemm-checks.cjs)
#   ONLY=kernel bash test/gpu/run-all.sh                        # the kernel table alone
#   MEMCHECK=0 bash test/gpu/run-all.sh                         # skip compute-sanitizer
#   BUDGET=420 bash test/gpu/run-all.sh                         # seconds for everything (default 540)
#
# `npm run test:gpu` runs the same scripts under jest where node_modules exists. The multi-process
# NCCL checks (issue 17) are a command of their own: bash test/gpu/nccl-checks.sh.
set -u
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT:-$PWD/gpu-checks-out}"
mkdir -p "$OUT_DIR"
BUDGET="${BUDGET:-540}"
START=$SECONDS
: >"$OUT_DIR/summary.txt"
say() { echo "$*" | tee -a "$OUT_DIR/summary.txt"; }
left() { echo $((BUDGET - (SECONDS - START))); }

# Where a check script lives: the kernel table is a bundle in dist/, the rest are test/gpu/*.cjs.
script_of() { [ "$1" = kernel-checks ] && echo dist/kernel-checks.cjs || echo "test/gpu/$1.cjs"; }

say "gpu checks: $(date -u), $(nvidia-smi -L 2>&1 | head -1)"
# The kernel table (dist/kernel-checks.cjs, bundled from test/cases/ by npm run build:ts) first:
# every kernel against the CPU, case by case. Its name is kernel-checks like the others'.
scripts="dist/kernel-checks.cjs $(ls test/gpu/*-checks.cjs | sort)"
[ -n "${ONLY:-}" ] && scripts=$(script_of "${ONLY}-checks")
# Cheap scripts first, so a slow one running out of time costs the fewest results.
for s in $scripts; do
  name=$(basename "$s" .cjs)
  t=$(left)
  if [ "$t" -le 10 ]; then say "$name: skipped (out of time)"; continue; fi
  t0=$SECONDS
  # ONLY names a script here, so the kernel table itself runs whole (its own ONLY would filter it).
  ONLY= timeout "$t" node "$s" >"$OUT_DIR/$name.json" 2>"$OUT_DIR/$name.err"
  rc=$?
  counts=$(node -e '
    const fs = require("fs");
    try {
      const c = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).checks;
      const bad = c.filter((x) => !x.ok);
      console.log(`${c.length - bad.length} passed, ${bad.length} failed` + bad.slice(0, 5).map((x) => `\n    FAIL ${x.name}: ${String(x.detail).slice(0, 300)}`).join(""));
    } catch (e) { console.log("no result: " + e.message); }' "$OUT_DIR/$name.json")
  say "$name: exit $rc in $((SECONDS - t0)) s: $counts"
done

# Memcheck over the kernel scripts that run quickly, without the caching allocator so every
# buffer is its own allocation and an overrun past a buffer's end is caught.
if [ "${MEMCHECK:-1}" != "0" ] && command -v compute-sanitizer >/dev/null 2>&1; then
  for name in kernel-checks elementwise-checks optim-checks attention-checks; do
    [ -n "${ONLY:-}" ] && [ "$name" != "${ONLY}-checks" ] && continue
    t=$(left)
    if [ "$t" -le 20 ]; then say "memcheck $name: skipped (out of time)"; continue; fi
    ONLY= VIT22B_CUDA_CACHING=0 timeout "$t" compute-sanitizer --tool memcheck --leak-check no \
      node "$(script_of "$name")" >"$OUT_DIR/memcheck-$name.txt" 2>&1
    say "memcheck $name: exit $? ($(grep -c '^========= Invalid\|^========= Program hit' "$OUT_DIR/memcheck-$name.txt") errors; $(tail -1 "$OUT_DIR/memcheck-$name.txt" | head -c 200))"
  done
elif [ "${MEMCHECK:-1}" != "0" ]; then
  say "memcheck: compute-sanitizer not found on PATH (it ships with the CUDA toolkit: /usr/local/cuda/bin)"
fi
say "done in $((SECONDS - START)) s"
