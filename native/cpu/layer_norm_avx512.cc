// The rows of layer_norm_rows.h compiled with AVX-512 (this file gets -mavx512f -mavx512bw
// -mavx512vl -mfma): 16-lane loops and bf16 widening in one instruction. Called from layer_norm.cc
// after an isa.h check.
#include "cpu/layer_norm_rows.h"

namespace vit::cpu {

void normFwdRowsAvx512(const NormFwdRows& p, const float* x, float* y, int64_t r0, int64_t r1) {
  normFwdRows(p, x, y, r0, r1);
}
void normFwdRowsAvx512(const NormFwdRows& p, const uint16_t* x, uint16_t* y, int64_t r0, int64_t r1) {
  normFwdRows(p, x, y, r0, r1);
}
void normBwdRowsAvx512(const NormBwdRows& p, const float* x, const float* dy, const float* dres,
                       float* dx, int64_t r0, int64_t r1, float* dscalePart, float* dbiasPart) {
  normBwdRows(p, x, dy, dres, dx, r0, r1, dscalePart, dbiasPart);
}
void normBwdRowsAvx512(const NormBwdRows& p, const uint16_t* x, const uint16_t* dy,
                       const uint16_t* dres, uint16_t* dx, int64_t r0, int64_t r1,
                       float* dscalePart, float* dbiasPart) {
  normBwdRows(p, x, dy, dres, dx, r0, r1, dscalePart, dbiasPart);
}

}  // namespace vit::cpu
