// Post-processors of tokenizer.json for single sequences (HF src/processors/*): TemplateProcessing
// (e.g. Llama-3.1's "<|begin_of_text|> $A"), BertProcessing ([CLS] $A [SEP]), RobertaProcessing (<s> $A </s>),
// ByteLevel and Sequence. Departure: offset trimming (trim_offsets) is not applied; ids are unaffected by it.
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"
#include "tokenizer/components.h"

namespace r1::tokenizer {
using nlohmann::json;

namespace {

class TemplatePost : public PostProcessor {
 public:
  TemplatePost(const json& j, const std::string& where) : source_(j) {
    const json& specials = j.value("special_tokens", json::object());
    for (const json& item : j.at("single")) {
      if (item.contains("Sequence")) {
        if (item["Sequence"].value("id", "A") != "A") fail("{}: single template may only contain sequence $A", where);
        pieces_.push_back({});
        continue;
      }
      if (!item.contains("SpecialToken")) fail("{}: template items must be Sequence or SpecialToken", where);
      std::string name = item["SpecialToken"].at("id").get<std::string>();
      if (!specials.contains(name))
        fail("{}: template uses special token '{}' missing from special_tokens", where, name);
      pieces_.push_back(specials[name].at("ids").get<std::vector<int32_t>>());
    }
  }
  void process(std::vector<Token>& tokens) const override {
    std::vector<Token> out;
    for (const auto& ids : pieces_) {
      if (ids.empty()) out.insert(out.end(), tokens.begin(), tokens.end());
      for (int32_t id : ids) out.push_back({id, 0, 0});
    }
    tokens = std::move(out);
  }
  json to_json() const override { return source_; }

 private:
  json source_;
  std::vector<std::vector<int32_t>> pieces_;  // empty entry = the sequence itself
};

class WrapPost : public PostProcessor {  // BertProcessing / RobertaProcessing: cls $A sep
 public:
  WrapPost(const json& j) : source_(j), cls_(j.at("cls")[1].get<int32_t>()), sep_(j.at("sep")[1].get<int32_t>()) {}
  void process(std::vector<Token>& tokens) const override {
    tokens.insert(tokens.begin(), Token{cls_, 0, 0});
    tokens.push_back({sep_, 0, 0});
  }
  json to_json() const override { return source_; }

 private:
  json source_;
  int32_t cls_, sep_;
};

class IdentityPost : public PostProcessor {  // ByteLevel: offsets only
 public:
  explicit IdentityPost(const json& j) : source_(j) {}
  void process(std::vector<Token>&) const override {}
  json to_json() const override { return source_; }

 private:
  json source_;
};

class SequencePost : public PostProcessor {
 public:
  SequencePost(const json& j, const std::string& where) {
    const json& list = j.at("processors");
    for (size_t i = 0; i < list.size(); ++i)
      steps_.push_back(make_post_processor(list[i], fmt::format("{}.processors[{}]", where, i)));
  }
  void process(std::vector<Token>& tokens) const override {
    for (const auto& p : steps_) p->process(tokens);
  }
  json to_json() const override {
    json list = json::array();
    for (const auto& p : steps_) list.push_back(p->to_json());
    return {{"type", "Sequence"}, {"processors", list}};
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  try {
    if (type == "TemplateProcessing") return std::make_unique<TemplatePost>(j, where);
    if (type == "BertProcessing" || type == "RobertaProcessing") return std::make_unique<WrapPost>(j);
    if (type == "ByteLevel") return std::make_unique<IdentityPost>(j);
    if (type == "Sequence") return std::make_unique<SequencePost>(j, where);
  } catch (const json::exception& e) {
    fail("{}: malformed {} post-processor: {}", where, type, json_error_text(e));
  }
  fail(
      "{}: post-processor type '{}' is not supported (supported: TemplateProcessing, BertProcessing, "
      "RobertaProcessing, ByteLevel, Sequence)",
      where, type);
}

}  // namespace r1::tokenizer
