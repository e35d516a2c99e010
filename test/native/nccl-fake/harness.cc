// Runs native/comm/nccl_communicator.cc (the real file) against the fake NCCL (fake_nccl.cc, loaded
// through cuda::loadNccl) and the host-emulated CUDA runtime (fake_cudart.cc), ranks as threads.
//   harness <path of the fake libnccl> <scenario> [key=value ...]
// prints one JSON object; test/native/nccl-communicator.test.ts asserts on it. A scenario is a
// function below plus a line in kScenarios.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>

#include "comm/nccl_communicator.h"
#include "comm/nccl_mesh.h"
#include "core/status.h"
#include "cuda/vendor_libraries.h"
#include "fake_hooks.h"
#include "harness_support.h"

using namespace vit;
using namespace vit::comm;
using harness::Json;
using harness::msSince;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::map<std::string, std::string> kv;
  int num(const std::string& key, int fallback) const {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : std::atoi(it->second.c_str());
  }
};

PfnNcclFakeCounts gNcclCounts = nullptr;
PfnNcclFakeInjectAsyncError gInject = nullptr;
constexpr uint64_t kSeed = 0x5eed2026;
constexpr int64_t kRankBoundMs = 15000;  // no rank thread may take longer (a hang otherwise)

Json errorJson(const std::function<void()>& f) {
  Json j;
  try {
    f();
    j.flag("threw", false);
  } catch (const Error& e) {
    j.flag("threw", true).str("code", errorCodeString(e.code())).str("message", e.message());
  } catch (const std::exception& e) {
    j.flag("threw", true).str("code", "not a vit::Error").str("message", e.what());
  }
  return j;
}

Json countsJson() {
  NcclFakeCounts n{};
  gNcclCounts(&n);
  CudaFakeCounts c{};
  cudaFakeCounts(&c);
  return Json()
      .num("commsCreated", n.commsCreated)
      .num("commsFinalized", n.commsFinalized)
      .num("commsDestroyed", n.commsDestroyed)
      .num("commsAborted", n.commsAborted)
      .num("destroyedUnfinalized", n.destroyedUnfinalized)
      .num("callsOnDeadComms", n.callsOnDeadComms)
      .num("operationsEnqueued", n.operationsEnqueued)
      .num("operationsCompleted", n.operationsCompleted)
      .num("operationsAbandoned", n.operationsAbandoned)
      .num("usageErrors", n.usageErrors)
      .num("eventsCreated", c.eventsCreated)
      .num("eventsRecorded", c.eventsRecorded)
      .num("eventsDestroyed", c.eventsDestroyed)
      .num("streamsCreated", c.streamsCreated)
      .num("streamsDestroyed", c.streamsDestroyed);
}

int64_t enqueuedSoFar() {
  NcclFakeCounts n{};
  gNcclCounts(&n);
  return n.operationsEnqueued;
}

NcclWorldOptions options(const Args& a, int rank) {
  NcclWorldOptions o;
  o.rank = rank;
  o.dataSize = a.num("data", 1);
  o.modelSize = a.num("model", 1);
  o.cudaDevice = rank;
  o.timeout = std::chrono::milliseconds(a.num("timeoutMs", 5000));
  return o;
}

// A rank thread's device and stream: set on construction, the stream destroyed when the rank's
// body ends, after everything declared later (its mesh or world) is gone.
struct RankStream {
  cudaStream_t stream = nullptr;
  explicit RankStream(int rank) {
    cudaSetDevice(rank);
    cudaStreamCreate(&stream);
  }
  ~RankStream() { cudaStreamDestroy(stream); }
  RankStream(const RankStream&) = delete;
  RankStream& operator=(const RankStream&) = delete;
};

// Rank r's NcclMesh (the runtime's class), its construction's outcome recorded as j.init; null when
// it threw.
std::unique_ptr<NcclMesh> openMesh(const Args& a, int r, Json& j) {
  std::unique_ptr<NcclMesh> mesh;
  j.obj("init", errorJson([&] {
    const NcclWorldOptions o = options(a, r);
    mesh = std::make_unique<NcclMesh>(o.dataSize, o.modelSize, o.rank, o.cudaDevice, o.timeout);
  }));
  return mesh;
}

