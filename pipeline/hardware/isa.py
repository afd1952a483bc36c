"""CPU instruction sets the runtimes' builds require or run faster with, as /proc/cpuinfo names them."""

X86_64_V3 = ["AVX2", "FMA", "F16C"]  # the portable x86-64-v3 level (Haswell, Zen 1 and later)
VNNI = ["AVX512_VNNI", "AVX_VNNI"]  # int8 dot products in one instruction
