/**
 * How long one GEMM takes, from its shape: the larger of its compute time and its memory time.
 *
 *   compute = 2·m·n·k·batch / (peak · gemmEfficiency · quantization(m, n, k))
 *   memory  = (bytes of A + B + C, C twice when it is accumulated into) / (HBM · hbmEfficiency)
 *
 * quantization is tile padding: a GEMM computes whole tiles, so m is rounded up to the tile's rows,
 * n to its columns and k to its depth; the work done on padding is wasted (a 130-row GEMM costs as
 * much as 256 rows on 128-row tiles). That is what the efficiency model "by shape" captures; the
 * large-GEMM efficiency is the card's (devices.ts). On the CPU, a calibration (calibration.ts) gives
 * the measured rate of the nearest measured shape instead.
 */
import type { DeviceSpec } from './devices';

export interface GemmShape {
  m: number;
  n: number;
  k: number;
  batch?: number;
  /** Bytes of the A, B and C views (C counted twice when beta != 0). */
  bytes: number;
}

/** A measured rate table (the CPU calibration): GFLOP/s by shape. */
export interface GemmRate {
  rate(m: number, n: number, k: number): number;
}

function padded(x: number, tile: number): number {
  return Math.ceil(x / tile) * tile;
}

/** The fraction of the tiles' work that is useful: m·n·k over the padded m·n·k. */
export function tileQuantization(m: number, n: number, k: number, tile: DeviceSpec['tile']): number {
  return (m / padded(m, tile.m)) * (n / padded(n, tile.n)) * (k / padded(k, tile.k));
}

export function gemmFlops(s: { m: number; n: number; k: number; batch?: number }): number {
  return 2 * s.m * s.n * s.k * (s.batch ?? 1);
}

/** Seconds of one GEMM launch on `d` (without the launch cost). */
export function gemmSeconds(d: DeviceSpec, s: GemmShape, measured?: GemmRate): number {
  const flops = gemmFlops(s);
  const rate = measured ? measured.rate(s.m, s.n, s.k) * 1e9 : d.peakTflops * 1e12 * d.gemmEfficiency * tileQuantization(s.m, s.n, s.k, d.tile);
  const compute = flops / rate;
  const memory = s.bytes / (d.hbmGBps * 1e9 * d.hbmEfficiency);
  return Math.max(compute, memory);
}
