// Decoders of tokenizer.json (HF src/decoders/*): ByteLevel (unicode chars back to bytes; a token with a
// character outside the map is kept as its UTF-8, as HF does), WordPiece (strip "##", cleanup), BPEDecoder
// (end-of-word suffix), Replace, ByteFallback (<0xXX> tokens), Fuse, Strip and Sequence.
// Departure: ByteLevel keeps the exact bytes (no lossy UTF-8 repair); the caller decides how to show them.
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
using nlohmann::json;

namespace {

class ByteLevelDecoder : public Decoder {
 public:
  explicit ByteLevelDecoder(const json& j) : source_(j) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      std::string mapped;
      size_t pos = 0;
      bool ok = true;
      while (pos < t.size() && ok) {
        int b = unicode_to_byte(next_code_point(t, pos));
        if (b < 0)
          ok = false;
        else
          mapped += char(b);
      }
      bytes += ok ? mapped : t;
    }
    return {bytes};
  }
  json to_json() const override { return source_; }

 private:
  json source_;
};

// HF's cleanup: " ." -> ".", " ?" -> "?", " !" -> "!", " ," -> ",", " ' " -> "'", " n't" -> "n't",
// " 'm" -> "'m", " do not" -> " don't", " 's" -> "'s", " 've" -> "'ve", " 're" -> "'re".
std::string cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    std::string f = from, t = to, out;
    size_t last = 0;
    for (size_t at = s.find(f); at != std::string::npos; at = s.find(f, at + f.size())) {
      out.append(s, last, at - last);
      out += t;
      last = at + f.size();
    }
    out.append(s, last);
    s = std::move(out);
  }
  return s;
}

class WordPieceDecoder : public Decoder {
 public:
  explicit WordPieceDecoder(const json& j) : prefix_(j.value("prefix", "##")), cleanup_(j.value("cleanup", true)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i > 0) {
        if (t.rfind(prefix_, 0) == 0)
          t.erase(0, prefix_.size());
        else
          t.insert(0, 1, ' ');
      }
      if (cleanup_) t = cleanup(t);
    }
    return tokens;
  }
  json to_json() const override { return {{"type", "WordPiece"}, {"prefix", prefix_}, {"cleanup", cleanup_}}; }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(const json& j) : suffix_(j.value("suffix", "</w>")) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    if (suffix_.empty()) return tokens;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      const char* replacement = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      size_t last = 0;
      for (size_t at = t.find(suffix_); at != std::string::npos; at = t.find(suffix_, last)) {
        out.append(t, last, at - last);
        out += replacement;
        last = at + suffix_.size();
      }
      out.append(t, last, std::string::npos);
      tokens[i] = std::move(out);
    }
    return tokens;
  }
  json to_json() const override { return {{"type", "BPEDecoder"}, {"suffix", suffix_}}; }

 private:
  std::string suffix_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const std::string& where) : source_(j), content_(j.at("content").get<std::string>()) {
    const json& p = j.at("pattern");
    if (!p.contains("String")) fail("{}: Replace decoder supports only {{\"String\": ...}} patterns", where);
    pattern_ = p["String"].get<std::string>();
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    if (pattern_.empty()) return tokens;
    for (std::string& t : tokens)
      for (size_t at = t.find(pattern_); at != std::string::npos; at = t.find(pattern_, at + content_.size()))
        t.replace(at, pattern_.size(), content_);
    return tokens;
  }
  json to_json() const override { return source_; }

 private:
  json source_;
  std::string pattern_, content_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (!pending.empty()) out.push_back(std::move(pending));
      pending.clear();
    };
    for (std::string& t : tokens) {
      if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>') {
        pending += char(std::stoi(t.substr(3, 2), nullptr, 16));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
  json to_json() const override { return {{"type", "ByteFallback"}}; }
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
  json to_json() const override { return {{"type", "Fuse"}}; }
};

class StripDecoder : public Decoder {
 public:
  explicit StripDecoder(const json& j)
      : content_(j.at("content").get<std::string>()), start_(j.value("start", 0)), stop_(j.value("stop", 0)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& t : tokens) {
      for (int i = 0; i < start_ && t.rfind(content_, 0) == 0 && !content_.empty(); ++i) t.erase(0, content_.size());
      for (int i = 0; i < stop_ && !content_.empty() && t.size() >= content_.size() &&
                      t.compare(t.size() - content_.size(), content_.size(), content_) == 0;
           ++i)
        t.erase(t.size() - content_.size());
    }
    return tokens;
  }
  json to_json() const override {
    return {{"type", "Strip"}, {"content", content_}, {"start", start_}, {"stop", stop_}};
  }

 private:
  std::string content_;
  int start_, stop_;
};

class SequenceDecoder : public Decoder {
 public:
  SequenceDecoder(const json& j, const std::string& where) {
    const json& list = j.at("decoders");
    for (size_t i = 0; i < list.size(); ++i)
      steps_.push_back(make_decoder(list[i], fmt::format("{}.decoders[{}]", where, i)));
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& d : steps_) tokens = d->decode_chain(std::move(tokens));
    return tokens;
  }
  json to_json() const override {
    json list = json::array();
    for (const auto& d : steps_) list.push_back(d->to_json());
    return {{"type", "Sequence"}, {"decoders", list}};
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  try {
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>(j);
    if (type == "WordPiece") return std::make_unique<WordPieceDecoder>(j);
    if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(j);
    if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, where);
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") return std::make_unique<StripDecoder>(j);
    if (type == "Sequence") return std::make_unique<SequenceDecoder>(j, where);
  } catch (const json::exception& e) {
    fail("{}: malformed {} decoder: {}", where, type, json_error_text(e));
  }
  fail(
      "{}: decoder type '{}' is not supported (supported: ByteLevel, WordPiece, BPEDecoder, Replace, ByteFallback, "
      "Fuse, Strip, Sequence)",
      where, type);
}

}  // namespace r1::tokenizer
