// r1 verify against the real Math-Verify 0.8.0 (issue 17): the committed golden set — 3,009 (gold, completion) cases
// made by tests/reference/math-verify/make-cases.py, with the verdicts of the real library in both presets written by
// make-verdicts.py (tests/reference/math-verify/README.md has the commands). Each preset must agree on at least 99 %
// of the cases and on every case of a pinned core (the first 40 of each category), so a regression fails CI.
// The disagreements, if any, are printed with both sides' answers for tests/reference/math-verify/ask.py.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "r1/verify.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kGolden = fs::path(R1_SOURCE_DIR) / "tests/golden/verify";

struct GoldenCase {
  std::string id, category;
  std::string gold, completion;
  std::map<std::string, bool> correct;  // preset (math_verify / open_r1) -> the real Math-Verify's verdict
};

std::vector<GoldenCase> golden_cases() {
  std::map<std::string, json> verdicts;
  for (const json& v : r1::test::read_jsonl(kGolden / "verdicts.jsonl")) verdicts[v["id"]] = v;
  std::vector<GoldenCase> cases;
  for (const json& c : r1::test::read_jsonl(kGolden / "cases.jsonl")) {
    GoldenCase g{c["id"], c["category"], c["gold"], c["completion"], {}};
    const json& v = verdicts.at(g.id);
    for (const char* preset : {"math_verify", "open_r1"}) g.correct[preset] = v[preset]["correct"].get<bool>();
    cases.push_back(std::move(g));
  }
  return cases;
}

bool in_core(const std::string& id) {  // "<category>-NNNN": the first 40 of each category
  const size_t dash = id.rfind('-');
  return dash != std::string::npos && std::stoi(id.substr(dash + 1)) < 40;
}

class VerifyGolden : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(VerifyGolden, AgreesWithTheRealMathVerify) {
  const auto [preset, column] = GetParam();
  const std::vector<GoldenCase> cases = golden_cases();
  ASSERT_GT(cases.size(), 3000u);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const GoldenCase& c : cases) pairs.emplace_back(c.gold, c.completion);
  const auto results = r1::verify::verify_batch(pairs, r1::verify::verify_preset(preset));
  ASSERT_EQ(results.size(), cases.size());
  size_t agree = 0, core = 0;
  std::map<std::string, std::pair<size_t, size_t>> by_category;  // agree, total
  for (size_t i = 0; i < cases.size(); ++i) {
    const bool ours = results[i].verdict == r1::verify::Verdict::kCorrect;
    const bool theirs = cases[i].correct.at(column);
    auto& [category_agree, category_total] = by_category[cases[i].category];
    ++category_total;
    if (ours == theirs) {
      ++agree;
      ++category_agree;
      continue;
    }
    if (in_core(cases[i].id)) ++core;
    std::cout << preset << " disagrees on " << cases[i].id << ": r1 " << r1::verify::verdict_name(results[i].verdict)
              << " (gold '" << results[i].gold << "', answer '" << results[i].answer << "', " << results[i].detail
              << "), Math-Verify " << (theirs ? "correct" : "not correct");
  }
  const double share = double(agree) / double(cases.size());
  std::string table;
  for (const auto& [category, counts] : by_category)
    table += category + " " + std::to_string(counts.first) + "/" + std::to_string(counts.second) + "  ";
  std::printf("%s: %zu of %zu agree (%.2f %%)\n  %s\n", preset, agree, cases.size(), 100 * share, table.c_str());
  EXPECT_GE(share, 0.99);
  EXPECT_EQ(core, 0u) << "disagreements in the pinned core";
}

INSTANTIATE_TEST_SUITE_P(Presets, VerifyGolden,
                         ::testing::Values(std::make_pair("math-verify", "math_verify"),
                                           std::make_pair("open-r1", "open_r1")),
                         [](const auto& info) { return std::string(info.param.second); });

}  // namespace
