// Pre-tokenizers of tokenizer.json: Split (regex or string, five behaviours, invert), ByteLevel (GPT-2
// regex + byte->unicode mapping), Digits, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer and
// Sequence. Behaviour follows huggingface/tokenizers src/pre_tokenizers/* (split.rs, byte_level.rs, ...).
// Metaspace and other sentencepiece-era components are rejected by name.
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
using nlohmann::json;

// The GPT-2 pre-tokenization pattern (ByteLevel with use_regex), as in tokenizers' byte_level.rs.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

SplitBehavior parse_split_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail("{}: unknown split behavior '{}'", where, name);
}

std::string split_behavior_name(SplitBehavior b) {
  switch (b) {
    case SplitBehavior::kRemoved:
      return "Removed";
    case SplitBehavior::kIsolated:
      return "Isolated";
    case SplitBehavior::kMergedWithPrevious:
      return "MergedWithPrevious";
    case SplitBehavior::kMergedWithNext:
      return "MergedWithNext";
    case SplitBehavior::kContiguous:
      return "Contiguous";
  }
  return "Isolated";
}

void split_piece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out) {
  struct Span {
    size_t b, e;
    bool match;
  };
  std::vector<Span> spans;
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) spans.push_back({last, b, invert});
    spans.push_back({b, e, !invert});
    last = e;
  }
  if (last < piece.text.size()) spans.push_back({last, piece.text.size(), invert});

  std::vector<std::pair<size_t, size_t>> kept;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& s : spans)
        if (!s.match) kept.emplace_back(s.b, s.e);
      break;
    case SplitBehavior::kIsolated:
      for (const auto& s : spans) kept.emplace_back(s.b, s.e);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& s : spans) {
        if (s.match && !previous_match && !kept.empty())
          kept.back().second = s.e;
        else
          kept.emplace_back(s.b, s.e);
        previous_match = s.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty())
          kept.back().first = it->b;
        else
          kept.emplace_back(it->b, it->e);
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    case SplitBehavior::kContiguous:
      for (const auto& s : spans) {
        if (s.match && previous_match)
          kept.back().second = s.e;
        else
          kept.emplace_back(s.b, s.e);
        previous_match = s.match;
      }
      break;
  }
  for (auto [b, e] : kept) {
    if (e <= b) continue;
    Piece p;
    p.text = piece.text.substr(b, e - b);
    p.exact = piece.exact;
    p.begin = piece.exact ? piece.begin + b : piece.begin;
    p.end = piece.exact ? piece.begin + e : piece.end;
    out.push_back(std::move(p));
  }
}

namespace {

// Splits every piece with a function giving match spans.
template <typename FindMatches>
void split_all(std::vector<Piece>& pieces, FindMatches find, SplitBehavior behavior, bool invert) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (const Piece& p : pieces) split_piece(p, find(p.text), behavior, invert, out);
  pieces = std::move(out);
}

// Spans of maximal runs of code points satisfying pred (or single code points when `single`).
template <typename Pred>
std::vector<std::pair<size_t, size_t>> char_class_spans(std::string_view s, Pred pred, bool single) {
  std::vector<std::pair<size_t, size_t>> spans;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(s, pos);
    if (!pred(cp)) continue;
    if (!single && !spans.empty() && spans.back().second == start)
      spans.back().second = pos;
    else
      spans.emplace_back(start, pos);
  }
  return spans;
}

class SplitPre : public PreTokenizer {
 public:
  SplitPre(const json& j, const std::string& where) : source_(j) {
    const json& pattern = j.at("pattern");
    if (pattern.contains("Regex"))
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>());
    else if (pattern.contains("String"))
      literal_ = pattern["String"].get<std::string>();
    else
      fail("{}: Split pattern must be {{\"Regex\": ...}} or {{\"String\": ...}}", where);
    behavior_ = parse_split_behavior(j.value("behavior", "Isolated"), where);
    invert_ = j.value("invert", false);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(
        pieces, [&](const std::string& t) { return matches(t); }, behavior_, invert_);
  }
  json to_json() const override { return source_; }

 private:
  std::vector<std::pair<size_t, size_t>> matches(const std::string& t) const {
    if (regex_) return regex_->find_all(t);
    std::vector<std::pair<size_t, size_t>> out;
    if (literal_.empty()) return out;
    for (size_t at = t.find(literal_); at != std::string::npos; at = t.find(literal_, at + literal_.size()))
      out.emplace_back(at, at + literal_.size());
    return out;
  }
  json source_;
  std::unique_ptr<Regex> regex_;
  std::string literal_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPre : public PreTokenizer {
 public:
  explicit ByteLevelPre(const json& j)
      : add_prefix_space_(j.value("add_prefix_space", true)),
        trim_offsets_(j.value("trim_offsets", true)),
        use_regex_(j.value("use_regex", true)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    static const Regex gpt2(kGpt2Pattern);
    if (add_prefix_space_)
      for (Piece& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') {
          p.text.insert(0, 1, ' ');
          p.exact = false;
        }
    if (use_regex_)
      split_all(
          pieces, [&](const std::string& t) { return gpt2.find_all(t); }, SplitBehavior::kIsolated, false);
    for (Piece& p : pieces) {
      p.text = bytes_to_unicode_string(p.text);
      p.exact = false;
    }
  }
  json to_json() const override {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", add_prefix_space_},
            {"trim_offsets", trim_offsets_},
            {"use_regex", use_regex_}};
  }

 private:
  bool add_prefix_space_, trim_offsets_, use_regex_;
};

