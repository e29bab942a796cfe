// `r1 data filter`'s document rules (r1/data.h): datatrove's GopherRepetitionFilter, GopherQualityFilter,
// C4QualityFilter and FineWebQualityFilter, and its LanguageFilter over CLD2 (language-id.cpp), with their
// parameter names, defaults and reason names, measured as datatrove measures them (lengths in code points;
// "".join for duplicated n-grams, " ".join for the top n-grams; Python's splitlines, strip and isalpha).
// Reference behaviour: datatrove src/datatrove/pipeline/filters/{gopher_repetition,gopher_quality,c4,
// fineweb_quality,language}_filter.py and utils/text.py.
// Departures:
//  1. Words: datatrove tokenizes English with NLTK (Treebank) and Chinese with jieba; here a word is a run of
//     non-space characters with punctuation and symbols split off its ends (a run of dots kept whole), and each
//     Han or kana character is a word. Contractions stay whole ("don't", NLTK: "do" "n't").
//  2. Sentences (c4's count): NLTK's punkt; here a sentence ends at sentence-terminal punctuation followed by
//     white space (any closing quotes or brackets included), or at once after a full-width 。！？. No
//     abbreviation list: "e.g. this" is two sentences.
//  3. Punctuation and symbols: datatrove's PUNCTUATION list; here every character of Unicode categories P* and S*,
//     controls, and the sentence terminals. Terminal punctuation (fineweb's stop_chars): Unicode's
//     Sentence_Terminal set plus five Khmer signs, which is datatrove's TERMINAL_PUNCTUATION.
//  4. "\r\n" is measured as one line break (datatrove sees "\r" as part of the line in fineweb's rules); invalid
//     UTF-8 is measured as U+FFFD (datatrove reads only valid text).
#include <fmt/format.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "data/quality-filter.h"
#include "r1/data.h"
#include "r1/error.h"
#include "tokenizer/unicode.h"

namespace r1::data {

namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

// ---- Characters ------------------------------------------------------------------------------------------------

// Code points; an invalid byte becomes U+FFFD (the tokenizer's decoder, src/tokenizer/unicode.h).
U32 decode_utf8(std::string_view text) {
  U32 out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const char32_t cp = tokenizer::next_code_point(text, i);
    out.push_back(cp == tokenizer::kInvalidCodePoint ? char32_t(0xFFFD) : cp);
  }
  return out;
}

using tokenizer::append_utf8;

std::string encode_utf8(U32View text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

// Python's str.isspace (White_Space plus the information separators U+001C..U+001F).
bool is_space(char32_t c) { return (c >= 0x1C && c <= 0x1F) || u_isUWhiteSpace(UChar32(c)); }

bool is_line_break(char32_t c) {  // Python's str.splitlines boundaries
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

bool is_terminal(char32_t c) {
  return u_hasBinaryProperty(UChar32(c), UCHAR_S_TERM) || (c >= 0x17D4 && c <= 0x17D6) || c == 0x17D9 || c == 0x17DA;
}

bool is_symbol(char32_t c) {  // punctuation, symbols, controls
  const int8_t t = u_charType(UChar32(c));
  switch (t) {
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    case U_CONTROL_CHAR:
      return true;
    default:
      return is_terminal(c);
  }
}

bool is_alpha(char32_t c) { return u_isalpha(UChar32(c)); }  // general category L*, as Python's isalpha

bool is_cjk_word_char(char32_t c) {  // Han and kana: a word each
  if (c < 0x2E80) return false;
  UErrorCode err = U_ZERO_ERROR;
  const UScriptCode s = uscript_getScript(UChar32(c), &err);
  return U_SUCCESS(err) && (s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA);
}

U32View strip(U32View s) {
  size_t a = 0, b = s.size();
  while (a < b && is_space(s[a])) ++a;
  while (b > a && is_space(s[b - 1])) --b;
  return s.substr(a, b - a);
}
U32View lstrip(U32View s) {
  size_t a = 0;
  while (a < s.size() && is_space(s[a])) ++a;
  return s.substr(a);
}
U32View rstrip(U32View s) {
  size_t b = s.size();
  while (b > 0 && is_space(s[b - 1])) --b;
  return s.substr(0, b);
}
bool starts_with(U32View s, U32View p) { return s.size() >= p.size() && s.substr(0, p.size()) == p; }
bool ends_with(U32View s, U32View p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }
bool is_blank(U32View s) { return strip(s).empty(); }

// Python's str.count: non-overlapping occurrences.
size_t count_of(U32View s, U32View needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != U32View::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

// Python's str.splitlines().
std::vector<U32View> split_lines(U32View s) {
  std::vector<U32View> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_line_break(s[i])) continue;
    lines.push_back(s.substr(start, i - start));
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

// s.split(sep) for one character.
std::vector<U32View> split_on(U32View s, char32_t sep) {
  std::vector<U32View> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) parts.push_back(s.substr(start, i - start)), start = i + 1;
  return parts;
}

// re.split(sep + "{min_run,}", s): runs of at least min_run `sep` characters cut the text.
std::vector<U32View> split_on_runs(U32View s, char32_t sep, size_t min_run) {
  std::vector<U32View> parts;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != sep) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] == sep) ++j;
    if (j - i >= min_run) parts.push_back(s.substr(start, i - start)), start = j;
    i = j;
  }
  parts.push_back(s.substr(start));
  return parts;
}

