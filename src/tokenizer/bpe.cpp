// BPE and WordPiece models and the model factory; see bpe.h. The BPE merge loop is HF's: a min-heap of
// (rank, position) over adjacent symbol pairs in a linked list, stale entries skipped when popped.
// WordPiece: greedy longest-match-first with "##" continuations; a word with any unmatched remainder, or
// longer than max_input_chars_per_word, becomes the single [UNK] (BERT's WordpieceTokenizer).
#include "tokenizer/bpe.h"
#include "r1/io.h"

#include <nlohmann/json.hpp>
#include <queue>

#include "r1/error.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
using nlohmann::json;

namespace {
uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

void index_vocab(const StringMap<int32_t>& vocab, std::vector<std::string>& by_id, std::vector<bool>& has,
                 const std::string& where) {
  int32_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    if (id < 0) fail("{}: token '{}' has negative id {}", where, tok, id);
    max_id = std::max(max_id, id);
  }
  by_id.assign(size_t(max_id + 1), std::string());
  has.assign(size_t(max_id + 1), false);
  for (const auto& [tok, id] : vocab) {
    if (has[id]) fail("{}: id {} is given to both '{}' and '{}'", where, id, by_id[id], tok);
    by_id[id] = tok;
    has[id] = true;
  }
}
}  // namespace

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab,
                   std::vector<std::pair<std::string, std::string>> merges, BpeOptions options,
                   const std::string& where)
    : vocab_(vocab.begin(), vocab.end()), merges_(std::move(merges)), options_(std::move(options)) {
  index_vocab(vocab_, id_to_token_, has_id_, where);
  if (options_.unk_token) {
    auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end()) fail("{}: unk_token '{}' is not in the vocabulary", where, *options_.unk_token);
    unk_id_ = it->second;
  }
  const std::string& prefix = options_.continuing_subword_prefix;
  merge_index_.reserve(merges_.size());
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto& [a, b] = merges_[rank];
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end())
      fail("{}: merge {} ('{}' '{}') uses a token missing from the vocabulary", where, rank, a, b);
    std::string merged = a + (!prefix.empty() && b.rfind(prefix, 0) == 0 ? b.substr(prefix.size()) : b);
    auto im = vocab_.find(merged);
    if (im == vocab_.end())
      fail("{}: merge {} ('{}' '{}') produces '{}', which is not in the vocabulary", where, rank, a, b, merged);
    merge_index_.emplace(pair_key(ia->second, ib->second), std::make_pair(int32_t(rank), im->second));
  }
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  return id >= 0 && size_t(id) < id_to_token_.size() && has_id_[id] ? &id_to_token_[id] : nullptr;
}

void BpeModel::tokenize(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (options_.ignore_merges) {
    auto it = vocab_.find(piece);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  CacheShard& shard = cache_[std::hash<std::string_view>{}(piece) % kCacheShards];
  if (cacheable) {
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(piece);
    if (it != shard.map.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t first = ids.size();
  merge_word(piece, ids);
  if (cacheable) {
    std::lock_guard lock(shard.mutex);
    if (shard.map.size() < kCacheCapacityPerShard)
      shard.map.emplace(std::string(piece), std::vector<int32_t>(ids.begin() + first, ids.end()));
  }
}

void BpeModel::merge_word(std::string_view piece, std::vector<int32_t>& ids) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  size_t pos = 0;
  bool previous_unk = false;
  const bool plain = options_.continuing_subword_prefix.empty() && options_.end_of_word_suffix.empty();
  while (pos < piece.size()) {
    size_t start = pos;
    next_code_point(piece, pos);
    auto it = vocab_.end();
    if (plain) {  // byte-level models: the character itself, no allocation
      it = vocab_.find(piece.substr(start, pos - start));
    } else {
      std::string token;
      if (start > 0) token += options_.continuing_subword_prefix;
      token.append(piece.substr(start, pos - start));
      if (pos == piece.size()) token += options_.end_of_word_suffix;
      it = vocab_.find(token);
    }
    if (it != vocab_.end()) {
      symbols.push_back({it->second, 0, 0, true});
      previous_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (size_t k = start; k < pos; ++k) {
        auto b = vocab_.find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(piece[k])));
        if (b == vocab_.end()) break;
        bytes.push_back(b->second);
      }
      if (bytes.size() == pos - start) {
        for (int32_t b : bytes) symbols.push_back({b, 0, 0, true});
        previous_unk = false;
        continue;
      }
    }
    if (unk_id_) {
      if (!(options_.fuse_unk && previous_unk)) symbols.push_back({*unk_id_, 0, 0, true});
      previous_unk = true;
    }
  }
  const int32_t n = int32_t(symbols.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  // (rank, left position): std::greater makes it a min-heap, so equal ranks pop leftmost first.
  using Entry = std::pair<int32_t, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    auto it = merge_index_.find(pair_key(symbols[left].id, symbols[symbols[left].next].id));
    if (it != merge_index_.end()) heap.emplace(it->second.first, left);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!heap.empty()) {
    auto [rank, left] = heap.top();
    heap.pop();
    Symbol& a = symbols[left];
    if (!a.alive || a.next < 0) continue;
    auto it = merge_index_.find(pair_key(a.id, symbols[a.next].id));
    if (it == merge_index_.end() || it->second.first != rank) continue;  // stale entry
    Symbol& b = symbols[a.next];
    a.id = it->second.second;
    b.alive = false;
    a.next = b.next;
    if (b.next >= 0) symbols[b.next].prev = left;
    push_pair(a.prev);
    push_pair(left);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) ids.push_back(symbols[i].id);
}

