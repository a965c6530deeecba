// Forwarder for <omp.h>, which FAISS's HNSW.h includes. The Swift toolchain's clang ships no
// OpenMP headers, and Debian's libgomp header lives in GCC's private include directory, so this
// file (found through the CFaiss include path, and not part of the Swift module) forwards to it.
// libfaiss.a was built against libgomp, so GCC's header is the ABI-correct one.
#pragma once
#if __has_include_next(<omp.h>)
#include_next <omp.h>
#elif __has_include("/usr/lib/gcc/x86_64-linux-gnu/14/include/omp.h")
#include "/usr/lib/gcc/x86_64-linux-gnu/14/include/omp.h"
#elif __has_include("/usr/lib/gcc/x86_64-linux-gnu/13/include/omp.h")
#include "/usr/lib/gcc/x86_64-linux-gnu/13/include/omp.h"
#elif __has_include("/usr/lib/gcc/x86_64-linux-gnu/12/include/omp.h")
#include "/usr/lib/gcc/x86_64-linux-gnu/12/include/omp.h"
#elif __has_include("/usr/lib/gcc/aarch64-linux-gnu/12/include/omp.h")
#include "/usr/lib/gcc/aarch64-linux-gnu/12/include/omp.h"
#else
#error "omp.h not found: install libgomp's headers (gcc) or a clang with OpenMP"
#endif