// Python's str.split() (runs of white space, no empty parts).
std::vector<U32View> split_whitespace(U32View s) {
  std::vector<U32View> parts;
  for (size_t i = 0; i < s.size();) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) parts.push_back(s.substr(i, j - i));
    i = j;
  }
  return parts;
}

// ---- Words and sentences ---------------------------------------------------------------------------------------

// Symbols peeled off one end of a word: one token each, a run of dots one token ("...").
void peel(U32View run, std::vector<U32View>& out) {
  for (size_t i = 0; i < run.size();) {
    size_t j = i + 1;
    if (run[i] == '.')
      while (j < run.size() && run[j] == '.') ++j;
    out.push_back(run.substr(i, j - i));
    i = j;
  }
}

void split_word_run(U32View run, std::vector<U32View>& out) {
  size_t a = 0, b = run.size();
  while (a < b && is_symbol(run[a])) ++a;
  if (a == b) return peel(run, out);
  while (b > a && is_symbol(run[b - 1])) --b;
  peel(run.substr(0, a), out);
  out.push_back(run.substr(a, b - a));
  peel(run.substr(b), out);
}

std::vector<U32View> words_of(U32View text) {
  std::vector<U32View> words;
  for (U32View chunk : split_whitespace(text)) {
    size_t start = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (!is_cjk_word_char(chunk[i])) continue;
      if (i > start) split_word_run(chunk.substr(start, i - start), words);
      words.push_back(chunk.substr(i, 1));
      start = i + 1;
    }
    if (start < chunk.size()) split_word_run(chunk.substr(start), words);
  }
  return words;
}

bool is_closer(char32_t c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x201D || c == 0x2019 || c == 0x300D || c == 0x300F ||
         c == 0xFF09 || c == 0x00BB;
}
bool is_fullwidth_terminal(char32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF0E; }

std::vector<U32View> sentences_of(U32View text) {
  std::vector<U32View> out;
  size_t start = 0;
  auto emit = [&](size_t end) {
    U32View s = strip(text.substr(start, end - start));
    if (!s.empty()) out.push_back(s);
    start = end;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (!is_terminal(text[i])) continue;
    size_t j = i + 1;
    while (j < text.size() && is_terminal(text[j])) ++j;
    while (j < text.size() && is_closer(text[j])) ++j;
    if (j == text.size() || is_space(text[j]) || is_fullwidth_terminal(text[j - 1]) || is_fullwidth_terminal(text[i])) {
      emit(j);
    }
    i = j - 1;
  }
  emit(text.size());
  return out;
}

// ---- Repetition measures ---------------------------------------------------------------------------------------

struct Duplicates {
  size_t elements = 0, chars = 0;
};
template <class T>
Duplicates find_duplicates(const std::vector<T>& items) {
  std::unordered_set<T> seen;
  Duplicates d;
  for (const T& x : items)
    if (!seen.insert(x).second) ++d.elements, d.chars += x.size();
  return d;
}

