// r1::Error and r1::UsageError: the only exceptions r1's library throws on bad input or failed I/O.
// The message names where the problem is (file, tensor, option) and what was expected vs found; the CLI
// prints it as one line and exits 1 (Error) or 2 (UsageError). Bugs use assertions, not these types.
//
// Usage:
//   if (rows.empty()) r1::fail("{}: no rows (expected at least one)", path.string());  // r1::Error, exit 1
//   if (batch < 1) r1::fail_usage("--batch must be at least 1, found {}", batch);       // r1::UsageError, exit 2
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace r1 {

// ---- The exception types (what callers catch) -----------------------------------------------------------------------

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A mistake in how r1 was called (a bad option value, a missing argument): exit status 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

// ---- Throwing with a formatted message (what the library calls) -----------------------------------------------------

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace r1
