// Shared test utilities: temporary directories that clean up, byte-level file edits for corruption tests,
// running the r1 CLI and capturing its output, and expectation helpers for r1::Error messages.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "test-paths.h"

namespace r1::test {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("r1-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The rows of a JSONL file (blank lines skipped).
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs `r1 <args>` through the shell, capturing stdout+stderr.
inline CommandResult run_r1(const std::string& args) {
  CommandResult r;
  std::string cmd = std::string(R1_CLI) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// Expects `statement` to throw an exception of `type` whose message contains every given fragment.
#define R1_EXPECT_THROW_WITH(statement, type, ...)                                        \
  do {                                                                                    \
    try {                                                                                 \
      statement;                                                                          \
      ADD_FAILURE() << "expected " #type " from: " #statement;                            \
    } catch (const type& e) {                                                             \
      for (const std::string& fragment : std::initializer_list<std::string>{__VA_ARGS__}) \
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)                \
            << "message '" << e.what() << "' lacks '" << fragment << "'";                 \
    }                                                                                     \
  } while (0)

}  // namespace r1::test
