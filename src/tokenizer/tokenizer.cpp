// The Tokenizer facade: added-token matching, the normalize -> pre-tokenize -> model -> post-process pipeline,
// decoding, tokenizer.json / tokenizer_config.json I/O, and the streaming decoder. Follows HF tokenizers'
// tokenizer/mod.rs and added_vocabulary.rs: tokens that are not `normalized` are split off the raw text
// first (leftmost-longest), the rest of the text is normalized and split on `normalized` added tokens, and
// only the remaining pieces reach the pre-tokenizer and the model.
#include "r1/tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "tokenizer/components.h"
#include "tokenizer/tokenizer-impl.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_word_char(char32_t cp) { return cp == '_' || is_alphanumeric(cp); }

char32_t code_point_before(std::string_view s, size_t pos) {
  if (pos == 0) return 0;
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return next_code_point(s, start);
}

struct Segment {
  size_t begin, end;
  int32_t added_id;  // -1: ordinary text
};

// Splits [begin, end) of text at occurrences of the added tokens (leftmost-longest).
std::vector<Segment> split_added(std::string_view text, size_t begin, size_t end, const Tokenizer::Impl& impl,
                                 bool normalized) {
  std::vector<Segment> out;
  size_t plain_start = begin, pos = begin;
  while (pos < end) {
    const AddedToken* best = nullptr;
    for (uint32_t index : impl.added_by_first_byte[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = impl.added[index];
      if (t.normalized != normalized || (best && t.content.size() <= best->content.size())) continue;
      if (pos + t.content.size() > end || text.compare(pos, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        size_t after = pos + t.content.size();
        size_t p = after;
        if ((pos > begin && is_word_char(code_point_before(text, pos))) ||
            (after < end && is_word_char(next_code_point(text, p))))
          continue;
      }
      best = &t;
    }
    if (best == nullptr) {
      next_code_point(text, pos);
      continue;
    }
    size_t b = pos, e = pos + best->content.size();
    if (best->lstrip)
      while (b > plain_start && is_whitespace(code_point_before(text, b))) {
        size_t prev = b - 1;
        while (prev > plain_start && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
        b = prev;
      }
    if (best->rstrip)
      while (e < end) {
        size_t p = e;
        if (!is_whitespace(next_code_point(text, p))) break;
        e = p;
      }
    if (b > plain_start) out.push_back({plain_start, b, -1});
    out.push_back({b, e, best->id});
    plain_start = pos = e;
  }
  if (plain_start < end) out.push_back({plain_start, end, -1});
  return out;
}

std::optional<std::string> special_token_text(const json& cfg, const char* key) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  if (cfg[key].is_string()) return cfg[key].get<std::string>();
  if (cfg[key].is_object() && cfg[key].contains("content")) return cfg[key]["content"].get<std::string>();
  return std::nullopt;
}

TokenizerConfig parse_config(const json& cfg, const std::string& source) {
  TokenizerConfig c;
  c.bos_token = special_token_text(cfg, "bos_token");
  c.eos_token = special_token_text(cfg, "eos_token");
  c.pad_token = special_token_text(cfg, "pad_token");
  c.unk_token = special_token_text(cfg, "unk_token");
  c.add_bos_token = cfg.value("add_bos_token", false);
  c.add_eos_token = cfg.value("add_eos_token", false);
  if (cfg.contains("chat_template")) {
    const json& t = cfg["chat_template"];
    if (t.is_string()) {
      c.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const json& item : t) {
        if (!item.is_object() || !item.contains("template") || !item["template"].is_string())
          fail("{}: chat_template: each entry of the list must be {{\"name\": ..., \"template\": \"...\"}}, found {}",
               source, item.dump());
        if (item.value("name", "") == "default") c.chat_template = item["template"].get<std::string>();
      }
      if (c.chat_template.empty()) fail("{}: chat_template list has no template named \"default\"", source);
    } else if (!t.is_null()) {
      fail("{}: chat_template must be a string or a list of named templates", source);
    }
  }
  return c;
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

void index_added_tokens(Tokenizer::Impl& impl) {
  impl.added_by_id.clear();
  impl.added_by_content.clear();
  for (auto& bucket : impl.added_by_first_byte) bucket.clear();
  for (size_t i = 0; i < impl.added.size(); ++i) {
    const AddedToken& t = impl.added[i];
    impl.added_by_id[t.id] = i;
    impl.added_by_content[t.content] = i;
    if (!t.content.empty()) impl.added_by_first_byte[static_cast<unsigned char>(t.content[0])].push_back(uint32_t(i));
  }
}

Tokenizer make_tokenizer(std::shared_ptr<Tokenizer::Impl> impl) {
  index_added_tokens(*impl);
  return Tokenizer(std::move(impl));
}

void pre_tokenize_for_training(const Tokenizer::Impl& impl, std::string_view text, std::vector<std::string>& out) {
  std::string norm = impl.normalizer ? impl.normalizer->normalize(text) : std::string(text);
  std::vector<Piece> pieces{{std::move(norm), 0, text.size(), false}};
  if (impl.pre_tokenizer) impl.pre_tokenizer->pre_tokenize(pieces);
  for (Piece& p : pieces) out.push_back(std::move(p.text));
}

Tokenizer Tokenizer::from_json(const std::string& text, const std::string& source) {
  json j = parse_json(text, source);
  if (!j.is_object() || !j.contains("model"))
    fail("{}: not a tokenizer.json (it has no \"model\"; expected a model directory or a tokenizer.json file)", source);
  auto impl = std::make_shared<Impl>();
  impl->model = make_model(j["model"], source + ": model");
  impl->normalizer = make_normalizer(j.value("normalizer", json(nullptr)), source + ": normalizer");
  impl->pre_tokenizer = make_pre_tokenizer(j.value("pre_tokenizer", json(nullptr)), source + ": pre_tokenizer");
  impl->post_processor = make_post_processor(j.value("post_processor", json(nullptr)), source + ": post_processor");
  impl->decoder = make_decoder(j.value("decoder", json(nullptr)), source + ": decoder");
  impl->truncation = j.value("truncation", json(nullptr));
  impl->padding = j.value("padding", json(nullptr));
  for (const json& a : j.value("added_tokens", json::array())) {
    AddedToken t;
    try {
      t.content = a.at("content").get<std::string>();
      t.id = a.at("id").get<int32_t>();
      t.special = a.value("special", false);
      t.single_word = a.value("single_word", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.normalized = a.value("normalized", !t.special);
    } catch (const json::exception& e) {
      fail("{}: malformed added_tokens entry {}: {}", source, a.dump(), json_error_text(e));
    }
    if (t.id < 0) fail("{}: added token '{}' has negative id {}", source, t.content, t.id);
    if (impl->added_by_id.count(t.id)) fail("{}: two added tokens share id {}", source, t.id);
    impl->added_by_id[t.id] = impl->added.size();
    impl->added.push_back(std::move(t));
  }
  return make_tokenizer(impl);
}

Tokenizer Tokenizer::load(const fs::path& path) {
  fs::path file = path;
  if (fs::is_directory(path)) file = path / "tokenizer.json";
  if (!fs::exists(file))
    fail("{}: not found{}", file.string(),
         fs::is_directory(path) ? " (only tokenizer.json tokenizers are supported)" : "");
  Tokenizer tok = from_json(read_file(file), file.string());
  fs::path cfg_path = file.parent_path() / "tokenizer_config.json";
  if (fs::exists(cfg_path)) {
    json cfg = parse_json(read_file(cfg_path), cfg_path.string());
    if (!cfg.is_object()) fail("{}: expected a JSON object", cfg_path.string());
    tok.impl_->config = parse_config(cfg, cfg_path.string());
    tok.impl_->config_raw = std::move(cfg);
  }
  return tok;
}

std::string Tokenizer::to_json() const {
  const Impl& m = *impl_;
  json added = json::array();
  for (const AddedToken& t : m.added)
    added.push_back({{"id", t.id},
                     {"content", t.content},
                     {"single_word", t.single_word},
                     {"lstrip", t.lstrip},
                     {"rstrip", t.rstrip},
                     {"normalized", t.normalized},
                     {"special", t.special}});
  auto part = [](const auto& p) { return p ? p->to_json() : json(nullptr); };
  json j = {{"version", "1.0"},
            {"truncation", m.truncation},
            {"padding", m.padding},
            {"added_tokens", added},
            {"normalizer", part(m.normalizer)},
            {"pre_tokenizer", part(m.pre_tokenizer)},
            {"model", m.model->to_json()},
            {"post_processor", part(m.post_processor)},
            {"decoder", part(m.decoder)}};
  return j.dump(2) + "\n";
}

void Tokenizer::save(const fs::path& dir, bool overwrite) const {
  if (fs::exists(dir / "tokenizer.json") && !overwrite)
    fail("{}: already exists; pass --overwrite to replace it", (dir / "tokenizer.json").string());
  fs::create_directories(dir);
  write_file_atomic(dir / "tokenizer.json", to_json());
  json cfg = impl_->config_raw;
  const TokenizerConfig& c = impl_->config;
  auto put = [&](const char* key, const std::optional<std::string>& v) { cfg[key] = v ? json(*v) : json(nullptr); };
  put("bos_token", c.bos_token);
  put("eos_token", c.eos_token);
  put("pad_token", c.pad_token);
  put("unk_token", c.unk_token);
  cfg["add_bos_token"] = c.add_bos_token;
  cfg["add_eos_token"] = c.add_eos_token;
  if (!c.chat_template.empty())
    cfg["chat_template"] = c.chat_template;
  else
    cfg.erase("chat_template");
  if (!cfg.contains("tokenizer_class")) cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  json decoder = json::object();
  for (const AddedToken& t : impl_->added)
    decoder[std::to_string(t.id)] = {{"content", t.content}, {"single_word", t.single_word}, {"lstrip", t.lstrip},
                                     {"rstrip", t.rstrip},   {"normalized", t.normalized},   {"special", t.special}};
  cfg["added_tokens_decoder"] = decoder;
  write_file_atomic(dir / "tokenizer_config.json", cfg.dump(2) + "\n");
}

std::vector<TokenSpan> Tokenizer::encode_with_spans(std::string_view text, bool add_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<Token> tokens;
  std::vector<int32_t> ids;
  for (const Segment& raw : split_added(text, 0, text.size(), m, /*normalized=*/false)) {
    if (raw.added_id >= 0) {
      tokens.push_back({raw.added_id, raw.begin, raw.end});
      continue;
    }
    std::string_view original = text.substr(raw.begin, raw.end - raw.begin);
    std::string norm = m.normalizer ? m.normalizer->normalize(original) : std::string(original);
    const bool exact = norm.size() == original.size() && norm == original;
    for (const Segment& seg : split_added(norm, 0, norm.size(), m, /*normalized=*/true)) {
      size_t b = exact ? raw.begin + seg.begin : raw.begin, e = exact ? raw.begin + seg.end : raw.end;
      if (seg.added_id >= 0) {
        tokens.push_back({seg.added_id, b, e});
        continue;
      }
      std::vector<Piece> pieces{{norm.substr(seg.begin, seg.end - seg.begin), b, e, exact}};
      if (m.pre_tokenizer) m.pre_tokenizer->pre_tokenize(pieces);
      for (const Piece& p : pieces) {
        ids.clear();
        m.model->tokenize(p.text, ids);
        for (int32_t id : ids) tokens.push_back({id, p.begin, p.end});
      }
    }
  }
  if (add_special_tokens && m.post_processor) m.post_processor->process(tokens);
  std::vector<TokenSpan> out;
  out.reserve(tokens.size());
  for (const Token& t : tokens) out.push_back({t.id, t.begin, t.end});
  return out;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  for (const TokenSpan& t : encode_with_spans(text, add_special_tokens)) ids.push_back(t.id);
  return ids;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens, int threads) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  parallel_for(texts.size(), threads, [&](size_t i) { out[i] = encode(texts[i], add_special_tokens); });
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    auto added = m.added_by_id.find(id);
    if (added != m.added_by_id.end()) {
      const AddedToken& t = m.added[added->second];
      if (!(skip_special_tokens && t.special)) tokens.push_back(t.content);
      continue;
    }
    if (id < 0) fail("decode: token id {} is negative", id);
    // An id the vocabulary lacks (a model's padded embedding rows) decodes to nothing, as in HF tokenizers.
    if (const std::string* tok = m.model->id_to_token(id)) tokens.push_back(*tok);
  }
  if (!m.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  std::string out;
  for (const std::string& s : m.decoder->decode_chain(std::move(tokens))) out += s;
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return impl_->added[it->second].id;
  int32_t id = impl_->model->token_to_id(token);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  if (it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  const std::string* t = impl_->model->id_to_token(id);
  return t ? std::optional<std::string>(*t) : std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  size_t n = impl_->model->vocab_size();
  for (const AddedToken& t : impl_->added) n = std::max(n, size_t(t.id) + 1);
  return n;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}
std::string Tokenizer::model_type() const { return impl_->model->to_json().value("type", "BPE"); }
const TokenizerConfig& Tokenizer::config() const { return impl_->config; }

void Tokenizer::set_config(const TokenizerConfig& config) {
  auto copy = std::make_shared<Impl>(*impl_);
  copy->config = config;
  impl_ = std::move(copy);
}

std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->config.bos_token ? token_to_id(*impl_->config.bos_token) : std::nullopt;
}
std::optional<int32_t> Tokenizer::eos_id() const {
  return impl_->config.eos_token ? token_to_id(*impl_->config.eos_token) : std::nullopt;
}
std::optional<int32_t> Tokenizer::pad_id() const {
  return impl_->config.pad_token ? token_to_id(*impl_->config.pad_token) : std::nullopt;
}
void Tokenizer::require_fits(int64_t rows, const std::string& where) const {
  if (int64_t(vocab_size()) > rows)
    fail_usage("{}: the tokenizer has {} tokens but the model has only {} embedding rows (vocab_size)", where,
               vocab_size(), rows);
}
int32_t Tokenizer::padding_id() const { return pad_id().value_or(eos_id().value_or(0)); }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::push(int32_t id) {
  window_.push_back(id);
  std::string text = tokenizer_.decode(window_, skip_special_);
  if (text.size() < emitted_.size() || text.compare(0, emitted_.size(), emitted_) != 0) return "";
  std::string fresh = text.substr(emitted_.size());
  size_t ready = complete_utf8_prefix(fresh);
  if (ready == 0) return "";
  std::string out = fresh.substr(0, ready);
  if (ready == fresh.size()) {  // everything emitted: keep the last token as context for the next one
    window_.assign(1, id);
    emitted_ = tokenizer_.decode(window_, skip_special_);
  } else {
    emitted_ += out;
  }
  return out;
}

std::string StreamDecoder::finish() {
  std::string text = tokenizer_.decode(window_, skip_special_);
  std::string rest = text.size() > emitted_.size() ? text.substr(emitted_.size()) : std::string();
  window_.clear();
  emitted_.clear();
  return rest;
}

}  // namespace r1::tokenizer