class DigitsPre : public PreTokenizer {
 public:
  explicit DigitsPre(const json& j) : individual_(j.value("individual_digits", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(
        pieces, [&](const std::string& t) { return char_class_spans(t, is_numeric, individual_); },
        individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, false);
  }
  json to_json() const override { return {{"type", "Digits"}, {"individual_digits", individual_}}; }

 private:
  bool individual_;
};

class WhitespacePre : public PreTokenizer {  // \w+|[^\w\s]+
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    static const Regex words(R"(\w+|[^\w\s]+)");
    split_all(
        pieces, [&](const std::string& t) { return words.find_all(t); }, SplitBehavior::kRemoved, true);
  }
  json to_json() const override { return {{"type", "Whitespace"}}; }
};

class WhitespaceSplitPre : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(
        pieces, [](const std::string& t) { return char_class_spans(t, is_whitespace, false); }, SplitBehavior::kRemoved,
        false);
  }
  json to_json() const override { return {{"type", "WhitespaceSplit"}}; }
};

class PunctuationPre : public PreTokenizer {
 public:
  PunctuationPre(const json& j, const std::string& where)
      : behavior_(parse_split_behavior(j.value("behavior", "Isolated"), where)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(
        pieces, [](const std::string& t) { return char_class_spans(t, is_punctuation, true); }, behavior_, false);
  }
  json to_json() const override { return {{"type", "Punctuation"}, {"behavior", split_behavior_name(behavior_)}}; }

 private:
  SplitBehavior behavior_;
};

class BertPre : public PreTokenizer {  // whitespace removed, each punctuation character isolated
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(
        pieces, [](const std::string& t) { return char_class_spans(t, is_whitespace, false); }, SplitBehavior::kRemoved,
        false);
    split_all(
        pieces, [](const std::string& t) { return char_class_spans(t, is_punctuation, true); },
        SplitBehavior::kIsolated, false);
  }
  json to_json() const override { return {{"type", "BertPreTokenizer"}}; }
};

class SequencePre : public PreTokenizer {
 public:
  SequencePre(const json& j, const std::string& where) {
    const json& list = j.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      steps_.push_back(make_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", where, i)));
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& s : steps_) s->pre_tokenize(pieces);
  }
  json to_json() const override {
    json list = json::array();
    for (const auto& s : steps_) list.push_back(s->to_json());
    return {{"type", "Sequence"}, {"pretokenizers", list}};
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  try {
    if (type == "Split") return std::make_unique<SplitPre>(j, where);
    if (type == "ByteLevel") return std::make_unique<ByteLevelPre>(j);
    if (type == "Digits") return std::make_unique<DigitsPre>(j);
    if (type == "Whitespace") return std::make_unique<WhitespacePre>();
    if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPre>();
    if (type == "Punctuation") return std::make_unique<PunctuationPre>(j, where);
    if (type == "BertPreTokenizer") return std::make_unique<BertPre>();
    if (type == "Sequence") return std::make_unique<SequencePre>(j, where);
  } catch (const json::exception& e) {
    fail("{}: malformed {} pre-tokenizer: {}", where, type, json_error_text(e));
  }
  fail(
      "{}: pre-tokenizer type '{}' is not supported (supported: Split, ByteLevel, Digits, Whitespace, "
      "WhitespaceSplit, Punctuation, BertPreTokenizer, Sequence)",
      where, type);
}

}  // namespace r1::tokenizer
