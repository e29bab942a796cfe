// Tests for benchmark decontamination (`r1 data decontaminate`, open-r1's scripts/decontaminate.py): planted
// 8-gram overlaps are found and nothing else (a 7-word overlap, different punctuation and texts shorter than 8
// words are not), open-r1's normalisation (Python's str.lower() with the final sigma, str.split() on Unicode
// whitespace), the per-benchmark report, drop and flag modes (rows byte for byte / open-r1's
// contaminated_<name> columns), errors naming file:line, and the CLI reading `r1 eval` task files.
// The expected flags were checked against open-r1's normalize_string / word_ngrams run by Python 3.11.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "r1/data.h"
#include "r1/error.h"
#include "test-helpers.h"

namespace r1::data {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

const std::string kP1 = "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20.";
const std::string kP2 =
    "Let ABC be a triangle inscribed in circle omega, and let the tangents to omega at B and C meet at D.";
const std::string kP3 = "Ο σοφός άνθρωπος λέγει ότι ο δρόμος είναι μακρύς και δύσκολος για όλους.";

// Training problems and whether open-r1 flags them for (aime, math).
struct Row {
  std::string problem;
  bool aime, math;
};
const std::vector<Row> kRows = {
    {"Please FIND the   number of ordered pairs of positive integers today.", true, false},  // case, spaces
    {"x find the number of ordered pairs of y", false, false},                               // 7 words only
    {"Consider: let ABC be a triangle inscribed in circle omega, and then stop.", false, true},
    {"Two parts: find the number of ordered pairs of positive numbers; and the tangents to omega at B and C meet.",
     true, true},
    {"Count pairs of positive integers m n such that m^2 n = 20^20 holds.", false, false},  // punctuation differs
    {"find the number of ordered pairs", false, false},                                     // fewer than 8 words
    {"Caf\u00e9 au lait is a drink served hot in a large cup every single morning.", false, false},
    {"ΛΈΓΕΙ ΌΤΙ Ο\u3000ΔΡΌΜΟΣ ΕΊΝΑΙ ΜΑΚΡΎΣ\u00a0ΚΑΙ ΔΎΣΚΟΛΟΣ ΓΙΑ ΌΛΟΥΣ", true, false},  // final sigma, U+3000
};

std::vector<std::string> training_lines() {
  std::vector<std::string> lines;
  for (size_t i = 0; i < kRows.size(); ++i)
    lines.push_back(fmt::format(R"({{"id": {},  "problem": {}, "solution": "\u00e9"}})", i,
                                nlohmann::json(kRows[i].problem).dump()));
  return lines;
}

std::vector<Benchmark> benchmarks() {
  return {{"aime", "aime.jsonl", {kP1, kP3}, {1, 2}}, {"math", "math.jsonl", {kP2}, {1}}};
}

DecontaminateOptions options(const TempDir& dir) {
  DecontaminateOptions o;
  o.inputs = {dir / "train.jsonl"};
  o.output = dir / "out.jsonl";
  o.report = dir / "report.jsonl";
  o.show_progress = false;
  o.threads = 2;
  return o;
}

void write_training(const TempDir& dir) {
  std::string text;
  for (const std::string& line : training_lines()) text += line + "\n";
  test::write_bytes(dir / "train.jsonl", text);
}

TEST(Decontaminate, FindsPlanted8GramsAndNothingElse) {
  TempDir dir;
  write_training(dir);
  DecontaminateSummary s = decontaminate(options(dir), benchmarks());
  EXPECT_EQ(s.rows, 8u);
  EXPECT_EQ(s.contaminated, 4u);
  EXPECT_EQ(s.written, 4u);
  ASSERT_EQ(s.benchmarks.size(), 2u);
  const BenchmarkContamination& aime = s.benchmarks[0];
  const BenchmarkContamination& math = s.benchmarks[1];
  EXPECT_EQ(aime.name, "aime");
  EXPECT_EQ(aime.problems, 2u);
  EXPECT_EQ(aime.ngrams, 16u);  // 17 and 13 words: 10 + 6 distinct 8-grams
  EXPECT_EQ(aime.rows, 3u);
  EXPECT_EQ(aime.example_ngram, "find the number of ordered pairs of positive");
  EXPECT_EQ(aime.example_row, (dir / "train.jsonl").string() + ":1");
  EXPECT_EQ(aime.example_problem, "aime.jsonl:1");
  EXPECT_EQ(math.rows, 2u);
  EXPECT_EQ(math.example_ngram, "let abc be a triangle inscribed in circle");
  EXPECT_EQ(math.example_row, (dir / "train.jsonl").string() + ":3");
  // Drop mode: the clean rows, byte for byte.
  const std::vector<std::string> lines = training_lines();
  std::string expected;
  for (size_t i = 0; i < kRows.size(); ++i)
    if (!kRows[i].aime && !kRows[i].math) expected += lines[i] + "\n";
  EXPECT_EQ(test::read_bytes(dir / "out.jsonl"), expected);
  // The report: one line per contaminated row, each benchmark with its first n-gram and problem.
  auto report = test::read_jsonl(dir / "report.jsonl");
  ASSERT_EQ(report.size(), 4u);
  EXPECT_EQ(report[2]["row"], (dir / "train.jsonl").string() + ":4");
  ASSERT_EQ(report[2]["benchmarks"].size(), 2u);
  EXPECT_EQ(report[2]["benchmarks"][1]["benchmark"], "math");
  EXPECT_EQ(report[2]["benchmarks"][1]["ngram"], "the tangents to omega at b and c");
  EXPECT_EQ(report[2]["benchmarks"][1]["problem"], "math.jsonl:1");
  EXPECT_EQ(report[3]["benchmarks"][0]["ngram"], "λέγει ότι ο δρόμος είναι μακρύς και δύσκολος");
  EXPECT_EQ(report[3]["benchmarks"][0]["problem"], "aime.jsonl:2");
  const std::string text = s.format();
  EXPECT_NE(text.find("4 contaminated, wrote 4"), std::string::npos) << text;
  EXPECT_NE(text.find("\"find the number of ordered pairs of positive\""), std::string::npos) << text;
}

TEST(Decontaminate, FlagModeAddsOpenR1ColumnsAndKeepsEveryRow) {
  TempDir dir;
  write_training(dir);
  DecontaminateOptions o = options(dir);
  o.mode = ContaminationMode::Flag;
  o.report.clear();
  DecontaminateSummary s = decontaminate(o, benchmarks());
  EXPECT_EQ(s.written, 8u);
  std::vector<std::string> out_lines;
  const std::string out = test::read_bytes(dir / "out.jsonl");
  for (size_t start = 0, nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1)
    out_lines.push_back(out.substr(start, nl - start));
  ASSERT_EQ(out_lines.size(), kRows.size());
  for (size_t i = 0; i < kRows.size(); ++i) {
    auto row = nlohmann::ordered_json::parse(out_lines[i]);
    std::vector<std::string> keys;
    for (auto it = row.begin(); it != row.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"id", "problem", "solution", "contaminated_aime", "contaminated_math"}));
    EXPECT_EQ(row["problem"], kRows[i].problem);
    EXPECT_EQ(row["contaminated_aime"], kRows[i].aime) << i;
    EXPECT_EQ(row["contaminated_math"], kRows[i].math) << i;
  }
}

