#include "exec/schedule.h"

#include <string>

#include "exec/plan_error.h"

namespace vit::exec {

namespace {

std::string eventRange(uint64_t events) {
  return events == 0 ? "no events (the plan declares none)"
                     : "an event id in [0, " + std::to_string(events) + ")";
}

// Which instruction records each event; every check that needs only the plan's text.
std::vector<const InstructionInfo*> recorders(const PlanLayout& plan) {
  std::vector<const InstructionInfo*> recordedBy(plan.events, nullptr);
  for (const auto& stream : plan.streams) {
    for (const InstructionInfo& ins : stream) {
      for (size_t w = 0; w < ins.waits.size(); ++w) {
        if (ins.waits[w] >= plan.events) {
          throwPlanError(ins.where, "wait[" + std::to_string(w) + "]", "no such event",
                         eventRange(plan.events), std::to_string(ins.waits[w]));
        }
      }
      if (!ins.records) continue;
      if (ins.record >= plan.events) {
        throwPlanError(ins.where, "record", "no such event", eventRange(plan.events),
                       std::to_string(ins.record));
      }
      if (const InstructionInfo* first = recordedBy[ins.record]) {
        throwPlanError(ins.where, "record",
                       "event " + std::to_string(ins.record) + " is already recorded by " +
                           first->where.describe(),
                       "each event recorded by exactly one instruction",
                       "event " + std::to_string(ins.record) + " recorded twice");
      }
      recordedBy[ins.record] = &ins;
    }
  }
  for (const auto& stream : plan.streams) {
    for (const InstructionInfo& ins : stream) {
      for (size_t w = 0; w < ins.waits.size(); ++w) {
        if (!recordedBy[ins.waits[w]]) {
          throwPlanError(ins.where, "wait[" + std::to_string(w) + "]",
                         "waits on event " + std::to_string(ins.waits[w]) +
                             ", which no instruction records",
                         "an event that some instruction records",
                         "event " + std::to_string(ins.waits[w]));
        }
      }
    }
  }
  for (uint64_t e = 0; e < plan.events; ++e) {
    if (!recordedBy[e]) {
      throwPlanError("events", "event " + std::to_string(e) + " is never recorded",
                     "each of the " + std::to_string(plan.events) +
                         " events recorded by exactly one instruction",
                     "event " + std::to_string(e) + " unrecorded");
    }
  }
  return recordedBy;
}

}  // namespace

std::vector<StepRef> scheduleStreams(const PlanLayout& plan) {
  const std::vector<const InstructionInfo*> recordedBy = recorders(plan);
  size_t total = 0;
  for (const auto& stream : plan.streams) total += stream.size();

  std::vector<bool> recorded(plan.events, false);
  std::vector<size_t> next(plan.streams.size(), 0);
  std::vector<StepRef> order;
  order.reserve(total);
  auto ready = [&](const InstructionInfo& ins) {
    for (uint64_t e : ins.waits) {
      if (!recorded[e]) return false;
    }
    return true;
  };
  while (order.size() < total) {
    bool progressed = false;
    for (size_t s = 0; s < plan.streams.size(); ++s) {
      const auto& stream = plan.streams[s];
      while (next[s] < stream.size() && ready(stream[next[s]])) {
        const InstructionInfo& ins = stream[next[s]];
        order.push_back(StepRef{static_cast<uint32_t>(s), static_cast<uint32_t>(next[s])});
        if (ins.records) recorded[ins.record] = true;
        ++next[s];
        progressed = true;
      }
    }
    if (progressed) continue;
    // Nothing can start: name the first blocked instruction, the event it waits for, and the
    // instruction that would record it (itself blocked, directly or through others).
    for (size_t s = 0; s < plan.streams.size(); ++s) {
      if (next[s] == plan.streams[s].size()) continue;
      const InstructionInfo& ins = plan.streams[s][next[s]];
      for (uint64_t e : ins.waits) {
        if (recorded[e]) continue;
        throwPlanError(ins.where, "wait",
                       "deadlock: waits on event " + std::to_string(e) + ", recorded by " +
                           recordedBy[e]->where.describe() + ", which can never run before it",
                       "waits on events recorded earlier in an order the streams can follow",
                       "a cycle of waits through event " + std::to_string(e));
      }
    }
  }
  return order;
}

}  // namespace vit::exec
