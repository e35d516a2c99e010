// Reading the operands of a kernel spec (DeviceHandle.launch(name, spec)) with the checks every
// launcher needs: buffers live, on this device and large enough (sizes computed with overflow
// checks), scalars finite and in range, 64-bit integers exact. Each failure is a typed vit::Error
// that names the kernel and the field.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "addon/buffer_handle.h"
#include "addon/device_state.h"
#include "core/dtype.h"

namespace vit::addon {

// count * elementBytes, or ERR_SHAPE_MISMATCH when it does not fit in 63 bits.
int64_t checkedBytes(const char* kernel, const char* name, int64_t count, int64_t elementBytes);

// spec[name] as a live buffer of `device` holding at least needBytes (ERR_INVALID_ARGUMENT,
// ERR_DISPOSED, ERR_DEVICE_MISMATCH, ERR_SHAPE_MISMATCH in that order).
BufferHandle* specBuffer(Napi::Env env, const Napi::Object& spec, const char* kernel,
                         const char* name, const std::shared_ptr<DeviceState>& device,
                         int64_t needBytes);
// Whether spec[name] is present (neither undefined nor null).
bool specHas(const Napi::Object& spec, const char* name);

// spec[name] as a dtype name restricted to f32 | bf16 (ERR_DTYPE_MISMATCH otherwise).
DType specStorageType(const Napi::Object& spec, const char* kernel, const char* name);

// A finite number in [lo, hi] (hiOpen: [lo, hi)); ERR_INVALID_ARGUMENT naming the range otherwise.
double specScalar(const Napi::Object& spec, const char* kernel, const char* name, double lo,
                  double hi, bool hiOpen = false);

// A non-negative integer below 2^64: a safe-integer number or a BigInt.
uint64_t specU64(const Napi::Object& spec, const char* kernel, const char* name);

// ERR_INVALID_ARGUMENT when two operands that are written (or one written, one read) are the
// same buffer: an in-place update through aliased operands would read half-updated values.
void requireDistinct(const char* kernel, const char* nameA, const BufferHandle* a,
                     const char* nameB, const BufferHandle* b);

}  // namespace vit::addon
