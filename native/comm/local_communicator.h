// The `local` backend: virtual devices of one process (one thread per device during a mesh run).
// A LocalGroup is shared by the ranks of one axis group; each collective is a rendezvous:
//   1. every rank posts its buffer pointers and waits for all peers (a generation-counted barrier
//      on a condition variable);
//   2. every rank computes its own output, reading its peers' buffers directly (sums in axis rank
//      order, so the bits never depend on timing or thread counts);
//   3. a second barrier, so no rank returns (and reuses or frees its buffers) while a peer may still
//      be reading them. An in-place all_reduce computes into scratch and copies after it.
// Every wait has a deadline (the mesh's timeoutMs): on expiry ERR_COLLECTIVE_TIMEOUT names the
// collective, the axis, the waiting rank with its coordinates, the step and the ranks that never
// arrived. abort() wakes every waiter with ERR_COLLECTIVE_ABORTED; the mesh reset()s its groups
// before the next run, when no thread is inside a collective.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/device_comms.h"

namespace vit::comm {

class LocalGroup {
 public:
  // members[j]: the place of axis rank j in the mesh.
  LocalGroup(MeshAxis axis, std::vector<MeshPlace> members, std::chrono::milliseconds timeout);

  // What one rank brings to a collective.
  struct Post {
    const char* op = "";  // the collective's kernel name
    const void* send = nullptr;
    void* recv = nullptr;
    int64_t count = 0;
    DType dtype = DType::F32;
    float scale = 1.0f;
    int64_t shift = 0;
  };

  int size() const { return static_cast<int>(members_.size()); }
  MeshAxis axis() const { return axis_; }
  const MeshPlace& member(int axisRank) const { return members_[static_cast<size_t>(axisRank)]; }

  // Waits until every rank of the group has arrived (posting `post` first when given). Throws
  // ERR_COLLECTIVE_TIMEOUT / ERR_COLLECTIVE_ABORTED; `op` and `step` name the wait in messages.
  void barrier(int axisRank, const Post* post, const char* op, const char* phase,
               const std::string& step);
  // Rank j's post of the current collective: valid between the two barriers.
  const Post& post(int axisRank) const { return posts_[static_cast<size_t>(axisRank)]; }

  void abort();
  void reset();

 private:
  MeshAxis axis_;
  std::vector<MeshPlace> members_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  int arrivedCount_ = 0;
  std::vector<char> arrived_;
  bool aborted_ = false;
  std::vector<Post> posts_;
};

class LocalCommunicator final : public Communicator {
 public:
  // `comms` (the device's, which owns this communicator) supplies the step for messages.
  LocalCommunicator(std::shared_ptr<LocalGroup> group, int axisRank, const DeviceComms* comms);

  int size() const override { return group_->size(); }
  int rank() const override { return axisRank_; }
  void allGather(const void* send, void* recv, int64_t count, DType dtype, Stream stream) override;
  void reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                     Stream stream) override;
  void allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                 Stream stream) override;
  void permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
               Stream stream) override;
  void abort() override { group_->abort(); }
  void reset() override { group_->reset(); }

  void setComms(const DeviceComms* comms) { comms_ = comms; }

 private:
  // Posts, waits for every peer, checks they called the same collective, runs `compute`, waits
  // again so that nobody leaves while its buffers may still be read.
  template <typename Fn>
  void rendezvous(const LocalGroup::Post& mine, const Fn& compute);

  std::shared_ptr<LocalGroup> group_;
  int axisRank_;
  const DeviceComms* comms_;
  std::vector<uint8_t> scratch_;  // in-place all_reduce
};

}  // namespace vit::comm
