#!/usr/bin/env bash
# Issue 7's speed benchmark, all of it, in one command on a GPU machine (under 9 minutes):
#   the ViT-22B-width stack (D 6144, 48 heads, MLP 24576, 256 tokens, depth $STACK_DEPTH, default 4),
#   ViT-B/16 and ViT-L/16 at 224 px; each bf16-mixed with AdamW, batch as large as fits (the memory
#   plan), timed in vit22b and in PyTorch (bench/step_torch_gpu.py: eager and torch.compile), with
#   MFU against the card's dense bf16 peak and the ratios vit22b / PyTorch.
#
# Needs, in the repository root: dist/ (npm run build:ts) and the CUDA addon (build/cuda or
# prebuilds/linux-x64/vit22b-cuda.node), node, and a python3 with torch ($PYTHON to choose one).
# Writes under $OUT (default ./bench-out): <workload>.json (the `bench step --json` report), .log
# (its stderr), env.txt, and summary.txt (also printed). When vit22b cannot open CUDA, the PyTorch
# peer still runs alone (<workload>.torch.json), so the baselines are measured either way.
#
#   bash bench/gpu-all.sh                 # all three
#   ONLY=stack STACK_DEPTH=6 bash bench/gpu-all.sh
#   DRY_RUN=1 bash bench/gpu-all.sh       # the plumbing on a CPU: tiny models, batch 8
#   BUDGET=400 bash bench/gpu-all.sh      # seconds for everything (default 500: with the
#                                         # kill grace of 10 s per workload, under 9 minutes)
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-$PWD/bench-out}"
mkdir -p "$OUT_DIR"
BUDGET="${BUDGET:-500}"
STACK_DEPTH="${STACK_DEPTH:-4}"
STEPS="${STEPS:-10}"
WARMUP="${WARMUP:-3}"
PY="${PYTHON:-python3}"
export PYTHON="$PY"
START=$SECONDS

log() { echo "gpu-all: $*" | tee -a "$OUT_DIR/summary.txt" >&2; }
: >"$OUT_DIR/summary.txt"

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit,driver_version --format=csv 2>&1
  node --version
  "$PY" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available()); print("python", sys.version.split()[0])' 2>&1
  "$PY" -c 'import triton; print("triton", triton.__version__)' 2>&1 | tail -1
  node dist/cli.js info --json 2>&1 | head -c 4000
} >"$OUT_DIR/env.txt"
if [ ! -f dist/cli.js ]; then
  log "dist/cli.js missing: run npm run build:ts first"
  exit 1
fi
CUDA_OK=$(node -e "const v=require('./dist/index.js');process.stdout.write(v.cudaStatus().available?'yes':'no: '+v.cudaStatus().reason)" 2>&1)
log "vit22b CUDA: $CUDA_OK"
DEVICE=cuda
if [ "${DRY_RUN:-0}" = 1 ]; then
  # Every path of this script on a machine without a GPU: tiny models on the CPU, batch 8.
  CUDA_OK=yes DEVICE=cpu BATCH=8 STEPS=2 WARMUP=1
  log "DRY_RUN: the tiny preset on the CPU instead of the three workloads"
fi

# name | bench step model flags | share of the budget (percent)
WORKLOADS=(
  "stack|--preset vit-22b-stack --depth $STACK_DEPTH|36"
  "vit-b16|--preset vit-b/16|29"
  "vit-l16|--preset vit-l/16|35"
)

