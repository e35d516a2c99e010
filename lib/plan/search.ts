/**
 * `vit22b plan --search`: every mesh data x model of `chips` devices that divides the model and the
 * batch, with ZeRO 0 and 3, remat none / selective / block and overlap none / streams / ring /
 * bidirectional, planned and ranked by modelled step time; what does not fit is rejected with its
 * reason. Three shortcuts keep it short, each exact in what it skips:
 *   - a mesh whose parameters, gradients and AdamW state alone (16 bytes per parameter, split as
 *     the mesh and ZeRO split them) exceed the card is rejected before compiling;
 *   - remat only adds work, so a (mesh, ZeRO) that fits without it is not tried with it, and
 *     selective is not tried with block once selective fits;
 *   - the four overlap modes are costed on one compiled plan ('streams'; 'none' is that plan with
 *     every instruction in sequence; its arena is at most the streams plan's, so it fits whenever
 *     that one does).
 */
import type { Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import type { ModelConfig } from '../model/config';
import { checkMeshFits } from '../model/mesh-fit';
import { countParams } from '../model/params';
import { MAX_PLANNED_MESH_DEVICES } from '../runtime/mesh';
import type { DeviceSpec } from './devices';
import { estimateModes, type PlanEstimate, type PlannerOverlap } from './estimate';
import { fitVerdict } from './memory';

export interface SearchOptions {
  config: ModelConfig;
  model?: string;
  chips: number;
  batch: number;
  device: DeviceSpec;
  devicesPerNode?: number;
  precision?: Precision;
  /** How many of the best to return (default 5). */
  top?: number;
  zero?: (0 | 3)[];
  remat?: RematPolicy[];
  overlap?: PlannerOverlap[];
  log?: (line: string) => void;
  /** ZeRO-3 is tried on data axes up to this (default ZERO3_DATA_MAX). */
  maxZeroData?: number;
  /** Depths extrapolated from (estimate.ts; default [2, 3]). */
  depths?: [number, number];
}

export interface SearchCandidate {
  mesh: { data: number; model: number };
  zero: 0 | 3;
  remat: RematPolicy;
  overlap: PlannerOverlap;
  stepSeconds: number;
  imagesPerSecond: number;
  mfu: number;
  memoryBytes: number;
  headroomBytes: number;
}

export interface SearchRejection {
  mesh: { data: number; model: number };
  zero?: 0 | 3;
  remat?: RematPolicy;
  reason: string;
}

export interface SearchResult {
  chips: number;
  device: string;
  batch: number;
  precision: Precision;
  seconds: number;
  evaluated: number;
  best: SearchCandidate[];
  rejected: SearchRejection[];
  /** The full estimate of the best candidate. */
  bestPlan?: PlanEstimate;
}

/**
 * ZeRO-3 plans over larger data axes are not compiled by the search: the partitioner cuts each
 * gathered weight into pieces per data rank, and the fusion pass's rewrites grow with their square
 * (a data=1024 plan takes about 4 minutes on a 2-core machine, data=256 about a second).
 */
export const ZERO3_DATA_MAX = 256;

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

export function search(o: SearchOptions): SearchResult {
  const t0 = performance.now();
  const precision = o.precision ?? 'bf16-mixed';
  const ok: SearchCandidate[] = [];
  const estimates = new Map<SearchCandidate, PlanEstimate>();
  const rejected: SearchRejection[] = [];
  const params = countParams(o.config).total;
  const overlaps = o.overlap ?? ['none', 'streams', 'ring', 'bidirectional'];
  let evaluated = 0;
  for (let model = 1; model <= o.chips; model++) {
    if (o.chips % model !== 0) continue;
    const mesh = { data: o.chips / model, model };
    try {
      checkMeshFits(o.config, mesh, o.batch, MAX_PLANNED_MESH_DEVICES);
    } catch (e) {
      // Only meshes that divide the model are candidates; say why the near ones are not.
      if (model <= 64) rejected.push({ mesh, reason: (e as Error).message });
      continue;
    }
    for (const zero of o.zero ?? [0, 3]) {
      if (zero === 3 && mesh.data === 1) continue;
      if (zero === 3 && mesh.data > (o.maxZeroData ?? ZERO3_DATA_MAX)) {
        rejected.push({ mesh, zero, reason: `not modelled: compiling a ZeRO-3 plan over data=${mesh.data} takes minutes today (the gathered weights' pieces grow with the data axis); plan this mesh alone with vit22b plan --mesh, or raise --max-zero-data` });
        continue;
      }
      // fp32 master weights, fp32 gradients and AdamW's two moments: 16 bytes per parameter.
      const state = (16 * params) / model / (zero === 3 ? mesh.data : 1);
      if (!fitVerdict(state, o.device.hbmBytes).fits) {
        rejected.push({ mesh, zero, reason: `parameters, gradients and optimizer state alone are ${gib(state)} per device` });
        continue;
      }
      for (const remat of o.remat ?? (['none', 'selective', 'block'] as RematPolicy[])) {
        o.log?.(`planning data=${mesh.data},model=${model} ZeRO ${zero} remat ${remat} (${((performance.now() - t0) / 1e3).toFixed(0)} s)`);
        // One compile for the overlap modes ('streams' plan), costed each way; without a model axis
        // there is no collective matmul, so the ring modes would only repeat 'streams'.
        const modes = model === 1 ? overlaps.filter((m) => m !== 'ring' && m !== 'bidirectional') : overlaps;
        const plans = estimateModes({ config: o.config, model: o.model, batch: o.batch, mesh, zero, remat, precision, device: o.device, devicesPerNode: o.devicesPerNode, deriveNone: true, depths: o.depths }, modes.length ? modes : overlaps);
        evaluated += plans.size;
        const any = [...plans.values()][0]!;
        if (!any.memory.fits) {
          rejected.push({ mesh, zero, remat, reason: `needs ${gib(any.memory.total)} + ${gib(any.memory.reserve)} reserve on a ${gib(any.memory.capacity)} card` });
          continue;
        }
        for (const [overlap, e] of plans) {
          const c: SearchCandidate = { mesh, zero, remat, overlap, stepSeconds: e.time.stepSeconds, imagesPerSecond: e.time.imagesPerSecond, mfu: e.mfu.withOverlap, memoryBytes: e.memory.total, headroomBytes: e.memory.headroom };
          ok.push(c);
          estimates.set(c, e);
        }
        break; // it fits: more recomputation would only add work
      }
    }
  }
  ok.sort((a, b) => a.stepSeconds - b.stepSeconds);
  const best = ok.slice(0, o.top ?? 5);
  for (const c of ok.slice(o.top ?? 5)) {
    rejected.push({ mesh: c.mesh, zero: c.zero, remat: c.remat, reason: `fits, but slower: ${c.stepSeconds.toFixed(3)} s per step (overlap ${c.overlap})` });
  }
  const bestPlan = best[0] ? estimates.get(best[0]) : undefined;
  return { chips: o.chips, device: o.device.id, batch: o.batch, precision, seconds: (performance.now() - t0) / 1e3, evaluated, best, rejected, bestPlan };
}
