#include "comm/mpi_communicator.h"

#include <algorithm>
#include <optional>
#include <cstring>
#include <thread>

#include "comm/buffer_ops.h"
#include "core/status.h"

namespace vit::comm {

namespace {

// One MPI message at most this many bytes (MPI counts are int).
constexpr int64_t kChunkBytes = int64_t{1} << 30;

const char* opName(int32_t op) {
  switch (op) {
    case 1: return "all_gather";
    case 2: return "reduce_scatter";
    case 3: return "all_reduce";
    case 4: return "collective_permute";
    case 5: return "host gather";
    default: return "?";
  }
}


}  // namespace

MpiCommunicator::MpiCommunicator(mpi::Comm comm, std::string axisName, std::vector<MeshPlace> members,
                                 int axisRank, std::chrono::milliseconds timeout,
                                 const DeviceComms* comms)
    : comm_(comm), axisName_(std::move(axisName)), members_(std::move(members)),
      axisRank_(axisRank), timeout_(timeout), comms_(comms) {}

const std::string& MpiCommunicator::step() const { return comms_ ? comms_->step() : stepName_; }

std::string MpiCommunicator::where(const char* op) const {
  return std::string(op) + " on mesh axis '" + axisName_ + "' at " +
         members_[static_cast<size_t>(axisRank_)].describe() + " (axis rank " +
         std::to_string(axisRank_) + " of " + std::to_string(size()) + "), " + step();
}

void MpiCommunicator::checkUsable(const char* op) const {
  if (mpi::broken()) {
    throw Error(ErrorCode::CollectiveAborted,
                where(op) + ": MPI is unusable after an earlier timeout or lost peer in this process; "
                            "the run must end",
                "a live MPI job", "an earlier communication failure");
  }
  if (aborted_) {
    throw Error(ErrorCode::CollectiveAborted, where(op) + ": aborted because this process's mesh run failed",
                "every rank of the mesh running", "a failure elsewhere in the mesh");
  }
}

void MpiCommunicator::post(const mpi::Api& a, const char* op, const Transfer& t, int tag,
                           std::vector<mpi::Request>& reqs, std::vector<int>& owners,
                           std::vector<char>& isSend) {
  int64_t done = 0;
  do {
    const int64_t n = std::min(kChunkBytes, t.bytes - done);
    mpi::Request r = nullptr;
    char* p = static_cast<char*>(t.buf) + done;
    const int rc = t.send ? a.Isend(p, static_cast<int>(n), a.byte, t.peer, tag, comm_, &r)
                          : a.Irecv(p, static_cast<int>(n), a.byte, t.peer, tag, comm_, &r);
    if (rc != mpi::kSuccess) {
      mpi::markBroken();
      throw Error(ErrorCode::CommPeerLost,
                  where(op) + ": MPI_" + (t.send ? "Isend to " : "Irecv from ") +
                      members_[static_cast<size_t>(t.peer)].describe() + " failed: " + mpi::errorText(rc),
                  "a live peer", mpi::errorText(rc));
    }
    reqs.push_back(r);
    owners.push_back(t.peer);
    isSend.push_back(t.send ? 1 : 0);
    done += n;
  } while (done < t.bytes);
}

namespace {

// After a timeout or an error: cancels the receives still posted (a late message must not land in
// a buffer freed meanwhile, such as a host gather's) and frees every pending request. Sends are only
// read from, so freeing their requests is enough.
void releasePending(std::vector<mpi::Request>& reqs, const std::vector<char>& isSend) {
  const mpi::Api& a = mpi::api();
  std::lock_guard<std::mutex> lock(mpi::callMutex());
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!reqs[i]) continue;
    if (!isSend[i]) a.Cancel(&reqs[i]);
    a.Request_free(&reqs[i]);
    reqs[i] = nullptr;
  }
}

}  // namespace