// N-grams are compared by 64-bit keys (a collision, ~2^-64 per pair, would count two different n-grams as one).
uint64_t mix(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// An open-addressing table of 64-bit keys (0 stands for "empty"; a key of 0 is stored as 1) with a value each,
// sized for `capacity` keys: n-gram counting without a node allocation per n-gram.
class KeyTable {
 public:
  explicit KeyTable(size_t capacity) {
    size_t size = 16;
    while (size < 2 * capacity) size *= 2;
    keys_.assign(size, 0);
    values_.assign(size, 0);
  }
  // The value slot of `key`, and whether the key was new (its value then 0).
  std::pair<uint64_t*, bool> find_or_insert(uint64_t key) {
    key = key == 0 ? 1 : key;
    for (size_t i = key & (keys_.size() - 1);; i = (i + 1) & (keys_.size() - 1)) {
      if (keys_[i] == key) return {&values_[i], false};
      if (keys_[i] == 0) {
        keys_[i] = key;
        return {&values_[i], true};
      }
    }
  }

 private:
  std::vector<uint64_t> keys_, values_;
};

// Characters of the most frequent n-gram (" ".join) times its count; the first to appear wins ties.
size_t top_ngram_chars(const std::vector<U32View>& words, const std::vector<uint32_t>& ids, size_t n) {
  if (words.size() < n) return 0;
  KeyTable counts(words.size());  // key -> count << 32 | first position
  uint64_t best_count = 0, best_pos = 0;
  for (size_t i = 0; i + n <= words.size(); ++i) {
    uint64_t key = n;
    for (size_t k = 0; k < n; ++k) key = mix(key ^ ids[i + k]);
    auto [value, inserted] = counts.find_or_insert(key);
    if (inserted) *value = i;
    *value += uint64_t(1) << 32;
    const uint64_t c = *value >> 32, first = *value & 0xffffffffu;
    if (c > best_count || (c == best_count && first < best_pos)) best_count = c, best_pos = first;
  }
  size_t chars = n - 1;
  for (size_t k = 0; k < n; ++k) chars += words[best_pos + k].size();
  return chars * best_count;
}

// Polynomial hashes of the words' code points (mod 2^64), so an n-gram's "".join hash is composed from its words':
// H(a + b) = H(a) * B^len(b) + H(b).
struct WordHashes {
  std::vector<uint64_t> hash, power;  // H(word), B^len(word)
  explicit WordHashes(const std::vector<U32View>& words) : hash(words.size()), power(words.size()) {
    constexpr uint64_t kBase = 0x100000001b3ull;
    for (size_t i = 0; i < words.size(); ++i) {
      uint64_t h = 0, p = 1;
      for (char32_t c : words[i]) h = h * kBase + uint64_t(c) + 1, p *= kBase;
      hash[i] = h, power[i] = p;
    }
  }
};

// datatrove's find_all_duplicate: characters of n-grams ("".join) seen before, skipping past each repeat.
size_t duplicated_ngram_chars(const std::vector<U32View>& words, const WordHashes& h, size_t n) {
  KeyTable seen(words.size());
  size_t repeated = 0;
  for (size_t i = 0; i + n <= words.size();) {
    uint64_t hash = 0;
    size_t length = 0;
    for (size_t k = i; k < i + n; ++k) hash = hash * h.power[k] + h.hash[k], length += words[k].size();
    if (!seen.find_or_insert(mix(hash ^ mix(length))).second) {
      repeated += length;
      i += n;
    } else {
      ++i;
    }
  }
  return repeated;
}

// ---- The filters -----------------------------------------------------------------------------------------------

FilterVerdict drop(std::string filter, std::string rule, std::string measure, std::string parameter, double value,
                   std::string comparison, double threshold) {
  FilterVerdict v;
  v.keep = false;
  v.filter = std::move(filter);
  v.rule = std::move(rule);
  v.measure = std::move(measure);
  v.parameter = std::move(parameter);
  v.value = value;
  v.comparison = std::move(comparison);
  v.threshold = threshold;
  return v;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

std::optional<FilterVerdict> gopher_repetition(U32View text, const std::vector<U32View>& words,
                                               const QualityFilterOptions& o) {
  const double chars = double(text.size());
  const char* f = "gopher-repetition";
  const std::vector<U32View> paragraphs = split_on_runs(strip(text), '\n', 2);
  Duplicates d = find_duplicates(paragraphs);
  if (o.dup_para_frac > 0 && ratio(d.elements, paragraphs.size()) > o.dup_para_frac)
    return drop(f, "dup_para_frac", "duplicate paragraphs / paragraphs", "dup_para_frac",
                ratio(d.elements, paragraphs.size()), ">", o.dup_para_frac);
  if (o.dup_para_char_frac > 0 && ratio(d.chars, chars) > o.dup_para_char_frac)
    return drop(f, "dup_para_char_frac", "duplicate paragraph characters / characters", "dup_para_char_frac",
                ratio(d.chars, chars), ">", o.dup_para_char_frac);
  const std::vector<U32View> lines = split_on_runs(text, '\n', 1);
  d = find_duplicates(lines);
  if (o.dup_line_frac > 0 && ratio(d.elements, lines.size()) > o.dup_line_frac)
    return drop(f, "dup_line_frac", "duplicate lines / lines", "dup_line_frac", ratio(d.elements, lines.size()), ">",
                o.dup_line_frac);
  if (o.dup_line_char_frac > 0 && ratio(d.chars, chars) > o.dup_line_char_frac)
    return drop(f, "dup_line_char_frac", "duplicate line characters / characters", "dup_line_char_frac",
                ratio(d.chars, chars), ">", o.dup_line_char_frac);
  if (o.top_n_grams.empty() && o.dup_n_grams.empty()) return std::nullopt;
  std::vector<uint32_t> ids(words.size());
  std::unordered_map<U32View, uint32_t> vocabulary;
  for (size_t i = 0; i < words.size(); ++i)
    ids[i] = vocabulary.try_emplace(words[i], uint32_t(vocabulary.size())).first->second;
  for (const auto& [n, frac] : o.top_n_grams) {
    if (words.size() < size_t(n)) continue;
    const double value = ratio(double(top_ngram_chars(words, ids, size_t(n))), chars);
    if (value > frac)
      return drop(f, fmt::format("top_{}_gram", n), fmt::format("top {}-gram characters / characters", n),
                  "top_n_grams", value, ">", frac);
  }
  const WordHashes hashes(words);
  for (const auto& [n, frac] : o.dup_n_grams) {
    const double value = ratio(double(duplicated_ngram_chars(words, hashes, size_t(n))), chars);
    if (value > frac)
      return drop(f, fmt::format("duplicated_{}_n_grams", n),
                  fmt::format("duplicated {}-gram characters / characters", n), "dup_n_grams", value, ">", frac);
  }
  return std::nullopt;
}

std::optional<FilterVerdict> gopher_quality(U32View text, const std::vector<U32View>& words,
                                            const QualityFilterOptions& o) {
  const char* f = "gopher-quality";
  const double n_words = double(words.size());
  size_t non_symbol = 0, letters = 0, with_alpha = 0;
  for (U32View w : words) {
    if (std::any_of(w.begin(), w.end(), [](char32_t c) { return !is_symbol(c); })) ++non_symbol, letters += w.size();
    if (std::any_of(w.begin(), w.end(), is_alpha)) ++with_alpha;
  }
  if (o.min_doc_words > 0 && int64_t(non_symbol) < o.min_doc_words)
    return drop(f, "gopher_short_doc", "words", "min_doc_words", double(non_symbol), "<", double(o.min_doc_words));
  if (o.max_doc_words > 0 && int64_t(non_symbol) > o.max_doc_words)
    return drop(f, "gopher_long_doc", "words", "max_doc_words", double(non_symbol), ">", double(o.max_doc_words));
  if (non_symbol > 0) {  // numpy's mean of nothing is nan, which fails no comparison
    const double mean = double(letters) / double(non_symbol);
    if (o.min_avg_word_length > 0 && mean < o.min_avg_word_length)
      return drop(f, "gopher_below_avg_threshold", "mean word length", "min_avg_word_length", mean, "<",
                  o.min_avg_word_length);
    if (o.max_avg_word_length > 0 && mean > o.max_avg_word_length)
      return drop(f, "gopher_above_avg_threshold", "mean word length", "max_avg_word_length", mean, ">",
                  o.max_avg_word_length);
  }
  if (o.max_symbol_word_ratio > 0) {
    double value = ratio(double(count_of(text, U"#")), n_words);
    if (value > o.max_symbol_word_ratio)
      return drop(f, "gopher_too_many_hashes", "'#' / words", "max_symbol_word_ratio", value, ">",
                  o.max_symbol_word_ratio);
    value = ratio(double(count_of(text, U"...") + count_of(text, U"\u2026")), n_words);
    if (value > o.max_symbol_word_ratio)
      return drop(f, "gopher_too_many_ellipsis", "ellipses / words", "max_symbol_word_ratio", value, ">",
                  o.max_symbol_word_ratio);
  }
  const std::vector<U32View> lines = split_lines(text);
  if (!lines.empty()) {
    size_t bullets = 0, ellipses = 0;
    for (U32View line : lines) {
      const U32View l = lstrip(line), r = rstrip(line);
      bullets += starts_with(l, U"\u2022") || starts_with(l, U"-");
      ellipses += ends_with(r, U"...") || ends_with(r, U"\u2026");
    }
    double value = ratio(double(bullets), double(lines.size()));
    if (o.max_bullet_lines_ratio > 0 && value > o.max_bullet_lines_ratio)
      return drop(f, "gopher_too_many_bullets", "bullet lines / lines", "max_bullet_lines_ratio", value, ">",
                  o.max_bullet_lines_ratio);
    value = ratio(double(ellipses), double(lines.size()));
    if (o.max_ellipsis_lines_ratio > 0 && value > o.max_ellipsis_lines_ratio)
      return drop(f, "gopher_too_many_end_ellipsis", "lines ending in an ellipsis / lines", "max_ellipsis_lines_ratio",
                  value, ">", o.max_ellipsis_lines_ratio);
  }
  if (o.max_non_alpha_words_ratio > 0 && n_words > 0) {
    const double value = double(with_alpha) / n_words;
    if (value < o.max_non_alpha_words_ratio)
      return drop(f, "gopher_below_alpha_threshold", "words with a letter / words", "max_non_alpha_words_ratio", value,
                  "<", o.max_non_alpha_words_ratio);
  }
  if (o.min_stop_words > 0) {
    std::unordered_set<std::string> found;
    std::unordered_set<std::string> stop(o.stop_words.begin(), o.stop_words.end());
    size_t longest = 0;  // in code points: longer words are no stop word and need no look-up
    for (const std::string& s : o.stop_words) longest = std::max(longest, decode_utf8(s).size());
    for (U32View w : words)
      if (w.size() <= longest)
        if (std::string s = encode_utf8(w); stop.count(s)) found.insert(std::move(s));
    if (int64_t(found.size()) < o.min_stop_words)
      return drop(f, "gopher_enough_stop_words", "distinct stop words", "min_stop_words", double(found.size()), "<",
                  double(o.min_stop_words));
  }
  return std::nullopt;
}

// C4's citation marks: [12], [], [edit], [citation needed]. The digits are any decimal digits (general category
// Nd: "[１２]", "[٣]"), as Python's \d in datatrove's CITATION_REGEX.
U32 remove_citations(U32View line) {
  U32 out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    if (line[i] == '[') {
      size_t j = i + 1;
      while (j < line.size() && u_charType(UChar32(line[j])) == U_DECIMAL_DIGIT_NUMBER) ++j;
      if (j < line.size() && line[j] == ']') {
        i = j + 1;
        continue;
      }
      bool matched = false;
      for (U32View mark : {U32View(U"[edit]"), U32View(U"[citation needed]")})
        if (line.substr(i, mark.size()) == mark) {
          i += mark.size();
          matched = true;
          break;
        }
      if (matched) continue;
    }
    out.push_back(line[i++]);
  }
  return out;
}

// Lower case for finding C4's ASCII phrases, as Python's str.lower() finds them: ASCII letters lowered, and the
// two characters whose lower case holds an ASCII letter (KELVIN SIGN -> "k", "İ" -> "i" + U+0307); any other
// character is kept, as its lower case could not complete an ASCII phrase.
std::string ascii_lower(U32View s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80)
      out.push_back(char(std::tolower(int(c))));
    else if (c == 0x212A)
      out.push_back('k');
    else if (c == 0x130)
      out += "i\u0307";
    else
      append_utf8(out, c);
  }
  return out;
}

