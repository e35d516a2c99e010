// Events between streams, and the one order in which a plan's instructions run.
#pragma once

#include <vector>

#include "exec/plan_layout.h"

namespace vit::exec {

// Checks the plan's events (every wait and record in [0, events); each event recorded by exactly
// one instruction; no wait on an event that nothing records) and simulates the streams: each
// stream runs in its own order, and an instruction starts once every event it waits on has been
// recorded. A plan that cannot finish (a cycle of waits, a wait on an event recorded later on the
// same stream) is ERR_INVALID_PLAN naming a blocked instruction and its event.
//
// Returns the order of the simulation: streams interleaved, each run as far as its waits allow
// before the next is visited. The CPU backend runs plans serially in this order; CUDA does too for
// now, on the backend's one stream (concurrent CUDA streams with cudaEvents come with the
// communication overlap work).
std::vector<StepRef> scheduleStreams(const PlanLayout& plan);

}  // namespace vit::exec