TEST(Decontaminate, NgramSizeAndPlainText) {
  TempDir dir;
  // With n = 7 the 7-word overlap counts; a plain-text input is one row per line (blank lines kept).
  std::string text;
  for (const Row& r : kRows) text += r.problem + "\n\n";
  test::write_bytes(dir / "train.txt", text);
  DecontaminateOptions o = options(dir);
  o.inputs = {dir / "train.txt"};
  o.output = dir / "out.txt";
  o.ngram = 7;
  DecontaminateSummary s = decontaminate(o, benchmarks());
  EXPECT_EQ(s.rows, 16u);
  EXPECT_EQ(s.contaminated, 5u);
  EXPECT_EQ(test::read_bytes(dir / "out.txt"),
            "\n\n\n\n" + kRows[4].problem + "\n\n" + kRows[5].problem + "\n\n" + kRows[6].problem + "\n\n\n");
  o.mode = ContaminationMode::Flag;
  o.overwrite = true;
  R1_EXPECT_THROW_WITH(decontaminate(o, benchmarks()), UsageError, "--mode flag", "train.txt");
}

TEST(Decontaminate, ErrorsNameFileAndLine) {
  TempDir dir;
  test::write_bytes(dir / "train.jsonl", "{\"problem\": \"ok\"}\n\n{\"question\": \"no problem column\"}\n");
  DecontaminateOptions o = options(dir);
  R1_EXPECT_THROW_WITH(decontaminate(o, benchmarks()), Error, "train.jsonl:3", "no string field \"problem\"");
  test::write_bytes(dir / "train.jsonl", "{\"problem\": \"ok\"}\n{\"problem\": \"broken\n");
  R1_EXPECT_THROW_WITH(decontaminate(o, benchmarks()), Error, "train.jsonl:2", "not valid JSON");
  o.skip_invalid = true;
  DecontaminateSummary s = decontaminate(o, benchmarks());
  EXPECT_EQ(s.invalid_rows, 1u);
  EXPECT_EQ(s.written, 1u);
  R1_EXPECT_THROW_WITH(decontaminate(o, benchmarks()), Error, "out.jsonl: exists; pass --overwrite");
  o.overwrite = true;
  std::vector<Benchmark> twice = {benchmarks()[0], benchmarks()[0]};
  R1_EXPECT_THROW_WITH(decontaminate(o, twice), UsageError, "two benchmarks are named 'aime'");
  EXPECT_THROW(decontaminate(o, {}), UsageError);
  test::write_bytes(dir / "bench.jsonl", "{\"q\": \"a b\"}\n{\"question\": 3}\n");
  R1_EXPECT_THROW_WITH(read_benchmark_column(dir / "bench.jsonl", "q", "b"), Error, "bench.jsonl:2",
                       "no string field \"q\"");
}

