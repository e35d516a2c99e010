// Open MPI opened at run time (SHARDING.md, "MPI facts"): the addon never links against MPI, so it
// builds and loads on machines without it; `--comm mpi` opens libmpi.so.40 with RTLD_NOW |
// RTLD_GLOBAL (its plugins resolve their symbols against it) and finds every handle as the address
// of one of its exported globals (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, ...). The declarations
// are our own, limited to what we call; MPI_Status is never touched (its layout differs between
// implementations): every wait passes MPI_STATUS(ES)_IGNORE, which is NULL in Open MPI.
//
// Threads: MPI is initialised with MPI_THREAD_SERIALIZED and every call we make holds one
// process-wide mutex, so the JavaScript thread (host gathers) and a mesh run's threads never enter
// MPI at once. No wait ever holds the mutex: we poll MPI_Test with our own deadline (mpi_requests.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace vit::comm::mpi {

using Comm = void*;      // struct ompi_communicator_t*
using Datatype = void*;  // struct ompi_datatype_t*
using Request = void*;   // struct ompi_request_t*
using Errhandler = void*;

constexpr int kSuccess = 0;
constexpr int kThreadSerialized = 2;  // MPI_THREAD_SINGLE 0, FUNNELED 1, SERIALIZED 2, MULTIPLE 3
constexpr int kMaxErrorString = 256;  // MPI_MAX_ERROR_STRING in Open MPI
constexpr int kMaxLibraryVersion = 256;
// MPI guarantees tags up to at least 32767 (MPI_TAG_UB).
constexpr int kTagLimit = 32767;

struct Api {
  std::string path;  // the file dlopen mapped
  int (*Init_thread)(int*, char***, int, int*);
  int (*Initialized)(int*);
  int (*Finalized)(int*);
  int (*Finalize)();
  int (*Abort)(Comm, int);
  int (*Comm_rank)(Comm, int*);
  int (*Comm_size)(Comm, int*);
  int (*Comm_split)(Comm, int, int, Comm*);
  int (*Comm_set_errhandler)(Comm, Errhandler);
  int (*Isend)(const void*, int, Datatype, int, int, Comm, Request*);
  int (*Irecv)(void*, int, Datatype, int, int, Comm, Request*);
  int (*Test)(Request*, int*, void*);
  int (*Cancel)(Request*);
  int (*Request_free)(Request*);
  int (*Error_string)(int, char*, int*);
  int (*Get_library_version)(char*, int*);
  // Handles: addresses of Open MPI's predefined objects.
  Comm commWorld;
  Datatype byte;
  Errhandler errorsReturn;
};

// The library, opened and MPI initialised on first use (throws ERR_LIBRARY_NOT_FOUND naming every
// place tried, or ERR_NOT_IMPLEMENTED when MPI cannot give MPI_THREAD_SERIALIZED).
const Api& api();
// True once api() has succeeded (a failed attempt is retried by the next api()).
bool opened();

// Held around every MPI call (never across a wait). Lock order: the open mutex (api(), finalize,
// libraryVersion) before this one; never call api() while holding it.
std::mutex& callMutex();

// "MPI_ERR_TRUNCATE: message truncated" for an MPI error code.
std::string errorText(int code);

// The world communicator's rank and size (MPI initialised).
int worldRank();
int worldSize();

// Marks MPI unusable: a collective timed out with requests still posted on buffers we no longer
// own, so MPI_Finalize (a collective in Open MPI) would wait for peers that will not come.
void markBroken();
bool broken();

// MPI_Finalize when MPI was initialised by us, not finalised yet and not broken (idempotent).
void finalize();

// "Open MPI v4.1.4, ..." or "" when MPI was never opened.
std::string libraryVersion();

}  // namespace vit::comm::mpi
