// TensorBoard event files (report_to: tensorboard): CRC-32C against its standard check values, the masked CRC and
// TFRecord framing against a record of a real TensorFlow event file, a scalar Event encoded by hand, the tags
// (transformers' rewrite_logs), the report_to / logging_dir keys; then a short run through the shared loop with an
// evaluation, a skipped non-finite step and a resume from an earlier checkpoint, whose event files are read back by
// an independent reader (tests/reference/tensorboard-read.py: Debian's python3-protobuf with the messages of
// tests/reference/tensorboard_event.proto, compiled by protoc at test time, its own CRC-32C) and must hold every
// metric of metrics.jsonl at its step, as float32, and nothing else. Skipped, saying why, without protoc or
// python3-protobuf (scripts/install-deps.sh installs both).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <regex>
#include <tuple>

#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "test-helpers.h"
#include "train/tensorboard.h"

namespace r1::train {
namespace {
namespace fs = std::filesystem;
using r1::test::TempDir;

std::string bytes(std::initializer_list<uint8_t> list) { return std::string(list.begin(), list.end()); }

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(detail::crc32c("123456789"), 0xE3069283u);  // the standard check value of CRC-32C
  EXPECT_EQ(detail::crc32c(""), 0u);
  EXPECT_EQ(detail::crc32c("56789", detail::crc32c("1234")), 0xE3069283u);  // continued
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of ones, ascending 0..31
  EXPECT_EQ(detail::crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(detail::crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(char(i));
  EXPECT_EQ(detail::crc32c(ascending), 0x46DD794Eu);
  // masked by hand: (0xE3069283 >> 15) | (0xE3069283 << 17) = 0x0001C60D | 0x25060000; + 0xA282EAD8
  EXPECT_EQ(detail::masked_crc32c("123456789"), 0xC78AB0E5u);
  // the masked CRC of a file_version record in a real TensorFlow event file (quoted by TensorBoard's reader tests)
  EXPECT_EQ(detail::masked_crc32c(bytes({0x1a, 0x11}) + "CRC test, one two"), 0x5794D08Au);
}

TEST(TensorBoard, FileVersionRecordEqualsTensorFlowsBytes) {
  // The first record of an event file TensorFlow wrote at wall time 1599759586 (bytes quoted by TensorBoard's
  // TFRecord reader tests): length 24, its masked CRC 0x224b7fa3, the Event, the data's masked CRC 0xab364b12.
  const std::string event = bytes({0x09, 0x00, 0x00, 0x80, 0x38, 0x99, 0xd6, 0xd7, 0x41, 0x1a, 0x0d}) + "brain.Event:2";
  const double wall_time = std::bit_cast<double>(uint64_t(0x41d7d69938800000));
  EXPECT_EQ(wall_time, 1599759586.0);
  EXPECT_EQ(detail::file_version_event(wall_time), event);
  const std::string length = bytes({0x18, 0, 0, 0, 0, 0, 0, 0}), length_crc = bytes({0xa3, 0x7f, 0x4b, 0x22});
  EXPECT_EQ(detail::tfrecord(event), length + length_crc + event + bytes({0x12, 0x4b, 0x36, 0xab}));
}

TEST(TensorBoard, ScalarAndStartEventsEncodedByHand) {
  // Event{wall_time: 1.5, step: 300, summary{value{tag: "loss", simple_value: 0.25}}}
  const std::string wall_time = bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f});  // field 1, fixed64: 0x3FF8000000000000
  const std::string scalar = wall_time +                                      // field 1 (above)
                             bytes({0x10, 0xac, 0x02}) +                      // field 2, varint: 300 = 0b10'0101100
                             bytes({0x2a, 0x0d}) +                            // field 5 (summary), 13 bytes:
                             bytes({0x0a, 0x0b}) +                            //   Summary field 1 (value), 11 bytes:
                             bytes({0x0a, 0x04}) + "loss" +                   //     Value field 1 (tag)
                             bytes({0x15, 0x00, 0x00, 0x80, 0x3e});           //     field 2, fixed32: 0.25f
  EXPECT_EQ(detail::scalar_event(1.5, 300, "loss", 0.25f), scalar);
  // Event{wall_time: 1.5, step: 5, session_log{status: START}}: field 7, length-delimited, is key 0x3A
  EXPECT_EQ(detail::session_start_event(1.5, 5), wall_time + bytes({0x10, 0x05, 0x3a, 0x02, 0x08, 0x01}));
  // proto3 leaves zero-valued fields out: step 0 and wall time 0 write nothing
  EXPECT_EQ(detail::scalar_event(0.0, 0, "a", 1.0f),
            bytes({0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01}) + "a" + bytes({0x15, 0x00, 0x00, 0x80, 0x3f}));
}

TEST(TensorBoard, TagsFollowTransformersRewriteLogs) {
  EXPECT_EQ(detail::tensorboard_tag("loss"), "train/loss");
  EXPECT_EQ(detail::tensorboard_tag("rewards/accuracy/mean"), "train/rewards/accuracy/mean");
  EXPECT_EQ(detail::tensorboard_tag("eval_loss"), "eval/loss");
  EXPECT_EQ(detail::tensorboard_tag("eval_rewards/accuracy/mean"), "eval/rewards/accuracy/mean");
  EXPECT_EQ(detail::tensorboard_tag("eval/pass@1"), "eval/pass@1");  // r1's GRPO evaluation keys keep their group
  EXPECT_EQ(detail::tensorboard_tag("test_accuracy"), "test/accuracy");
}

TEST(TensorBoard, ReportToAndLoggingDirKeys) {
  auto read = [](const std::string& yaml) {
    TrainingArguments a;
    a.read(Recipe::parse("output_dir: out\n" + yaml, "test.yaml"));
    a.output_dir = "out";
    a.validate();
    return a;
  };
  const TrainingArguments defaults = read("");
  EXPECT_FALSE(detail::wants_tensorboard(defaults.report_to));
  EXPECT_FALSE(defaults.logging_dir.has_value());
  EXPECT_TRUE(detail::wants_tensorboard(read("report_to: tensorboard\n").report_to));
  EXPECT_TRUE(detail::wants_tensorboard(read("report_to: all\n").report_to));
  EXPECT_FALSE(detail::wants_tensorboard(read("report_to: none\n").report_to));
  EXPECT_FALSE(detail::wants_tensorboard(read("report_to: []\n").report_to));
  const TrainingArguments listed = read("report_to: [wandb, tensorboard]\nlogging_dir: logs/tb\n");
  EXPECT_TRUE(detail::wants_tensorboard(listed.report_to));
  EXPECT_EQ(detail::unsupported_integrations(listed.report_to), std::vector<std::string>{"wandb"});
  EXPECT_EQ(listed.logging_dir.value_or(""), "logs/tb");
  R1_EXPECT_THROW_WITH(read("report_to: tensorbaord\n"), UsageError, "report_to", "tensorbaord", "tensorboard");
  R1_EXPECT_THROW_WITH(read("report_to: [none, tensorboard]\n"), UsageError, "report_to",
                       "'none' must be the only name", "[none, tensorboard]");
  R1_EXPECT_THROW_WITH(read("logging_dir: ''\n"), UsageError, "logging_dir");
  bool report_to = false, logging_dir = false;
  for (const auto& [key, help] : TrainingArguments::help()) {
    report_to |= key == "report_to" && help.find("tensorboard") != std::string::npos;
    logging_dir |= key == "logging_dir" && help.find("output_dir/runs") != std::string::npos;
  }
  EXPECT_TRUE(report_to && logging_dir);
}

// ---- A short run read back by the independent reader ----------------------------------------------------------------

struct Shell {
  int status = -1;
  std::string out;
};
// Runs `command` through the shell; stdout in `out`, stderr appended to it when `with_stderr`.
Shell shell(const std::string& command, bool with_stderr = true) {
  Shell r;
  FILE* pipe = popen((command + (with_stderr ? " 2>&1" : "")).c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.out.append(buffer, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// The reader's python3 and the directory of the module protoc generated, or why there is none.
struct Reader {
  std::string python, proto_dir, missing;
};
Reader prepare_reader(const fs::path& dir) {
  Reader r;
  const std::string reference = std::string(R1_SOURCE_DIR) + "/tests/reference";
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (shell(std::string(candidate) + " -c 'import google.protobuf'").status == 0) {
      r.python = candidate;
      break;
    }
  if (r.python.empty()) {
    r.missing = "no python3 with google.protobuf (Debian: python3-protobuf; scripts/install-deps.sh installs it)";
    return r;
  }
  if (shell("command -v protoc").status != 0) {
    r.missing = "no protoc (Debian: protobuf-compiler; scripts/install-deps.sh installs it)";
    return r;
  }
  r.proto_dir = (dir / "proto").string();
  fs::create_directories(r.proto_dir);
  const Shell protoc = shell("protoc --proto_path=" + reference + " --python_out=" + r.proto_dir + " " + reference +
                             "/tensorboard_event.proto");
  if (protoc.status != 0) {
    r.missing = "protoc failed: " + protoc.out;
    return r;
  }
  const Shell import =
      shell(r.python + " -c 'import sys; sys.path.insert(0, \"" + r.proto_dir + "\"); import tensorboard_event_pb2'");
  if (import.status != 0) r.missing = "protoc's module does not import into " + r.python + "'s protobuf: " + import.out;
  return r;
}

// The reader's JSON for the event files of `dir`, in name order (TensorBoard's reading order).
nlohmann::json read_events(const Reader& reader, const fs::path& dir, const fs::path& scratch) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  std::string command =
      reader.python + " " + R1_SOURCE_DIR + "/tests/reference/tensorboard-read.py --proto-dir " + reader.proto_dir;
  for (const std::string& f : files) command += " " + f;
  const fs::path errors = scratch / "reader-errors.txt";
  const Shell r = shell(command + " 2>" + errors.string(), false);
  EXPECT_EQ(r.status, 0) << r1::test::read_bytes(errors);
  return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{{"files", nlohmann::json::array()}};
}

using Point = std::tuple<std::string, int64_t, float>;  // tag, step, value

// What metrics.jsonl says TensorBoard must show: every finite number of every row but "step", as float32.
std::vector<Point> expected_points(const fs::path& metrics) {
  std::vector<Point> out;
  for (const nlohmann::json& row : r1::test::read_jsonl(metrics))
    for (const auto& [key, value] : row.items())
      if (key != "step" && value.is_number())
        out.emplace_back(detail::tensorboard_tag(key), row["step"].get<int64_t>(), float(value.get<double>()));
  std::sort(out.begin(), out.end());
  return out;
}

// What TensorBoard shows of the files' scalars, read in order. Rust loader (`per_tag`): a record at step s drops
// the same tag's earlier records at steps >= s. Python loader (file version 2): a SessionLog START at step s drops
// every earlier record at steps >= s.
std::vector<Point> shown_points(const nlohmann::json& events, bool per_tag) {
  std::vector<Point> kept;
  for (const nlohmann::json& file : events["files"])
    for (const nlohmann::json& e : file["events"]) {
      const int64_t step = e["step"].get<int64_t>();
      if (e.contains("session_log") && e["session_log"] == "START" && !per_tag)
        std::erase_if(kept, [&](const Point& p) { return std::get<1>(p) >= step; });
      if (!e.contains("values")) continue;
      for (const nlohmann::json& v : e["values"]) {
        const std::string tag = v["tag"].get<std::string>();
        if (per_tag)
          std::erase_if(kept, [&](const Point& p) { return std::get<0>(p) == tag && std::get<1>(p) >= step; });
        kept.emplace_back(tag, step, float(v["simple_value"].get<double>()));
      }
    }
  std::sort(kept.begin(), kept.end());
  return kept;
}

model::Transformer tiny_model() {
  model::ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = true;
  torch::manual_seed(11);
  model::Transformer m(c);
  m->init_weights();
  return m;
}

// Next-token prediction on token t+1 = (3 t + 1) mod 64, with an evaluation, a NaN loss at `nan_step` and a
// step-level metric `run` that tells the runs apart.
class PatternObjective : public Objective {
 public:
  PatternObjective(model::Transformer model, double run, int64_t nan_step)
      : model_(std::move(model)), run_(run), nan_step_(nan_step) {}
  double prepare_step(int64_t micro_batches) override {
    ++steps_;
    batches_.clear();
    for (int64_t m = 0; m < micro_batches; ++m) {
      at::Tensor ids = torch::empty({2, 9}, torch::kLong);
      auto a = ids.accessor<int64_t, 2>();
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0, t = (cursor_++ * 7) % 64; i < 9; ++i, t = (3 * t + 1) % 64) a[b][i] = t;
      batches_.push_back(ids);
    }
    return double(micro_batches * 16);
  }
  MicroBatchLoss micro_batch(int64_t index) override {
    at::Tensor ids = batches_[size_t(index)];
    auto [loss, count] = causal_lm_loss_sum(model_->forward(ids.narrow(1, 0, 8)), ids.narrow(1, 1, 8));
    if (steps_ == nan_step_) loss = loss * std::nan("");
    return {loss, 16, {}};
  }
  std::map<std::string, double> end_step() override { return {{"run", run_}}; }
  std::map<std::string, double> evaluate() override {
    at::Tensor ids = torch::empty({1, 9}, torch::kLong);
    for (int64_t i = 0, t = 5; i < 9; ++i, t = (3 * t + 1) % 64) ids[0][i] = t;
    auto [loss, count] = causal_lm_loss_sum(model_->forward(ids.narrow(1, 0, 8)), ids.narrow(1, 1, 8));
    return {{"eval_loss", loss.item<double>() / double(count)}};
  }
  nlohmann::json data_state() const override { return {{"cursor", cursor_}, {"steps", steps_}}; }
  void load_data_state(const nlohmann::json& s) override {
    cursor_ = s.at("cursor").get<int64_t>();
    steps_ = s.at("steps").get<int64_t>();
  }

 private:
  model::Transformer model_;
  double run_;
  int64_t nan_step_, steps_ = 0, cursor_ = 0;
  std::vector<at::Tensor> batches_;
};

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

TEST(TensorBoard, EveryMetricOfAResumedRunReadsBackIndependently) {
  TempDir dir;
  const Reader reader = prepare_reader(dir.path());
  if (!reader.missing.empty()) GTEST_SKIP() << "the independent event-file reader is unavailable: " << reader.missing;

  TrainingArguments args;
  args.output_dir = (dir / "run").string();
  args.learning_rate = 1e-2;
  args.max_steps = 8;
  args.logging_steps = 2;
  args.logging_first_step = true;
  args.eval_strategy = "steps";
  args.eval_steps = 4;
  args.save_steps = 4;
  args.report_to = {"tensorboard"};
  const double start = unix_now();
  auto first = tiny_model();
  PatternObjective first_objective(first, 1, 3);  // step 3's loss is NaN: a skipped step, logged
  TrainResult r = Trainer(first, args, first_objective, {.progress_bar = false}).train();
  ASSERT_EQ(r.global_step, 8);
  ASSERT_EQ(r.skipped_steps, 1);
  const double end = unix_now();
  const fs::path runs = dir / "run" / "runs";  // the default logging_dir
  const nlohmann::json one = read_events(reader, runs, dir.path());
  ASSERT_EQ(one["files"].size(), 1u) << one.dump();

  // the file: its name, the version record, the START mark, then one scalar per event with the run's wall time
  const nlohmann::json& file = one["files"][0];
  const std::regex name(R"(events\.out\.tfevents\.\d{10}\.[^/]+)");
  EXPECT_TRUE(std::regex_match(fs::path(file["path"].get<std::string>()).filename().string(), name)) << file["path"];
  const nlohmann::json& events = file["events"];
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["file_version"], "brain.Event:2");
  EXPECT_EQ(events[0]["step"], 0);
  EXPECT_EQ(events[1]["session_log"], "START");
  EXPECT_EQ(events[1]["step"], 1);
  double last_wall_time = 0;
  for (const nlohmann::json& e : events) {
    EXPECT_GE(e["wall_time"].get<double>(), std::floor(start)) << e;
    EXPECT_LE(e["wall_time"].get<double>(), end + 1) << e;
    EXPECT_GE(e["wall_time"].get<double>(), last_wall_time);
    last_wall_time = e["wall_time"].get<double>();
    if (e.contains("values")) {
      EXPECT_EQ(e["values"].size(), 1u) << e;  // one tag per event
    }
  }
  // every number of metrics.jsonl and nothing else; the skipped step's line keeps only what is a finite number
  const fs::path metrics = dir / "run" / "metrics.jsonl";
  bool skipped_line = false;
  for (const nlohmann::json& row : r1::test::read_jsonl(metrics))
    skipped_line |= row["step"] == 3 && row.value("skipped_nonfinite", false) && row["loss"].is_null();
  EXPECT_TRUE(skipped_line) << r1::test::read_bytes(metrics);
  const std::vector<Point> expected = expected_points(metrics);
  EXPECT_EQ(shown_points(one, true), expected);
  EXPECT_EQ(shown_points(one, false), expected);
  for (const char* tag : {"train/loss", "train/learning_rate", "train/grad_norm", "train/run", "eval/loss"})
    EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [&](const Point& p) { return std::get<0>(p) == tag; }))
        << tag;

  // resume from checkpoint-4: metrics.jsonl is cut back to step 4; a second file starts at step 5, and what
  // TensorBoard shows of both files equals the resumed metrics.jsonl (steps 5-8 from the second run, run == 2)
  auto second = tiny_model();
  PatternObjective second_objective(second, 2, 0);
  args.resume_from_checkpoint = (dir / "run" / "checkpoint-4").string();
  ASSERT_EQ(Trainer(second, args, second_objective, {.progress_bar = false}).train().global_step, 8);
  const nlohmann::json two = read_events(reader, runs, dir.path());
  ASSERT_EQ(two["files"].size(), 2u) << two.dump();
  EXPECT_EQ(two["files"][0]["events"], events);  // the first file is left as it was
  const nlohmann::json& resumed = two["files"][1]["events"];
  ASSERT_GE(resumed.size(), 2u);
  EXPECT_EQ(resumed[0]["file_version"], "brain.Event:2");
  EXPECT_EQ(resumed[1]["session_log"], "START");
  EXPECT_EQ(resumed[1]["step"], 5);
  const std::vector<Point> after_resume = expected_points(metrics);
  EXPECT_EQ(shown_points(two, true), after_resume);
  EXPECT_EQ(shown_points(two, false), after_resume);
  int from_second_run = 0;
  for (const auto& [tag, step, value] : after_resume)
    if (tag == "train/run") {
      EXPECT_EQ(value, step > 4 ? 2.0f : 1.0f) << step;
      from_second_run += step > 4;
    }
  EXPECT_EQ(from_second_run, 2);  // steps 6 and 8

  // a fresh start over the run (overwrite_output_dir) removes its event files with its metrics.jsonl; a
  // logging_dir elsewhere gets the events of a run that names it
  auto third = tiny_model();
  PatternObjective third_objective(third, 3, 0);
  args.resume_from_checkpoint.reset();
  args.overwrite_output_dir = true;
  args.max_steps = 2;
  ASSERT_EQ(Trainer(third, args, third_objective, {.progress_bar = false}).train().global_step, 2);
  const nlohmann::json three = read_events(reader, runs, dir.path());
  ASSERT_EQ(three["files"].size(), 1u);
  EXPECT_EQ(shown_points(three, true), expected_points(metrics));
  auto fourth = tiny_model();
  PatternObjective fourth_objective(fourth, 4, 0);
  args.logging_dir = (dir / "elsewhere" / "tb").string();
  args.report_to = {"all"};
  ASSERT_EQ(Trainer(fourth, args, fourth_objective, {.progress_bar = false}).train().global_step, 2);
  EXPECT_EQ(shown_points(read_events(reader, dir / "elsewhere" / "tb", dir.path()), true), expected_points(metrics));
}

}  // namespace
}  // namespace r1::train
