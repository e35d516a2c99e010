// A fake NCCL: a shared library with the C ABI of libnccl.so.2 for the functions the project opens
// (native/cuda/vendor_libraries.cc), whose ranks are threads of one process. It behaves as NCCL
// documents for non-blocking communicators (ncclConfig_t.blocking = 0), which is all the nccl
// backend uses:
//   - ncclCommInitRankConfig and ncclCommSplit return ncclInProgress; ncclCommGetAsyncError says
//     ncclInProgress until every rank of the group has called;
//   - collectives and grouped send/recv are enqueued on the caller's stream (cudaLaunchHostFunc of
//     the emulated runtime, resolved from the harness executable) and return ncclInProgress for one
//     poll, as a launch does; the operation runs when its stream reaches it and waits there for
//     its peers with no deadline of its own, like an NCCL kernel;
//   - ncclCommAbort makes an operation waiting on that communicator end without a result, so the
//     stream drains;
//   - ncclGetUniqueId derives the id from NCCL_COMM_ID when it is set (same value, same id), else
//     makes a fresh one.
// Sums are f32 in rank order, rounded once to the buffer's type (bf16: to nearest, ties to even),
// so results are exactly predictable. The ABI below is restated from NCCL's documentation (nccl.h),
// independently of native/cuda/nccl_api.h, so a wrong value there would show as a failure here.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fake_hooks.h"

#ifndef FAKE_NCCL_VERSION
#define FAKE_NCCL_VERSION 22703  // 2.27.3; the "too old" build passes 21703 (2.17.3)
#endif

extern "C" {
typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
} ncclResult_t;
typedef enum {
  ncclInt8 = 0, ncclUint8 = 1, ncclInt32 = 2, ncclUint32 = 3, ncclInt64 = 4, ncclUint64 = 5,
  ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9,
} ncclDataType_t;
typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;
typedef struct {
  char internal[128];
} ncclUniqueId;
// ncclConfig_t as of NCCL 2.17/2.18 (NCCL reads config->size bytes of it).
typedef struct {
  size_t size;
  unsigned int magic;
  unsigned int version;
  int blocking;
  int cgaClusterSize;
  int minCTAs;
  int maxCTAs;
  const char* netName;
  int splitShare;
} ncclConfig_t;
typedef struct ncclComm* ncclComm_t;
}

namespace {

constexpr unsigned int kConfigMagic = 0xcafebeef;
constexpr int kSplitNoColor = -1;  // NCCL_SPLIT_NOCOLOR

struct Group;

// One rank's view of a communicator. Shared by its handle and by the operations it queued, which
// may outlive the handle (an aborted communicator's waiting operation still has to end).
struct Comm {
  std::shared_ptr<Group> group;  // null until the init or split that makes it has completed
  int rank = 0;
  ncclResult_t state = ncclInProgress;  // what ncclCommGetAsyncError reports
  bool aborted = false;
  bool finalized = false;
  int launchPolls = 0;  // polls still answering InProgress after a launch
  uint64_t collSeq = 0;
  uint64_t splitSeq = 0;
  std::map<int, uint64_t> sendSeq, recvSeq;  // by peer
};

}  // namespace

// The handle the caller holds. Never freed, so a call on a destroyed or aborted communicator is
// counted (callsOnDeadComms) instead of being a use after free that might go unnoticed.
struct ncclComm {
  std::shared_ptr<Comm> comm;
  bool dead = false;
};