// One rank built by hand (what makeNcclDeviceComms does), keeping the world for check(), abort()
// and the communicator handles the fault injection needs.
struct RankComms {
  std::shared_ptr<NcclWorld> world;
  std::shared_ptr<DeviceComms> comms;
};
RankComms openRank(const NcclWorldOptions& o) {
  RankComms rc;
  rc.world = NcclWorld::create(o);
  auto data = std::make_unique<NcclCommunicator>(rc.world, MeshAxis::Data);
  auto model = std::make_unique<NcclCommunicator>(rc.world, MeshAxis::Model);
  NcclCommunicator* d = data.get();
  NcclCommunicator* m = model.get();
  rc.comms = std::make_shared<DeviceComms>(rc.world->place(), std::move(data), std::move(model));
  d->setComms(rc.comms.get());
  m->setComms(rc.comms.get());
  return rc;
}

// ---- collectives against the reference ---------------------------------------------------------

enum class Op { AllGather, ReduceScatter, AllReduce, Permute };

struct CaseSpec {
  std::string name;
  MeshAxis axis;
  bool bf16;
  Op op;
  float scale = 1.0f;
  bool inPlace = false;
  int64_t shift = 0;  // kShiftSize: the axis size
};
constexpr int64_t kShiftSize = 1 << 20;

// The cases of one axis: every collective, both dtypes.
std::vector<CaseSpec> casesOf(MeshAxis axis) {
  std::vector<CaseSpec> cases;
  for (bool bf16 : {false, true}) {
    const std::string p = std::string(axisName(axis)) + " " + (bf16 ? "bf16" : "f32") + " ";
    cases.push_back({p + "all_gather", axis, bf16, Op::AllGather});
    cases.push_back({p + "reduce_scatter", axis, bf16, Op::ReduceScatter});
    for (float scale : {1.0f, 0.25f}) {
      for (bool inPlace : {false, true}) {
        CaseSpec c{p + "all_reduce scale " + (scale == 1.0f ? "1" : "0.25") + (inPlace ? " in place" : ""), axis, bf16, Op::AllReduce};
        c.scale = scale;
        c.inPlace = inPlace;
        cases.push_back(c);
      }
    }
    for (int64_t shift : {int64_t{1}, int64_t{-1}, int64_t{0}, kShiftSize}) {
      CaseSpec c{p + "permute shift " + (shift == kShiftSize ? std::string("size") : std::to_string(shift)), axis, bf16, Op::Permute};
      c.shift = shift;
      cases.push_back(c);
    }
  }
  return cases;
}

struct RankCtx {
  int rank;
  MeshPlace place;
  cudaStream_t stream;
  DeviceComms* comms;
};

// The global rank of axis rank j in this rank's group (rank r = d * model + m).
int memberRank(const MeshPlace& p, MeshAxis axis, int j) {
  return axis == MeshAxis::Data ? j * p.modelSize + p.model : p.data * p.modelSize + j;
}

