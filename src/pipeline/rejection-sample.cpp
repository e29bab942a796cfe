// Rejection sampling (see r1/rejection-sample.h): the samples come from text::generate_dataset (grouped, with the
// prompt kept), every reward (registry reward or reward model, train/reward-funcs.h) scores the whole batch at once
// (the accuracy reward verifies on all cores), and the selection per prompt runs in order: correct (every threshold
// met) -> R1's filters -> duplicates -> keep policy -> max_per_prompt. Each dropped correct response is counted under
// its first failing reason.
#include "r1/rejection-sample.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <sstream>

#include "r1/error.h"
#include "r1/io.h"
#include "r1/rewards.h"
#include "train/reward-funcs.h"

namespace r1::pipeline {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kPromptColumn = "__prompt";
constexpr const char* kCompletionColumn = "__completion";  // grouped: "__completions"

// Completions that close a think block the prompt opened (R1-style templates end the generation prompt with
// "<think>\n") get the opening tag back, so the kept response carries its reasoning inside the tags.
std::string with_think_tags(const std::string& text) {
  const size_t close = text.find("</think>");
  if (close != std::string::npos && text.rfind("<think>", close) == std::string::npos) return "<think>\n" + text;
  return text;
}

bool has_code_block(const std::string& text) { return text.find("```") != std::string::npos; }

size_t longest_paragraph(const std::string& text) {
  size_t longest = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

std::string squash_space(const std::string& text) {  // exact duplicates up to whitespace
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += char(c);
  }
  return out;
}

std::set<std::string> word_trigrams(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(std::move(w));
  std::set<std::string> grams;
  if (words.size() < 3) {
    grams.insert(fmt::format("{}", fmt::join(words, " ")));
    return grams;
  }
  for (size_t i = 0; i + 3 <= words.size(); ++i) grams.insert(words[i] + ' ' + words[i + 1] + ' ' + words[i + 2]);
  return grams;
}

double jaccard(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() && b.empty()) return 1;
  size_t common = 0;
  for (const std::string& g : a) common += b.count(g);
  return double(common) / double(a.size() + b.size() - common);
}

void validate(const RejectionSampleOptions& o) {
  if (o.reward_funcs.empty()) fail_usage("--reward-funcs: give at least one reward");
  for (const auto& [name, value] : o.thresholds)
    if (std::find(o.reward_funcs.begin(), o.reward_funcs.end(), name) == o.reward_funcs.end())
      fail_usage("--threshold {}: '{}' is not one of --reward-funcs ({})", name, name, fmt::join(o.reward_funcs, ","));
  if (!o.reward_weights.empty() && o.reward_weights.size() != o.reward_funcs.size())
    fail_usage("--reward-weights: {} weights for {} rewards", o.reward_weights.size(), o.reward_funcs.size());
  if (!o.reward_kwargs.is_object()) fail_usage("reward_kwargs must be an object {{reward name: {{params}}}}");
  if (o.max_per_prompt < 0) fail_usage("--max-per-prompt must be >= 0, got {}", o.max_per_prompt);
  if (!(o.pass_rate_min >= 0 && o.pass_rate_max <= 1 && o.pass_rate_min <= o.pass_rate_max))
    fail_usage("--pass-rate-min/--pass-rate-max: need 0 <= min <= max <= 1, got [{}, {}]", o.pass_rate_min,
               o.pass_rate_max);
  if (o.format != "messages" && o.format != "prompt-completion")
    fail_usage("--format: expected messages or prompt-completion, got '{}'", o.format);
  const SampleFilters& f = o.filters;
  if (!(f.min_language_consistency >= 0 && f.min_language_consistency <= 1))
    fail_usage("--min-language-consistency must be in [0, 1], got {}", f.min_language_consistency);
  if (f.max_paragraph_chars < 0) fail_usage("--max-paragraph-chars must be >= 0, got {}", f.max_paragraph_chars);
  if (!(f.near_duplicate_jaccard > 0 && f.near_duplicate_jaccard <= 1))
    fail_usage("--near-duplicate-jaccard must be in (0, 1], got {}", f.near_duplicate_jaccard);
}

// The input row of a sample row (without the columns sampling added).
Json source_of(const Json& row) {
  Json source = row;
  for (const std::string& key :
       {std::string(kPromptColumn), std::string(kCompletionColumn) + "s", std::string("finish_reasons")})
    source.erase(key);
  return source;
}

// The kept response as an SFT row: the prompt's messages (a text prompt becomes the user turn) and the response.
Json sft_row(const Json& prompt, const std::string& response, const std::string& format) {
  Json messages = prompt.is_array() ? prompt : Json::array({{{"role", "user"}, {"content", prompt}}});
  Json assistant = {{"role", "assistant"}, {"content", response}};
  if (format == "prompt-completion") return {{"prompt", messages}, {"completion", Json::array({assistant})}};
  messages.push_back(assistant);
  return {{"messages", messages}};
}

}  // namespace

