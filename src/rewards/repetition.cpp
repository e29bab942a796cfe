// N-gram repetition penalty, as open-r1's get_repetition_penalty_reward (after "Demystifying Long Chain-of-Thought
// Reasoning in LLMs", Yeo et al. 2025, appendix C.2): words = the completion lower-cased and split on whitespace
// (Python's str.lower().split()); score = (1 - distinct n-grams / all n-grams) * repetition_max_penalty; an empty
// completion, or one with fewer than n words, scores 0. repetition_max_penalty > 0 is an error, as in open-r1.
// Departure: (1) language "zh" segments words with ICU's dictionary word break iterator where open-r1 uses jieba
// (no jieba in C++); segments that are only whitespace are dropped, so boundaries can differ from jieba's.
#include <unicode/brkiter.h>
#include <unicode/unistr.h>

#include <memory>
#include <set>

#include "rewards/families.h"
#include "rewards/params.h"
#include "tokenizer/unicode.h"

namespace r1::rewards {

namespace {
// Python's str.isspace(): Unicode White_Space plus the separators U+001C..U+001F.
bool is_py_space(char32_t cp) { return tokenizer::is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F); }

std::vector<std::string> split_whitespace(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (size_t pos = 0; pos < text.size();) {
    size_t start = pos;
    char32_t cp = tokenizer::next_code_point(text, pos);
    if (is_py_space(cp)) {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
    } else {
      current.append(text.substr(start, pos - start));
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

std::vector<std::string> segment_chinese(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createWordInstance(icu::Locale::getChinese(), status));
  if (U_FAILURE(status))
    fail("reward 'repetition_penalty': ICU word break iterator unavailable: {}", u_errorName(status));
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), int32_t(text.size())));
  it->setText(u);
  std::vector<std::string> words;
  for (int32_t b = it->first(), e = it->next(); e != icu::BreakIterator::DONE; b = e, e = it->next()) {
    std::string word;
    u.tempSubStringBetween(b, e).toUTF8String(word);
    bool blank = true;
    for (size_t pos = 0; pos < word.size() && blank;) blank = is_py_space(tokenizer::next_code_point(word, pos));
    if (!blank) words.push_back(std::move(word));
  }
  return words;
}

RewardFn make_repetition(const nlohmann::json& params) {
  Params p("repetition_penalty", params);
  const int64_t n = p.integer("repetition_n_grams", 3);
  const double max_penalty = p.number("repetition_max_penalty", -1.0);
  const std::string language = p.string("language", "en");
  p.finish();
  if (n < 1) fail_usage("reward 'repetition_penalty': repetition_n_grams must be >= 1, found {}", n);
  if (max_penalty > 0)
    fail_usage("reward 'repetition_penalty': repetition_max_penalty {} should not be positive", max_penalty);
  if (language != "en" && language != "zh")
    fail_usage("reward 'repetition_penalty': word splitting is available for 'en' and 'zh', not '{}'", language);
  const bool chinese = language == "zh";
  return [=](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("repetition_penalty", completions.size(), examples.size());
    std::vector<Score> out;
    for (const std::string& c : completions) {
      std::vector<std::string> words = chinese ? segment_chinese(c) : split_whitespace(tokenizer::to_lower_unicode(c));
      if (c.empty() || words.size() < size_t(n)) {
        out.push_back(0.0);
        continue;
      }
      std::set<std::vector<std::string>> distinct;
      size_t total = words.size() - size_t(n) + 1;
      for (size_t i = 0; i < total; ++i)
        distinct.emplace(words.begin() + std::ptrdiff_t(i), words.begin() + std::ptrdiff_t(i) + n);
      out.push_back((1.0 - double(distinct.size()) / double(total)) * max_penalty);
    }
    return out;
  };
}
}  // namespace

std::vector<RewardInfo> repetition_rewards() {
  return {{"repetition_penalty", "(1 - distinct/all word n-grams) * repetition_max_penalty (open-r1, Yeo et al. 2025)",
           make_repetition}};
}

}  // namespace r1::rewards
