// The `nccl` backend (nccl_communicator.h says how it is built). Only in the CUDA addon: the CPU
// addon compiles this file to nothing.
#include "comm/nccl_communicator.h"

#if VIT22B_WITH_CUDA

#include <cuda_runtime_api.h>

#include <cstdlib>

#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::comm {

namespace {

using Clock = std::chrono::steady_clock;
using cuda::checkCuda;
using cuda::NcclComm;
using cuda::NcclResult;

// How often an InProgress call is polled, and how often the watchdog looks: short enough that a
// start-up costs no visible time, long enough that polling costs no visible CPU.
constexpr std::chrono::microseconds kSettlePoll{200};
constexpr std::chrono::milliseconds kWatchPoll{10};

const cuda::Nccl& requireNccl() {
  const cuda::Nccl* api = cuda::nccl();
  if (!api) {
    throw Error(ErrorCode::LibraryNotFound,
                "--comm nccl: NCCL is not loaded (vit22b info says where it was looked for)",
                "libnccl.so.2 (NCCL " + std::to_string(cuda::kNcclVersionFloor / 10000) + "." +
                    std::to_string(cuda::kNcclVersionFloor / 100 % 100) + " or newer)",
                "none loaded");
  }
  const std::string why = api->communicatorUnsupported();
  if (!why.empty()) throw Error(ErrorCode::LibraryNotFound, "--comm nccl: " + why);
  return *api;
}

cuda::NcclDataType ncclType(DType dtype, const char* op) {
  switch (dtype) {
    case DType::F32: return cuda::kNcclFloat32;
    case DType::BF16: return cuda::kNcclBfloat16;
    case DType::I32: return cuda::kNcclInt32;
    case DType::U8: return cuda::kNcclUint8;
  }
  throw Error(ErrorCode::DtypeMismatch, std::string(op) + " over NCCL: unknown dtype",
              "f32, bf16, i32 or u8", std::to_string(static_cast<int>(dtype)));
}

std::string ms(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

int mod(int64_t a, int n) { return static_cast<int>(((a % n) + n) % n); }

}  // namespace

NcclWorld::NcclWorld(const NcclWorldOptions& options)
    : nccl_(requireNccl()), options_(options) {
  const int n = options.dataSize * options.modelSize;
  if (options.dataSize < 1 || options.modelSize < 1 || options.rank < 0 || options.rank >= n ||
      options.timeout.count() <= 0) {
    throw Error(ErrorCode::InvalidArgument,
                "--comm nccl: rank " + std::to_string(options.rank) + " of a " +
                    std::to_string(options.dataSize) + " x " + std::to_string(options.modelSize) +
                    " mesh with a timeout of " + ms(options.timeout),
                "0 <= rank < data * model, sizes >= 1, timeout > 0",
                "rank " + std::to_string(options.rank));
  }
  place_ = MeshPlace::of(options.rank, options.dataSize, options.modelSize);
}

std::shared_ptr<NcclWorld> NcclWorld::create(const NcclWorldOptions& options) {
  std::shared_ptr<NcclWorld> world(new NcclWorld(options));
  world->init();
  NcclWorld* w = world.get();
  world->watchdog_ = std::thread([w] { w->watch(); });
  return world;
}

void NcclWorld::init() {
  const int n = options_.dataSize * options_.modelSize;
  checkCuda(cudaSetDevice(options_.cudaDevice), "cudaSetDevice (nccl)");
  // Without NCCL_COMM_ID every rank would make an id of its own and wait for peers that never come.
  if (n > 1 && std::getenv("NCCL_COMM_ID") == nullptr) {
    throw Error(ErrorCode::InvalidArgument,
                "--comm nccl with " + std::to_string(n) +
                    " ranks needs NCCL_COMM_ID=host:port (rank 0's address and a free port): start "
                    "the job with `vit22b launch`, which sets it from --master-addr/--master-port, "
                    "or set it yourself under srun or mpirun",
                "NCCL_COMM_ID set", "unset");
  }
  cuda::NcclUniqueId id{};
  NcclResult r = nccl_.getUniqueId(&id);
  if (r != cuda::kNcclSuccess) throw ncclError(r, "ncclGetUniqueId at " + place_.describe(), nullptr);

  std::unique_lock<std::mutex> lock(mutex_);
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  cuda::NcclConfig config;
  config.blocking = 0;
  r = nccl_.commInitRankConfig(&world_, n, id, options_.rank, &config);
  settle(world_, r,
         "ncclCommInitRankConfig (a world of " + std::to_string(n) + ", bootstrap at NCCL_COMM_ID=" +
             (std::getenv("NCCL_COMM_ID") ? std::getenv("NCCL_COMM_ID") : "(local)") + ") at " +
             place_.describe() + ", start-up",
         deadline, lock);
  // Both splits, in the same order on every rank (a split is a collective over the world).
  for (MeshAxis axis : {MeshAxis::Data, MeshAxis::Model}) {
    const bool data = axis == MeshAxis::Data;
    cuda::NcclConfig splitConfig;
    splitConfig.blocking = 0;
    NcclComm& slot = axes_[static_cast<size_t>(axis)];
    r = nccl_.commSplit(world_, data ? place_.model : place_.data, data ? place_.data : place_.model,
                        &slot, &splitConfig);
    const std::string what = std::string("ncclCommSplit for mesh axis '") + axisName(axis) +
                             "' at " + place_.describe() + ", start-up";
    // A non-blocking split is polled on the new communicator (the parent is usable once it is).
    settle(slot, r, what, deadline, lock);
    settle(world_, cuda::kNcclSuccess, what, deadline, lock);
  }
}

void NcclWorld::settle(NcclComm comm, NcclResult first, const std::string& what,
                       Clock::time_point deadline, std::unique_lock<std::mutex>& lock) {
  if (first != cuda::kNcclSuccess && first != cuda::kNcclInProgress) {
    Error e = ncclError(first, what, comm);
    fail(e);
    throw e;
  }
  if (comm == nullptr) return;
  for (;;) {
    NcclResult state = cuda::kNcclInProgress;
    const NcclResult r = nccl_.commGetAsyncError(comm, &state);
    if (r != cuda::kNcclSuccess) state = r;
    if (state == cuda::kNcclSuccess) return;
    if (state != cuda::kNcclInProgress) {
      Error e = ncclError(state, what, comm);
      fail(e);
      throw e;
    }
    if (Clock::now() >= deadline) {
      Error e(ErrorCode::CommTimeout,
              what + ": not complete after " + ms(options_.timeout) +
                  " (--comm-timeout); every NCCL communicator of this process was aborted. NCCL "
                  "does not say which peers are missing: look for the rank that never reached this "
                  "point, or is unreachable at the bootstrap address",
              "every rank of the group within " + ms(options_.timeout),
              "still in progress at " + place_.describe());
      fail(e);
      throw e;
    }
    lock.unlock();
    std::this_thread::sleep_for(kSettlePoll);
    lock.lock();
    if (failure_) throw *failure_;  // the watchdog found something meanwhile
  }
}

Error NcclWorld::ncclError(NcclResult result, const std::string& what, NcclComm comm) const {
  std::string text = nccl_.errorString ? nccl_.errorString(result) : "error";
  if (nccl_.lastError) {
    const char* last = nccl_.lastError(comm);
    if (last && *last) text += ": " + std::string(last);
  }
  const std::string received = "ncclResult " + std::to_string(static_cast<int>(result));
  if (result == cuda::kNcclRemoteError) {
    return Error(ErrorCode::CommPeerLost,
                 what + ": a peer of this communicator failed or vanished (NCCL: " + text +
                     "); the launcher names the rank that failed first",
                 "every rank of the group alive", received);
  }
  if (result == cuda::kNcclTimeout) {
    return Error(ErrorCode::CommTimeout, what + ": NCCL timed out (" + text + ")",
                 "completion within NCCL's own timeout", received);
  }
  return Error(ErrorCode::CudaError, what + ": NCCL failed: " + text, "ncclSuccess", received);
}

void NcclWorld::abortLocked() {
  if (aborted_) return;
  aborted_ = true;
  // Children before their parent; the result is ignored: there is nothing left to do on failure.
  for (NcclComm& c : axes_) {
    if (c) nccl_.commAbort(c);
    c = nullptr;
  }
  if (world_) nccl_.commAbort(world_);
  world_ = nullptr;
  // The aborted kernels return; the events recorded after them complete on their own.
  for (Pending& p : pending_) cudaEventDestroy(reinterpret_cast<cudaEvent_t>(p.done));
  pending_.clear();
}

void NcclWorld::fail(Error error) {
  if (!failure_) failure_ = std::move(error);
  abortLocked();
}

void NcclWorld::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  abortLocked();
}