KeepPolicy parse_keep_policy(const std::string& name) {
  if (name == "all-correct") return KeepPolicy::kAllCorrect;
  if (name == "best") return KeepPolicy::kBest;
  if (name == "first") return KeepPolicy::kFirst;
  fail_usage("--keep: expected all-correct, best or first, got '{}'", name);
}

std::string RejectionSampleReport::summary() const {
  std::vector<std::string> drops;
  for (const auto& [why, n] : dropped) drops.push_back(fmt::format("{} {}", n, why));
  return fmt::format(
      "{} prompts, {} samples, {} correct, {} kept for {} prompts (dropped: {}); pass rate "
      "histogram [0, .1, ..., 1]: {}{}",
      prompts, samples, correct, kept, prompts_with_kept,
      drops.empty() ? "none" : fmt::format("{}", fmt::join(drops, ", ")), fmt::join(pass_rate_histogram, " "),
      pass_rate_prompts > 0 ? fmt::format("; {} prompts in the pass-rate range", pass_rate_prompts) : std::string());
}

std::vector<Json> select_samples(const std::vector<Json>& rows, const RejectionSampleOptions& o,
                                 RejectionSampleReport& report, std::vector<Json>* pass_rate_rows) {
  validate(o);
  const std::string completions_column = std::string(kCompletionColumn) + "s";
  // Flatten: every response with the row (its example columns) it answers.
  std::vector<std::string> texts;
  std::vector<nlohmann::json> prompts, examples;  // per response: the prompt as sampled (messages or text), the row
  std::vector<std::pair<size_t, size_t>> span;    // per row: [first, last) in texts
  for (size_t i = 0; i < rows.size(); ++i) {
    const Json& row = rows[i];
    auto c = row.find(completions_column);
    if (!row.is_object() || !row.contains(kPromptColumn) || c == row.end() || !c->is_array())
      fail("sample row {}: expected the input row with '{}' and '{}' (a list)", i + 1, kPromptColumn,
           completions_column);
    const nlohmann::json plain = nlohmann::json::parse(source_of(row).dump());
    const nlohmann::json prompt = nlohmann::json::parse(row[kPromptColumn].dump());
    const size_t first = texts.size();
    for (const Json& t : *c) {
      if (!t.is_string()) fail("sample row {}: '{}' must hold strings", i + 1, completions_column);
      texts.push_back(with_think_tags(t.get<std::string>()));
      prompts.push_back(prompt);
      examples.push_back(plain);
    }
    span.emplace_back(first, texts.size());
  }
  // Score every response with every reward (registry rewards and reward models), one batch each.
  std::vector<std::vector<rewards::Score>> scores;
  const nlohmann::json kwargs = nlohmann::json::parse(o.reward_kwargs.dump());
  for (const train::RewardFunc& fn : train::make_reward_funcs(o.reward_funcs, kwargs, at::Device(o.generation.device)))
    scores.push_back(fn(prompts, texts, examples));
  std::vector<rewards::Score> language;
  if (!o.filters.language.empty()) {
    // "row": each prompt's own `language` column, as the reward reads it without the parameter.
    const nlohmann::json params =
        o.filters.language == "row" ? nlohmann::json::object() : nlohmann::json{{"language", o.filters.language}};
    language = rewards::make_reward("language_consistency", params)(texts, examples);
  }
  std::vector<double> weights = o.reward_weights;
  if (weights.empty()) weights.assign(o.reward_funcs.size(), 1.0);
  const std::vector<rewards::Score> total = rewards::combine_rewards(scores, weights);

  report = RejectionSampleReport{};
  report.pass_rate_histogram.assign(11, 0);
  std::vector<Json> kept_rows;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [first, last] = span[i];
    ++report.prompts;
    report.samples += int64_t(last - first);
    std::vector<size_t> survivors;
    int64_t correct = 0;
    auto drop = [&](const char* why) { ++report.dropped[why]; };
    std::vector<std::string> kept_squashed;
    std::vector<std::set<std::string>> kept_grams;
    for (size_t k = first; k < last; ++k) {
      bool pass = true;
      for (size_t f = 0; f < o.reward_funcs.size() && pass; ++f) {
        auto threshold = o.thresholds.find(o.reward_funcs[f]);
        pass = scores[f][k] && *scores[f][k] >= (threshold == o.thresholds.end() ? 1.0 : threshold->second);
      }
      if (!pass) continue;
      ++correct;
      const std::string& text = texts[k];
      if (!language.empty() && !(language[k] && *language[k] >= o.filters.min_language_consistency)) {
        drop("language");
      } else if (o.filters.max_paragraph_chars > 0 &&
                 int64_t(longest_paragraph(text)) > o.filters.max_paragraph_chars) {
        drop("paragraph");
      } else if (o.filters.no_code_blocks && has_code_block(text)) {
        drop("code");
      } else if (o.filters.deduplicate) {
        std::string squashed = squash_space(text);
        std::set<std::string> grams = word_trigrams(squashed);
        bool duplicate = false;
        for (size_t j = 0; j < kept_squashed.size() && !duplicate; ++j)
          duplicate = kept_squashed[j] == squashed || jaccard(kept_grams[j], grams) >= o.filters.near_duplicate_jaccard;
        if (duplicate) {
          drop("duplicate");
        } else {
          kept_squashed.push_back(std::move(squashed));
          kept_grams.push_back(std::move(grams));
          survivors.push_back(k);
        }
      } else {
        survivors.push_back(k);
      }
    }
    report.correct += correct;
    const double n = double(last - first), pass_rate = n > 0 ? double(correct) / n : 0.0;
    report.pass_rate_histogram[correct == 0 ? 0 : std::min<size_t>(10, size_t(std::ceil(pass_rate * 10 - 1e-9)))] += 1;
    if (pass_rate_rows != nullptr && pass_rate >= o.pass_rate_min && pass_rate <= o.pass_rate_max) {
      pass_rate_rows->push_back(source_of(rows[i]));
      ++report.pass_rate_prompts;
    }
    // The keep policy, then the cap.
    std::vector<size_t> chosen = survivors;
    if (o.keep == KeepPolicy::kFirst && chosen.size() > 1) {
      chosen.resize(1);
    } else if (o.keep == KeepPolicy::kBest && chosen.size() > 1) {
      size_t best = chosen[0];
      for (size_t k : chosen)
        if (total[k].value_or(-1e300) > total[best].value_or(-1e300)) best = k;
      chosen = {best};
    }
    if (o.max_per_prompt > 0 && int64_t(chosen.size()) > o.max_per_prompt) chosen.resize(size_t(o.max_per_prompt));
    if (chosen.size() < survivors.size()) report.dropped["cap"] += int64_t(survivors.size() - chosen.size());
    if (!chosen.empty()) ++report.prompts_with_kept;
    for (size_t k : chosen) {
      Json out = sft_row(rows[i][kPromptColumn], texts[k], o.format);
      Json rewards_json = Json::object();
      for (size_t f = 0; f < o.reward_funcs.size(); ++f)
        rewards_json[o.reward_funcs[f]] = scores[f][k] ? Json(*scores[f][k]) : Json(nullptr);
      if (!language.empty()) rewards_json["language_consistency"] = language[k] ? Json(*language[k]) : Json(nullptr);
      out["pass_rate"] = pass_rate;
      out["rewards"] = rewards_json;
      out["sample_index"] = k - first;
      out["source_row"] = source_of(rows[i]);
      kept_rows.push_back(std::move(out));
    }
  }
  report.kept = int64_t(kept_rows.size());
  return kept_rows;
}

