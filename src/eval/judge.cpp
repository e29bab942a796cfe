// LLM-as-judge through any OpenAI-compatible chat endpoint (including `r1 serve`), after MT-bench
// (Zheng et al. 2023, "Judging LLM-as-a-Judge"): pairwise comparison with verdicts "[[A]]" / "[[B]]" /
// "[[C]]", each pair judged in both orders to cancel position bias (an order-inconsistent pair counts as a
// tie, as MT-bench's conservative rule), and single-answer grading "[[1..10]]". The judge runs at
// temperature 0; requests go out from `concurrency` threads. The prompts are r1's own wording of MT-bench's.
// Departures:
//  1. An unparseable verdict is not retried: its pair (or item) is left out of the rates and counted.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/runtime.h"
#include "text/text-backends.h"

namespace r1::eval {
using Json = nlohmann::ordered_json;

namespace {

const char* kPairSystem =
    "You are an impartial judge. Compare the responses of two AI assistants to the user question shown below and "
    "decide which one answers it better, considering correctness, helpfulness, relevance, depth and clarity. "
    "Neither the order in which the responses are shown, nor their length, nor the assistants' names may "
    "influence your decision. Explain your reasoning briefly, then give your verdict on the last line in exactly "
    "this format: \"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is better, \"[[C]]\" for a tie.";

const char* kSingleSystem =
    "You are an impartial judge. Evaluate the response of an AI assistant to the user question shown below, "
    "considering correctness, helpfulness, relevance, depth and clarity. Explain your evaluation briefly, then "
    "rate the response from 1 to 10 on the last line in exactly this format: \"Rating: [[5]]\".";

std::string pair_prompt(const std::string& q, const std::string& a, const std::string& b) {
  return fmt::format(
      "[User Question]\n{}\n\n[The Start of Assistant A's Answer]\n{}\n[The End of Assistant A's Answer]\n\n"
      "[The Start of Assistant B's Answer]\n{}\n[The End of Assistant B's Answer]",
      q, a, b);
}

std::string single_prompt(const std::string& q, const std::string& a) {
  return fmt::format("[Question]\n{}\n\n[The Start of Assistant's Answer]\n{}\n[The End of Assistant's Answer]", q, a);
}

const char* verdict_text(PairVerdict v) {
  switch (v) {
    case PairVerdict::kFirst:
      return "A";
    case PairVerdict::kSecond:
      return "B";
    case PairVerdict::kTie:
      return "tie";
    case PairVerdict::kInvalid:
      return "invalid";
  }
  return "?";
}

}  // namespace

PairVerdict parse_pair_verdict(const std::string& text) {
  PairVerdict best = PairVerdict::kInvalid;
  size_t best_at = 0;
  for (auto [tag, v] : {std::pair{"[[A]]", PairVerdict::kFirst}, std::pair{"[[B]]", PairVerdict::kSecond},
                        std::pair{"[[C]]", PairVerdict::kTie}}) {
    const size_t at = text.rfind(tag);
    if (at != std::string::npos && (best == PairVerdict::kInvalid || at > best_at)) {
      best = v;
      best_at = at;
    }
  }
  return best;
}

std::optional<double> parse_rating(const std::string& text) {
  static const std::regex bracketed(R"(\[\[\s*(\d+(?:\.\d+)?)\s*\]\])");
  static const std::regex phrase(R"([Rr]ating\s*:\s*(\d+(?:\.\d+)?))");
  for (const std::regex* re : {&bracketed, &phrase}) {
    std::optional<double> last;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), *re); it != std::sregex_iterator(); ++it)
      last = std::stod((*it)[1].str());
    if (last && *last >= 1 && *last <= 10) return last;
    if (last) return std::nullopt;
  }
  return std::nullopt;
}

JudgeFn make_openai_judge(const JudgeEndpoint& endpoint) {
  auto options = std::make_shared<text::DatasetGenerateOptions>();
  options->server_url = endpoint.server_url;
  options->server_model = endpoint.model;
  options->api_key = endpoint.api_key;
  options->timeout_seconds = endpoint.timeout_seconds;
  options->retries = endpoint.retries;
  options->chat_template = "auto";  // chat endpoint
  options->sampling.temperature = 0;
  options->sampling.max_new_tokens = endpoint.max_tokens;
  auto backend = std::make_shared<text::RemoteTextBackend>(*options);
  return [options, backend](const std::string& system, const std::string& user) {
    text::TextPrompt prompt;
    prompt.messages = Json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}});
    return backend->complete(prompt, 0).texts.at(0);
  };
}

