// TensorBoard event files for the training loop (report_to: tensorboard): every metrics.jsonl row becomes one
// scalar Event per numeric metric, written without a protobuf runtime. The format is TensorFlow's: a file
// `events.out.tfevents.<unix-seconds>.<hostname>` of TFRecords (uint64 length, masked CRC-32C of the length,
// the data, masked CRC-32C of the data; little-endian), the first an Event{wall_time, file_version:
// "brain.Event:2"}, each metric an Event{wall_time, step, summary{value{tag, simple_value}}} (event.proto,
// summary.proto of tensorflow/tensorboard). The report_to / logging_dir keys are read in arguments.cpp; the loop
// (trainer.cpp) owns the writer. Internal to src/train. Departures from transformers' TensorBoardCallback:
//   1. logging_dir defaults to output_dir/runs, not output_dir/runs/<date>_<host>: a resumed run continues the
//      same TensorBoard run (a new event file beside the first) instead of starting a second one.
//   2. Each start writes Event{step: the first step it trains (the checkpoint's + 1), session_log{status: START}},
//      TensorFlow's restart mark, so TensorBoard's Python loader drops what earlier files logged from that step on
//      (metrics.jsonl is cut back the same way); TensorBoard's Rust loader drops a tag's records at steps >= each
//      step it reads for that tag anyway.
//   3. Values that are not finite numbers (booleans, strings, NaN and inf, which metrics.jsonl holds as null) are
//      skipped; transformers would log a boolean as 0/1 and a NaN as NaN.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace r1::train::detail {

// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF), table-driven.
// `crc` continues an earlier checksum: crc32c(b, crc32c(a)) == crc32c(a + b). crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::string_view bytes, uint32_t crc = 0);
// TFRecord's (and LevelDB's) mask over a CRC-32C: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(std::string_view bytes);
// One TFRecord: length (uint64 LE), masked CRC-32C of those 8 bytes (uint32 LE), data, masked CRC-32C of the data.
std::string tfrecord(std::string_view data);

// Serialised Event messages, as a protobuf encoder writes them (fields in number order, proto3 defaults omitted).
std::string file_version_event(double wall_time);                 // file_version "brain.Event:2"
std::string session_start_event(double wall_time, int64_t step);  // session_log{status: START}
std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float simple_value);

// A metrics.jsonl key's TensorBoard tag, as transformers' rewrite_logs: "eval_x" -> "eval/x", "test_x" ->
// "test/x", any other -> "train/<key>"; r1's keys already under "eval/" (GRPO's eval/pass@1) are kept.
std::string tensorboard_tag(const std::string& key);

// report_to: UsageError unless every name is tensorboard or another transformers integration, and "none" / "all"
// stand alone. wants_tensorboard: "tensorboard" or "all" is named. unsupported_integrations: the names r1 ignores
// (wandb, mlflow, ...), for a start-up note.
void check_report_to(const std::vector<std::string>& report_to);
bool wants_tensorboard(const std::vector<std::string>& report_to);
std::vector<std::string> unsupported_integrations(const std::vector<std::string>& report_to);

// Removes the event files (events.out.tfevents.*) directly in `dir`, for a fresh start in an overwritten
// output_dir; returns how many.
int remove_event_files(const std::filesystem::path& dir);

// One event file, new at each start. Opening creates `dir`, a new file (a suffix .1, .2, ... where a file of the
// same second and host exists) and writes the file_version record and the START mark at `first_step`.
class TensorBoardWriter {
 public:
  TensorBoardWriter(const std::filesystem::path& dir, int64_t first_step);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One scalar Event per finite numeric value of `line` except "step" (the events' step), all with one wall
  // time, then flushed so that a running TensorBoard sees them. r1::Error naming the file if a write fails.
  void write(const nlohmann::ordered_json& line);
  const std::filesystem::path& path() const { return path_; }

 private:
  void append(const std::string& records);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace r1::train::detail