// Returns the verdict, or nullopt with `kept` set to the kept text.
std::optional<FilterVerdict> c4_quality(U32View text, const QualityFilterOptions& o, U32& kept, FilterStats* stats) {
  const char* f = "c4";
  static const char* kPolicy[] = {"terms of use", "privacy policy", "cookie policy",
                                  "uses cookies", "use of cookies", "use cookies"};
  auto count_line = [&](const char* why) {
    if (stats) ++stats->lines_removed[why];
  };
  const std::vector<U32View> lines = o.split_paragraph ? split_lines(text) : sentences_of(text);
  int64_t sentences = 0;
  std::vector<U32> kept_lines;
  for (U32View raw : lines) {
    U32View stripped = strip(raw);
    const std::vector<U32View> words = split_whitespace(stripped);
    if (o.max_word_length != -1 &&
        std::any_of(words.begin(), words.end(), [&](U32View w) { return int64_t(w.size()) > o.max_word_length; })) {
      count_line("too_long_word");
      continue;
    }
    U32 line = o.remove_citations ? remove_citations(stripped) : U32(stripped);
    static const U32View kEnds[] = {U".", U"?", U"!", U"\"", U"'"};
    if (o.filter_no_terminal_punct &&
        (std::none_of(std::begin(kEnds), std::end(kEnds), [&](U32View e) { return ends_with(line, e); }) ||
         ends_with(line, U"..."))) {
      count_line("no_terminal_punct");
      continue;
    }
    if (int64_t(words.size()) < o.min_words_per_line) {
      count_line("too_few_words");
      continue;
    }
    const std::string lower = ascii_lower(line);
    if (o.filter_lorem_ipsum && lower.find("lorem ipsum") != std::string::npos)
      return drop(f, "lorem_ipsum", "a line contains \"lorem ipsum\"", "filter_lorem_ipsum", 1, "contains", 1);
    if (o.filter_javascript && lower.find("javascript") != std::string::npos) {
      count_line("javascript");
      continue;
    }
    if (o.filter_curly_bracket && line.find(U'{') != U32::npos)
      return drop(f, "curly_bracket", "a line contains '{'", "filter_curly_bracket", 1, "contains", 1);
    if (o.filter_policy && std::any_of(std::begin(kPolicy), std::end(kPolicy),
                                       [&](const char* p) { return lower.find(p) != std::string::npos; })) {
      count_line("policy");
      continue;
    }
    if (o.min_num_sentences != -1) sentences += o.split_paragraph ? int64_t(sentences_of(line).size()) : 1;
    kept_lines.push_back(std::move(line));
  }
  if (sentences < o.min_num_sentences)
    return drop(f, "too_few_sentences", "sentences", "min_num_sentences", double(sentences), "<",
                double(o.min_num_sentences));
  U32 joined;
  for (size_t i = 0; i < kept_lines.size(); ++i) {
    if (i > 0) joined.push_back(o.split_paragraph ? U'\n' : U' ');
    joined += kept_lines[i];
  }
  kept = U32(strip(joined));
  return std::nullopt;
}

