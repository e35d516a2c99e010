/**
 * Our hand-written NCCL declarations (native/cuda/nccl_api.h) against NCCL's documented ABI (nccl.h
 * of 2.18 and later, restated in SHARDING.md "NCCL facts"): enum values, the 128-byte unique id,
 * and the versioned ncclConfig_t layout with NCCL_CONFIG_INITIALIZER's defaults. A wrong value here
 * would make every NCCL call misbehave on a GPU machine, far from this cause; on a CPU machine this
 * test is what catches it. The header is compiled by the system C++ compiler (no CUDA, no NCCL),
 * and the program prints what it declares; the expected values below come from NCCL's docs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NCCL_VERSION_FLOOR, ncclVersionCode } from '../../lib/runtime/nccl-status';
import { REPO_ROOT } from '../helpers/paths';

let printed: Record<string, any>;
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-nccl-api-'));
  const exe = path.join(tmp, 'nccl-api-print');
  // -Werror: the header must also stay warning-free under the addon's flags.
  execFileSync(process.env.CXX ?? 'c++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-I', path.join(REPO_ROOT, 'native'), path.join(REPO_ROOT, 'test', 'native', 'nccl-api-print.cc'), '-o', exe], { stdio: 'pipe' });
  printed = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Record<string, any>;
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('ncclResult_t, ncclDataType_t and ncclRedOp_t values are NCCLs, each an int', () => {
  expect(printed.result).toEqual({ Success: 0, UnhandledCudaError: 1, SystemError: 2, InternalError: 3, InvalidArgument: 4, InvalidUsage: 5, RemoteError: 6, InProgress: 7, Timeout: 8 });
  expect(printed.dataType).toEqual({ Int8: 0, Uint8: 1, Int32: 2, Uint32: 3, Int64: 4, Uint64: 5, Float16: 6, Float32: 7, Float64: 8, Bfloat16: 9 });
  expect(printed.redOp).toEqual({ Sum: 0, Prod: 1, Max: 2, Min: 3, Avg: 4 });
  expect(printed.enumBytes).toEqual([4, 4, 4]);
});

test('ncclUniqueId is 128 bytes; ncclConfig_t has the 2.17/2.18 layout and NCCL_CONFIG_INITIALIZERs defaults', () => {
  expect(printed.uniqueIdBytes).toBe(128);
  // size_t size; unsigned magic; unsigned version; int blocking, cgaClusterSize, minCTAs, maxCTAs;
  // const char* netName; int splitShare (padded to 8 on LP64).
  expect(printed.config.bytes).toBe(48);
  expect(printed.config.offsets).toEqual({ size: 0, magic: 8, version: 12, blocking: 16, cgaClusterSize: 20, minCTAs: 24, maxCTAs: 28, netName: 32, splitShare: 40 });
  // NCCL_CONFIG_UNDEF_INT is INT_MIN: "not set, use the default".
  const undef = -(2 ** 31);
  expect(printed.config.defaults).toEqual({ size: 48, magic: 0xcafebeef, version: 21800, blocking: undef, cgaClusterSize: undef, minCTAs: undef, maxCTAs: undef, netNameNull: true, splitShare: undef });
});

test('the version floor is 2.18 in the header and in what vit22b info reports', () => {
  expect(printed.versionFloor).toBe(21800);
  expect(ncclVersionCode(NCCL_VERSION_FLOOR)).toBe(printed.versionFloor);
});
