#include "addon/mesh_run_worker.h"

#include "addon/errors.h"

namespace vit::addon {

MeshRunWorker::MeshRunWorker(Napi::Env env, Napi::Promise::Deferred deferred,
                             std::vector<Napi::Object> planObjects,
                             std::shared_ptr<comm::MeshRunner> mesh, std::vector<MeshRank> ranks,
                             uint64_t step, std::shared_ptr<std::atomic<bool>> running)
    : Napi::AsyncWorker(env, "vit22b.MeshHandle.run"), deferred_(deferred), mesh_(std::move(mesh)),
      ranks_(std::move(ranks)), step_(step), running_(std::move(running)) {
  for (const Napi::Object& o : planObjects) planRefs_.push_back(Napi::Persistent(o));
  for (const MeshRank& r : ranks_) {
    std::vector<Napi::Reference<Napi::ArrayBuffer>> refs;
    std::vector<void*> data;
    for (size_t i = 0; i < r.plan->outputCount(); ++i) {
      Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(r.plan->outputBytes(i)));
      data.push_back(out.Data());
      refs.push_back(Napi::Persistent(out));
    }
    outputRefs_.push_back(std::move(refs));
    outputData_.push_back(std::move(data));
  }
}

void MeshRunWorker::Execute() {
  // Errors become values (runOnEveryRank catches everything the ranks throw).
  try {
    error_ = mesh_->runOnEveryRank("run " + std::to_string(step_), [&](int r) {
      const MeshRank& rank = ranks_[static_cast<size_t>(r)];
      rank.plan->run(*rank.state->backend, rank.inputs, rank.scalars, outputData_[static_cast<size_t>(r)]);
    });
  } catch (const Error& e) {
    error_ = e;
  } catch (...) {
    error_ = Error(ErrorCode::Internal, "internal error: unknown C++ exception in a mesh step");
  }
}

void MeshRunWorker::settle(const Napi::Value* rejection) {
  for (MeshRank& r : ranks_) r.state->planRunning = false;
  *running_ = false;
  Napi::Env env = Env();
  if (rejection) {
    deferred_.Reject(*rejection);
  } else if (error_) {
    deferred_.Reject(toJsError(env, *error_).Value());
  } else {
    Napi::Array all = Napi::Array::New(env, outputRefs_.size());
    for (size_t r = 0; r < outputRefs_.size(); ++r) {
      Napi::Array outputs = Napi::Array::New(env, outputRefs_[r].size());
      for (size_t i = 0; i < outputRefs_[r].size(); ++i) {
        outputs.Set(static_cast<uint32_t>(i), outputRefs_[r][i].Value());
      }
      all.Set(static_cast<uint32_t>(r), outputs);
    }
    deferred_.Resolve(all);
  }
}

void MeshRunWorker::OnOK() {
  try {
    settle(nullptr);
  } catch (...) {
    Napi::Value e = currentExceptionToJs(Env()).Value();
    deferred_.Reject(e);
  }
}

void MeshRunWorker::OnError(const Napi::Error& error) {
  Napi::Value v = error.Value();
  settle(&v);
}

}  // namespace vit::addon
