// Normalizers of tokenizer.json: NFC/NFD/NFKC/NFKD (ICU), Lowercase, Strip, StripAccents, Replace, Prepend,
// BertNormalizer (clean text, pad CJK characters, strip accents, lowercase; HF bert.rs) and Sequence.
// `Precompiled` (sentencepiece's compiled charsmap) is rejected by name.
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
using nlohmann::json;

namespace {

class FormNormalizer : public Normalizer {
 public:
  FormNormalizer(NormalForm form, std::string type) : form_(form), type_(std::move(type)) {}
  std::string normalize(std::string_view t) const override { return normalize_unicode(t, form_); }
  json to_json() const override { return {{"type", type_}}; }

 private:
  NormalForm form_;
  std::string type_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view t) const override { return to_lower_unicode(t); }
  json to_json() const override { return {{"type", "Lowercase"}}; }
};

std::string strip_accents(std::string_view t) {
  std::string out;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(t, pos);
    if (!is_combining_mark(cp)) out.append(t.substr(start, pos - start));
  }
  return out;
}

class StripAccentsNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view t) const override { return strip_accents(t); }
  json to_json() const override { return {{"type", "StripAccents"}}; }
};

class StripNormalizer : public Normalizer {
 public:
  explicit StripNormalizer(const json& j) : left_(j.value("strip_left", true)), right_(j.value("strip_right", true)) {}
  std::string normalize(std::string_view t) const override {
    size_t b = 0, e = t.size();
    if (left_) {
      size_t pos = 0;
      while (pos < e) {
        size_t start = pos;
        if (!is_whitespace(next_code_point(t, pos))) {
          b = start;
          break;
        }
        b = pos;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(t[start]) & 0xC0) == 0x80) --start;
        size_t pos = start;
        if (!is_whitespace(next_code_point(t, pos))) break;
        e = start;
      }
    }
    return std::string(t.substr(b, e - b));
  }
  json to_json() const override { return {{"type", "Strip"}, {"strip_left", left_}, {"strip_right", right_}}; }

 private:
  bool left_, right_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& j, const std::string& where)
      : source_(j), content_(j.at("content").get<std::string>()) {
    const json& p = j.at("pattern");
    if (p.contains("Regex"))
      regex_ = std::make_unique<Regex>(p["Regex"].get<std::string>());
    else if (p.contains("String"))
      literal_ = p["String"].get<std::string>();
    else
      fail("{}: Replace pattern must be {{\"Regex\": ...}} or {{\"String\": ...}}", where);
  }
  std::string normalize(std::string_view t) const override {
    std::vector<std::pair<size_t, size_t>> spans;
    if (regex_)
      spans = regex_->find_all(t);
    else if (!literal_.empty())
      for (size_t at = t.find(literal_); at != std::string::npos; at = t.find(literal_, at + literal_.size()))
        spans.emplace_back(at, at + literal_.size());
    std::string out;
    size_t last = 0;
    for (auto [b, e] : spans) {
      out.append(t.substr(last, b - last));
      out += content_;
      last = e;
    }
    out.append(t.substr(last));
    return out;
  }
  json to_json() const override { return source_; }

 private:
  json source_;
  std::string content_, literal_;
  std::unique_ptr<Regex> regex_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(const json& j) : prepend_(j.at("prepend").get<std::string>()) {}
  std::string normalize(std::string_view t) const override {
    return t.empty() ? std::string() : prepend_ + std::string(t);
  }
  json to_json() const override { return {{"type", "Prepend"}, {"prepend", prepend_}}; }

 private:
  std::string prepend_;
};

class BertNormalizer : public Normalizer {
 public:
  explicit BertNormalizer(const json& j)
      : clean_text_(j.value("clean_text", true)),
        chinese_(j.value("handle_chinese_chars", true)),
        lowercase_(j.value("lowercase", true)),
        strip_accents_(j.contains("strip_accents") && !j["strip_accents"].is_null() ? j["strip_accents"].get<bool>()
                                                                                    : lowercase_),
        strip_accents_json_(j.contains("strip_accents") ? j["strip_accents"] : json(nullptr)) {}
  std::string normalize(std::string_view t) const override {
    std::string out;
    size_t pos = 0;
    while (pos < t.size()) {
      size_t start = pos;
      char32_t cp = next_code_point(t, pos);
      if (clean_text_ && (cp == 0 || cp == 0xFFFD || is_control(cp))) continue;
      if (clean_text_ && is_whitespace(cp)) {
        out += ' ';
      } else if (chinese_ && is_cjk(cp)) {
        out += ' ';
        out.append(t.substr(start, pos - start));
        out += ' ';
      } else {
        out.append(t.substr(start, pos - start));
      }
    }
    if (strip_accents_) out = strip_accents(normalize_unicode(out, NormalForm::kNfd));
    if (lowercase_) out = to_lower_unicode(out);
    return out;
  }
  json to_json() const override {
    return {{"type", "BertNormalizer"},
            {"clean_text", clean_text_},
            {"handle_chinese_chars", chinese_},
            {"strip_accents", strip_accents_json_},
            {"lowercase", lowercase_}};
  }

 private:
  bool clean_text_, chinese_, lowercase_, strip_accents_;
  json strip_accents_json_;
};

class SequenceNormalizer : public Normalizer {
 public:
  SequenceNormalizer(const json& j, const std::string& where) {
    const json& list = j.at("normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      steps_.push_back(make_normalizer(list[i], fmt::format("{}.normalizers[{}]", where, i)));
  }
  std::string normalize(std::string_view t) const override {
    std::string s(t);
    for (const auto& n : steps_) s = n->normalize(s);
    return s;
  }
  json to_json() const override {
    json list = json::array();
    for (const auto& n : steps_) list.push_back(n->to_json());
    return {{"type", "Sequence"}, {"normalizers", list}};
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  try {
    if (type == "NFC") return std::make_unique<FormNormalizer>(NormalForm::kNfc, type);
    if (type == "NFD") return std::make_unique<FormNormalizer>(NormalForm::kNfd, type);
    if (type == "NFKC") return std::make_unique<FormNormalizer>(NormalForm::kNfkc, type);
    if (type == "NFKD") return std::make_unique<FormNormalizer>(NormalForm::kNfkd, type);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
    if (type == "Strip") return std::make_unique<StripNormalizer>(j);
    if (type == "Replace") return std::make_unique<ReplaceNormalizer>(j, where);
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(j);
    if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(j);
    if (type == "Sequence") return std::make_unique<SequenceNormalizer>(j, where);
  } catch (const json::exception& e) {
    fail("{}: malformed {} normalizer: {}", where, type, json_error_text(e));
  }
  fail(
      "{}: normalizer type '{}' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, "
      "Replace, Prepend, BertNormalizer, Sequence)",
      where, type);
}

}  // namespace r1::tokenizer
