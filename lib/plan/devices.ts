/**
 * The accelerators the planner knows: dense bf16 peak, HBM size and bandwidth, the link inside a node
 * and the network per device, from the vendors' datasheets (each figure's source beside it). The
 * "sustained" fractions and latencies are modelling parameters, not datasheet figures: each says why
 * it has the value it has. Every figure can be overridden from the command line (--peak-tflops,
 * --hbm-gbps, --link-gbps).
 *
 * Bandwidths are per device and per direction (a ring sends one way and receives the other, so a
 * full-duplex link's one-way figure is what a ring step runs at).
 */
import { Vit22bError } from '../runtime/errors';

export interface DeviceSpec {
  id: string;
  name: string;
  /** Dense (no sparsity) bf16 matrix peak, TFLOP/s. */
  peakTflops: number;
  /** Device memory, bytes. */
  hbmBytes: number;
  /** Peak memory bandwidth, GB/s (1e9 bytes). */
  hbmGBps: number;
  /** Fraction of hbmGBps a streaming kernel sustains. */
  hbmEfficiency: number;
  /** Fraction of peakTflops the vendor GEMM library sustains on large, well-shaped bf16 GEMMs. */
  gemmEfficiency: number;
  /** GEMM tile (rows x cols of C per tile, depth per k step): the granularity that pads small or odd shapes. */
  tile: { m: number; n: number; k: number };
  /** Intra-node link, GB/s per direction per device (NVLink through NVSwitch; TPU ICI). */
  linkGBps: number;
  /** Network per device, GB/s per direction (the NIC share of one device; TPU: ICI again). */
  netGBps: number;
  /** Latency of one ring step (one hop) on the link and on the network, microseconds. */
  linkLatencyUs: number;
  netLatencyUs: number;
  /** Devices per node (the NVLink domain); the model axis is placed inside a node first. */
  devicesPerNode: number;
  /** Fixed cost of one kernel launch, microseconds (a memory-bound kernel costs at least this). */
  launchUs: number;
  /** Where the datasheet figures come from. */
  source: string;
}

const GiB = 2 ** 30;
const GB = 1e9;

/*
 * Modelling parameters shared by the NVIDIA entries (chosen, not measured here):
 * - gemmEfficiency 0.8: ../shared/design/VIT22B.md records cuBLAS reaching about 790-800 of the
 *   H100 SXM's 989 TFLOP/s on large bf16 GEMMs; the same fraction is assumed for the other cards.
 * - hbmEfficiency 0.85: a streaming copy sustains roughly 85-90% of HBM peak on these cards; 0.85 is
 *   the low end, since our memory-bound kernels are plain loops, not tuned copies.
 * - tile 128 x 128 x 64: the CTA tile of the large cuBLAS/CUTLASS bf16 kernels; m and n are padded to
 *   it (tile quantization), which is what makes skinny GEMMs slow.
 * - 3 us per NVLink hop and 10 us per network hop: NCCL ring step latencies are a few microseconds
 *   inside a node and around ten across InfiniBand/RoCE.
 * - 4 us per launch: a CUDA kernel launch plus its gap on the stream, without CUDA graphs.
 */
const nvidia = { hbmEfficiency: 0.85, gemmEfficiency: 0.8, tile: { m: 128, n: 128, k: 64 }, linkLatencyUs: 3, netLatencyUs: 10, devicesPerNode: 8, launchUs: 4 };

