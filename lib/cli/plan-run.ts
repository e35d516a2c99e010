/**
 * `vit22b plan --device ID` (the planner: memory with fits / does not fit, FLOPs, traffic per axis
 * and link, modelled step time, MFU, critical path), `--search` and `--calibrate`. The text output is
 * for people; `--json` is the PlanEstimate / SearchResult object of lib/plan, whose field names are
 * kept stable for scripts (README, "Planning a run").
 */
import type { Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import type { ModelConfig } from '../model/config';
import { openDevice } from '../runtime/device';
import { calibratedGemmRate, calibratedKernelRates, cpuDevice, defaultCalibrationPath, measureCalibration, readCalibration, writeCalibration } from '../plan/calibration';
import { getDevice, withOverrides, type DeviceSpec } from '../plan/devices';
import { estimate, type PlanEstimate, type PlannerOverlap } from '../plan/estimate';
import { search, type SearchResult } from '../plan/search';
import type { MeshShape } from '../runtime/mesh';
import type { CliIO } from './io';

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ms = (s: number) => (s >= 1 ? `${s.toFixed(3)} s` : `${(s * 1e3).toFixed(2)} ms`);

export interface DeviceChoice {
  device: DeviceSpec;
  gemmRate?: ReturnType<typeof calibratedGemmRate>;
  kernelRates?: ReturnType<typeof calibratedKernelRates>;
}

export function chooseDevice(id: string, precision: Precision, overrides: { peakTflops?: number; hbmGBps?: number; linkGBps?: number }, calibration?: string): DeviceChoice {
  if (id === 'cpu') {
    const c = readCalibration(calibration ?? defaultCalibrationPath());
    const dtype = precision === 'bf16-mixed' ? 'bf16' : 'f32';
    return { device: withOverrides(cpuDevice(c), overrides), gemmRate: overrides.peakTflops === undefined ? calibratedGemmRate(c, dtype) : undefined, kernelRates: calibratedKernelRates(c, dtype) };
  }
  return { device: withOverrides(getDevice(id), overrides) };
}

export interface PlannerArgs {
  config: ModelConfig;
  model: string;
  batch: number;
  mesh: MeshShape;
  zero: 0 | 3;
  overlap: PlannerOverlap;
  remat: RematPolicy;
  precision: Precision;
  choice: DeviceChoice;
  devicesPerNode?: number;
  fullDepth: boolean;
}

export function runEstimate(a: PlannerArgs): PlanEstimate {
  return estimate({
    config: a.config,
    model: a.model,
    batch: a.batch,
    mesh: a.mesh,
    zero: a.zero,
    overlap: a.overlap,
    remat: a.remat,
    precision: a.precision,
    device: a.choice.device,
    gemmRate: a.choice.gemmRate,
    kernelRates: a.choice.kernelRates,
    devicesPerNode: a.devicesPerNode,
    ...(a.fullDepth ? { fullDepthMax: Infinity } : {}),
  });
}

export function formatEstimate(e: PlanEstimate): string {
  const m = e.memory;
  const lines = [
    `${e.model}, ${e.parameters.toLocaleString('en-US')} parameters: training step, global batch ${e.batch} (${e.perDeviceBatch} per data shard), ${e.precision}, remat ${e.remat}, ZeRO ${e.zero}, overlap ${e.overlap}`,
    `mesh data=${e.mesh.data},model=${e.mesh.model} on ${e.devices} x ${e.device.name} (${e.device.peakTflops} TFLOP/s bf16, ${(e.device.hbmBytes / 1e9).toFixed(1)} GB = ${gib(e.device.hbmBytes)} at ${e.device.hbmGBps} GB/s), ${e.topology.nodes} node(s) of ${Math.min(e.topology.devicesPerNode, e.devices)}: model axis on ${e.topology.model === 'link' ? 'the intra-node link' : 'the network'} (${e.device.linkGBps} GB/s), data axis on ${e.topology.data === 'link' ? 'the intra-node link' : `the network (${e.device.netGBps} GB/s per device)`}`,
    e.compiled.extrapolated
      ? `(modelled from plans of ${e.compiled.depths.join(' and ')} blocks, every figure extrapolated linearly to ${e.compiled.depth}: the blocks are identical; compiled in ${e.compiled.seconds.toFixed(1)} s)`
      : `(modelled from the plan of all ${e.compiled.depth} blocks, compiled in ${e.compiled.seconds.toFixed(1)} s)`,
    'memory per device:',
    `  parameters          ${gib(m.parameters)}`,
    `  gradients           ${gib(m.gradients)}`,
    `  optimizer state     ${gib(m.optimizerState)}`,
    ...(m.constants ? [`  constants           ${gib(m.constants)}`] : []),
    `  activation arena    ${gib(m.arena)}: at its peak ${gib(m.activations)} activations, ${gib(m.gatheredWeights)} gathered weights in flight, ${gib(m.communicationBuffers)} communication buffers, ${gib(m.fragmentation)} packing waste`,
    `  total               ${gib(m.total)} of ${gib(m.capacity)} (${gib(m.reserve)} kept for the runtime): ${m.fits ? `fits, ${gib(m.headroom)} headroom` : `DOES NOT FIT, short by ${gib(-m.headroom)}`}`,
    ...(m.advice.length ? ['  to make it fit:', ...m.advice.map((a) => `    - ${a}`)] : []),
    `FLOPs per device per step: model ${(e.flops.modelPerDevice / 1e12).toFixed(2)} TFLOP (PaLM count, as bench step), hardware ${(e.flops.hardwarePerDevice / 1e12).toFixed(2)} TFLOP (every GEMM and attention launched, recomputation included)`,
    'communication per device per step:',
    ...(e.communication.length
      ? e.communication.map((c) => `  ${`${c.collective} over ${c.axis}`.padEnd(26)} ${String(c.calls).padStart(5)} calls, sends ${gib(c.sentBytes)} on ${c.carrier === 'link' ? 'the intra-node link' : 'the network'}, ${ms(c.seconds)}`)
      : ['  none (one device)']),
    `modelled step time: ${ms(e.time.stepSeconds)} (${e.time.imagesPerSecond.toFixed(1)} images/s); without overlap ${ms(e.time.unoverlappedSeconds)}; communication ${ms(e.time.communicationSeconds)}, exposed ${ms(e.time.exposedCommunicationSeconds)}${e.overlapModel !== 'plan' ? ` [${e.overlapModel}]` : ''}`,
    `MFU (modelled): ${pct(e.mfu.withOverlap)} with overlap, ${pct(e.mfu.withoutOverlap)} without; HFU ${pct(e.mfu.hfu)}`,
    `critical path: ${e.criticalPath.instructions} instructions: GEMMs ${ms(e.criticalPath.secondsByClass.gemm)}, attention ${ms(e.criticalPath.secondsByClass.attention)}, memory-bound ${ms(e.criticalPath.secondsByClass.memory)}, waiting on collectives ${ms(e.criticalPath.secondsByClass.collective)}; longest:`,
    ...e.criticalPath.top.slice(0, 5).map((t) => `  ${ms(t.seconds).padStart(10)}  ${t.kernel} ${t.note}`),
  ];
  return lines.join('\n') + '\n';
}

export function formatSearch(r: SearchResult): string {
  const lines = [
    `search: ${r.chips} x ${r.device}, global batch ${r.batch}, ${r.precision}: ${r.evaluated} settings modelled in ${r.seconds.toFixed(1)} s`,
    'best by modelled step time:',
    ...r.best.map(
      (c, i) =>
        `  ${i + 1}. data=${c.mesh.data},model=${c.mesh.model} ZeRO ${c.zero} remat ${c.remat} overlap ${c.overlap}: ${ms(c.stepSeconds)} per step, ${c.imagesPerSecond.toFixed(0)} images/s, MFU ${pct(c.mfu)}, ${gib(c.memoryBytes)} per device`,
    ),
    ...(r.best.length ? [] : ['  nothing fits']),
    'rejected:',
    ...r.rejected.map((x) => `  data=${x.mesh.data},model=${x.mesh.model}${x.zero !== undefined ? ` ZeRO ${x.zero}` : ''}${x.remat ? ` remat ${x.remat}` : ''}: ${x.reason}`),
  ];
  return lines.join('\n') + '\n';
}

export function runCalibrate(file: string | undefined, json: boolean, io: CliIO): number {
  using device = openDevice({ device: 'cpu' });
  const c = measureCalibration(device, { log: (s) => io.err(`calibrating: ${s}\n`) });
  const where = writeCalibration(c, file ?? defaultCalibrationPath());
  if (json) io.out(JSON.stringify({ file: where, ...c }, null, 2) + '\n');
  else {
    const best = Math.max(...c.gemm.map((g) => g.gflops));
    io.out(`calibrated ${c.cpu} (${c.threads} threads): GEMM up to ${best.toFixed(1)} GFLOP/s over ${c.gemm.length} shapes, ${c.bandwidthGBps.toFixed(1)} GB/s streaming (${c.cacheBandwidthGBps.toFixed(1)} in cache), ${c.launchUs.toFixed(1)} us per launch\nwritten to ${where}\n`);
  }
  return 0;
}

export { search };