// Runs one case on this rank (all ranks run the same case at once) and compares its result with
// the reference, bit for bit: the inputs make every f32 partial sum exact (harness_support.h), so
// the only rounding is the documented one to the dtype, and the scale 0.25 is exact.
Json runCase(const RankCtx& ctx, const CaseSpec& spec, int caseId) {
  Json j;
  j.str("case", spec.name);
  const char* opName = spec.op == Op::AllGather ? "all_gather" : spec.op == Op::ReduceScatter ? "reduce_scatter" : spec.op == Op::AllReduce ? "all_reduce" : "collective_permute";
  const int axisSize = spec.axis == MeshAxis::Data ? ctx.place.dataSize : ctx.place.modelSize;
  Stream st{ctx.stream, ctx.comms};
  Communicator& c = communicatorFor(st, spec.axis, axisSize, opName);
  const int n = c.size();
  const int ar = c.rank();
  const int64_t count = 29 + caseId % 5;
  const size_t es = spec.bf16 ? 2 : 4;
  const int64_t sendElems = spec.op == Op::ReduceScatter ? n * count : count;
  const int64_t recvElems = spec.op == Op::AllGather ? n * count : count;
  void* send = nullptr;
  void* recv = nullptr;
  cudaMalloc(&send, static_cast<size_t>(sendElems) * es);
  for (int64_t i = 0; i < sendElems; ++i) {
    harness::storeAs(send, i, harness::inputValue(kSeed, ctx.rank, caseId, i, spec.bf16), spec.bf16);
  }
  if (spec.inPlace) {
    recv = send;
  } else {
    cudaMalloc(&recv, static_cast<size_t>(recvElems) * es);
    std::memset(recv, 0x7f, static_cast<size_t>(recvElems) * es);  // "not written" is visible
  }
  const int64_t shift = spec.shift == kShiftSize ? n : spec.shift;
  switch (spec.op) {
    case Op::AllGather: c.allGather(send, recv, count, spec.bf16 ? DType::BF16 : DType::F32, st); break;
    case Op::ReduceScatter: c.reduceScatter(send, recv, count, spec.bf16 ? DType::BF16 : DType::F32, st); break;
    case Op::AllReduce: c.allReduce(send, recv, count, spec.bf16 ? DType::BF16 : DType::F32, spec.scale, st); break;
    case Op::Permute: c.permute(send, recv, count, spec.bf16 ? DType::BF16 : DType::F32, shift, st); break;
  }
  if (!cudaFakeStreamIdleWithin(ctx.stream, 5000)) {
    j.str("error", "the stream did not drain within 5 s");
    return j;
  }
  cudaStreamSynchronize(ctx.stream);
  auto in = [&](int member, int64_t i) {
    return harness::inputValue(kSeed, memberRank(ctx.place, spec.axis, member), caseId, i, spec.bf16);
  };
  std::vector<char> expected(static_cast<size_t>(recvElems) * es);
  for (int64_t i = 0; i < recvElems; ++i) {
    double v = 0;
    if (spec.op == Op::AllGather) {
      v = in(static_cast<int>(i / count), i % count);
    } else if (spec.op == Op::Permute) {
      v = in(static_cast<int>(((ar - shift) % n + n) % n), i);
    } else {
      const int64_t offset = spec.op == Op::ReduceScatter ? ar * count : 0;
      double sum = 0;
      for (int m = 0; m < n; ++m) sum += in(m, offset + i);  // exact in f64
      v = harness::roundTo(sum, spec.bf16);
      if (spec.op == Op::AllReduce) v = harness::roundTo(v * spec.scale, spec.bf16);
    }
    harness::storeAs(expected.data(), i, v, spec.bf16);
  }
  int64_t mismatches = 0;
  for (int64_t i = 0; i < recvElems; ++i) {
    if (std::memcmp(expected.data() + i * es, static_cast<char*>(recv) + i * es, es) != 0) {
      if (mismatches == 0) j.num("firstMismatch", static_cast<double>(i));
      mismatches++;
    }
  }
  j.num("elements", static_cast<double>(recvElems)).num("mismatches", static_cast<double>(mismatches));
  cudaFree(send);
  if (!spec.inPlace) cudaFree(recv);
  return j;
}

// Every collective on both axes, both dtypes, against the reference; then a clean end.
void scenarioCollectives(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  harness::Barrier barrier(n);
  std::vector<CaseSpec> cases = casesOf(MeshAxis::Data);
  for (const CaseSpec& c : casesOf(MeshAxis::Model)) cases.push_back(c);
  std::vector<int64_t> calls(cases.size(), 0);
  std::atomic<int> opened{0};
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    // Through the runtime's own class (NcclMesh: what the mesh handle holds).
    std::unique_ptr<NcclMesh> mesh = openMesh(a, r, j);
    if (!mesh) return;
    std::shared_ptr<DeviceComms> comms = mesh->comms(0);
    opened++;
    comms->setInMeshCall(true);
    std::vector<Json> results;
    for (size_t i = 0; i < cases.size(); ++i) {
      comms->setStep("run " + std::to_string(i));
      barrier.wait();
      const int64_t before = enqueuedSoFar();
      barrier.wait();
      Json result;
      Json call = errorJson([&] { result = runCase({r, comms->place(), s, comms.get()}, cases[i], static_cast<int>(i)); });
      barrier.wait();
      if (r == 0) calls[i] = enqueuedSoFar() - before;  // NCCL operations all ranks enqueued
      if (call.text().find("\"threw\":true") != std::string::npos) result.obj("threw", call);
      results.push_back(result);
    }
    j.arr("cases", results);
    j.obj("checkAfter", errorJson([&] { comms->axis(MeshAxis::Data).reset(); }));
    // The host gather (NcclWorld::gatherHost): every rank's bytes in rank order; empty ones too.
    barrier.wait();
    std::vector<uint8_t> mine(13);
    for (size_t i = 0; i < mine.size(); ++i) mine[i] = static_cast<uint8_t>(31 * r + 7 * i + 1);
    int64_t gatherWrong = -1;
    j.obj("gather", errorJson([&] {
      auto all = mesh->gatherBytes(mine.data(), mine.size(), "a test gather");
      gatherWrong = static_cast<int64_t>(all.size()) == n ? 0 : 1000;
      for (int q = 0; q < n && gatherWrong == 0; ++q) {
        for (size_t i = 0; i < mine.size(); ++i) gatherWrong += all[q].size() != mine.size() || all[q][i] != static_cast<uint8_t>(31 * q + 7 * i + 1);
      }
      auto none = mesh->gatherBytes(nullptr, 0, "an empty gather");
      for (const auto& b : none) gatherWrong += static_cast<int64_t>(b.size());
      gatherWrong += static_cast<int64_t>(none.size()) == n ? 0 : 1000;
    }));
    j.num("gatherWrong", static_cast<double>(gatherWrong));
    // A mesh step (NcclMesh::runOnEveryRank) that works: no failure reported.
    barrier.wait();
    float* x = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&x), 4 * sizeof(float));
    for (int i = 0; i < 4; ++i) x[i] = static_cast<float>(r + 1);
    std::optional<Error> stepFailure = mesh->runOnEveryRank("run last", [&](int) {
      comms->axis(MeshAxis::Model).allReduce(x, x, 4, DType::F32, 1.0f, Stream{s, comms.get()});
      cudaStreamSynchronize(s);
    });
    j.flag("stepFailed", stepFailure.has_value()).num("stepSum0", x[0]);
    cudaFree(x);
    barrier.wait();
    const Clock::time_point t0 = Clock::now();
    mesh.reset();
    comms.reset();  // the world's last owner: finalize and destroy, collectively
    j.num("destroyMs", msSince(t0));
  }, kRankBoundMs));
  std::vector<Json> perCase;
  for (size_t i = 0; i < cases.size(); ++i) perCase.push_back(Json().str("case", cases[i].name).num("ncclOperations", static_cast<double>(calls[i])));
  out.arr("ncclOperationsPerCase", perCase);
}

