// Checks shared by the launchers of elementwise, reduction and loss kernels: storage types,
// element counts that cannot overflow, and buffers that are live, on the device and large enough.
// Each failure is a typed vit::Error naming the op and the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "addon/buffer_handle.h"
#include "addon/device_state.h"
#include "core/dtype.h"

namespace vit::addon {

// spec[name] parsed as a dtype name, one of `allowed` (ERR_DTYPE_MISMATCH otherwise).
DType dtypeOf(const Napi::Object& spec, const char* op, const char* name,
              std::initializer_list<DType> allowed);

// The product of `dims` (a shape), ERR_SHAPE_MISMATCH when it exceeds 2^62 elements.
int64_t elementsOf(const char* op, std::initializer_list<int64_t> dims);

// spec[name] as a buffer of this device holding at least `elements` of `dtype`:
// ERR_INVALID_ARGUMENT (not a buffer), ERR_DISPOSED, ERR_DEVICE_MISMATCH, ERR_SHAPE_MISMATCH (too
// small, with the byte counts).
BufferHandle* operandOf(Napi::Env env, const Napi::Object& spec, const char* op, const char* name,
                        const std::shared_ptr<DeviceState>& device, int64_t elements, DType dtype);
// The same for a value that is not a property of spec (an array element); `name` labels it.
BufferHandle* operandValue(Napi::Env env, const Napi::Value& value, const char* op,
                           const std::string& name, const std::shared_ptr<DeviceState>& device,
                           int64_t elements, DType dtype);

// True when spec[name] is absent (undefined or null): an optional output.
bool absent(const Napi::Object& spec, const char* name);

// ERR_INVALID_ARGUMENT when an output buffer is also one of the inputs (the kernels read inputs
// while writing outputs, so aliasing would make the result depend on the order of the work).
void requireDistinct(const char* op, BufferHandle* output, std::initializer_list<BufferHandle*> inputs);

// A finite number, or ERR_INVALID_ARGUMENT; with lo <= hi given, also in [lo, hi].
float finiteProp(const Napi::Object& spec, const char* op, const char* name);
float rangedProp(const Napi::Object& spec, const char* op, const char* name, double lo, double hi);

}  // namespace vit::addon
