#include "comm/local_communicator.h"

#include <cstring>

#include "comm/buffer_ops.h"
#include "core/status.h"

namespace vit::comm {

namespace {

std::string describePost(const LocalGroup::Post& p) {
  std::string s = std::string(p.op) + " of " + std::to_string(p.count) + " " + dtypeName(p.dtype);
  if (std::strcmp(p.op, "collective_permute") == 0) s += " shift " + std::to_string(p.shift);
  if (std::strcmp(p.op, "all_reduce") == 0) s += " scale " + std::to_string(p.scale);
  return s;
}

bool samePost(const LocalGroup::Post& a, const LocalGroup::Post& b) {
  return std::strcmp(a.op, b.op) == 0 && a.count == b.count && a.dtype == b.dtype &&
         a.scale == b.scale && a.shift == b.shift;
}

}  // namespace

LocalGroup::LocalGroup(MeshAxis axis, std::vector<MeshPlace> members,
                       std::chrono::milliseconds timeout)
    : axis_(axis), members_(std::move(members)), timeout_(timeout),
      arrived_(members_.size(), 0), posts_(members_.size()) {}

void LocalGroup::barrier(int axisRank, const Post* post, const char* op, const char* phase,
                         const std::string& step) {
  const MeshPlace& me = member(axisRank);
  const std::string where = std::string(op) + " on mesh axis '" + axisName(axis_) + "' at " +
                            me.describe() + " (axis rank " + std::to_string(axisRank) + " of " +
                            std::to_string(size()) + "), " + step;
  auto aborted = [&] {
    return Error(ErrorCode::CollectiveAborted,
                 where + ": aborted " + phase + " because another rank of the mesh failed",
                 "every rank of the mesh running", "a failure elsewhere in the mesh");
  };
  std::unique_lock<std::mutex> lock(mutex_);
  if (aborted_) throw aborted();
  if (post) posts_[static_cast<size_t>(axisRank)] = *post;
  arrived_[static_cast<size_t>(axisRank)] = 1;
  const uint64_t gen = generation_;
  if (++arrivedCount_ == size()) {
    arrivedCount_ = 0;
    std::fill(arrived_.begin(), arrived_.end(), 0);
    ++generation_;
    cv_.notify_all();
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (generation_ == gen && !aborted_) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && generation_ == gen &&
        !aborted_) {
      std::string missing;
      std::string missingShort;
      for (int j = 0; j < size(); ++j) {
        if (arrived_[static_cast<size_t>(j)]) continue;
        missing += (missing.empty() ? "" : ", ") + member(j).describe();
        missingShort += (missingShort.empty() ? "" : ", ") + std::to_string(member(j).rank);
      }
      // Withdraw, so the group's count stays true for whoever comes next.
      arrived_[static_cast<size_t>(axisRank)] = 0;
      --arrivedCount_;
      throw Error(ErrorCode::CollectiveTimeout,
                  where + ": timed out after " + std::to_string(timeout_.count()) + " ms " + phase +
                      "; never arrived: " + missing,
                  "every rank of the '" + std::string(axisName(axis_)) + "' group at " + op +
                      " within " + std::to_string(timeout_.count()) + " ms",
                  "missing ranks " + missingShort);
    }
  }
  if (generation_ == gen) {
    arrived_[static_cast<size_t>(axisRank)] = 0;
    --arrivedCount_;
    throw aborted();
  }
}

void LocalGroup::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  cv_.notify_all();
}

void LocalGroup::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = false;
  arrivedCount_ = 0;
  std::fill(arrived_.begin(), arrived_.end(), 0);
  ++generation_;
}

LocalCommunicator::LocalCommunicator(std::shared_ptr<LocalGroup> group, int axisRank,
                                     const DeviceComms* comms)
    : group_(std::move(group)), axisRank_(axisRank), comms_(comms) {}

template <typename Fn>
void LocalCommunicator::rendezvous(const LocalGroup::Post& mine, const Fn& compute) {
  static const std::string noStep = "outside a mesh run";
  const std::string& step = comms_ ? comms_->step() : noStep;
  group_->barrier(axisRank_, &mine, mine.op, "waiting for its peers", step);
  // Every rank sees the same posts, so a mismatch is found by all of them alike (none waits).
  for (int j = 0; j < size(); ++j) {
    const LocalGroup::Post& p = group_->post(j);
    if (!samePost(p, mine)) {
      throw Error(ErrorCode::InvalidPlan,
                  "collective mismatch on mesh axis '" + std::string(axisName(group_->axis())) +
                      "': " + group_->member(axisRank_).describe() + " called " +
                      describePost(mine) + " but " + group_->member(j).describe() + " called " +
                      describePost(p) + ", " + step,
                  describePost(mine), describePost(p));
    }
  }
  compute();
  group_->barrier(axisRank_, nullptr, mine.op, "while its peers read its buffers", step);
}

void LocalCommunicator::allGather(const void* send, void* recv, int64_t count, DType dtype,
                                  Stream stream) {
  LocalGroup::Post mine{"all_gather", send, recv, count, dtype};
  rendezvous(mine, [&] {
    const int64_t bytes = count * static_cast<int64_t>(dtypeSize(dtype));
    for (int j = 0; j < size(); ++j) {
      copyElements(static_cast<char*>(recv) + j * bytes, group_->post(j).send, count, dtype, stream);
    }
  });
}

void LocalCommunicator::reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                                      Stream stream) {
  LocalGroup::Post mine{"reduce_scatter", send, recv, recvCount, dtype};
  rendezvous(mine, [&] {
    const int64_t offset = axisRank_ * recvCount * static_cast<int64_t>(dtypeSize(dtype));
    std::vector<const void*> srcs(static_cast<size_t>(size()));
    for (int j = 0; j < size(); ++j) srcs[static_cast<size_t>(j)] = static_cast<const char*>(group_->post(j).send) + offset;
    sumInOrder(recv, srcs.data(), size(), recvCount, dtype, 1.0f, stream);
  });
}

void LocalCommunicator::allReduce(const void* send, void* recv, int64_t count, DType dtype,
                                  float scale, Stream stream) {
  LocalGroup::Post mine{"all_reduce", send, recv, count, dtype, scale};
  // In place, recv is this rank's send, which peers read until the second barrier: compute into
  // scratch, copy after it.
  const bool inPlace = send == recv;
  const size_t bytes = static_cast<size_t>(count) * dtypeSize(dtype);
  if (inPlace && scratch_.size() < bytes) scratch_.resize(bytes);
  rendezvous(mine, [&] {
    std::vector<const void*> srcs(static_cast<size_t>(size()));
    for (int j = 0; j < size(); ++j) srcs[static_cast<size_t>(j)] = group_->post(j).send;
    sumInOrder(inPlace ? scratch_.data() : recv, srcs.data(), size(), count, dtype, scale, stream);
  });
  if (inPlace) copyElements(recv, scratch_.data(), count, dtype, stream);
}

void LocalCommunicator::permute(const void* send, void* recv, int64_t count, DType dtype,
                                int64_t shift, Stream stream) {
  LocalGroup::Post mine{"collective_permute", send, recv, count, dtype, 1.0f, shift};
  rendezvous(mine, [&] {
    const int64_t n = size();
    const int64_t from = ((axisRank_ - shift) % n + n) % n;
    copyElements(recv, group_->post(static_cast<int>(from)).send, count, dtype, stream);
  });
}

}  // namespace vit::comm