std::optional<FilterVerdict> fineweb_quality(U32View text, const QualityFilterOptions& o) {
  const char* f = "fineweb";
  std::vector<U32View> lines;
  for (U32View l : split_on(text, '\n'))
    if (!is_blank(l)) lines.push_back(l);
  if (lines.empty()) return drop(f, "empty", "non-blank lines", "", 0, "<", 1);
  const double n = double(lines.size());
  size_t punct = 0, short_lines = 0;
  for (U32View l : lines) {
    punct += !l.empty() && is_terminal(l.back());
    short_lines += int64_t(l.size()) <= o.short_line_length;
  }
  double value = double(punct) / n;
  if (value < o.line_punct_thr && !(value == 0 && o.line_punct_exclude_zero))
    return drop(f, "line_punct_ratio", "lines ending in terminal punctuation / lines", "line_punct_thr", value, "<",
                o.line_punct_thr);
  value = double(short_lines) / n;
  if (value > o.short_line_thr)
    return drop(f, "short_line_ratio", fmt::format("lines of <= {} characters / lines", o.short_line_length),
                "short_line_thr", value, ">", o.short_line_thr);
  const size_t non_newline = text.size() - size_t(std::count(text.begin(), text.end(), U'\n'));
  value = ratio(double(find_duplicates(lines).chars), double(non_newline));
  if (value > o.char_duplicates_ratio)
    return drop(f, "char_dup_ratio", "duplicate line characters / characters", "char_duplicates_ratio", value, ">",
                o.char_duplicates_ratio);
  const size_t words = words_of(text).size();
  value = ratio(double(std::count(text.begin(), text.end(), U'\n')), double(words));
  if (value > o.new_line_ratio)
    return drop(f, "list_ratio", "line breaks / words", "new_line_ratio", value, ">", o.new_line_ratio);
  return std::nullopt;
}