TEST(DataCli, DecontaminateReadsEvalTaskFiles) {
  TempDir dir;
  write_training(dir);
  // AIME and MATH task files as `r1 eval` reads them (the problem column, not the prompt template), and a
  // GPQA file (its Question column).
  test::write_bytes(dir / "aime_2024.jsonl", nlohmann::json{{"problem", kP1}, {"answer", 5}}.dump() + "\n" +
                                                 nlohmann::json{{"problem", kP3}, {"answer", "7"}}.dump() + "\n");
  test::write_bytes(dir / "math.jsonl", nlohmann::json{{"problem", kP2}, {"solution", "$\\boxed{1}$"}}.dump() + "\n");
  test::write_bytes(dir / "gpqa.jsonl", nlohmann::json{{"Question",
                                                        "What is the boiling point of water at sea level "
                                                        "in degrees Celsius today?"},
                                                       {"Correct Answer", "100"},
                                                       {"Incorrect Answer 1", "90"},
                                                       {"Incorrect Answer 2", "80"},
                                                       {"Incorrect Answer 3", "70"}}
                                                .dump() +
                                            "\n");
  auto r = test::run_r1(fmt::format("data decontaminate --input {} --output {} --benchmark {} MATH={} {} --quiet",
                                    (dir / "train.jsonl").string(), (dir / "out.jsonl").string(),
                                    (dir / "aime_2024.jsonl").string(), (dir / "math.jsonl").string(),
                                    (dir / "gpqa.jsonl").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("8 rows"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 contaminated, wrote 4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("aime_2024"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MATH "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("gpqa "), std::string::npos) << r.output;
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 4u);
  // The prompt template's words are not benchmark text: a row quoting open-r1's math template is clean.
  test::write_bytes(dir / "template.jsonl",
                    R"({"problem": "Solve the following math problem efficiently and clearly. The last line"})"
                    "\n");
  r = test::run_r1(fmt::format("data decontaminate --input {} --output {} --benchmark {} --quiet",
                               (dir / "template.jsonl").string(), (dir / "t-out.jsonl").string(),
                               (dir / "math.jsonl").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 contaminated"), std::string::npos) << r.output;
  // A file that is no eval task needs --benchmark-field; --mode flag; a missing column names file:line.
  test::write_bytes(dir / "lcb.jsonl", nlohmann::json{{"question_content", kP1}}.dump() + "\n");
  r = test::run_r1(fmt::format("data decontaminate --input {} --output {} --benchmark {} --quiet",
                               (dir / "train.jsonl").string(), (dir / "o2.jsonl").string(),
                               (dir / "lcb.jsonl").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--benchmark-field"), std::string::npos) << r.output;
  r = test::run_r1(fmt::format(
      "data decontaminate --input {} --output {} --benchmark {} --benchmark-field question_content --mode flag --quiet",
      (dir / "train.jsonl").string(), (dir / "o2.jsonl").string(), (dir / "lcb.jsonl").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = test::read_jsonl(dir / "o2.jsonl");
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0]["contaminated_lcb"], true);
  EXPECT_EQ(rows[1]["contaminated_lcb"], false);
  r = test::run_r1(fmt::format("data decontaminate --input {} --output {} --benchmark {} --benchmark-field nope",
                               (dir / "train.jsonl").string(), (dir / "o3.jsonl").string(),
                               (dir / "lcb.jsonl").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("lcb.jsonl:1"), std::string::npos) << r.output;
  r = test::run_r1("data decontaminate --help");
  EXPECT_EQ(r.status, 0);
  for (const char* option : {"--benchmark", "--ngram", "--mode", "--field", "--report", "--benchmark-field"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace r1::data