for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name flags share <<<"$w"
  [ "$DEVICE" = cpu ] && flags="--preset tiny --depth $((1 + ${#name} % 3))"
  if [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ]; then continue; fi
  left=$((BUDGET - (SECONDS - START)))
  slot=$((BUDGET * share / 100))
  [ "$slot" -lt 120 ] && slot=120
  [ "$slot" -gt "$left" ] && slot=$left
  if [ "$slot" -lt 60 ]; then
    log "$name: skipped, ${left}s of the budget left"
    continue
  fi
  # The peer runs first and gets the slot less 60 s for vit22b's own compile and steps.
  peer_timeout=$((slot - 60))
  [ "$peer_timeout" -lt 30 ] && peer_timeout=30
  log "$name: $flags (slot ${slot}s, PyTorch peer ${peer_timeout}s)"
  if [ "${CUDA_OK}" = yes ]; then
    # shellcheck disable=SC2086
    timeout --kill-after=10 "$slot" node dist/cli.js bench step $flags --device "$DEVICE" --batch "${BATCH:-auto}" \
      --steps "$STEPS" --warmup "$WARMUP" --peer torch --peer-modes eager,compile --peer-timeout "$peer_timeout" --json \
      >"$OUT_DIR/$name.json" 2>"$OUT_DIR/$name.log"
    log "$name: exit $? after $((SECONDS - START))s in all"
  else
    # vit22b cannot run: the PyTorch baselines alone, at the batch vit22b's memory plan picks.
    # shellcheck disable=SC2086
    read -r cfg batch < <(node -e "
      const v = require('./dist/index.js');
      const a = process.argv.slice(1);
      const depth = a.includes('--depth') ? Number(a[a.indexOf('--depth') + 1]) : undefined;
      const name = a[a.indexOf('--preset') + 1];
      const c = (v.benchModel(name, depth) ?? { config: v.getPreset(name) }).config;
      const mem = Number(process.env.GPU_MEMORY_BYTES || 80 * 2 ** 30);
      const b = process.env.BATCH || v.largestFittingBatch(c, v.usableBytes(mem), { precision: 'bf16-mixed', remat: 'none', optimizer: { kind: 'adamw', weightDecay: 1e-4 } });
      console.log(JSON.stringify(c), b);" -- $flags)
    timeout --kill-after=10 "$slot" "$PY" bench/step_torch_gpu.py --config-json "$cfg" --batch "$batch" --device cuda \
      --modes eager,compile --steps "$STEPS" --warmup "$WARMUP" --shrink-on-oom \
      >"$OUT_DIR/$name.torch.json" 2>"$OUT_DIR/$name.log"
    log "$name: PyTorch alone, exit $? after $((SECONDS - START))s in all"
  fi
done

# The summary: one table per workload from the JSON reports.
node -e "
const fs = require('fs');
const dir = process.argv[1];
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  let j;
  try {
    const text = fs.readFileSync(dir + '/' + f, 'utf8').trim();
    j = JSON.parse(f.endsWith('.torch.json') ? text.split('\n').pop() : text);
  } catch (e) { console.log(f + ': no report (' + e.message.split('\n')[0] + ')'); continue; }
  console.log('== ' + f);
  if (j.comparison) {
    console.log('  ' + j.model + ', ' + j.precision + ', model FLOPs ' + (j.flops.perImage / 1e9).toFixed(1) + ' GFLOP/image');
    for (const r of j.comparison) {
      if (r.missing) { console.log('  ' + r.name.padEnd(28) + ' -- ' + r.missing); continue; }
      const mfu = r.utilization && r.utilization.mfu !== undefined ? (100 * r.utilization.mfu).toFixed(1) + '%' : '-';
      console.log('  ' + r.name.padEnd(28) + ' ' + r.imagesPerSecond.toFixed(1).padStart(9) + ' img/s  batch ' + String(r.batch).padStart(5) + '  MFU ' + mfu.padStart(6) + (r.ratio ? '  vit22b/it ' + r.ratio.toFixed(2) + 'x' : ''));
    }
    for (const n of j.notes || []) console.log('  note: ' + n);
  } else if (j.error) {
    console.log('  ' + (j.peer || '') + ': ' + j.error);
  } else if (j.runs) {
    for (const r of j.runs) console.log('  ' + j.peer + ' ' + r.mode + ': ' + (r.imagesPerSecond ? r.imagesPerSecond.toFixed(1) + ' img/s, batch ' + r.batch : (r.error || r.skipped)));
  } else console.log('  ' + JSON.stringify(j).slice(0, 300));
}" "$OUT_DIR" | tee -a "$OUT_DIR/summary.txt"
log "done in $((SECONDS - START))s; reports in $OUT_DIR"