void MpiCommunicator::exchange(const char* op, const Descriptor& mine, std::vector<Transfer> transfers) {
  checkUsable(op);
  const mpi::Api& a = mpi::api();
  // Descriptors: ours to every peer we send to, theirs from every peer we receive from.
  std::vector<int> sendPeers, recvPeers;
  for (const Transfer& t : transfers) {
    std::vector<int>& v = t.send ? sendPeers : recvPeers;
    if (std::find(v.begin(), v.end(), t.peer) == v.end()) v.push_back(t.peer);
  }
  std::vector<Descriptor> theirs(recvPeers.size());
  Descriptor ours = mine;
  std::vector<Transfer> all;
  for (size_t i = 0; i < recvPeers.size(); ++i) all.push_back({recvPeers[i], false, &theirs[i], sizeof(Descriptor)});
  for (int p : sendPeers) all.push_back({p, true, &ours, sizeof(Descriptor)});
  // Receives before sends, so an eager message finds its receive posted.
  for (const Transfer& t : transfers) if (!t.send) all.push_back(t);
  for (const Transfer& t : transfers) if (t.send) all.push_back(t);

  // Every rank issues an axis's collectives in the same order (one SPMD plan), so the n-th call has
  // the same tag everywhere; MPI keeps messages of one (source, tag) in order, so the descriptor
  // and the data chunks match up.
  const int tag = tag_;
  tag_ = (tag_ + 1) % mpi::kTagLimit;
  std::vector<mpi::Request> reqs;
  std::vector<int> owners;
  std::vector<char> isSend;
  {
    std::lock_guard<std::mutex> lock(mpi::callMutex());
    for (const Transfer& t : all) post(a, op, t, tag, reqs, owners, isSend);
  }

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout_;
  size_t pending = reqs.size();
  int spins = 0;
  std::optional<Error> failed;
  while (pending > 0) {
    {
      std::lock_guard<std::mutex> lock(mpi::callMutex());
      for (size_t i = 0; i < reqs.size(); ++i) {
        if (!reqs[i]) continue;  // completed: nulled by us below (Open MPI's MPI_REQUEST_NULL is not 0)
        int flag = 0;
        const int rc = a.Test(&reqs[i], &flag, nullptr);
        if (rc != mpi::kSuccess) {
          mpi::markBroken();
          const MeshPlace& peer = members_[static_cast<size_t>(owners[i])];
          failed = Error(ErrorCode::CommPeerLost,
                      where(op) + ": the " + (isSend[i] ? "send to " : "receive from ") + peer.describe() +
                          " failed (" + mpi::errorText(rc) +
                          "): that process died or lost its link (or, with MPI_ERR_TRUNCATE, called a "
                          "collective of another size)",
                      "every rank of the '" + axisName_ + "' group alive", "lost " + peer.describe());
          break;
        }
        if (flag) {
          reqs[i] = nullptr;
          --pending;
        }
      }
    }
    if (failed) {
      // The failed request is not MPI_REQUEST_NULL-ed by an error return; drop it with the rest.
      releasePending(reqs, isSend);
      throw *failed;
    }
    if (pending == 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      mpi::markBroken();
      std::string missing, missingShort;
      for (size_t i = 0; i < reqs.size(); ++i) {
        if (!reqs[i] || isSend[i]) continue;
        const MeshPlace& p = members_[static_cast<size_t>(owners[i])];
        if (missingShort.find("|" + std::to_string(p.rank) + "|") != std::string::npos) continue;
        missingShort += "|" + std::to_string(p.rank) + "|";
        missing += (missing.empty() ? "" : ", ") + p.describe();
      }
      if (missing.empty()) missing = "(every peer's data came; a peer has not taken ours)";
      releasePending(reqs, isSend);
      throw Error(ErrorCode::CommTimeout,
                  where(op) + ": timed out after " + std::to_string(timeout_.count()) +
                      " ms waiting for its peers; no data from: " + missing,
                  "every rank of the '" + axisName_ + "' group at " + op + " within " +
                      std::to_string(timeout_.count()) + " ms",
                  "missing " + missing);
    }
    // Poll hot for a few microseconds (small collectives complete fast), then back off: ranks may
    // share cores with their peers (mpirun --oversubscribe), and a spinning waiter starves them.
    if (++spins < 64) {
      std::this_thread::yield();
    } else {
      const auto waited = now - start;
      std::this_thread::sleep_for(waited < std::chrono::milliseconds(10) ? std::chrono::microseconds(20)
                                                                          : std::chrono::microseconds(500));
    }
  }
  for (size_t i = 0; i < recvPeers.size(); ++i) {
    const Descriptor& d = theirs[i];
    if (d.op != mine.op || d.dtype != mine.dtype || d.count != mine.count || d.shift != mine.shift ||
        d.scale != mine.scale) {
      const MeshPlace& p = members_[static_cast<size_t>(recvPeers[i])];
      auto text = [](const Descriptor& x) {
        return std::string(opName(x.op)) + " of " + std::to_string(x.count) + " " +
               dtypeName(static_cast<DType>(x.dtype)) + " shift " + std::to_string(x.shift) +
               " scale " + std::to_string(x.scale);
      };
      throw Error(ErrorCode::InvalidPlan,
                  "collective mismatch on mesh axis '" + axisName_ + "': " +
                      members_[static_cast<size_t>(axisRank_)].describe() + " called " + text(mine) +
                      " but " + p.describe() + " called " + text(d) + ", " + step(),
                  text(mine), text(d));
    }
  }
}

void MpiCommunicator::allGather(const void* send, void* recv, int64_t count, DType dtype,
                                Stream stream) {
  const int64_t bytes = count * static_cast<int64_t>(dtypeSize(dtype));
  const int n = size();
  std::vector<Transfer> ts;
  for (int j = 0; j < n; ++j) {
    if (j == axisRank_) continue;
    ts.push_back({j, false, static_cast<char*>(recv) + j * bytes, bytes});
    ts.push_back({j, true, const_cast<void*>(send), bytes});
  }
  Descriptor d;
  d.op = 1;
  d.dtype = static_cast<int32_t>(dtype);
  d.count = count;
  exchange("all_gather", d, std::move(ts));
  char* mine = static_cast<char*>(recv) + axisRank_ * bytes;
  if (mine != send) copyElements(mine, send, count, dtype, stream);
}

