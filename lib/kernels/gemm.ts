import { f, kernel, type Check } from './declare';

// Stored shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k]; C is [m, n].
const ROWS = { A: 'transA ? k : m', B: 'transB ? n : k', C: 'm' };
const COLS = { A: 'transA ? m : k', B: 'transB ? k : n', C: 'n' };

function ldCheck(op: 'A' | 'B' | 'C'): Check {
  return {
    holds: `ld${op.toLowerCase()} >= (${COLS[op]})`,
    message: `ld${op} is smaller than the row length of ${op}`,
    expected: `ld${op} >= \${${COLS[op]}}`,
    received: `\${ld${op.toLowerCase()}}`,
    example: (s) => {
      const cols = { A: s.transA ? s.m : s.k, B: s.transB ? s.k : s.n, C: s.n }[op];
      return cols > 0 ? { [`ld${op.toLowerCase()}`]: cols - 1 } : undefined;
    },
  };
}

function span(op: 'A' | 'B' | 'C'): string {
  const l = op.toLowerCase();
  return `matrixSpan(batch, ${ROWS[op]}, ${COLS[op]}, ld${l}, stride${op})`;
}

export default kernel({
  name: 'gemm',
  fn: 'gemm',
  struct: 'GemmArgs',
  doc: `Strided-batched GEMM, row-major, for b in [0, batch):
  C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]   (then the epilogue)
op(A[b]) is [m, k]: A[b] is stored [m, lda] (transA false) or [k, lda] (transA true); likewise
op(B[b]) is [k, n] from B[b] stored [k, ldb] or [n, ldb]; C[b] is stored [m, ldc]. Element strides
between batches may be 0 for A or B (one matrix shared by every batch). A and B share a storage type
(f32 or bf16); C is f32 or bf16 (bf16 A/B with an f32 C included: weight gradients written straight
into f32 buffers, beta 1 accumulating); accumulation is always f32 and C is rounded once. beta == 0
never reads C (the BLAS rule: stale NaNs in C stay out). Results do not depend on the number of
threads. The bias (optional, [n]) is of biasType: C's dtype, or f32 with a bf16 C (bf16-mixed
training keeps f32 master biases: added in f32 before C is rounded, once; on CUDA where cuBLASLt
refuses an f32 bias for a bf16 D, C is rounded twice, see cuda/gemm.cu). geluForm turns on GELU over
the columns [geluBegin, geluEnd) after the bias.`,
  fields: {
    abType: f.dtype(['f32', 'bf16'], 'f32 | bf16'),
    cType: f.dtype(['f32', 'bf16'], 'f32 | bf16'),
    transA: f.bool(),
    transB: f.bool(),
    m: f.count(),
    n: f.count(),
    k: f.count(),
    batch: f.count(),
    alpha: f.number(undefined, undefined, 1),
    beta: f.number(undefined, undefined, 0),
    lda: f.count(),
    strideA: f.count(),
    ldb: f.count(),
    strideB: f.count(),
    ldc: f.count(),
    strideC: f.count(),
    a: f.input('abType', span('A'), '[batch][m or k rows, lda]'),
    b: f.input('abType', span('B'), '[batch][k or n rows, ldb]'),
    c: f.inout('cType', span('C'), '[batch][m, ldc], read (beta != 0) and written'),
    biasType: f.dtypeOr(['f32', 'bf16'], { field: 'cType' }, "the bias's storage: f32, or C's dtype"),
    bias: f.maybe('in', 'biasType', 'n', '[n] of biasType, or nullptr (no bias)'),
    geluForm: f.enumOr('GeluForm', ['tanh', 'erf'], 'tanh'),
    geluBegin: f.countOr(0, 'GELU on the columns [geluBegin, geluEnd) when geluForm is given'),
    geluEnd: f.countOr(0),
    epilogue: f.derived(
      'GemmEpilogue',
      'has(geluForm) ? GemmEpilogue::BiasGeluColumns : has(bias) ? GemmEpilogue::Bias : GemmEpilogue::None',
      'GemmEpilogue::None',
      'from the spec: geluForm given, a bias given, or neither',
    ),
  },
  checks: [
    ldCheck('A'),
    ldCheck('B'),
    ldCheck('C'),
    // Each C element must belong to one batch, or the result would depend on thread timing.
    {
      holds: 'batch <= 1 || strideC >= (m == 0 || n == 0 ? 0 : (m - 1) * ldc + n)',
      message: 'strideC makes batches of C overlap',
      expected: 'strideC >= ${m == 0 || n == 0 ? 0 : (m - 1) * ldc + n}',
      received: '${strideC}',
      example: (s) => (s.m > 0 && s.n > 0 ? { batch: 2, strideC: 0 } : undefined),
    },
    {
      holds: "is(biasType, 'f32') || biasType == cType",
      message: "biasType must be f32 or C's dtype",
      expected: '${dtypeChoices(DType::F32, cType)}',
      received: '${dtypeText(biasType)}',
      example: () => ({ cType: 'f32', biasType: 'bf16' }),
    },
    {
      when: 'has(geluForm)',
      holds: 'has(geluBegin) && has(geluEnd)',
      message: 'geluForm needs geluBegin and geluEnd',
      expected: 'number',
      received: 'undefined',
      example: () => ({ geluForm: 'tanh', geluBegin: undefined, geluEnd: undefined }),
    },
    {
      when: 'has(geluForm)',
      holds: 'geluBegin <= geluEnd && geluEnd <= n',
      message: 'GELU column range is out of bounds',
      expected: '0 <= geluBegin <= geluEnd <= ${n}',
      received: '[${geluBegin}, ${geluEnd})',
      example: () => ({ geluForm: 'tanh', geluBegin: 1, geluEnd: 0 }),
    },
  ],
  aliases: [{ output: 'c', expected: 'C distinct from A, B and bias' }],
});
