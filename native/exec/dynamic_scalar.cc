#include "exec/dynamic_scalar.h"

#include <cmath>
#include <cstdio>

#include "core/status.h"

namespace vit::exec {

std::string numberText(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

void checkScalarValue(const std::string& kernel, const std::string& name, double value,
                      const ScalarRange& range, const std::string& source) {
  bool ok = std::isfinite(value) && value >= range.lo &&
            (range.hiOpen ? value < range.hi : value <= range.hi) &&
            (!range.integer || std::floor(value) == value);
  if (ok) return;
  std::string interval = "[" + numberText(range.lo) + ", " + numberText(range.hi) +
                         (range.hiOpen ? ")" : "]");
  throw Error(ErrorCode::InvalidArgument,
              kernel + " " + name + " is out of range" + (source.empty() ? "" : " (" + source + ")"),
              std::string(range.integer ? "an integer" : "a finite number") + " in " + interval,
              numberText(value));
}

DynamicScalar DynamicScalar::fixed(const std::string& kernel, const std::string& name, double value,
                                   const ScalarRange& range) {
  checkScalarValue(kernel, name, value, range);
  DynamicScalar s;
  s.kind_ = Kind::Fixed;
  s.value_ = value;
  return s;
}

DynamicScalar DynamicScalar::runScalar(const std::string& kernel, const std::string& name,
                                       uint32_t index, const ScalarRange& range) {
  DynamicScalar s;
  s.kind_ = Kind::RunScalar;
  s.index_ = index;
  s.kernel_ = kernel;
  s.name_ = name;
  s.range_ = range;
  return s;
}

DynamicScalar DynamicScalar::deviceRead(const std::string& kernel, const std::string& name,
                                        const float* deviceAddress, const ScalarRange& range) {
  DynamicScalar s;
  s.kind_ = Kind::DeviceRead;
  s.address_ = deviceAddress;
  s.kernel_ = kernel;
  s.name_ = name;
  s.range_ = range;
  return s;
}

double DynamicScalar::resolve(RunContext& run) const {
  switch (kind_) {
    case Kind::Fixed:
      return value_;
    case Kind::RunScalar: {
      checkRunValue(run);
      return run.runScalar(index_);
    }
    case Kind::DeviceRead: {
      // On CUDA this is a synchronous download, which breaks graph capture: issue 7 moves dynamic
      // scalars to device pointers that the kernels read themselves.
      double v = run.readF32(address_);
      checkScalarValue(kernel_, name_, v, range_, "read from plan memory");
      return v;
    }
  }
  return value_;
}

float DynamicScalar::resolveF32(RunContext& run, const float*& ptr) const {
  ptr = nullptr;
  if (kind_ == Kind::Fixed || !run.scalarsOnDevice()) return static_cast<float>(resolve(run));
  if (kind_ == Kind::RunScalar) {
    checkRunValue(run);
    ptr = run.runScalarF32Ptr(index_);
    return static_cast<float>(run.runScalar(index_));
  }
  ptr = address_;
  return 0.0f;
}

int64_t DynamicScalar::resolveI64(RunContext& run, const int64_t*& ptr) const {
  ptr = nullptr;
  if (kind_ == Kind::RunScalar && run.scalarsOnDevice()) {
    checkRunValue(run);
    ptr = run.runScalarI64Ptr(index_);
    return static_cast<int64_t>(run.runScalar(index_));
  }
  // Integer ranges are checked to be whole and finite, so the conversion is exact.
  return static_cast<int64_t>(resolve(run));
}

void DynamicScalar::checkRunValue(RunContext& run) const {
  if (kind_ != Kind::RunScalar) return;
  checkScalarValue(kernel_, name_, run.runScalar(index_), range_,
                   "run scalar " + std::to_string(index_));
}

}  // namespace vit::exec
