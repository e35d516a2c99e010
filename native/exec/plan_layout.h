// The Plan of lib/runtime/plan-format.ts as plain C++ values, without the kernel specs (those are
// read by the addon's launchers, which return KernelCalls). native/addon/plan_loader.cc fills it
// from the JavaScript object; native/exec validates and runs it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vit::exec {

constexpr uint64_t kPlanVersion = 1;

// PlanView: `bytes` bytes of slot `slot` from byte `offset`. Values as given (any integer below
// 2^64); validation decides whether they fit.
struct ViewRef {
  uint64_t slot = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// Where an instruction sits, for messages: "stream 1, instruction 4 ('block3/mlp gemm')".
struct InstructionLocation {
  size_t stream = 0;
  size_t index = 0;
  std::string note;
  std::string describe() const;
};

struct InstructionInfo {
  std::string kernel;
  std::vector<uint64_t> waits;  // events that must be recorded before it starts
  bool records = false;
  uint64_t record = 0;          // the event recorded when it ends (when `records`)
  InstructionLocation where;
};

struct PlanLayout {
  uint64_t version = 0;
  uint64_t arenaBytes = 0;
  std::vector<uint64_t> slotBytes;  // [0] is the arena
  uint64_t events = 0;
  std::vector<std::vector<InstructionInfo>> streams;
  std::vector<ViewRef> inputs;
  std::vector<ViewRef> outputs;
  uint64_t scalars = 0;
};

// One instruction of the execution order.
struct StepRef {
  uint32_t stream = 0;
  uint32_t index = 0;
};

}  // namespace vit::exec