std::optional<FilterVerdict> language_filter(std::string_view text, const QualityFilterOptions& o,
                                             const LanguageGuess& guess) {
  // A language's threshold: its own, its primary subtag's (zh's for zh-Hant), or the global one.
  auto threshold_of = [&](const std::string& code) {
    auto it = o.language_thresholds.find(code);
    if (it == o.language_thresholds.end()) it = o.language_thresholds.find(code.substr(0, code.find('-')));
    return it == o.language_thresholds.end() ? o.language_threshold : it->second;
  };
  if (o.languages.empty()) {
    const double t = threshold_of(guess.language);
    if (guess.score > t) return std::nullopt;
    return drop("language", "language", guess.language + " score", "language_threshold", guess.score, "<=", t);
  }
  std::string best_language = o.languages.front();
  double best = -1, best_threshold = 0;
  for (const std::string& l : o.languages) {
    const double s = language_score(guess, l), t = threshold_of(l);
    if (s > t) return std::nullopt;
    if (s - t > best - best_threshold) best = s, best_threshold = t, best_language = l;
  }
  return drop("language", "language", best_language + " score", "language_threshold", best, "<=", best_threshold);
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", int64_t(v));
  return fmt::format("{:.4g}", v);
}

}  // namespace

const std::vector<std::string>& detail::known_filters() {
  static const std::vector<std::string> names = {"language", "gopher-repetition", "gopher-quality", "c4", "fineweb"};
  return names;
}