// Only the start-up (and, when it worked, a clean end): refusals before anything runs.
void scenarioInit(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    std::shared_ptr<DeviceComms> comms;
    j.obj("init", errorJson([&] { comms = makeNcclDeviceComms(NcclWorld::create(options(a, r))); }));
    comms.reset();
  }, kRankBoundMs));
}

// Rank `missing` never calls NcclWorld::create: the others time out at ncclCommInitRankConfig.
void scenarioInitMissingRank(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  const int missing = a.num("missing", n - 1);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    if (r == missing) return;  // never joins
    const Clock::time_point t0 = Clock::now();
    std::shared_ptr<DeviceComms> comms;
    j.obj("init", errorJson([&] { comms = makeNcclDeviceComms(NcclWorld::create(options(a, r))); }));
    j.num("elapsedMs", msSince(t0));
  }, kRankBoundMs));
}

// Rank `missing` skips one all_reduce over 'model': its model peer's watchdog aborts.
void scenarioCollectiveMissingRank(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  const int missing = a.num("missing", 1);
  harness::Barrier barrier(n);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    RankComms rc;
    j.obj("init", errorJson([&] { rc = openRank(options(a, r)); }));
    if (!rc.world) return;
    rc.comms->setInMeshCall(true);
    const MeshPlace place = rc.world->place();
    const bool peerOfMissing = r != missing && place.data == MeshPlace::of(missing, place.dataSize, place.modelSize).data;
    // Step 1: everyone takes part (a working communicator, before the fault), starting together so
    // that the short timeout of this scenario only ever expires in step 2.
    barrier.wait();
    rc.comms->setStep("run 1");
    CaseSpec spec{"model f32 all_reduce scale 1", MeshAxis::Model, false, Op::AllReduce};
    j.obj("warmUp", runCase({r, place, s, rc.comms.get()}, spec, 1));
    barrier.wait();
    // Step 2: `missing` never calls.
    rc.comms->setStep("run 2");
    if (r != missing) {
      const Clock::time_point t0 = Clock::now();
      void* buf = nullptr;
      cudaMalloc(&buf, 64 * sizeof(float));
      for (int i = 0; i < 64; ++i) static_cast<float*>(buf)[i] = 1.0f + static_cast<float>(i);
      j.obj("call", errorJson([&] { rc.comms->axis(MeshAxis::Model).allReduce(buf, buf, 64, DType::F32, 1.0f, Stream{s, rc.comms.get()}); }));
      // The op waits on the stream for the missing rank; the watchdog's abort must end it.
      const bool drained = cudaFakeStreamIdleWithin(s, 3000);
      j.flag("streamDrained", drained).num("drainedAfterMs", msSince(t0));
      if (drained) j.num("streamSynchronize", cudaStreamSynchronize(s));
      j.flag("peerOfMissing", peerOfMissing);
      if (peerOfMissing) {
        j.obj("check", errorJson([&] { rc.world->check(); }));
        j.obj("nextCall", errorJson([&] { rc.comms->axis(MeshAxis::Data).allGather(buf, buf, 1, DType::F32, Stream{s, rc.comms.get()}); }));
        rc.world->abort();  // a plain abort after the failure: the stored failure still comes first
        j.obj("afterAbort", errorJson([&] { rc.comms->axis(MeshAxis::Model).allReduce(buf, buf, 64, DType::F32, 1.0f, Stream{s, rc.comms.get()}); }));
      } else {
        j.obj("check", errorJson([&] { rc.world->check(); }));
        j.num("sum0", static_cast<float*>(buf)[0]);  // two ranks' 1.0: 2
      }
      cudaFree(buf);
    }
    barrier.wait();
    const Clock::time_point t0 = Clock::now();
    rc = RankComms();
    j.num("destroyMs", msSince(t0));
    j.flag("streamIdleAtEnd", cudaFakeStreamIdleWithin(s, 3000));
  }, kRankBoundMs));
}

