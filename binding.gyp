# The CPU addon (vit22b_cpu.node), built by node-gyp. The CUDA addon is built by CMakeLists.txt
# from the same sources plus native/cuda. Both compile for baseline x86-64: SIMD paths are chosen
# at run time from cpuid, so one prebuilt binary runs on any x86-64 CPU. Files named *_<isa>.cc
# (native/cpu) are the only code built with wider ISA flags; node-gyp cannot set flags per file, so
# each ISA is a static library of its own, linked into the addon. scripts/native-sources.js lists
# the files of each set, so adding a kernel file needs no edit here. -ldl: native/comm/mpi_library.cc
# opens Open MPI at run time (dlopen is in libc only from glibc 2.34 on); MPI itself is never linked.
{
  "target_defaults": {
    "include_dirs": [
      "native",
      "<!(node -p \"require('node-addon-api').include_dir\")"
    ],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "VIT22B_WITH_CUDA=0"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "targets": [
    {
      "target_name": "vit22b_isa_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.js avx2)"],
      "cflags_cc": ["-mavx2", "-mfma"]
    },
    {
      "target_name": "vit22b_isa_avx512",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.js avx512)"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mfma"]
    },
    {
      "target_name": "vit22b_isa_avx512_bf16",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.js avx512_bf16)"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512bf16", "-mfma"]
    },
    {
      "target_name": "vit22b_cpu",
      "dependencies": ["vit22b_isa_avx2", "vit22b_isa_avx512", "vit22b_isa_avx512_bf16"],
      "libraries": ["-ldl"],
      "sources": ["<!@(node scripts/native-sources.js base)"]
    }
  ]
}
