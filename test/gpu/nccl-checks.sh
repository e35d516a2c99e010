#!/usr/bin/env bash
# Issue 17's GPU checks of the `nccl` backend, most important first, in one command (under 8
# minutes on one GPU). Several processes each (vit22b launch), so not one of run-all.sh's
# single-process *-checks.cjs scripts: run it as a command of its own. Each check writes <name>.out / <name>.err under $OUT/nccl (default
# ./gpu-checks-out/nccl) and one line to summary.txt (also printed):
#   1 single      train 3 steps on one GPU, no mesh: the plain CUDA path (the baseline of 2 and 4)
#   2 one-rank    the same through `vit22b launch --nproc-per-node 1 -- train --mesh data=1 --comm
#                 nccl`: a 1-rank NCCL world initialises, splits, gathers the step's outputs over
#                 NCCL (the host gather) and finalizes
#   3 coll-1x2 / coll-2x1
#                 every collective kernel (all_reduce, reduce_scatter, all_gather, permute; f32 and
#                 bf16; in place) over an axis of 2 ranks against a float64 reference
#                 (test/comm/mpi-collectives-child.cjs), two ranks on ONE GPU through NCCL 2.30's
#                 NCCL_MULTI_RANK_GPU_ENABLE=1 (older NCCL refuses two ranks on one GPU: then this
#                 check's .err says so, and that is the finding)
#   4 mesh-data2 / mesh-model2
#                 `train --mesh data=2` and `--mesh model=2 --overlap ring` over 2 ranks for 3
#                 steps: final loss against check 1's (reported, within the bf16/f32 order noise)
#   5 timeout     rank 1 stalls 30 s before its 2nd step with --comm-timeout 5: rank 0 must end with
#                 ERR_COMM_TIMEOUT naming the collective well before the stall ends
#   6 no-multi    two ranks on one GPU WITHOUT NCCL_MULTI_RANK_GPU_ENABLE: NCCL's refusal, typed
#
# Needs, in the repository root: dist/ and the CUDA addon (build/cuda), node (on a machine without
# it: `source .devkit/env.sh`, shared/tools/device-kit.sh), NCCL where `vit22b info` finds it (the
# Python nvidia-nccl wheel counts).
#   source .devkit/env.sh && bash test/gpu/nccl-checks.sh
#   DRY_RUN=1 bash test/gpu/nccl-checks.sh    # the plumbing on a CPU: --comm mpi, --device cpu (needs mpirun)
set -u
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT:-$PWD/gpu-checks-out}/nccl"
mkdir -p "$OUT_DIR"
: >"$OUT_DIR/summary.txt"
COMM=nccl
DEVICE=cuda
MULTI=(env NCCL_MULTI_RANK_GPU_ENABLE=1)
if [ "${DRY_RUN:-0}" = 1 ]; then
  COMM=mpi
  DEVICE=cpu
  MULTI=(env)
fi
TRAIN=(--steps 3 --batch 32 --json --progress none --seed 7)
export VIT22B_DIST="$PWD/dist/index.js"

log() { echo "nccl-checks: $*" | tee -a "$OUT_DIR/summary.txt" >&2; }

# check NAME SECONDS command...: runs it with a deadline, records status and wall time.
check() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout --kill-after=5 "$limit" "$@" >"$OUT_DIR/$name.out" 2>"$OUT_DIR/$name.err"
  local rc=$?
  log "$name: exit $rc after $((SECONDS - start)) s$([ "$rc" = 124 ] && echo ' (TIMED OUT)')"
  return $rc
}

# The final training loss of a --json summary file, or "none".
loss() { node -e "try{const s=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log(s.finalLoss)}catch(e){console.log('none')}" "$1"; }

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  node --version
  node dist/cli.js info --json 2>&1 | head -c 6000
} >"$OUT_DIR/env.txt"
log "mode: comm $COMM, device $DEVICE"

# 1. The plain CUDA path, alone.
check single 120 node dist/cli.js train --device "$DEVICE" "${TRAIN[@]}"
log "single: final loss $(loss "$OUT_DIR/single.out")"

# 2. A 1-rank NCCL world.
check one-rank 120 node dist/cli.js launch --nproc-per-node 1 --comm "$COMM" --master-port 29601 -- \
  train --mesh data=1 --device "$DEVICE" --comm "$COMM" --comm-timeout 60 "${TRAIN[@]}"
log "one-rank: final loss $(loss "$OUT_DIR/one-rank.out")"

# 3. Every collective kernel over an axis of two ranks.
for mesh in 1x2 2x1; do
  mkdir -p "$OUT_DIR/coll-$mesh"
  check "coll-$mesh" 120 "${MULTI[@]}" VIT22B_TEST_COMM="$COMM" VIT22B_TEST_MESH="$mesh" VIT22B_TEST_OUT="$OUT_DIR/coll-$mesh" \
    node dist/cli.js launch --nproc-per-node 2 --comm "$COMM" --master-port 29602 --exec -- node test/comm/mpi-collectives-child.cjs
  node -e "
    const fs=require('fs'),d=process.argv[1];let bad=0,n=0;
    for(const f of fs.readdirSync(d).filter(f=>/^rank\d+\.json$/.test(f))){const r=JSON.parse(fs.readFileSync(d+'/'+f,'utf8'));
      for(const c of r.results){n++;if(!c.ok){bad++;console.log('rank '+r.rank+' FAILED '+c.name+' worst '+c.worst+' tol '+c.tol)}}}
    console.log(n+' checks, '+bad+' failed');" "$OUT_DIR/coll-$mesh" | tee -a "$OUT_DIR/summary.txt"
done

# 4. Training over two ranks.
check mesh-data2 150 "${MULTI[@]}" node dist/cli.js launch --nproc-per-node 2 --comm "$COMM" --master-port 29603 -- \
  train --mesh data=2 --device "$DEVICE" --comm "$COMM" --comm-timeout 60 "${TRAIN[@]}"
log "mesh-data2: final loss $(loss "$OUT_DIR/mesh-data2.out") (single: $(loss "$OUT_DIR/single.out"))"
check mesh-model2 150 "${MULTI[@]}" node dist/cli.js launch --nproc-per-node 2 --comm "$COMM" --master-port 29604 -- \
  train --mesh model=2 --overlap ring --device "$DEVICE" --comm "$COMM" --comm-timeout 60 "${TRAIN[@]}"
log "mesh-model2 (ring): final loss $(loss "$OUT_DIR/mesh-model2.out")"

# 5. A rank that stalls past the deadline.
check timeout 90 "${MULTI[@]}" VIT22B_TEST_STALL=1@2:30000 node dist/cli.js launch --nproc-per-node 2 --comm "$COMM" --master-port 29605 -- \
  train --mesh data=2 --device "$DEVICE" --comm "$COMM" --comm-timeout 5 --steps 4 --batch 32 --progress none
log "timeout: $(grep -o 'ERR_COMM_[A-Z_]*' "$OUT_DIR/timeout.err" | sort | uniq -c | tr '\n' ' ')"

# 6. Two ranks on one GPU without NCCL's permission.
if [ "$COMM" = nccl ]; then
  check no-multi 60 env -u NCCL_MULTI_RANK_GPU_ENABLE node dist/cli.js launch --nproc-per-node 2 --comm nccl --master-port 29606 -- \
    train --mesh data=2 --device cuda --comm nccl --comm-timeout 20 "${TRAIN[@]}"
  log "no-multi: $(grep -o 'ERR_[A-Z_]*' "$OUT_DIR/no-multi.err" | sort | uniq -c | tr '\n' ' ')"
fi
log "done in $SECONDS s"