void NcclWorld::check() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failure_) throw *failure_;
}

void NcclWorld::run(const char* op, MeshAxis axis, const std::string& step, Stream stream,
                    const std::function<NcclResult()>& call) {
  const bool data = axis == MeshAxis::Data;
  const std::string what = std::string(op) + " on mesh axis '" + axisName(axis) + "' at " +
                           place_.describe() + " (axis rank " +
                           std::to_string(data ? place_.data : place_.model) + " of " +
                           std::to_string(data ? place_.dataSize : place_.modelSize) + "), " + step;
  std::unique_lock<std::mutex> lock(mutex_);
  enqueue(axes_[static_cast<size_t>(axis)], what, stream, call, lock);
}

// Called with mutex_ held (run, gatherHost); settle() drops and retakes it while it polls.
void NcclWorld::enqueue(NcclComm comm, const std::string& what, Stream stream,
                        const std::function<NcclResult()>& call, std::unique_lock<std::mutex>& lock) {
  if (failure_) throw *failure_;
  if (aborted_) {
    throw Error(ErrorCode::CollectiveAborted, what + ": the NCCL communicators were aborted",
                "live communicators", "aborted");
  }
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  settle(comm, call(), what, deadline, lock);

  // Under CUDA graph capture nothing runs now; the replay is watched through the communicators'
  // asynchronous errors (the watchdog polls them all the time), not by an event.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  const auto s = static_cast<cudaStream_t>(stream.handle);
  checkCuda(cudaStreamIsCapturing(s, &capture), "cudaStreamIsCapturing (nccl)");
  if (capture != cudaStreamCaptureStatusNone) return;
  cudaEvent_t done = nullptr;
  checkCuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate (nccl)");
  const cudaError_t recorded = cudaEventRecord(done, s);
  if (recorded != cudaSuccess) {
    cudaEventDestroy(done);
    checkCuda(recorded, "cudaEventRecord (nccl)");
  }
  pending_.push_back({reinterpret_cast<CUevent_st*>(done), comm, what, deadline});
  wake_.notify_all();
}

