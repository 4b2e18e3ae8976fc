{
  "targets": [
    {
      "target_name": "kernscope",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/bpf_link.cc",
        "native/bpf_object.cc",
        "native/btf_describe.cc",
        "native/capabilities.cc",
        "native/errors.cc",
        "native/features.cc",
        "native/map_io.cc",
        "native/ring_reader.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
                    "-Wno-missing-field-initializers", "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["-Wl,--no-as-needed", "-lbpf", "-lelf", "-Wl,--as-needed"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"]
    }
  ]
}