bool detail::enabled(const QualityFilterOptions& o, const char* name) {
  return std::find(o.filters.begin(), o.filters.end(), name) != o.filters.end();
}

using detail::enabled;
using detail::known_filters;

// ---- Public measures -------------------------------------------------------------------------------------------

std::vector<std::string> split_words(std::string_view text) {
  const U32 t = decode_utf8(text);
  std::vector<std::string> out;
  for (U32View w : words_of(t)) out.push_back(encode_utf8(w));
  return out;
}

std::vector<std::string> split_sentences(std::string_view text) {
  const U32 t = decode_utf8(text);
  std::vector<std::string> out;
  for (U32View s : sentences_of(t)) out.push_back(encode_utf8(s));
  return out;
}

std::string FilterVerdict::explain() const {
  if (keep) return "kept";
  std::string out;
  if (comparison == "contains")
    out = fmt::format("{}: {} ({})", rule, measure, parameter);
  else if (parameter.empty())
    out = fmt::format("{}: no {}", rule, measure);
  else
    out = fmt::format("{}: {} {} {} {} {}", rule, measure, format_number(value), comparison, parameter,
                      format_number(threshold));
  if (filter == "language") out += fmt::format(" (detected {} {})", language, format_number(language_score));
  return out;
}

void validate(const QualityFilterOptions& o) {
  for (const std::string& f : o.filters)
    if (std::find(known_filters().begin(), known_filters().end(), f) == known_filters().end())
      fail_usage(
          "--filters: unknown filter '{}' (choose from language, gopher-repetition, gopher-quality, c4, fineweb)", f);
  if ((!o.languages.empty() || !o.language_thresholds.empty()) && !enabled(o, "language"))
    fail_usage("--languages / --language-threshold: the language filter is not among --filters");
  auto fraction = [](double v, const char* name) {
    if (!(v >= 0 && v <= 1)) fail_usage("--{}: expected a value in [0, 1], got {}", name, v);
  };
  fraction(o.language_threshold, "language-threshold");
  for (const auto& [l, t] : o.language_thresholds) fraction(t, "language-threshold");
  for (const auto& [n, t] : o.top_n_grams) {
    if (n < 1) fail_usage("--top-n-grams: an n-gram size must be at least 1, got {}", n);
    fraction(t, "top-n-grams");
  }
  for (const auto& [n, t] : o.dup_n_grams) {
    if (n < 1) fail_usage("--dup-n-grams: an n-gram size must be at least 1, got {}", n);
    fraction(t, "dup-n-grams");
  }
  for (auto [v, name] : {std::pair{o.dup_line_frac, "dup-line-frac"},
                         {o.dup_para_frac, "dup-para-frac"},
                         {o.dup_line_char_frac, "dup-line-char-frac"},
                         {o.dup_para_char_frac, "dup-para-char-frac"},
                         {o.max_bullet_lines_ratio, "max-bullet-lines-ratio"},
                         {o.max_ellipsis_lines_ratio, "max-ellipsis-lines-ratio"},
                         {o.max_non_alpha_words_ratio, "max-non-alpha-words-ratio"},
                         {o.line_punct_thr, "line-punct-thr"},
                         {o.short_line_thr, "short-line-thr"}})
    fraction(v, name);
  for (auto [v, name] : {std::pair{o.min_num_sentences, "min-num-sentences"},
                         {o.min_words_per_line, "min-words-per-line"},
                         {o.max_word_length, "max-word-length"}})
    if (v < -1) fail_usage("--{}: expected -1 (off) or more, got {}", name, v);
  if (o.max_doc_words > 0 && o.max_doc_words < o.min_doc_words)
    fail_usage("--max-doc-words {} is below --min-doc-words {}", o.max_doc_words, o.min_doc_words);
}