namespace {

enum class Kind { AllGather, ReduceScatter, AllReduce };

struct Part {
  bool present = false;
  Kind kind = Kind::AllGather;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;  // sendcount (all_gather), recvcount (reduce_scatter), count (all_reduce)
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t op = ncclSum;
};

struct Rendezvous {
  std::vector<Part> parts;
  int arrived = 0;
  int read = 0;  // ranks done reading every peer's input
  int left = 0;
};

struct P2pSlot {
  const void* src = nullptr;
  size_t bytes = 0;
  bool posted = false;
  bool consumed = false;
};

struct SplitCall {
  int color = 0;
  int key = 0;
  std::shared_ptr<Comm> child;
};

struct Group {
  int n = 0;
  std::vector<std::weak_ptr<Comm>> members;  // by rank
  std::map<uint64_t, Rendezvous> colls;      // by collective sequence number
  std::map<std::tuple<int, int, uint64_t>, P2pSlot> p2p;  // (from, to, sequence number)
  std::map<uint64_t, std::map<int, SplitCall>> splits;    // by split sequence number, then rank
  int finalizeCalls = 0;
};

struct PendingInit {
  std::shared_ptr<Group> group;
  int joined = 0;
};

// One lock and one condition for everything: simplicity over speed, the data are small.
std::mutex gM;
std::condition_variable gCv;
NcclFakeCounts gCounts{};
std::map<std::string, PendingInit> gInits;  // by unique id bytes
// Trivially destructible thread-locals (a std::string or vector here would be destroyed at thread
// exit, which ThreadSanitizer misreads as a race with the TLS release).
thread_local char tLastError[256];

struct P2pOp {
  bool isSend = false;
  void* buf = nullptr;
  size_t bytes = 0;
  int peer = 0;
  uint64_t seq = 0;
  ncclComm_t handle = nullptr;
  cudaStream_t stream = nullptr;
};
thread_local int tGroupDepth = 0;
thread_local std::vector<P2pOp>* tGroupOpsStore = nullptr;  // leaked per thread: a test process
std::vector<P2pOp>& groupOps() {
  if (!tGroupOpsStore) tGroupOpsStore = new std::vector<P2pOp>();
  return *tGroupOpsStore;
}

ncclResult_t usage(ncclResult_t r, const std::string& why) {  // gM held
  std::snprintf(tLastError, sizeof tLastError, "fake NCCL: %s", why.c_str());
  gCounts.usageErrors++;
  return r;
}

size_t typeSize(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
  }
  return 0;
}