RejectionSampleReport rejection_sample(const RejectionSampleOptions& options,
                                       const std::function<void(int64_t, int64_t)>& on_row) {
  validate(options);
  if (options.output.empty()) fail_usage("--output is required");
  // Unknown entries and bad parameters before any sampling.
  train::check_reward_funcs(options.reward_funcs, nlohmann::json::parse(options.reward_kwargs.dump()));
  const auto& g0 = options.generation;
  for (const fs::path& path : {options.output, options.pass_rate_output})
    if (!path.empty() && fs::exists(path) && !g0.resume && !g0.overwrite)
      fail_usage("{} exists: pass --resume (sample what is missing, then select again) or --overwrite", path.string());
  text::DatasetGenerateOptions g = g0;
  if (g.output.empty()) g.output = options.output.parent_path() / (options.output.stem().string() + ".samples.jsonl");
  if (g.output == options.output) fail_usage("--samples must differ from --output");
  g.group_generations = true;
  g.output_column = kCompletionColumn;
  g.prompt_output_column = kPromptColumn;

  RejectionSampleReport report;
  text::DatasetGenerateReport generated = text::generate_dataset(g, on_row);
  std::vector<Json> rows;
  {
    const std::string bytes = read_file(g.output);
    size_t line = 0, start = 0;
    while (start < bytes.size()) {
      size_t end = bytes.find('\n', start);
      if (end == std::string::npos) end = bytes.size();
      ++line;
      std::string_view text(bytes.data() + start, end - start);
      if (text.find_first_not_of(" \t\r") != std::string_view::npos)
        rows.push_back(parse_ordered_json(text, fmt::format("{}:{}", g.output.string(), line)));
      start = end + 1;
    }
  }
  std::vector<Json> pass_rate_rows;
  std::vector<Json> kept =
      select_samples(rows, options, report, options.pass_rate_output.empty() ? nullptr : &pass_rate_rows);
  report.generation = generated;
  auto write_jsonl = [](const fs::path& path, const std::vector<Json>& out) {
    std::string text;
    for (const Json& row : out) text += row.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    write_file_atomic(path, text);
  };
  write_jsonl(options.output, kept);
  if (!options.pass_rate_output.empty()) write_jsonl(options.pass_rate_output, pass_rate_rows);
  return report;
}

}  // namespace r1::pipeline