std::vector<JudgeItem> load_judge_items(const std::filesystem::path& path_a, const std::filesystem::path& path_b,
                                        const std::string& question_column, const std::string& answer_column) {
  auto answer_of = [&](const nlohmann::json& row, const std::string& where) {
    auto it = row.find(answer_column);
    if (it != row.end() && it->is_array() && !it->empty()) it = it->begin();  // grouped generations: the first
    if (it == row.end() || !it->is_string()) fail("{}: no string column '{}' (--answer-column)", where, answer_column);
    return it->get<std::string>();
  };
  std::vector<JudgeItem> items;
  for_each_jsonl_row(
      path_a,
      [&](const nlohmann::json& row, size_t line) {
        const std::string where = fmt::format("{}:{}", path_a.string(), line);
        if (!row.is_object()) fail("{}: not a JSON object", where);
        auto q = row.find(question_column);
        if (q == row.end() || !q->is_string())
          fail("{}: no string column '{}' (--question-column)", where, question_column);
        items.push_back({q->get<std::string>(), answer_of(row, where), "", line});
      },
      false);
  if (!path_b.empty()) {
    size_t i = 0;
    for_each_jsonl_row(
        path_b,
        [&](const nlohmann::json& row, size_t line) {
          const std::string where = fmt::format("{}:{}", path_b.string(), line);
          if (i >= items.size()) fail("{}: more rows than {} ({})", where, path_a.string(), items.size());
          if (!row.is_object()) fail("{}: not a JSON object", where);
          items[i++].answer_b = answer_of(row, where);
        },
        false);
    if (i != items.size())
      fail("{} has {} rows but {} has {}: the answers are paired by row", path_b.string(), i, path_a.string(),
           items.size());
  }
  if (items.empty()) fail("{}: no rows", path_a.string());
  return items;
}

Results judge_pairwise(const std::vector<JudgeItem>& items, const JudgeFn& judge, const JudgeOptions& options,
                       std::vector<std::string>* records) {
  std::vector<std::string> replies(items.size() * 2);  // [2i]: (A, B) order, [2i + 1]: (B, A) order
  parallel_for(replies.size(), std::max(1, options.concurrency), [&](size_t j) {
    const JudgeItem& it = items[j / 2];
    replies[j] = j % 2 == 0 ? judge(kPairSystem, pair_prompt(it.question, it.answer_a, it.answer_b))
                            : judge(kPairSystem, pair_prompt(it.question, it.answer_b, it.answer_a));
  });
  // A's score per order: 1 win, 0.5 tie, 0 loss; -1 invalid.
  auto score_ab = [](PairVerdict v) {
    return v == PairVerdict::kFirst ? 1.0 : v == PairVerdict::kSecond ? 0.0 : v == PairVerdict::kTie ? 0.5 : -1.0;
  };
  auto score_ba = [](PairVerdict v) {
    return v == PairVerdict::kFirst ? 0.0 : v == PairVerdict::kSecond ? 1.0 : v == PairVerdict::kTie ? 0.5 : -1.0;
  };
  std::vector<double> win_rate, win, tie, loss, inconsistent;
  int64_t invalid = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const PairVerdict ab = parse_pair_verdict(replies[2 * i]), ba = parse_pair_verdict(replies[2 * i + 1]);
    const double s1 = score_ab(ab), s2 = score_ba(ba);
    std::string outcome = "invalid";
    bool consistent = false;
    if (s1 < 0 || s2 < 0) {
      ++invalid;
    } else {
      consistent = s1 == s2;
      const double s = consistent ? s1 : 0.5;
      outcome = s == 1 ? "win" : s == 0 ? "loss" : "tie";
      win_rate.push_back(s);
      win.push_back(s == 1);
      tie.push_back(s == 0.5);
      loss.push_back(s == 0);
      inconsistent.push_back(!consistent);
    }
    if (records) {
      Json r = {{"line", items[i].line},
                {"question", items[i].question},
                {"verdict_ab", verdict_text(ab)},
                {"verdict_ba", verdict_text(ba)},
                {"outcome", outcome},
                {"consistent", consistent},
                {"judgment_ab", replies[2 * i]},
                {"judgment_ba", replies[2 * i + 1]}};
      records->push_back(r.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  auto count = [](const std::vector<double>& v) { return int64_t(std::count(v.begin(), v.end(), 1.0)); };
  Results r;
  r.kind = "judge_pairwise";
  r.bootstrap = options.bootstrap;
  r.counts = {{"items", int64_t(items.size())},
              {"judged", int64_t(win_rate.size())},
              {"invalid", invalid},
              {"wins", count(win)},
              {"ties", count(tie)},
              {"losses", count(loss)},
              {"inconsistent", count(inconsistent)}};
  r.metrics = {{"win_rate", estimate_mean(win_rate, options.bootstrap)},
               {"win", estimate_mean(win, options.bootstrap)},
               {"tie", estimate_mean(tie, options.bootstrap)},
               {"loss", estimate_mean(loss, options.bootstrap)},
               {"order_inconsistency", estimate_mean(inconsistent, options.bootstrap)}};
  return r;
}

Results judge_single(const std::vector<JudgeItem>& items, const JudgeFn& judge, const JudgeOptions& options,
                     std::vector<std::string>* records) {
  std::vector<std::string> replies(items.size());
  parallel_for(replies.size(), std::max(1, options.concurrency), [&](size_t i) {
    replies[i] = judge(kSingleSystem, single_prompt(items[i].question, items[i].answer_a));
  });
  std::vector<double> scores;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::optional<double> rating = parse_rating(replies[i]);
    if (rating) scores.push_back(*rating);
    if (records) {
      Json r = {{"line", items[i].line},
                {"question", items[i].question},
                {"rating", rating ? Json(*rating) : Json(nullptr)},
                {"judgment", replies[i]}};
      records->push_back(r.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  Results r;
  r.kind = "judge_single";
  r.bootstrap = options.bootstrap;
  r.counts = {{"items", int64_t(items.size())},
              {"rated", int64_t(scores.size())},
              {"invalid", int64_t(items.size() - scores.size())}};
  r.metrics = {{"score", estimate_mean(scores, options.bootstrap)}};
  return r;
}

}  // namespace r1::eval