void MpiCommunicator::reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                                    Stream stream) {
  const int64_t bytes = recvCount * static_cast<int64_t>(dtypeSize(dtype));
  const int n = size();
  // scratch[j]: peer j's block for us; slot n: the sum when recv overlaps what we still read.
  if (scratch_.size() < static_cast<size_t>((n + 1) * bytes)) scratch_.resize(static_cast<size_t>((n + 1) * bytes));
  std::vector<Transfer> ts;
  for (int j = 0; j < n; ++j) {
    if (j == axisRank_) continue;
    ts.push_back({j, false, scratch_.data() + j * bytes, bytes});
    ts.push_back({j, true, const_cast<char*>(static_cast<const char*>(send)) + j * bytes, bytes});
  }
  Descriptor d;
  d.op = 2;
  d.dtype = static_cast<int32_t>(dtype);
  d.count = recvCount;
  exchange("reduce_scatter", d, std::move(ts));
  std::vector<const void*> srcs(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) {
    srcs[static_cast<size_t>(j)] = j == axisRank_ ? static_cast<const char*>(send) + j * bytes
                                                  : static_cast<const void*>(scratch_.data() + j * bytes);
  }
  const char* s = static_cast<const char*>(send);
  const char* r = static_cast<const char*>(recv);
  const bool overlaps = r < s + n * bytes && s < r + bytes;
  void* dst = overlaps ? static_cast<void*>(scratch_.data() + n * bytes) : recv;
  sumInOrder(dst, srcs.data(), n, recvCount, dtype, 1.0f, stream);
  if (overlaps) copyElements(recv, dst, recvCount, dtype, stream);
}

void MpiCommunicator::allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                                Stream stream) {
  const int64_t bytes = count * static_cast<int64_t>(dtypeSize(dtype));
  const int n = size();
  // scratch[j]: peer j's whole buffer; slot n: the sum when reducing in place.
  if (scratch_.size() < static_cast<size_t>((n + 1) * bytes)) scratch_.resize(static_cast<size_t>((n + 1) * bytes));
  std::vector<Transfer> ts;
  for (int j = 0; j < n; ++j) {
    if (j == axisRank_) continue;
    ts.push_back({j, false, scratch_.data() + j * bytes, bytes});
    ts.push_back({j, true, const_cast<void*>(send), bytes});
  }
  Descriptor d;
  d.op = 3;
  d.dtype = static_cast<int32_t>(dtype);
  d.count = count;
  d.scale = scale;
  exchange("all_reduce", d, std::move(ts));
  std::vector<const void*> srcs(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) {
    srcs[static_cast<size_t>(j)] = j == axisRank_ ? send : static_cast<const void*>(scratch_.data() + j * bytes);
  }
  const bool inPlace = send == recv;
  void* dst = inPlace ? static_cast<void*>(scratch_.data() + n * bytes) : recv;
  sumInOrder(dst, srcs.data(), n, count, dtype, scale, stream);
  if (inPlace) copyElements(recv, dst, count, dtype, stream);
}

void MpiCommunicator::permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
                              Stream stream) {
  const int64_t n = size();
  const int64_t bytes = count * static_cast<int64_t>(dtypeSize(dtype));
  const int to = static_cast<int>(((axisRank_ + shift) % n + n) % n);
  const int from = static_cast<int>(((axisRank_ - shift) % n + n) % n);
  Descriptor d;
  d.op = 4;
  d.dtype = static_cast<int32_t>(dtype);
  d.count = count;
  d.shift = shift;
  if (to == axisRank_) {
    exchange("collective_permute", d, {});
    if (recv != send) copyElements(recv, send, count, dtype, stream);
    return;
  }
  const bool inPlace = send == recv;
  if (inPlace && scratch_.size() < static_cast<size_t>(bytes)) scratch_.resize(static_cast<size_t>(bytes));
  void* into = inPlace ? static_cast<void*>(scratch_.data()) : recv;
  exchange("collective_permute", d, {{from, false, into, bytes}, {to, true, const_cast<void*>(send), bytes}});
  if (inPlace) copyElements(recv, into, count, dtype, stream);
}

std::vector<std::vector<uint8_t>> MpiCommunicator::gatherBytes(const void* data, size_t bytes,
                                                               const char* what) {
  const int n = size();
  std::vector<std::vector<uint8_t>> out(static_cast<size_t>(n));
  std::vector<Transfer> ts;
  for (int j = 0; j < n; ++j) {
    out[static_cast<size_t>(j)].resize(bytes);
    if (j == axisRank_) continue;
    ts.push_back({j, false, out[static_cast<size_t>(j)].data(), static_cast<int64_t>(bytes)});
    ts.push_back({j, true, const_cast<void*>(data), static_cast<int64_t>(bytes)});
  }
  if (bytes > 0) std::memcpy(out[static_cast<size_t>(axisRank_)].data(), data, bytes);
  Descriptor d;
  d.op = 5;
  d.count = static_cast<int64_t>(bytes);
  const std::string saved = stepName_;
  stepName_ = what;
  try {
    exchange("host gather", d, std::move(ts));
  } catch (...) {
    stepName_ = saved;
    throw;
  }
  stepName_ = saved;
  return out;
}

}  // namespace vit::comm
