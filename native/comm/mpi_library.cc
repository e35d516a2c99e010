#include "comm/mpi_library.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/status.h"

namespace vit::comm::mpi {

namespace {

std::mutex openMutex;
std::unique_ptr<Api> theApi;
std::atomic<bool> isBroken{false};
bool finalized = false;

// Where to look: VIT22B_MPI_LIBRARY alone when set (a user's own build: exactly that file, never
// silently another), else ld.so's search by soname (Debian's libopenmpi3 puts libmpi.so.40 in the
// multiarch directory), then the usual prefixes.
std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* own = std::getenv("VIT22B_MPI_LIBRARY"); own && *own) return {own};
  out.push_back("libmpi.so.40");
  out.push_back("/usr/lib/x86_64-linux-gnu/libmpi.so.40");
  out.push_back("/usr/lib64/openmpi/lib/libmpi.so.40");
  out.push_back("/usr/local/lib/libmpi.so.40");
  out.push_back("/opt/openmpi/lib/libmpi.so.40");
  return out;
}

template <typename T>
void bind(void* handle, const char* name, T& slot, std::string& missing) {
  slot = reinterpret_cast<T>(dlsym(handle, name));
  if (!slot) missing += (missing.empty() ? "" : ", ") + std::string(name);
}

std::unique_ptr<Api> openLibrary() {
  std::string tried;
  for (const std::string& c : candidates()) {
    dlerror();
    void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      const char* e = dlerror();
      tried += "\n  " + c + ": " + (e ? e : "not loadable");
      continue;
    }
    auto a = std::make_unique<Api>();
    std::string missing;
    bind(h, "MPI_Init_thread", a->Init_thread, missing);
    bind(h, "MPI_Initialized", a->Initialized, missing);
    bind(h, "MPI_Finalized", a->Finalized, missing);
    bind(h, "MPI_Finalize", a->Finalize, missing);
    bind(h, "MPI_Abort", a->Abort, missing);
    bind(h, "MPI_Comm_rank", a->Comm_rank, missing);
    bind(h, "MPI_Comm_size", a->Comm_size, missing);
    bind(h, "MPI_Comm_split", a->Comm_split, missing);
    bind(h, "MPI_Comm_set_errhandler", a->Comm_set_errhandler, missing);
    bind(h, "MPI_Isend", a->Isend, missing);
    bind(h, "MPI_Irecv", a->Irecv, missing);
    bind(h, "MPI_Test", a->Test, missing);
    bind(h, "MPI_Cancel", a->Cancel, missing);
    bind(h, "MPI_Request_free", a->Request_free, missing);
    bind(h, "MPI_Error_string", a->Error_string, missing);
    bind(h, "MPI_Get_library_version", a->Get_library_version, missing);
    // Open MPI's predefined handles are the addresses of these objects: dlsym gives the handle.
    a->commWorld = dlsym(h, "ompi_mpi_comm_world");
    a->byte = dlsym(h, "ompi_mpi_byte");
    a->errorsReturn = dlsym(h, "ompi_mpi_errors_return");
    if (!a->commWorld || !a->byte || !a->errorsReturn) {
      missing += std::string(missing.empty() ? "" : ", ") +
                 "ompi_mpi_comm_world / ompi_mpi_byte / ompi_mpi_errors_return (not Open MPI?)";
    }
    if (!missing.empty()) {
      tried += "\n  " + c + ": lacks " + missing;
      continue;  // never dlclose'd: a library's constructors may have started threads
    }
    Dl_info info{};
    a->path = dladdr(reinterpret_cast<void*>(a->Init_thread), &info) && info.dli_fname ? info.dli_fname : c;
    return a;
  }
  throw Error(ErrorCode::LibraryNotFound,
              "no usable Open MPI (libmpi.so.40), so --comm mpi cannot run; install it (Debian: "
              "apt-get install openmpi-bin libopenmpi3) or set VIT22B_MPI_LIBRARY. Tried:" + tried,
              "Open MPI 4.x's libmpi.so.40", "none loadable");
}

void check(const Api& a, int rc, const char* what) {
  if (rc != kSuccess) throw Error(ErrorCode::Internal, std::string(what) + " failed: " + errorText(rc));
}

}  // namespace

std::mutex& callMutex() {
  static std::mutex m;
  return m;
}

const Api& api() {
  std::lock_guard<std::mutex> lock(openMutex);
  if (theApi) return *theApi;
  std::unique_ptr<Api> a = openLibrary();
  std::lock_guard<std::mutex> call(callMutex());
  int inited = 0;
  a->Initialized(&inited);
  int provided = 0;
  if (!inited) {
    const int rc = a->Init_thread(nullptr, nullptr, kThreadSerialized, &provided);
    if (rc != kSuccess) throw Error(ErrorCode::Internal, "MPI_Init_thread failed (code " + std::to_string(rc) + ")");
    if (provided < kThreadSerialized) {
      throw Error(ErrorCode::NotImplemented,
                  "this MPI gives thread level " + std::to_string(provided) +
                      ", but a mesh run calls MPI from more than one thread (one at a time)",
                  "MPI_THREAD_SERIALIZED (2) or MPI_THREAD_MULTIPLE (3)", std::to_string(provided));
    }
  }
  // A peer's death must become an error code we turn into ERR_COMM_PEER_LOST, not an abort of this
  // process by the default MPI_ERRORS_ARE_FATAL. Communicators split from the world inherit it.
  check(*a, a->Comm_set_errhandler(a->commWorld, a->errorsReturn), "MPI_Comm_set_errhandler");
  theApi = std::move(a);
  return *theApi;
}

bool opened() {
  std::lock_guard<std::mutex> lock(openMutex);
  return theApi != nullptr;
}

std::string errorText(int code) {
  if (!theApi) return "MPI error " + std::to_string(code);
  char buf[kMaxErrorString + 1] = {};
  int len = 0;
  if (theApi->Error_string(code, buf, &len) != kSuccess) return "MPI error " + std::to_string(code);
  return std::string(buf, static_cast<size_t>(len > 0 ? len : 0)) + " (MPI error " + std::to_string(code) + ")";
}

int worldRank() {
  const Api& a = api();
  std::lock_guard<std::mutex> lock(callMutex());
  int r = 0;
  check(a, a.Comm_rank(a.commWorld, &r), "MPI_Comm_rank");
  return r;
}

int worldSize() {
  const Api& a = api();
  std::lock_guard<std::mutex> lock(callMutex());
  int n = 0;
  check(a, a.Comm_size(a.commWorld, &n), "MPI_Comm_size");
  return n;
}

void markBroken() { isBroken = true; }
bool broken() { return isBroken; }

void finalize() {
  std::lock_guard<std::mutex> lock(openMutex);
  if (!theApi || finalized || isBroken) return;
  std::lock_guard<std::mutex> call(callMutex());
  int done = 0;
  theApi->Finalized(&done);
  if (!done) theApi->Finalize();
  finalized = true;
}

std::string libraryVersion() {
  std::lock_guard<std::mutex> lock(openMutex);
  if (!theApi) return "";
  char buf[kMaxLibraryVersion + 1] = {};
  int len = 0;
  std::lock_guard<std::mutex> call(callMutex());
  if (theApi->Get_library_version(buf, &len) != kSuccess) return "";
  std::string s(buf, static_cast<size_t>(len > 0 ? len : 0));
  const size_t comma = s.find(',');
  return comma == std::string::npos ? s : s.substr(0, comma);
}

}  // namespace vit::comm::mpi