float bf16ToF32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32ToBf16(float f) {  // round to nearest, ties to even (NaN stays NaN)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// out[i] = sum over j = 0 .. srcs.size()-1 of srcs[j][i], accumulated in f32 in that order and
// rounded once to `type`.
void sumInRankOrder(void* out, const std::vector<const char*>& srcs, size_t count, ncclDataType_t type) {
  for (size_t i = 0; i < count; ++i) {
    if (type == ncclFloat32) {
      float acc = reinterpret_cast<const float*>(srcs[0])[i];
      for (size_t j = 1; j < srcs.size(); ++j) acc += reinterpret_cast<const float*>(srcs[j])[i];
      static_cast<float*>(out)[i] = acc;
    } else if (type == ncclBfloat16) {
      float acc = bf16ToF32(reinterpret_cast<const uint16_t*>(srcs[0])[i]);
      for (size_t j = 1; j < srcs.size(); ++j) acc += bf16ToF32(reinterpret_cast<const uint16_t*>(srcs[j])[i]);
      static_cast<uint16_t*>(out)[i] = f32ToBf16(acc);
    } else {  // ncclInt32 (checked at the call)
      int32_t acc = 0;
      for (const char* s : srcs) acc += reinterpret_cast<const int32_t*>(s)[i];
      static_cast<int32_t*>(out)[i] = acc;
    }
  }
}

// A call's communicator, or null after recording why it is refused (gM held).
Comm* usable(ncclComm_t h, ncclResult_t* refusal) {
  if (!h) {
    *refusal = usage(ncclInvalidArgument, "null communicator");
    return nullptr;
  }
  if (h->dead) {
    gCounts.callsOnDeadComms++;
    *refusal = usage(ncclInvalidUsage, "communicator already destroyed or aborted");
    return nullptr;
  }
  return h->comm.get();
}

// A communicator that may take an operation: initialised, healthy, not finalising (gM held).
Comm* ready(ncclComm_t h, ncclResult_t* refusal) {
  Comm* c = usable(h, refusal);
  if (!c) return nullptr;
  if (c->state == ncclInProgress || c->finalized) {
    *refusal = usage(ncclInvalidUsage, "operation on a communicator still initialising or finalising");
    return nullptr;
  }
  if (c->state != ncclSuccess) {
    *refusal = c->state;  // NCCL answers with the communicator's asynchronous error
    return nullptr;
  }
  return c;
}

ncclResult_t checkConfig(const ncclConfig_t* config, bool split) {  // gM held
  if (!config) {
    // A null config means a blocking communicator (or, for a split, the parent's mode).
    return split ? ncclSuccess : usage(ncclInvalidUsage, "only non-blocking communicators are emulated");
  }
  if (config->magic != kConfigMagic || config->size < offsetof(ncclConfig_t, netName) ||
      config->size > sizeof(ncclConfig_t) || config->version < 21400) {
    return usage(ncclInvalidArgument, "ncclConfig_t not made like NCCL_CONFIG_INITIALIZER (size " +
                                          std::to_string(config->size) + ", magic " +
                                          std::to_string(config->magic) + ")");
  }
  if (config->blocking != 0 && !(split && config->blocking == INT_MIN)) {
    return usage(ncclInvalidUsage, "only non-blocking communicators (blocking = 0) are emulated");
  }
  return ncclSuccess;
}

struct CollTask {
  std::shared_ptr<Comm> comm;
  uint64_t seq;
  Part part;
};

// Runs on the stream's worker when the stream reaches the collective.
void runCollective(void* p) {
  std::unique_ptr<CollTask> task(static_cast<CollTask*>(p));
  Comm& c = *task->comm;
  std::unique_lock<std::mutex> lock(gM);
  Group& g = *c.group;
  Rendezvous& rv = g.colls[task->seq];
  if (rv.parts.empty()) rv.parts.resize(static_cast<size_t>(g.n));
  rv.parts[static_cast<size_t>(c.rank)] = task->part;
  rv.arrived++;
  gCv.notify_all();
  gCv.wait(lock, [&] { return rv.arrived == g.n || c.aborted; });
  if (rv.arrived < g.n) {  // aborted while waiting for peers: no result
    gCounts.operationsAbandoned++;
    return;
  }
  const Part& mine = task->part;
  bool consistent = true;
  for (const Part& q : rv.parts) {
    consistent = consistent && q.kind == mine.kind && q.count == mine.count && q.type == mine.type &&
                 q.op == mine.op;
  }
  const size_t es = typeSize(mine.type);
  std::vector<char> out;
  if (!consistent) {
    // Real NCCL would compute garbage or hang; say it instead.
    c.state = usage(ncclInvalidUsage, "ranks called different collectives at the same point");
  } else if (mine.kind == Kind::AllGather) {
    out.resize(static_cast<size_t>(g.n) * mine.count * es);
    for (int j = 0; j < g.n; ++j) {
      std::memcpy(out.data() + static_cast<size_t>(j) * mine.count * es, rv.parts[static_cast<size_t>(j)].send, mine.count * es);
    }
  } else {
    const size_t offset = mine.kind == Kind::ReduceScatter ? static_cast<size_t>(c.rank) * mine.count * es : 0;
    std::vector<const char*> srcs;
    for (const Part& q : rv.parts) srcs.push_back(static_cast<const char*>(q.send) + offset);
    out.resize(mine.count * es);
    sumInRankOrder(out.data(), srcs, mine.count, mine.type);
  }
  // Nobody writes its output before every rank has read every input (in-place calls).
  rv.read++;
  gCv.notify_all();
  gCv.wait(lock, [&] { return rv.read == g.n || c.aborted; });
  if (rv.read < g.n) {
    gCounts.operationsAbandoned++;
    return;
  }
  if (!out.empty()) std::memcpy(mine.recv, out.data(), out.size());
  gCounts.operationsCompleted++;
  if (++rv.left == g.n) g.colls.erase(task->seq);
}

ncclResult_t enqueueCollective(const Part& part, ncclComm_t h, cudaStream_t stream) {
  std::unique_lock<std::mutex> lock(gM);
  ncclResult_t refusal = ncclSuccess;
  Comm* c = ready(h, &refusal);
  if (!c) return refusal;
  if (tGroupDepth > 0) return usage(ncclInvalidUsage, "collectives inside a group are not emulated");
  if (!stream) return usage(ncclInvalidArgument, "null stream (the default stream is not emulated)");
  if (typeSize(part.type) == 0 || (part.count > 0 && (!part.send || !part.recv))) {
    return usage(ncclInvalidArgument, "bad datatype or null buffer");
  }
  if (part.kind != Kind::AllGather &&
      (part.op != ncclSum || (part.type != ncclFloat32 && part.type != ncclBfloat16 && part.type != ncclInt32))) {
    return usage(ncclInvalidArgument, "only ncclSum over f32, bf16 and i32 is emulated");
  }
  auto* task = new CollTask{h->comm, c->collSeq++, part};
  task->part.present = true;
  gCounts.operationsEnqueued++;
  c->launchPolls = 1;
  lock.unlock();
  if (cudaLaunchHostFunc(stream, runCollective, task) != cudaSuccess) {
    delete task;
    return ncclUnhandledCudaError;
  }
  return ncclInProgress;
}

struct P2pTask {
  std::shared_ptr<Comm> comm;
  std::vector<P2pOp> ops;
};

// Sends are posted first, then receives are matched, then the sends wait to be consumed: a ring of
// grouped send/recv pairs cannot deadlock, as NCCL promises for a group.
void runP2p(void* p) {
  std::unique_ptr<P2pTask> task(static_cast<P2pTask*>(p));
  Comm& c = *task->comm;
  std::unique_lock<std::mutex> lock(gM);
  Group& g = *c.group;
  auto abandon = [&] { gCounts.operationsAbandoned++; };
  for (const P2pOp& op : task->ops) {
    if (!op.isSend) continue;
    P2pSlot& slot = g.p2p[{c.rank, op.peer, op.seq}];
    slot.src = op.buf;
    slot.bytes = op.bytes;
    slot.posted = true;
  }
  gCv.notify_all();
  for (const P2pOp& op : task->ops) {
    if (op.isSend) continue;
    const auto key = std::make_tuple(op.peer, c.rank, op.seq);
    gCv.wait(lock, [&] { return (g.p2p.count(key) && g.p2p[key].posted) || c.aborted; });
    if (c.aborted) return abandon();
    P2pSlot& slot = g.p2p[key];
    if (slot.bytes != op.bytes) {
      c.state = usage(ncclInvalidUsage, "send and receive sizes differ");
    } else {
      std::memcpy(op.buf, slot.src, op.bytes);
    }
    slot.consumed = true;
    gCv.notify_all();
  }
  for (const P2pOp& op : task->ops) {
    if (!op.isSend) continue;
    const auto key = std::make_tuple(c.rank, op.peer, op.seq);
    gCv.wait(lock, [&] { return g.p2p[key].consumed || c.aborted; });
    if (!g.p2p[key].consumed) return abandon();
    g.p2p.erase(key);
  }
  gCounts.operationsCompleted++;
}

ncclResult_t addP2p(bool isSend, void* buf, size_t count, ncclDataType_t type, int peer,
                    ncclComm_t h, cudaStream_t stream);

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (!version) return ncclInvalidArgument;
  *version = FAKE_NCCL_VERSION;
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
  }
  return "unknown result code";
}

