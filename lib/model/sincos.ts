/**
 * Fixed 2-D sine-cosine position embeddings (MoCo v3 / big_vision `posemb_sincos_2d`): a quarter of
 * the width each for sin(y w), cos(y w), sin(x w), cos(x w), with frequencies w_k = 1 / 10000^(k / (D/4)).
 * Returns [gh * gw, D], row-major grid order (the order patchify produces).
 */
export function sincos2d(gh: number, gw: number, width: number, temperature = 10000): Float32Array {
  const quarter = width / 4;
  const out = new Float32Array(gh * gw * width);
  for (let y = 0; y < gh; ++y) {
    for (let x = 0; x < gw; ++x) {
      const row = (y * gw + x) * width;
      for (let k = 0; k < quarter; ++k) {
        const w = 1 / Math.pow(temperature, k / quarter);
        out[row + k] = Math.sin(y * w);
        out[row + quarter + k] = Math.cos(y * w);
        out[row + 2 * quarter + k] = Math.sin(x * w);
        out[row + 3 * quarter + k] = Math.cos(x * w);
      }
    }
  }
  return out;
}
