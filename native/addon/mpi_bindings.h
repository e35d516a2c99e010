// The module functions of the `mpi` backend (comm/mpi_library.h):
//   mpiStatus() -> { opened, version, path, broken }   (opens nothing)
//   mpiOpen() -> { rank, size, version, path }          (opens Open MPI and initialises MPI; throws
//                                                         ERR_LIBRARY_NOT_FOUND naming every place tried)
//   mpiFinalize()                                       (MPI_Finalize once, unless a collective broke MPI)
#pragma once

#include <napi.h>

namespace vit::addon {

void defineMpiBindings(Napi::Env env, Napi::Object exports);

}  // namespace vit::addon