const char* ncclGetLastError(ncclComm_t) { return tLastError; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return ncclInvalidArgument;
  std::memset(id->internal, 0, sizeof id->internal);
  std::string text;
  if (const char* env = std::getenv("NCCL_COMM_ID")) {
    // NCCL parses host:port and makes the id from that address: every rank gets the same one.
    const std::string v = env;
    const size_t colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
      std::lock_guard<std::mutex> lock(gM);
      return usage(ncclInvalidArgument, "NCCL_COMM_ID is not host:port: " + v);
    }
    text = "fake-nccl-bootstrap " + v;
  } else {
    static std::mutex m;
    static std::mt19937_64 rng{std::random_device{}()};
    std::lock_guard<std::mutex> lock(m);
    text = "fake-nccl-local " + std::to_string(rng());
  }
  std::memcpy(id->internal, text.data(), std::min(text.size(), sizeof id->internal));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* out, int nranks, ncclUniqueId id, int rank,
                                    ncclConfig_t* config) {
  std::lock_guard<std::mutex> lock(gM);
  if (!out || nranks < 1 || rank < 0 || rank >= nranks) {
    return usage(ncclInvalidArgument, "bad nranks/rank");
  }
  if (const ncclResult_t r = checkConfig(config, false); r != ncclSuccess) return r;
  PendingInit& pending = gInits[std::string(id.internal, sizeof id.internal)];
  if (!pending.group) {
    pending.group = std::make_shared<Group>();
    pending.group->n = nranks;
    pending.group->members.resize(static_cast<size_t>(nranks));
  }
  Group& g = *pending.group;
  if (g.n != nranks || !g.members[static_cast<size_t>(rank)].expired()) {
    return usage(ncclInvalidUsage, "ranks disagree on nranks, or a rank joined twice");
  }
  auto c = std::make_shared<Comm>();
  c->rank = rank;
  g.members[static_cast<size_t>(rank)] = c;
  gCounts.commsCreated++;
  *out = new ncclComm{c};
  if (++pending.joined == nranks) {
    // Everyone is here: the communicator works on every rank. The id may serve a later world.
    std::shared_ptr<Group> done = pending.group;
    gInits.erase(std::string(id.internal, sizeof id.internal));
    for (auto& w : done->members) {
      if (auto m = w.lock()) {
        m->group = done;
        if (m->state == ncclInProgress) m->state = ncclSuccess;
      }
    }
  }
  return ncclInProgress;
}

