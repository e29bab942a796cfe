// Populating pages ahead of their first write (see pages.h).
#include "common/pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; glibc 2.36's headers may predate it
#endif

namespace r1 {

bool prefault_pages(void* data, size_t bytes) {
  static std::atomic<bool> unsupported{false};
  if (data == nullptr || bytes == 0 || unsupported.load(std::memory_order_relaxed)) return false;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  // The pages holding the first and last byte are mapped (they hold the caller's memory), so widening the
  // range to whole pages stays inside the mapping; populating does not change what the pages hold.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes + page - 1) & ~(page - 1);
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) == 0) return true;
  if (errno == EINVAL) unsupported.store(true, std::memory_order_relaxed);  // a kernel without it
  return false;
}

}  // namespace r1
