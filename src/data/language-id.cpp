// Language identification for `r1 data filter` with Google's Compact Language Detector 2 (libcld2, Debian's
// libcld2-dev: 80+ languages, its n-gram tables compiled into the library, nothing to download). CLD2 scores
// Han, kana and Hangul text by script-specific tables, so zh (Simplified and Traditional), ja and ko are told
// apart. Why CLD2 and not libexttextcat (also packaged): exttextcat ranks candidate fingerprints by an
// out-of-place distance and gives no confidence a threshold can use; CLD2 reports the share of the text's letters
// in each of its top three languages and whether the answer is reliable.
// The score: CLD2's percent of letters for the language / 100 (summed over its top-three entries), 0 for every
// language when CLD2 calls the text unreliable — so a threshold keeps documents that are mostly in the language,
// and text too short or mixed to tell is dropped (as a low fastText probability is in datatrove's filter).
// Departures: 1. datatrove uses fastText's lid.176 probabilities; CLD2's shares are not probabilities, but 0.65
// means the same thing in practice ("most of this text is in the language").
#include <cstdio>  // cld2's public header uses FILE without including it

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "r1/data.h"
#include "r1/error.h"

namespace r1::data {

namespace {

// CHINESE also counts CHINESE_T (zh-Hant): "zh" asks for Chinese in either script.
bool same_language(CLD2::Language detected, CLD2::Language wanted) {
  return detected == wanted || (wanted == CLD2::CHINESE && detected == CLD2::CHINESE_T);
}

// A code as CLD2 spells it: the primary subtag in lower case ("EN" -> "en", "zh-Hant" stays).
CLD2::Language language_of(std::string code) {
  for (char& c : code) {
    if (c == '-' || c == '_') break;
    c = char(std::tolower(static_cast<unsigned char>(c)));
  }
  return CLD2::GetLanguageFromName(code.c_str());
}

}  // namespace

LanguageGuess identify_language(std::string_view text) {
  LanguageGuess g;
  if (text.empty()) return g;
  CLD2::Language language3[3];
  int percent3[3];
  double normalized3[3];
  int text_bytes = 0, valid_prefix = 0;
  bool reliable = false;
  const CLD2::CLDHints hints = {nullptr, nullptr, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
  const int length = int(std::min<size_t>(text.size(), size_t(1) << 30));
  CLD2::Language best = CLD2::ExtDetectLanguageSummaryCheckUTF8(
      text.data(), length, /*is_plain_text=*/true, &hints, /*flags=*/0, language3, percent3, normalized3,
      /*resultchunkvector=*/nullptr, &text_bytes, &reliable, &valid_prefix);
  if (valid_prefix < length) {  // CLD2 refuses invalid UTF-8: score the valid prefix instead
    if (valid_prefix == 0) return g;
    best = CLD2::ExtDetectLanguageSummaryCheckUTF8(text.data(), valid_prefix, true, &hints, 0, language3, percent3,
                                                   normalized3, nullptr, &text_bytes, &reliable, &valid_prefix);
  }
  g.reliable = reliable;
  for (int i = 0; i < 3; ++i) {
    if (language3[i] == CLD2::UNKNOWN_LANGUAGE || percent3[i] <= 0) continue;
    g.candidates.emplace_back(CLD2::LanguageCode(language3[i]), reliable ? percent3[i] / 100.0 : 0.0);
  }
  if (best != CLD2::UNKNOWN_LANGUAGE && reliable) {
    g.language = CLD2::LanguageCode(best);
    g.score = language_score(g, g.language);
  } else if (!g.candidates.empty()) {
    g.language = g.candidates.front().first;  // named, but with score 0
  }
  return g;
}

double language_score(const LanguageGuess& guess, const std::string& language) {
  const CLD2::Language wanted = language_of(language);
  double score = 0;
  for (const auto& [code, s] : guess.candidates)
    if (same_language(language_of(code), wanted)) score += s;
  return std::min(score, 1.0);
}

std::string canonical_language(const std::string& language, const std::string& option) {
  const CLD2::Language l = language_of(language);
  if (l == CLD2::UNKNOWN_LANGUAGE || l == CLD2::TG_UNKNOWN_LANGUAGE)
    fail_usage("{}: '{}' is not a language CLD2 knows (use codes such as en, zh, ja, ko, fr, de, es, ru)", option,
               language);
  return CLD2::LanguageCode(l);
}

std::string language_identifier_version() { return fmt::format("CLD2 {}", CLD2::DetectLanguageVersion()); }

}  // namespace r1::data
