// Human-readable sizes and counts for the CLI: "5GB" / "500MiB" parsing (transformers' max_shard_size
// spelling: KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024) and compact printing ("5.53 M", "21.1 MB").
#pragma once

#include <cstdint>
#include <string>

namespace r1 {

// "5GB", "500MiB", "1000" (bytes) -> bytes. r1::UsageError naming `option` for anything else.
uint64_t parse_byte_size(const std::string& text, const std::string& option);
std::string format_bytes(uint64_t bytes);  // "21.1 MB" (powers of 1000)
std::string format_count(int64_t n);       // "5.53 M", "1.54 B", "812"

}  // namespace r1