// ncclRemoteError injected on one rank's communicator: ERR_COMM_PEER_LOST there.
void scenarioPeerLost(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  const int victim = a.num("victim", 0);
  harness::Barrier barrier(n);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    RankComms rc;
    j.obj("init", errorJson([&] { rc = openRank(options(a, r)); }));
    if (!rc.world) return;
    barrier.wait();
    if (r == victim) {
      gInject(rc.world->axisComm(MeshAxis::Data), 6 /* ncclRemoteError */);
      // The watchdog finds it on its own (no collective pending): poll check() for up to 3 s.
      const Clock::time_point t0 = Clock::now();
      Json check;
      while (msSince(t0) < 3000) {
        check = errorJson([&] { rc.world->check(); });
        if (check.text().find("\"threw\":true") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      j.obj("check", check).num("detectedAfterMs", msSince(t0));
      void* buf = nullptr;
      cudaMalloc(&buf, 16);
      rc.comms->setInMeshCall(true);
      j.obj("nextCall", errorJson([&] { rc.comms->axis(MeshAxis::Model).allReduce(buf, buf, 2, DType::F32, 1.0f, Stream{s, rc.comms.get()}); }));
      cudaFree(buf);
    }
    barrier.wait();
    rc = RankComms();
  }, kRankBoundMs));
}

// The victim keeps enqueueing all_reduce over 'data' (each waits on the stream for a peer that
// never calls) while the injected ncclRemoteError is found by the watchdog: every call either
// enqueues or throws the typed error, the abort ends the waiting operations, nothing hangs.
void scenarioPeerLostWhileCalling(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  const int victim = a.num("victim", 0);
  harness::Barrier barrier(n);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    RankComms rc;
    j.obj("init", errorJson([&] { rc = openRank(options(a, r)); }));
    if (!rc.world) return;
    barrier.wait();
    if (r == victim) {
      rc.comms->setInMeshCall(true);
      float* buf = nullptr;
      cudaMalloc(reinterpret_cast<void**>(&buf), 16);
      int calls = 0;
      Json last;
      const Clock::time_point t0 = Clock::now();
      bool injected = false;
      while (msSince(t0) < 3000) {
        last = errorJson([&] { rc.comms->axis(MeshAxis::Data).allReduce(buf, buf, 2, DType::F32, 1.0f, Stream{s, rc.comms.get()}); });
        if (last.text().find("\"threw\":true") != std::string::npos) break;
        if (++calls == 3 && !injected) {
          gInject(rc.world->axisComm(MeshAxis::Model), 6 /* ncclRemoteError */);
          injected = true;
        }
      }
      j.num("callsEnqueued", calls).obj("firstThrow", last).num("detectedAfterMs", msSince(t0));
      j.flag("streamDrained", cudaFakeStreamIdleWithin(s, 3000));
      j.obj("check", errorJson([&] { rc.world->check(); }));
      cudaFree(buf);
    }
    barrier.wait();
    rc = RankComms();
  }, kRankBoundMs));
}

// A plain abort(): later calls are ERR_COLLECTIVE_ABORTED, check() has no failure to report.
void scenarioAbort(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    RankComms rc;
    j.obj("init", errorJson([&] { rc = openRank(options(a, r)); }));
    if (!rc.world) return;
    rc.comms->setInMeshCall(true);
    rc.comms->axis(MeshAxis::Model).abort();
    void* buf = nullptr;
    cudaMalloc(&buf, 16);
    j.obj("nextCall", errorJson([&] { rc.comms->axis(MeshAxis::Data).allReduce(buf, buf, 2, DType::F32, 1.0f, Stream{s, rc.comms.get()}); }));
    j.obj("reset", errorJson([&] { rc.comms->axis(MeshAxis::Data).reset(); }));
    cudaFree(buf);
    rc = RankComms();
  }, kRankBoundMs));
}

