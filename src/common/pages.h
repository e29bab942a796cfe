// Memory the process is about to write, faulted in ahead of time in one system call.
// Why: a first write to an anonymous page traps into the kernel once per 4 KiB page; under some hypervisors
// that trap dominates (measured on the AMD EPYC Zen 5 VM: 12.7 us per page touched, 0.84 us per page
// populated by madvise(MADV_POPULATE_WRITE), 128 MiB). The KV cache and packed weights are written page by
// page right after they are allocated, so they are populated first.
#pragma once

#include <cstddef>

namespace r1 {

// Populates the pages spanning [data, data + bytes) writable (Linux 5.14+: MADV_POPULATE_WRITE), leaving
// their contents as they are. Returns false where the kernel cannot (older kernels, no memory left for it):
// the pages are then faulted in on first touch as usual. `data` must point into private anonymous memory
// (malloc, an anonymous mmap), never a file mapping.
bool prefault_pages(void* data, size_t bytes);

}  // namespace r1