ncclResult_t ncclCommSplit(ncclComm_t h, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config) {
  std::lock_guard<std::mutex> lock(gM);
  ncclResult_t refusal = ncclSuccess;
  Comm* c = ready(h, &refusal);
  if (!c) return refusal;
  if (!newcomm || (color < 0 && color != kSplitNoColor)) return usage(ncclInvalidArgument, "bad split");
  if (const ncclResult_t r = checkConfig(config, true); r != ncclSuccess) return r;
  Group& g = *c->group;
  const uint64_t seq = c->splitSeq++;
  std::shared_ptr<Comm> child;
  if (color != kSplitNoColor) {
    child = std::make_shared<Comm>();
    gCounts.commsCreated++;
  }
  auto& calls = g.splits[seq];
  calls[c->rank] = {color, key, child};
  *newcomm = child ? new ncclComm{child} : nullptr;
  c->state = ncclInProgress;  // the parent is busy with the split too
  if (static_cast<int>(calls.size()) == g.n) {
    // Every rank has called: one new group per color, ranked by (key, parent rank).
    std::map<int, std::vector<std::pair<std::pair<int, int>, std::shared_ptr<Comm>>>> byColor;
    for (auto& [parentRank, call] : calls) {
      if (call.child) byColor[call.color].push_back({{call.key, parentRank}, call.child});
    }
    for (auto& [col, members] : byColor) {
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      auto ng = std::make_shared<Group>();
      ng->n = static_cast<int>(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        members[i].second->group = ng;
        members[i].second->rank = static_cast<int>(i);
        members[i].second->state = ncclSuccess;
        ng->members.push_back(members[i].second);
      }
    }
    for (auto& w : g.members) {
      if (auto m = w.lock()) {
        if (m->state == ncclInProgress) m->state = ncclSuccess;
      }
    }
    g.splits.erase(seq);
  }
  return ncclInProgress;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t h, ncclResult_t* asyncError) {
  std::lock_guard<std::mutex> lock(gM);
  ncclResult_t refusal = ncclSuccess;
  Comm* c = usable(h, &refusal);
  if (!c) return refusal;
  if (!asyncError) return usage(ncclInvalidArgument, "null asyncError");
  if (c->state != ncclSuccess) {
    *asyncError = c->state;
  } else if (c->launchPolls > 0) {
    c->launchPolls--;
    *asyncError = ncclInProgress;
  } else {
    *asyncError = ncclSuccess;
  }
  return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t h) {
  std::lock_guard<std::mutex> lock(gM);
  ncclResult_t refusal = ncclSuccess;
  Comm* c = usable(h, &refusal);
  if (!c) return refusal;
  if (c->finalized || !c->group) return usage(ncclInvalidUsage, "finalize twice, or before init completed");
  c->finalized = true;
  gCounts.commsFinalized++;
  Group& g = *c->group;
  // Collective: done when every rank of the communicator has called it.
  if (c->state == ncclSuccess) c->state = ncclInProgress;
  if (++g.finalizeCalls == g.n) {
    for (auto& w : g.members) {
      if (auto m = w.lock()) {
        if (m->state == ncclInProgress) m->state = ncclSuccess;
      }
    }
  }
  return ncclInProgress;
}

