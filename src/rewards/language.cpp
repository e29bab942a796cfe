// Language consistency reward, DeepSeek-R1 §2.3.2: the proportion of the chain of thought written in the target
// language. The chain of thought is the text inside <think>...</think> (after <think> when unclosed, before
// </think> when the template opened it), else the whole completion. Units, by Unicode script (ICU uscript):
//   zh, ja: letters (general category L*) of the language's scripts (zh: Han; ja: Han, Hiragana, Katakana) over
//           all letters;
//   en and the other word languages: words of the target over all words. A word is a run of letters (and
//           combining marks) in one script; each letter of a script written without spaces (Han, kana, Thai, ...)
//           is a word of its own. An English word is all ASCII letters; ko/ru/... words are in Hangul/Cyrillic/...
// No letters at all scores 0. The target is params.language, else the example's "language" column.
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <map>
#include <set>

#include "rewards/families.h"
#include "rewards/params.h"
#include "tokenizer/unicode.h"

namespace r1::rewards {

namespace {
struct Target {
  bool by_letters = false;        // zh, ja: count letters; otherwise words
  bool ascii_only = false;        // en: a word counts when all its letters are ASCII
  std::set<UScriptCode> scripts;  // the language's scripts
};

const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> all = {
      {"zh", {true, false, {USCRIPT_HAN}}},
      {"ja", {true, false, {USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA}}},
      {"en", {false, true, {USCRIPT_LATIN}}},
      {"fr", {false, false, {USCRIPT_LATIN}}},
      {"de", {false, false, {USCRIPT_LATIN}}},
      {"es", {false, false, {USCRIPT_LATIN}}},
      {"ru", {false, false, {USCRIPT_CYRILLIC}}},
      {"ko", {false, false, {USCRIPT_HANGUL}}},
  };
  return all;
}

std::string supported() {
  std::string names;
  for (const auto& [name, t] : targets()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

bool unspaced(UScriptCode s) {
  return s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA || s == USCRIPT_THAI || s == USCRIPT_LAO ||
         s == USCRIPT_KHMER || s == USCRIPT_MYANMAR;
}

UScriptCode script_of(char32_t cp) {
  UErrorCode status = U_ZERO_ERROR;
  UScriptCode s = uscript_getScript(UChar32(cp), &status);
  return U_FAILURE(status) ? USCRIPT_UNKNOWN : s;
}

std::string_view chain_of_thought(std::string_view c) {
  size_t open = c.find("<think>");
  size_t from = open == std::string_view::npos ? 0 : open + 7;
  size_t close = c.find("</think>", from);
  if (open == std::string_view::npos && close == std::string_view::npos) return c;
  return c.substr(from, close == std::string_view::npos ? std::string_view::npos : close - from);
}

double consistency(std::string_view text, const Target& target) {
  int64_t hits = 0, units = 0;
  bool in_word = false, word_ok = false;
  UScriptCode word_script = USCRIPT_COMMON;
  auto end_word = [&] {
    if (in_word) {
      ++units;
      if (word_ok) ++hits;
    }
    in_word = false;
  };
  for (size_t pos = 0; pos < text.size();) {
    char32_t cp = tokenizer::next_code_point(text, pos);
    bool letter = cp != tokenizer::kInvalidCodePoint && u_isalpha(UChar32(cp));
    bool mark = cp != tokenizer::kInvalidCodePoint && (U_GET_GC_MASK(UChar32(cp)) & U_GC_M_MASK) != 0;
    if (!letter) {
      if (!(mark && in_word)) end_word();
      continue;
    }
    UScriptCode s = script_of(cp);
    bool in_target = target.scripts.count(s) > 0 && (!target.ascii_only || cp < 0x80);
    if (target.by_letters) {
      ++units;
      if (in_target) ++hits;
      continue;
    }
    bool neutral = s == USCRIPT_COMMON || s == USCRIPT_INHERITED;
    if (in_word && (unspaced(s) || (!neutral && s != word_script))) end_word();
    if (!in_word) {
      in_word = true;
      word_ok = true;
      word_script = s;
    } else if (word_script == USCRIPT_COMMON || word_script == USCRIPT_INHERITED) {
      word_script = s;
    }
    word_ok = word_ok && in_target;
    if (unspaced(s)) end_word();
  }
  end_word();
  return units == 0 ? 0.0 : double(hits) / double(units);
}

const Target& find_target(const std::string& language, const std::string& where) {
  auto it = targets().find(language);
  if (it == targets().end())
    fail_usage("reward 'language_consistency': {} language '{}' is not supported (supported: {})", where, language,
               supported());
  return it->second;
}

RewardFn make_language_consistency(const nlohmann::json& params) {
  Params p("language_consistency", params);
  const std::string language = p.string("language", "");
  p.finish();
  const Target* fixed = language.empty() ? nullptr : &find_target(language, "parameter");
  return [=](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("language_consistency", completions.size(), examples.size());
    std::vector<Score> out;
    for (size_t i = 0; i < completions.size(); ++i) {
      const Target* target = fixed;
      if (target == nullptr) {
        auto it = examples[i].find("language");
        if (it == examples[i].end() || !it->is_string())
          fail_usage(
              "reward 'language_consistency': no target language: set the parameter 'language' or give example {} a "
              "string 'language' column",
              i);
        target = &find_target(it->get<std::string>(), fmt::format("example {}", i));
      }
      out.push_back(consistency(chain_of_thought(completions[i]), *target));
    }
    return out;
  };
}
}  // namespace

std::vector<RewardInfo> language_rewards() {
  return {{"language_consistency",
           "share of the chain of thought in the target language (DeepSeek-R1 §2.3.2): Han letters for zh, ASCII "
           "words for en",
           make_language_consistency}};
}

}  // namespace r1::rewards