// Under (emulated) graph capture: the collective is enqueued, recorded not run, and no event is
// tracked; replaying the capture runs it and gives the right sum.
void scenarioCapture(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  harness::Barrier barrier(n);
  CudaFakeCounts before{}, after{};
  int64_t enqueuedBefore = 0, enqueuedAfter = 0;
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    std::shared_ptr<DeviceComms> comms;
    j.obj("init", errorJson([&] { comms = makeNcclDeviceComms(NcclWorld::create(options(a, r))); }));
    if (!comms) return;
    comms->setInMeshCall(true);
    const int m = comms->place().modelSize;
    float* buf = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&buf), 8 * sizeof(float));
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<float>(r + 1) * (i + 1);
    barrier.wait();
    if (r == 0) {
      cudaFakeCounts(&before);
      enqueuedBefore = enqueuedSoFar();
    }
    barrier.wait();
    cudaFakeBeginCapture(s);
    j.obj("call", errorJson([&] { comms->axis(MeshAxis::Model).allReduce(buf, buf, 8, DType::F32, 0.25f, Stream{s, comms.get()}); }));
    barrier.wait();
    if (r == 0) {
      cudaFakeCounts(&after);
      enqueuedAfter = enqueuedSoFar();
    }
    j.num("whileCaptured0", buf[0]);  // untouched: recorded, not run
    barrier.wait();
    cudaFakeEndCapture(s, true);
    j.flag("replayDrained", cudaFakeStreamIdleWithin(s, 3000));
    // Expected: 0.25 * sum over the model group (ranks d*m .. d*m+m-1) of (rank + 1) * (i + 1).
    const int d = comms->place().data;
    double groupSum = 0;
    for (int k = 0; k < m; ++k) groupSum += d * m + k + 1;
    int64_t wrong = 0;
    for (int i = 0; i < 8; ++i) wrong += buf[i] != static_cast<float>(0.25 * groupSum * (i + 1));
    j.num("replayMismatches", static_cast<double>(wrong));
    cudaFree(buf);
    barrier.wait();
    comms.reset();
  }, kRankBoundMs));
  out.num("eventsCreatedDuringCapture", static_cast<double>(after.eventsCreated - before.eventsCreated));
  out.num("eventsRecordedDuringCapture", static_cast<double>(after.eventsRecorded - before.eventsRecorded));
  out.num("ncclOperationsDuringCapture", static_cast<double>(enqueuedAfter - enqueuedBefore));
}

// NcclMesh::runOnEveryRank when rank `missing` never joins a step's all_reduce over 'model': its
// model peer's body enqueues the collective and waits for its stream, which the watchdog's abort
// drains WITHOUT a CUDA error (the fake's aborted operation just ends, as an aborted NCCL kernel
// returns): the step must still fail, with the world's ERR_COMM_TIMEOUT naming the collective, not
// pass on garbage. The next step and a host gather throw the same stored failure.
void scenarioMeshStepMissingRank(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  const int missing = a.num("missing", 1);
  harness::Barrier barrier(n);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    std::unique_ptr<NcclMesh> mesh = openMesh(a, r, j);
    if (!mesh) return;
    const MeshPlace place = mesh->comms(0)->place();
    const bool peerOfMissing = r != missing && place.data == MeshPlace::of(missing, place.dataSize, place.modelSize).data;
    barrier.wait();
    if (peerOfMissing) {
      float* x = nullptr;
      cudaMalloc(reinterpret_cast<void**>(&x), 8 * sizeof(float));
      for (int i = 0; i < 8; ++i) x[i] = 1.0f;
      DeviceComms* comms = mesh->comms(0).get();
      bool bodyReturned = false;
      std::optional<Error> failure = mesh->runOnEveryRank("run 7", [&](int) {
        comms->axis(MeshAxis::Model).allReduce(x, x, 8, DType::F32, 1.0f, Stream{s, comms});
        cudaStreamSynchronize(s);  // returns once the abort ended the operation
        bodyReturned = true;
      });
      j.flag("bodyReturned", bodyReturned).flag("failed", failure.has_value());
      if (failure) j.str("code", errorCodeString(failure->code())).str("message", failure->message());
      std::optional<Error> next = mesh->runOnEveryRank("run 8", [&](int) { j.flag("nextBodyRan", true); });
      if (next) j.str("nextCode", errorCodeString(next->code()));
      j.obj("gatherAfter", errorJson([&] { mesh->gatherBytes(x, 4, "a gather after the failure"); }));
      cudaFree(x);
    }
    barrier.wait();
    mesh.reset();
  }, kRankBoundMs));
}