std::vector<std::vector<uint8_t>> NcclWorld::gatherHost(const void* data, size_t bytes,
                                                        const std::string& what) {
  check();  // a failed world stages nothing
  const int n = place_.dataSize * place_.modelSize;
  checkCuda(cudaSetDevice(options_.cudaDevice), "cudaSetDevice (nccl host gather)");
  // At least one byte each, so an empty gather still meets its peers (every rank calls it).
  const size_t each = bytes == 0 ? 1 : bytes;
  auto stream = reinterpret_cast<cudaStream_t>(gatherStream_);
  if (!stream) {
    checkCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate (nccl host gather)");
    gatherStream_ = reinterpret_cast<CUstream_st*>(stream);
  }
  if (each > gatherCapacity_) {
    // The stream is idle here (every gather is waited for), so the old buffers may go.
    if (gatherSend_) cudaFree(gatherSend_);
    if (gatherRecv_) cudaFree(gatherRecv_);
    gatherSend_ = gatherRecv_ = nullptr;
    gatherCapacity_ = 0;
    checkCuda(cudaMalloc(&gatherSend_, each), "cudaMalloc (nccl host gather)");
    checkCuda(cudaMalloc(&gatherRecv_, each * static_cast<size_t>(n)), "cudaMalloc (nccl host gather)");
    gatherCapacity_ = each;
  }
  void* send = gatherSend_;
  void* recv = gatherRecv_;
  if (bytes > 0) {
    checkCuda(cudaMemcpyAsync(send, data, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (nccl host gather)");
  }
  const std::string call = what + " (a host gather of " + std::to_string(bytes) + " bytes over the world at " +
                           place_.describe() + ")";
  {
    std::unique_lock<std::mutex> lock(mutex_);
    NcclComm comm = world_;
    enqueue(comm, call, Stream{stream}, [&] {
      return nccl_.allGather(send, recv, each, cuda::kNcclUint8, comm, static_cast<cuda::NcclStream>(stream));
    }, lock);
  }
  // Wait on the host without blocking inside CUDA: a gather that never completes is ended by the
  // watchdog (abort at the deadline), which makes the stream drain and check() throw.
  for (;;) {
    const cudaError_t q = cudaStreamQuery(stream);
    if (q == cudaSuccess) break;
    if (q != cudaErrorNotReady) {
      cudaGetLastError();
      check();
      checkCuda(q, "cudaStreamQuery (nccl host gather)");
    }
    check();
    std::this_thread::sleep_for(kSettlePoll);
  }
  check();
  // Only now, the gather complete: a copy into pageable memory may block the host.
  std::vector<uint8_t> all(each * static_cast<size_t>(n));
  checkCuda(cudaMemcpy(all.data(), recv, all.size(), cudaMemcpyDeviceToHost), "cudaMemcpy (nccl host gather)");
  std::vector<std::vector<uint8_t>> out(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) {
    const uint8_t* from = all.data() + static_cast<size_t>(j) * each;
    out[static_cast<size_t>(j)].assign(from, from + bytes);
  }
  return out;
}

void NcclWorld::watch() {
  // The watchdog queries events of this rank's GPU.
  cudaSetDevice(options_.cudaDevice);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kWatchPoll);
    if (stopping_ || aborted_) continue;
    // A lost peer shows in the communicators' state even when nothing of ours is pending.
    for (NcclComm c : {axes_[0], axes_[1], world_}) {
      NcclResult state = cuda::kNcclSuccess;
      if (!c || nccl_.commGetAsyncError(c, &state) != cuda::kNcclSuccess) continue;
      if (state == cuda::kNcclSuccess || state == cuda::kNcclInProgress) continue;
      // Name the oldest collective pending on the failed communicator; else the communicator.
      std::string what;
      for (const Pending& p : pending_) {
        if (p.comm == c) {
          what = p.what;
          break;
        }
      }
      if (what.empty()) {
        const std::string which = c == world_ ? std::string("the world") : std::string("mesh axis '") + axisName(c == axes_[0] ? MeshAxis::Data : MeshAxis::Model) + "'";
        what = "the NCCL communicator of " + which + " at " + place_.describe() + ", with no collective of it pending";
      }
      fail(ncclError(state, what, c));
      break;
    }
    if (aborted_) continue;
    const Clock::time_point now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      const cudaError_t q = cudaEventQuery(reinterpret_cast<cudaEvent_t>(it->done));
      if (q == cudaSuccess) {
        cudaEventDestroy(reinterpret_cast<cudaEvent_t>(it->done));
        it = pending_.erase(it);
        continue;
      }
      if (q != cudaErrorNotReady) {
        cudaGetLastError();
        fail(Error(ErrorCode::CudaError, it->what + ": " + cudaGetErrorString(q)));
        break;
      }
      if (now >= it->deadline) {
        fail(Error(ErrorCode::CommTimeout,
                   it->what + ": not complete " + ms(options_.timeout) +
                       " after it was enqueued (--comm-timeout); every NCCL communicator of this "
                       "process was aborted. NCCL does not say which peers are missing: look for "
                       "the rank that never reached this collective",
                   "the collective complete within " + ms(options_.timeout),
                   "still running at " + place_.describe()));
        break;
      }
      ++it;
    }
  }
}

