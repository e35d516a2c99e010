// Spec readers shared by the launchers of row-wise kernels (layer_norm_*, gelu_*): storage dtypes,
// overflow-checked element counts, and buffers checked for disposal, device and size, each failure
// a typed vit::Error naming the kernel and the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "addon/buffer_handle.h"
#include "addon/device_state.h"
#include "core/dtype.h"

namespace vit::addon {

// spec[name] parsed as a dtype; ERR_DTYPE_MISMATCH unless f32 or bf16.
DType storageTypeProp(const Napi::Object& spec, const char* name, const char* kernel);

// a * b elements, ERR_SHAPE_MISMATCH when the product (in bytes of `elemBytes`) passes 2^63.
int64_t checkedElements(int64_t a, int64_t b, int64_t elemBytes, const char* kernel);

// spec[name] as a live BufferHandle of `device` holding at least needBytes: ERR_INVALID_ARGUMENT
// (not a buffer), ERR_DISPOSED, ERR_DEVICE_MISMATCH, ERR_SHAPE_MISMATCH with both byte counts.
BufferHandle* bufferProp(Napi::Env env, const Napi::Object& spec, const char* name,
                         const std::shared_ptr<DeviceState>& device, int64_t needBytes,
                         const char* kernel);
// The same, or nullptr when spec[name] is undefined or null.
BufferHandle* optionalBufferProp(Napi::Env env, const Napi::Object& spec, const char* name,
                                 const std::shared_ptr<DeviceState>& device, int64_t needBytes,
                                 const char* kernel);

// ERR_INVALID_ARGUMENT when `output` is one of `others` (nullptr entries are skipped).
void requireDistinct(const BufferHandle* output, const char* outputName,
                     std::initializer_list<const BufferHandle*> others, const char* kernel);

}  // namespace vit::addon
