{
  "targets": [
    {
      "target_name": "acft_fast",
      "sources": ["src/addon.cc", "src/pool.cc", "src/gemm.cc", "src/elementwise.cc", "src/fused.cc", "src/attention.cc"],
      "cflags!": ["-O2", "-O0", "-fno-exceptions"],
      "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-march=<!(node -p \"process.env.ACFT_MARCH || 'native'\")", "-fno-math-errno", "-fno-trapping-math", "-pthread"],
      "cflags_cc": ["-O3", "-std=c++17", "-march=<!(node -p \"process.env.ACFT_MARCH || 'native'\")", "-fno-math-errno", "-fno-trapping-math", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