ncclResult_t ncclCommDestroy(ncclComm_t h) {
  std::lock_guard<std::mutex> lock(gM);
  ncclResult_t refusal = ncclSuccess;
  Comm* c = usable(h, &refusal);
  if (!c) return refusal;
  if (!c->finalized) gCounts.destroyedUnfinalized++;
  gCounts.commsDestroyed++;
  h->dead = true;
  h->comm.reset();
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t h) {
  std::lock_guard<std::mutex> lock(gM);
  if (!h) return ncclSuccess;
  ncclResult_t refusal = ncclSuccess;
  Comm* c = usable(h, &refusal);
  if (!c) return refusal;
  c->aborted = true;
  gCounts.commsAborted++;
  h->dead = true;
  h->comm.reset();
  gCv.notify_all();  // operations waiting on it end now
  return ncclSuccess;
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t sendcount, ncclDataType_t type,
                           ncclComm_t comm, cudaStream_t stream) {
  Part p;
  p.kind = Kind::AllGather;
  p.send = send;
  p.recv = recv;
  p.count = sendcount;
  p.type = type;
  return enqueueCollective(p, comm, stream);
}

ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t recvcount, ncclDataType_t type,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  Part p;
  p.kind = Kind::ReduceScatter;
  p.send = send;
  p.recv = recv;
  p.count = recvcount;
  p.type = type;
  p.op = op;
  return enqueueCollective(p, comm, stream);
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  Part p;
  p.kind = Kind::AllReduce;
  p.send = send;
  p.recv = recv;
  p.count = count;
  p.type = type;
  p.op = op;
  return enqueueCollective(p, comm, stream);
}

ncclResult_t ncclGroupStart() {
  tGroupDepth++;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  std::unique_lock<std::mutex> lock(gM);
  if (tGroupDepth == 0) return usage(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
  if (--tGroupDepth > 0) return ncclSuccess;
  std::vector<P2pOp> ops = std::move(groupOps());
  groupOps().clear();
  if (ops.empty()) return ncclSuccess;
  for (const P2pOp& op : ops) {
    if (op.handle != ops[0].handle || op.stream != ops[0].stream) {
      return usage(ncclInvalidUsage, "a group over several communicators or streams is not emulated");
    }
  }
  ncclResult_t refusal = ncclSuccess;
  Comm* c = ready(ops[0].handle, &refusal);
  if (!c) return refusal;
  for (P2pOp& op : ops) op.seq = op.isSend ? c->sendSeq[op.peer]++ : c->recvSeq[op.peer]++;
  auto* task = new P2pTask{ops[0].handle->comm, ops};
  gCounts.operationsEnqueued++;
  c->launchPolls = 1;
  lock.unlock();
  if (cudaLaunchHostFunc(ops[0].stream, runP2p, task) != cudaSuccess) {
    delete task;
    return ncclUnhandledCudaError;
  }
  return ncclInProgress;
}

ncclResult_t ncclSend(const void* send, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return addP2p(true, const_cast<void*>(send), count, type, peer, comm, stream);
}

ncclResult_t ncclRecv(void* recv, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return addP2p(false, recv, count, type, peer, comm, stream);
}

void ncclFakeCounts(NcclFakeCounts* out) {
  std::lock_guard<std::mutex> lock(gM);
  *out = gCounts;
}

void ncclFakeInjectAsyncError(void* comm, int result) {
  std::lock_guard<std::mutex> lock(gM);
  auto* h = static_cast<ncclComm_t>(comm);
  if (h && !h->dead) h->comm->state = static_cast<ncclResult_t>(result);
  gCv.notify_all();
}

}  // extern "C"

namespace {

ncclResult_t addP2p(bool isSend, void* buf, size_t count, ncclDataType_t type, int peer,
                    ncclComm_t h, cudaStream_t stream) {
  {
    std::lock_guard<std::mutex> lock(gM);
    ncclResult_t refusal = ncclSuccess;
    Comm* c = ready(h, &refusal);
    if (!c) return refusal;
    if (peer < 0 || peer >= c->group->n || typeSize(type) == 0 || !stream || (count > 0 && !buf)) {
      return usage(ncclInvalidArgument, "bad peer, datatype, stream or buffer");
    }
  }
  // Outside a group a send or receive is a group of its own.
  ncclGroupStart();
  P2pOp op;
  op.isSend = isSend;
  op.buf = buf;
  op.bytes = count * typeSize(type);
  op.peer = peer;
  op.handle = h;
  op.stream = stream;
  groupOps().push_back(op);
  return ncclGroupEnd();
}

}  // namespace
