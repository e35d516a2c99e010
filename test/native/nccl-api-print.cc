// Prints what native/cuda/nccl_api.h declares (enum values, struct sizes and offsets, the defaults
// of our ncclConfig_t) as JSON, for test/native/nccl-api.test.ts to compare with NCCL's documented
// values. Built by that test with the system C++ compiler: the header needs no CUDA and no NCCL.
#include <cstddef>
#include <cstdio>

#include "cuda/nccl_api.h"

using namespace vit::cuda;

int main() {
  const NcclConfig config;
  std::printf("{\n");
  std::printf("  \"versionFloor\": %d,\n", kNcclVersionFloor);
  std::printf("  \"result\": {\"Success\": %d, \"UnhandledCudaError\": %d, \"SystemError\": %d, "
              "\"InternalError\": %d, \"InvalidArgument\": %d, \"InvalidUsage\": %d, "
              "\"RemoteError\": %d, \"InProgress\": %d, \"Timeout\": %d},\n",
              kNcclSuccess, kNcclUnhandledCudaError, kNcclSystemError, kNcclInternalError,
              kNcclInvalidArgument, kNcclInvalidUsage, kNcclRemoteError, kNcclInProgress,
              kNcclTimeout);
  std::printf("  \"dataType\": {\"Int8\": %d, \"Uint8\": %d, \"Int32\": %d, \"Uint32\": %d, "
              "\"Int64\": %d, \"Uint64\": %d, \"Float16\": %d, \"Float32\": %d, \"Float64\": %d, "
              "\"Bfloat16\": %d},\n",
              kNcclInt8, kNcclUint8, kNcclInt32, kNcclUint32, kNcclInt64, kNcclUint64,
              kNcclFloat16, kNcclFloat32, kNcclFloat64, kNcclBfloat16);
  std::printf("  \"redOp\": {\"Sum\": %d, \"Prod\": %d, \"Max\": %d, \"Min\": %d, \"Avg\": %d},\n",
              kNcclSum, kNcclProd, kNcclMax, kNcclMin, kNcclAvg);
  std::printf("  \"enumBytes\": [%zu, %zu, %zu],\n", sizeof(NcclResult), sizeof(NcclDataType),
              sizeof(NcclRedOp));
  std::printf("  \"uniqueIdBytes\": %zu,\n", sizeof(NcclUniqueId));
  std::printf("  \"config\": {\"bytes\": %zu, \"offsets\": {\"size\": %zu, \"magic\": %zu, "
              "\"version\": %zu, \"blocking\": %zu, \"cgaClusterSize\": %zu, \"minCTAs\": %zu, "
              "\"maxCTAs\": %zu, \"netName\": %zu, \"splitShare\": %zu},\n",
              sizeof(NcclConfig), offsetof(NcclConfig, size), offsetof(NcclConfig, magic),
              offsetof(NcclConfig, version), offsetof(NcclConfig, blocking),
              offsetof(NcclConfig, cgaClusterSize), offsetof(NcclConfig, minCTAs),
              offsetof(NcclConfig, maxCTAs), offsetof(NcclConfig, netName),
              offsetof(NcclConfig, splitShare));
  std::printf("    \"defaults\": {\"size\": %zu, \"magic\": %u, \"version\": %u, \"blocking\": %d, "
              "\"cgaClusterSize\": %d, \"minCTAs\": %d, \"maxCTAs\": %d, \"netNameNull\": %s, "
              "\"splitShare\": %d}}\n",
              config.size, config.magic, config.version, config.blocking, config.cgaClusterSize,
              config.minCTAs, config.maxCTAs, config.netName == nullptr ? "true" : "false",
              config.splitShare);
  std::printf("}\n");
  return 0;
}