NcclWorld::~NcclWorld() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  std::unique_lock<std::mutex> lock(mutex_);
  for (Pending& p : pending_) cudaEventDestroy(reinterpret_cast<cudaEvent_t>(p.done));
  pending_.clear();
  // The host gather's staging: its stream is idle (every gather was waited for, or drained by an
  // abort), so the buffers and the stream may go now.
  if (gatherStream_) {
    cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(gatherStream_));
    if (gatherSend_) cudaFree(gatherSend_);
    if (gatherRecv_) cudaFree(gatherRecv_);
    cudaStreamDestroy(reinterpret_cast<cudaStream_t>(gatherStream_));
    gatherStream_ = nullptr;
  }
  if (aborted_) return;
  // A clean end: finalize (collective, non-blocking, so polled) and destroy; a finalize that does
  // not settle in time (a peer gone) is aborted instead. A destructor never throws.
  try {
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    for (NcclComm c : {axes_[0], axes_[1], world_}) {
      if (c) settle(c, nccl_.commFinalize(c), "ncclCommFinalize at " + place_.describe(), deadline, lock);
    }
    for (NcclComm& c : axes_) {
      if (c) nccl_.commDestroy(c);
      c = nullptr;
    }
    if (world_) nccl_.commDestroy(world_);
    world_ = nullptr;
  } catch (...) {
    abortLocked();
  }
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<NcclWorld> world, MeshAxis axis)
    : world_(std::move(world)), axis_(axis) {
  const MeshPlace& p = world_->place();
  size_ = axis == MeshAxis::Data ? p.dataSize : p.modelSize;
  rank_ = axis == MeshAxis::Data ? p.data : p.model;
}