FilterVerdict filter_document(std::string_view input, const QualityFilterOptions& o, FilterStats* stats) {
  FilterVerdict verdict;
  std::string language;
  double language_score = 0;
  if (enabled(o, "language")) {
    const LanguageGuess guess = identify_language(input);
    language = guess.language;
    language_score = guess.score;
    if (auto v = language_filter(input, o, guess)) {
      v->language = language;
      v->language_score = language_score;
      return *v;
    }
  }
  // "\r\n" is one line break for every measure below.
  U32 text = decode_utf8(input);
  bool modified = false;
  if (text.find(U'\r') != U32::npos) {
    U32 unified;
    unified.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i)
      if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) unified.push_back(text[i]);
    text = std::move(unified);
  }
  auto finish = [&](std::optional<FilterVerdict> v) {
    v->language = language;
    v->language_score = language_score;
    return *v;
  };
  if (enabled(o, "gopher-repetition") || enabled(o, "gopher-quality")) {
    const std::vector<U32View> words = words_of(text);
    if (enabled(o, "gopher-repetition") && !text.empty())
      if (auto v = gopher_repetition(text, words, o)) return finish(v);
    if (enabled(o, "gopher-quality"))
      if (auto v = gopher_quality(text, words, o)) return finish(v);
  }
  if (enabled(o, "c4")) {
    U32 kept;
    if (auto v = c4_quality(text, o, kept, stats)) return finish(v);
    if (kept != text) text = std::move(kept), modified = true;
  }
  if (enabled(o, "fineweb"))
    if (auto v = fineweb_quality(text, o)) return finish(v);
  if (is_blank(text)) return finish(drop("c4", "empty", "text left", "", 0, "<", 1));
  verdict.text = modified ? encode_utf8(text) : std::string(input);
  verdict.modified = modified;
  verdict.language = language;
  verdict.language_score = language_score;
  return verdict;
}

// The data::detail functions of quality-filter.h.

bool detail::has_blank_line(std::string_view text) {
  const U32 t = decode_utf8(text);
  for (U32View line : split_on(t, '\n'))
    if (is_blank(line)) return true;
  return false;
}

}  // namespace r1::data