// The CUDA collective kernels themselves (native/cuda/*.cu, host code) on a mesh of NcclMesh ranks:
// each kernel over each axis, inside a mesh step, against the reference; and a plan's `ranks` of 1
// on an axis of 2 refused as on the CPU.
void scenarioKernels(const Args& a, Json& out) {
  const int n = a.num("data", 1) * a.num("model", 1);
  harness::Barrier barrier(n);
  out.arr("ranks", harness::runRanks(n, [&](int r, Json& j) {
    const RankStream rs(r);
    const cudaStream_t s = rs.stream;
    std::unique_ptr<NcclMesh> mesh = openMesh(a, r, j);
    if (!mesh) return;
    DeviceComms* comms = mesh->comms(0).get();
    const MeshPlace place = comms->place();
    const Stream st{s, comms};
    std::vector<Json> results;
    int caseId = 100;
    for (MeshAxis axis : {MeshAxis::Data, MeshAxis::Model}) {
      const int size = axis == MeshAxis::Data ? place.dataSize : place.modelSize;
      const int me = axis == MeshAxis::Data ? place.data : place.model;
      auto in = [&](int member, int id, int64_t i) { return harness::inputValue(kSeed, memberRank(place, axis, member), id, i, false); };
      auto fill = [&](float* x, int id, int64_t count) {
        for (int64_t i = 0; i < count; ++i) x[i] = static_cast<float>(harness::inputValue(kSeed, r, id, i, false));
      };
      // expected[i] against got[i], bit for bit (every value exact: harness_support.h's inputs).
      auto compare = [&](const std::string& name, const float* got, const std::vector<double>& want) {
        int64_t wrong = 0;
        for (size_t i = 0; i < want.size(); ++i) wrong += got[i] != static_cast<float>(want[i]);
        results.push_back(Json().str("case", name).num("elements", static_cast<double>(want.size())).num("mismatches", static_cast<double>(wrong)));
      };
      const std::string ax = axisName(axis);
      float* x = nullptr;
      float* y = nullptr;
      cudaMalloc(reinterpret_cast<void**>(&x), 64 * sizeof(float));
      cudaMalloc(reinterpret_cast<void**>(&y), 64 * sizeof(float));
      std::optional<Error> failure = mesh->runOnEveryRank("kernels " + ax, [&](int) {
        {  // all_gather: 5 each
          const int id = caseId++;
          fill(x, id, 5);
          AllGatherArgs g;
          g.axis = axis, g.ranks = size, g.count = 5, g.x = x, g.y = y;
          cuda::allGather(st, g);
          cudaStreamSynchronize(s);
          std::vector<double> want;
          for (int m = 0; m < size; ++m) for (int i = 0; i < 5; ++i) want.push_back(in(m, id, i));
          compare(ax + " all_gather", y, want);
        }
        {  // reduce_scatter: blocks of 7
          const int id = caseId++;
          fill(x, id, 7 * size);
          ReduceScatterArgs g;
          g.axis = axis, g.ranks = size, g.count = 7, g.x = x, g.y = y;
          cuda::reduceScatter(st, g);
          cudaStreamSynchronize(s);
          std::vector<double> want;
          for (int i = 0; i < 7; ++i) {
            double sum = 0;
            for (int m = 0; m < size; ++m) sum += in(m, id, me * 7 + i);
            want.push_back(sum);
          }
          compare(ax + " reduce_scatter", y, want);
        }
        {  // all_reduce, scale 0.5, in place
          const int id = caseId++;
          fill(x, id, 9);
          AllReduceArgs g;
          g.axis = axis, g.ranks = size, g.count = 9, g.scale = 0.5f, g.x = x, g.y = x;
          cuda::allReduce(st, g);
          cudaStreamSynchronize(s);
          std::vector<double> want;
          for (int i = 0; i < 9; ++i) {
            double sum = 0;
            for (int m = 0; m < size; ++m) sum += in(m, id, i);
            want.push_back(0.5 * sum);
          }
          compare(ax + " all_reduce scale 0.5 in place", x, want);
        }
        {  // collective_permute, shift 1
          const int id = caseId++;
          fill(x, id, 6);
          CollectivePermuteArgs g;
          g.axis = axis, g.ranks = size, g.count = 6, g.shift = 1, g.x = x, g.y = y;
          cuda::collectivePermute(st, g);
          cudaStreamSynchronize(s);
          std::vector<double> want;
          for (int i = 0; i < 6; ++i) want.push_back(in((me - 1 + size) % size, id, i));
          compare(ax + " collective_permute shift 1", y, want);
        }
        {  // axis_slice: 3 runs of size * 4 (stride size * 4 + 1), this rank's block of 4 each
          const int id = caseId++;
          const int64_t xStride = size * 4 + 1;
          fill(x, id, 3 * xStride);
          AxisSliceArgs g;
          g.axis = axis, g.ranks = size, g.batch = 3, g.cols = 4, g.xStride = xStride, g.yStride = 4, g.x = x, g.y = y;
          cuda::axisSlice(st, g);
          cudaStreamSynchronize(s);
          std::vector<double> want;
          for (int b = 0; b < 3; ++b) for (int i = 0; i < 4; ++i) want.push_back(harness::inputValue(kSeed, r, id, b * xStride + me * 4 + i, false));
          compare(ax + " axis_slice", y, want);
        }
      });
      j.obj(ax, Json().flag("stepFailed", failure.has_value()).str("stepError", failure ? failure->message() : ""));
      // A plan's ranks 1 on this axis of `size` devices: refused when size > 1, a copy otherwise.
      comms->setInMeshCall(true);
      AllGatherArgs one;
      one.axis = axis, one.ranks = 1, one.count = 3, one.x = x, one.y = y;
      j.obj(ax + "RanksOne", errorJson([&] {
        cuda::allGather(st, one);
        cudaStreamSynchronize(s);
      }));
      comms->setInMeshCall(false);
      barrier.wait();
      cudaFree(x);
      cudaFree(y);
    }
    j.arr("cases", results);
    barrier.wait();
    mesh.reset();
  }, kRankBoundMs));
}

