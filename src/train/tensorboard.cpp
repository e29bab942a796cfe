// TensorBoard event files written by hand: CRC-32C, TFRecord framing and the protobuf encoding of the three
// Event kinds r1 writes (file version, restart mark, scalar). Wire format: each field is a varint key
// (field number << 3 | wire type) then its value: varint (0), fixed64 (1, little-endian), length-delimited (2:
// varint length, bytes), fixed32 (5). See tensorboard.h for the file layout and the departures from
// transformers' TensorBoardCallback.
#include "train/tensorboard.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "r1/error.h"

namespace r1::train::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire types.
enum class Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}
void put_little_endian(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
}
void put_key(std::string& out, uint32_t field, Wire wire) { put_varint(out, (uint64_t(field) << 3) | uint32_t(wire)); }
void put_length_delimited(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, Wire::kLength);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Event fields 1 (double wall_time) and 2 (int64 step), each left out at its proto3 default (0).
std::string event_header(double wall_time, int64_t step) {
  std::string out;
  if (const auto bits = std::bit_cast<uint64_t>(wall_time); bits != 0) {
    put_key(out, 1, Wire::kFixed64);
    put_little_endian(out, bits, 8);
  }
  if (step != 0) {
    put_key(out, 2, Wire::kVarint);
    put_varint(out, uint64_t(step));  // int64: two's complement, 10 bytes when negative
  }
  return out;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// transformers' reporting integrations (INTEGRATION_TO_CALLBACK); r1 has tensorboard only.
const std::vector<std::string>& integrations() {
  static const std::vector<std::string> names = {"azure_ml", "clearml",     "codecarbon", "comet_ml", "dagshub",
                                                 "dvclive",  "flyte",       "kubeflow",   "mlflow",   "neptune",
                                                 "swanlab",  "tensorboard", "trackio",    "wandb"};
  return names;
}

}  // namespace

uint32_t crc32c(std::string_view bytes, uint32_t crc) {
  crc = ~crc;
  for (const char c : bytes) crc = kCrc32cTable[(crc ^ uint8_t(c)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_little_endian(out, data.size(), 8);
  put_little_endian(out, masked_crc32c(out), 4);  // over the 8 length bytes
  out.append(data);
  put_little_endian(out, masked_crc32c(data), 4);
  return out;
}

std::string file_version_event(double wall_time) {
  std::string out = event_header(wall_time, 0);
  put_length_delimited(out, 3, "brain.Event:2");  // Event.file_version
  return out;
}

std::string session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_key(session_log, 1, Wire::kVarint);  // SessionLog.status
  put_varint(session_log, 1);              // START
  std::string out = event_header(wall_time, step);
  put_length_delimited(out, 7, session_log);  // Event.session_log
  return out;
}

std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float simple_value) {
  std::string value;
  put_length_delimited(value, 1, tag);  // Summary.Value.tag
  put_key(value, 2, Wire::kFixed32);    // Summary.Value.simple_value
  put_little_endian(value, std::bit_cast<uint32_t>(simple_value), 4);
  std::string summary;
  put_length_delimited(summary, 1, value);  // Summary.value (repeated; one here)
  std::string out = event_header(wall_time, step);
  put_length_delimited(out, 5, summary);  // Event.summary
  return out;
}

std::string tensorboard_tag(const std::string& key) {
  if (key.starts_with("eval_")) return "eval/" + key.substr(5);
  if (key.starts_with("test_")) return "test/" + key.substr(5);
  if (key.starts_with("eval/")) return key;
  return "train/" + key;
}

void check_report_to(const std::vector<std::string>& report_to) {
  for (const std::string& name : report_to) {
    if ((name == "none" || name == "all") && report_to.size() > 1) {
      std::string names;
      for (const std::string& n : report_to) names += (names.empty() ? "" : ", ") + n;
      fail_usage("report_to: '{}' must be the only name, found [{}]", name, names);
    }
    if (name == "none" || name == "all") continue;
    if (std::find(integrations().begin(), integrations().end(), name) == integrations().end())
      fail_usage("report_to: unknown integration '{}'; r1 reports to tensorboard (also all = tensorboard, none)", name);
  }
}

bool wants_tensorboard(const std::vector<std::string>& report_to) {
  for (const std::string& name : report_to)
    if (name == "tensorboard" || name == "all") return true;
  return false;
}

std::vector<std::string> unsupported_integrations(const std::vector<std::string>& report_to) {
  std::vector<std::string> out;
  for (const std::string& name : report_to)
    if (name != "tensorboard" && name != "none" && name != "all") out.push_back(name);
  return out;
}

int remove_event_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> found;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec) && entry.path().filename().string().starts_with("events.out.tfevents."))
      found.push_back(entry.path());
  for (const fs::path& p : found)
    if (!fs::remove(p, ec)) fail("cannot remove the old event file '{}': {}", p.string(), ec.message());
  return int(found.size());
}

TensorBoardWriter::TensorBoardWriter(const fs::path& dir, int64_t first_step) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("logging_dir: cannot create '{}': {}", dir.string(), ec.message());
  const double wall_time = now_seconds();
  const std::string base = fmt::format("events.out.tfevents.{}.{}", int64_t(wall_time), host_name());
  for (int suffix = 0; file_ == nullptr; ++suffix) {  // "x": never append to another writer's file
    path_ = dir / (suffix == 0 ? base : fmt::format("{}.{}", base, suffix));
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && (errno != EEXIST || suffix >= 1000))
      fail("cannot create the event file '{}': {}", path_.string(), std::strerror(errno));
  }
  append(tfrecord(file_version_event(wall_time)) + tfrecord(session_start_event(wall_time, first_step)));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::write(const nlohmann::ordered_json& line) {
  const int64_t step = line.at("step").get<int64_t>();
  const double wall_time = now_seconds();
  std::string records;
  for (const auto& [key, value] : line.items()) {
    if (key == "step" || !value.is_number()) continue;  // is_number: not booleans
    const double v = value.get<double>();
    if (!std::isfinite(v)) continue;
    records += tfrecord(scalar_event(wall_time, step, tensorboard_tag(key), float(v)));
  }
  append(records);
}

void TensorBoardWriter::append(const std::string& records) {
  if (std::fwrite(records.data(), 1, records.size(), file_) != records.size() || std::fflush(file_) != 0)
    fail("cannot write the event file '{}': {}", path_.string(), std::strerror(errno));
}

}  // namespace r1::train::detail