export const DEVICES: Record<string, DeviceSpec> = {
  // NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 1,979 TFLOP/s with sparsity = 989.4 dense;
  // 80 GB HBM3 at 3.35 TB/s; NVLink 900 GB/s (bidirectional: 450 one way). Network: DGX/HGX H100 has
  // one 400 Gb/s ConnectX-7 NIC per GPU = 50 GB/s one way.
  'h100-sxm': { id: 'h100-sxm', name: 'NVIDIA H100 SXM 80GB', peakTflops: 989.4, hbmBytes: 80 * GB, hbmGBps: 3350, linkGBps: 450, netGBps: 50, ...nvidia, source: 'NVIDIA H100 datasheet (SXM5); DGX H100 ConnectX-7 400 Gb/s per GPU' },
  // H100 datasheet (PCIe): BF16 1,513 with sparsity = 756 dense; 80 GB HBM2e at 2.0 TB/s; GPUs talk
  // over PCIe Gen5 x16 (128 GB/s bidirectional: 64 one way) unless NVLink-bridged in pairs, which a
  // ring over 8 cannot rely on. Network assumed 400 Gb/s per GPU, as the SXM systems.
  'h100-pcie': { id: 'h100-pcie', name: 'NVIDIA H100 PCIe 80GB', peakTflops: 756, hbmBytes: 80 * GB, hbmGBps: 2000, linkGBps: 64, netGBps: 50, ...nvidia, source: 'NVIDIA H100 datasheet (PCIe); PCIe Gen5 x16' },
  // NVIDIA H200 datasheet: the H100 SXM's compute (989 TFLOP/s dense BF16) with 141 GB HBM3e at
  // 4.8 TB/s; NVLink 900 GB/s; 400 Gb/s per GPU in HGX H200 systems.
  h200: { id: 'h200', name: 'NVIDIA H200 141GB', peakTflops: 989.4, hbmBytes: 141 * GB, hbmGBps: 4800, linkGBps: 450, netGBps: 50, ...nvidia, source: 'NVIDIA H200 datasheet' },
  // NVIDIA A100 datasheet (SXM4 80GB): BF16 312 TFLOP/s dense; 80 GB HBM2e at 2,039 GB/s; NVLink
  // 600 GB/s (300 one way). DGX A100: one 200 Gb/s HDR NIC per GPU = 25 GB/s one way.
  a100: { id: 'a100', name: 'NVIDIA A100 SXM4 80GB', peakTflops: 312, hbmBytes: 80 * GB, hbmGBps: 2039, linkGBps: 300, netGBps: 25, ...nvidia, source: 'NVIDIA A100 datasheet (SXM4 80GB); DGX A100 HDR 200 Gb/s per GPU' },
  // NVIDIA HGX B200 datasheet (1,000 W): BF16 4.5 PFLOP/s with sparsity = 2,250 dense per GPU;
  // 1.44 TB HBM3e per 8 GPUs = 180 GB at 8 TB/s; NVLink 5 1.8 TB/s (900 one way); networking
  // 0.8 TB/s per 8 GPUs (bidirectional) = 400 Gb/s = 50 GB/s one way per GPU.
  b200: { id: 'b200', name: 'NVIDIA B200 180GB', peakTflops: 2250, hbmBytes: 180 * GB, hbmGBps: 8000, linkGBps: 900, netGBps: 50, ...nvidia, source: 'NVIDIA HGX B200 datasheet' },
  // Google Cloud TPU v4 documentation (cloud.google.com/tpu/docs/v4) and Jouppi et al., "TPU v4: An
  // Optically Reconfigurable Supercomputer..." (ISCA 2023): 275 TFLOP/s bf16 per chip, 32 GiB HBM2
  // at 1,200 GB/s, 3-D torus of ICI links; all-reduce bandwidth 1.1 PB/s per 4,096-chip pod =
  // 268 GB/s per chip over its 6 links, about 45 GB/s per link one way. A ring on one torus axis
  // uses one link each way: 45 GB/s. There is no separate network: every chip of a slice is on ICI,
  // so "node" and "network" are the same fabric (devicesPerNode 4: one host's board).
  // Modelling parameters: gemmEfficiency 0.8 as the GPUs (the MXUs are 128 x 128 systolic arrays,
  // whence the tile); launch cost 1 us (XLA runs a compiled program, no host launch per op: what
  // remains is per-op pipeline fill); ICI hop latency 2 us.
  'tpu-v4': {
    id: 'tpu-v4',
    name: 'Google TPU v4',
    peakTflops: 275,
    hbmBytes: 32 * GiB,
    hbmGBps: 1200,
    hbmEfficiency: 0.85,
    gemmEfficiency: 0.8,
    tile: { m: 128, n: 128, k: 128 },
    linkGBps: 45,
    netGBps: 45,
    linkLatencyUs: 2,
    netLatencyUs: 2,
    devicesPerNode: 4,
    launchUs: 1,
    source: 'Google Cloud TPU v4 documentation; Jouppi et al., ISCA 2023',
  },
};

export function deviceIds(): string[] {
  return [...Object.keys(DEVICES), 'cpu'];
}

export function getDevice(id: string): DeviceSpec {
  const d = Object.hasOwn(DEVICES, id) ? DEVICES[id] : undefined;
  if (!d) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `unknown device '${id}'`, { field: 'device', expected: deviceIds().join(', '), received: String(id) });
  }
  return { ...d, tile: { ...d.tile } };
}

export interface DeviceOverrides {
  peakTflops?: number;
  hbmGBps?: number;
  linkGBps?: number;
}

/** The device with --peak-tflops / --hbm-gbps / --link-gbps applied (--link-gbps sets the network too when they were equal). */
export function withOverrides(d: DeviceSpec, o: DeviceOverrides): DeviceSpec {
  const out = { ...d, tile: { ...d.tile } };
  if (o.peakTflops !== undefined) out.peakTflops = o.peakTflops;
  if (o.hbmGBps !== undefined) out.hbmGBps = o.hbmGBps;
  if (o.linkGBps !== undefined) {
    if (d.netGBps === d.linkGBps) out.netGBps = o.linkGBps;
    out.linkGBps = o.linkGBps;
  }
  return out;
}