const std::map<std::string, void (*)(const Args&, Json&)> kScenarios = {
    {"kernels", scenarioKernels},
    {"mesh-step-missing-rank", scenarioMeshStepMissingRank},
    {"collectives", scenarioCollectives},
    {"init", scenarioInit},
    {"init-missing-rank", scenarioInitMissingRank},
    {"collective-missing-rank", scenarioCollectiveMissingRank},
    {"peer-lost", scenarioPeerLost},
    {"peer-lost-while-calling", scenarioPeerLostWhileCalling},
    {"abort", scenarioAbort},
    {"capture", scenarioCapture},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || !kScenarios.count(argv[2])) {
    std::fprintf(stderr, "usage: harness <fake libnccl path> <scenario> [key=value ...]\n");
    return 2;
  }
  Args args;
  for (int i = 3; i < argc; ++i) {
    const std::string s = argv[i];
    const size_t eq = s.find('=');
    if (eq != std::string::npos) args.kv[s.substr(0, eq)] = s.substr(eq + 1);
  }
  // Whatever happens, the harness ends: a process-wide deadline above every per-rank one.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(25));
    std::printf("%s\n", Json().str("hung", "harness deadline of 25 s passed").text().c_str());
    std::fflush(stdout);
    _exit(4);
  }).detach();

  Json out;
  out.str("scenario", argv[2]);
  const cuda::VendorLoad load = cuda::loadNccl({argv[1]});
  out.flag("ncclLoaded", load.found).str("ncclVersion", load.versionString);
  // The same file again: dlopen hands back the handle loadNccl holds, whose hooks we need.
  void* fake = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  gNcclCounts = fake ? reinterpret_cast<PfnNcclFakeCounts>(dlsym(fake, "ncclFakeCounts")) : nullptr;
  gInject = fake ? reinterpret_cast<PfnNcclFakeInjectAsyncError>(dlsym(fake, "ncclFakeInjectAsyncError")) : nullptr;
  if (!load.found || !gNcclCounts || !gInject) {
    std::printf("%s\n", out.str("error", "the fake NCCL did not load").text().c_str());
    return 1;
  }
  kScenarios.at(argv[2])(args, out);
  out.obj("counts", countsJson());
  std::printf("%s\n", out.text().c_str());
  std::fflush(stdout);
  // Not exit(): stream workers of the emulated runtime are detached threads; static destructors
  // must not run under them.
  _exit(0);
}
