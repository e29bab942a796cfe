// Function multi-versioning for hot loops written as plain C++: R1_VECTOR_CLONES builds a function for
// AVX-512, AVX2 and baseline x86-64, and the loader picks the best the CPU runs (GCC target_clones). The
// binary stays runnable everywhere while this machine's AVX-512 vectorises the loops.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define R1_VECTOR_CLONES
#endif
