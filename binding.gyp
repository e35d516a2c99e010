# The CPU addon (vit22b_cpu.node), built by node-gyp. The CUDA addon is built by CMakeLists.txt
# from the same sources plus native/cuda. Both compile for baseline x86-64: SIMD paths are chosen
# at run time from cpuid, so one prebuilt binary runs on any x86-64 CPU.
{
  "targets": [
    {
      "target_name": "vit22b_cpu",
      "sources": [
        "native/core/status.cc",
        "native/core/dtype.cc",
        "native/cpu/cpu_backend.cc",
        "native/cpu/cpu_features.cc",
        "native/cpu/kernel_table.cc",
        "native/cpu/axpby.cc",
        "native/addon/addon.cc",
        "native/addon/args.cc",
        "native/addon/errors.cc",
        "native/addon/buffer_handle.cc",
        "native/addon/device_handle.cc",
        "native/addon/probe_bindings.cc"
      ],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "VIT22B_WITH_CUDA=0"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