json BpeModel::to_json() const {
  json merges = json::array();
  for (const auto& [a, b] : merges_) merges.push_back({a, b});
  auto opt_string = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", options_.unk_token ? json(*options_.unk_token) : json(nullptr)},
          {"continuing_subword_prefix", opt_string(options_.continuing_subword_prefix)},
          {"end_of_word_suffix", opt_string(options_.end_of_word_suffix)},
          {"fuse_unk", options_.fuse_unk},
          {"byte_fallback", options_.byte_fallback},
          {"ignore_merges", options_.ignore_merges},
          {"vocab", vocab_},
          {"merges", merges}};
}

WordPieceModel::WordPieceModel(std::unordered_map<std::string, int32_t> vocab, std::string unk_token,
                               std::string prefix, size_t max_chars, const std::string& where)
    : vocab_(vocab.begin(), vocab.end()),
      unk_token_(std::move(unk_token)),
      prefix_(std::move(prefix)),
      max_chars_(max_chars) {
  index_vocab(vocab_, id_to_token_, has_id_, where);
  auto it = vocab_.find(unk_token_);
  if (it == vocab_.end()) fail("{}: unk_token '{}' is not in the vocabulary", where, unk_token_);
  unk_id_ = it->second;
}

void WordPieceModel::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  std::vector<size_t> bounds;  // byte offsets of code point starts, plus the end
  for (size_t pos = 0; pos < word.size();) {
    bounds.push_back(pos);
    next_code_point(word, pos);
  }
  bounds.push_back(word.size());
  if (bounds.size() - 1 > max_chars_) {
    ids.push_back(unk_id_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;  // index into bounds
  while (start + 1 < bounds.size()) {
    int32_t found = -1;
    size_t end = bounds.size() - 1;
    for (; end > start; --end) {
      std::string sub =
          (start > 0 ? prefix_ : std::string()) + std::string(word.substr(bounds[start], bounds[end] - bounds[start]));
      auto it = vocab_.find(sub);
      if (it != vocab_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      ids.push_back(unk_id_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

int32_t WordPieceModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* WordPieceModel::id_to_token(int32_t id) const {
  return id >= 0 && size_t(id) < id_to_token_.size() && has_id_[id] ? &id_to_token_[id] : nullptr;
}

json WordPieceModel::to_json() const {
  return {{"type", "WordPiece"},
          {"unk_token", unk_token_},
          {"continuing_subword_prefix", prefix_},
          {"max_input_chars_per_word", max_chars_},
          {"vocab", vocab_}};
}

// The model's "vocab" (token -> id), each id checked before it is narrowed to 32 bits (2^40 wrapped to another
// token's id); r1::Error naming the token otherwise.
std::unordered_map<std::string, int32_t> read_vocab(const json& j, const std::string& where) {
  const json& vocab_json = j.at("vocab");
  if (!vocab_json.is_object()) fail("{}: \"vocab\" must be an object of token -> id", where);
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id] : vocab_json.items()) {  // checked before narrowing: 2^40 wrapped to another id
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= int64_t(INT32_MAX) ||
        (id.is_number_unsigned() && id.get<uint64_t>() >= uint64_t(INT32_MAX)))
      fail("{}: vocab: token '{}' has id {}, not an integer in [0, {})", where, token, id.dump(), INT32_MAX);
    vocab.emplace(token, int32_t(id.get<int64_t>()));
  }
  return vocab;
}

std::unique_ptr<Model> make_model(const json& j, const std::string& where) {
  std::string type = j.value("type", "");
  if (type.empty() && j.contains("merges")) type = "BPE";  // old files omit the type
  try {
    std::unordered_map<std::string, int32_t> vocab;
    if (type == "BPE" || type == "WordPiece") vocab = read_vocab(j, where);
    if (type == "BPE") {
      if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() > 0)
        fail("{}: BPE dropout is not supported (set \"dropout\": null)", where);
      BpeOptions o;
      auto str = [&](const char* key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
      };
      if (j.contains("unk_token") && j["unk_token"].is_string()) o.unk_token = j["unk_token"].get<std::string>();
      o.continuing_subword_prefix = str("continuing_subword_prefix");
      o.end_of_word_suffix = str("end_of_word_suffix");
      o.fuse_unk = j.value("fuse_unk", false);
      o.byte_fallback = j.value("byte_fallback", false);
      o.ignore_merges = j.value("ignore_merges", false);
      std::vector<std::pair<std::string, std::string>> merges;
      for (const json& m : j.at("merges")) {
        if (m.is_array() && m.size() == 2) {
          merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else if (m.is_string()) {  // legacy "a b" form
          std::string s = m.get<std::string>();
          size_t space = s.find(' ', 1);
          if (space == std::string::npos) fail("{}: merge '{}' is not two space-separated tokens", where, s);
          merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else {
          fail("{}: merge {} must be [\"a\", \"b\"] or \"a b\"", where, m.dump());
        }
      }
      return std::make_unique<BpeModel>(std::move(vocab), std::move(merges), std::move(o), where);
    }
    if (type == "WordPiece")
      return std::make_unique<WordPieceModel>(std::move(vocab), j.value("unk_token", "[UNK]"),
                                              j.value("continuing_subword_prefix", "##"),
                                              j.value("max_input_chars_per_word", size_t(100)), where);
  } catch (const json::exception& e) {
    fail("{}: malformed {} model: {}", where, type, json_error_text(e));
  }
  fail("{}: model type '{}' is not supported (supported: BPE, WordPiece)", where, type);
}

}  // namespace r1::tokenizer