std::string NcclCommunicator::step() const {
  return comms_ ? comms_->step() : std::string("outside a mesh run");
}

void NcclCommunicator::allGather(const void* send, void* recv, int64_t count, DType dtype,
                                 Stream stream) {
  const auto type = ncclType(dtype, "all_gather");
  const cuda::Nccl& api = world_->api();
  world_->run("all_gather", axis_, step(), stream, [&] {
    const NcclComm comm = world_->axisComm(axis_);  // under run's lock: the watchdog may clear it
    return api.allGather(send, recv, static_cast<size_t>(count), type, comm,
                         static_cast<cuda::NcclStream>(stream.handle));
  });
}

void NcclCommunicator::reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                                     Stream stream) {
  const auto type = ncclType(dtype, "reduce_scatter");
  const cuda::Nccl& api = world_->api();
  world_->run("reduce_scatter", axis_, step(), stream, [&] {
    const NcclComm comm = world_->axisComm(axis_);  // under run's lock: the watchdog may clear it
    return api.reduceScatter(send, recv, static_cast<size_t>(recvCount), type, cuda::kNcclSum,
                             comm, static_cast<cuda::NcclStream>(stream.handle));
  });
}

void NcclCommunicator::allReduce(const void* send, void* recv, int64_t count, DType dtype,
                                 float scale, Stream stream) {
  const auto type = ncclType(dtype, "all_reduce");
  const cuda::Nccl& api = world_->api();
  world_->run("all_reduce", axis_, step(), stream, [&] {
    const NcclComm comm = world_->axisComm(axis_);  // under run's lock: the watchdog may clear it
    return api.allReduce(send, recv, static_cast<size_t>(count), type, cuda::kNcclSum, comm,
                         static_cast<cuda::NcclStream>(stream.handle));
  });
  if (scale == 1.0f || count == 0) return;
  // Summed first, scaled once, on the same stream (axpby with beta 0 never reads y: in place).
  AxpbyArgs s;
  s.dtype = dtype;
  s.n = count;
  s.alpha = scale;
  s.x = recv;
  s.beta = 0.0f;
  s.y = recv;
  cuda::axpby(stream, s);
}

void NcclCommunicator::permute(const void* send, void* recv, int64_t count, DType dtype,
                               int64_t shift, Stream stream) {
  const auto type = ncclType(dtype, "collective_permute");
  const int to = mod(rank_ + shift, size_);
  const int from = mod(rank_ - shift, size_);
  if (to == rank_) {
    // A shift by a multiple of the axis size: this rank's own buffer.
    if (send != recv && count > 0) {
      checkCuda(cudaMemcpyAsync(recv, send, static_cast<size_t>(count) * dtypeSize(dtype),
                                cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream.handle)),
                "collective_permute (nccl, shift 0)");
    }
    return;
  }
  const cuda::Nccl& api = world_->api();
  const auto s = static_cast<cuda::NcclStream>(stream.handle);
  world_->run("collective_permute", axis_, step(), stream, [&] {
    const NcclComm comm = world_->axisComm(axis_);  // under run's lock: the watchdog may clear it
    // One group: NCCL pairs the send and the receive, so a ring of permutes cannot deadlock.
    const NcclResult started = api.groupStart();
    if (started != cuda::kNcclSuccess) return started;
    const NcclResult sent = api.send(send, static_cast<size_t>(count), type, to, comm, s);
    const NcclResult received = api.recv(recv, static_cast<size_t>(count), type, from, comm, s);
    const NcclResult ended = api.groupEnd();
    if (sent != cuda::kNcclSuccess) return sent;
    if (received != cuda::kNcclSuccess) return received;
    return ended;
  });
}

std::shared_ptr<DeviceComms> makeNcclDeviceComms(const std::shared_ptr<NcclWorld>& world) {
  auto data = std::make_unique<NcclCommunicator>(world, MeshAxis::Data);
  auto model = std::make_unique<NcclCommunicator>(world, MeshAxis::Model);
  NcclCommunicator* d = data.get();
  NcclCommunicator* m = model.get();
  auto comms = std::make_shared<DeviceComms>(world->place(), std::move(data), std::move(model));
  d->setComms(comms.get());
  m->setComms(comms.get());
  return comms;
}

}  // namespace vit::comm

#endif  // VIT22B_WITH_CUDA
