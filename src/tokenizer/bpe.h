// Byte-pair-encoding model (Sennrich et al. 2016; GPT-2 byte-level variant) with HF tokenizers' options:
// unk_token + fuse_unk, byte_fallback (<0xXX> tokens), continuing_subword_prefix, end_of_word_suffix and
// ignore_merges (Llama-3: a piece that is itself a vocabulary entry is emitted whole). Merges apply by rank,
// lowest first, leftmost first on ties — HF's Word::merge_all — so ids equal HF's for every input.
// A sharded cache keeps the ids of recent pieces (thread-safe).
#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/components.h"

namespace r1::tokenizer {

// String-keyed maps that look up std::string_view without allocating (C++20 heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // vocab: token -> id (ids need not be contiguous); merges in rank order. r1::Error (prefixed by `where`)
  // for a merge whose parts or result are not in the vocabulary.
  BpeModel(std::unordered_map<std::string, int32_t> vocab, std::vector<std::pair<std::string, std::string>> merges,
           BpeOptions options, const std::string& where = "BPE model");

  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override;
  int32_t token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return id_to_token_.size(); }
  nlohmann::json to_json() const override;

  const StringMap<int32_t>& vocab() const { return vocab_; }
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  const BpeOptions& options() const { return options_; }

 private:
  void merge_word(std::string_view piece, std::vector<int32_t>& ids) const;

  StringMap<int32_t> vocab_;
  std::vector<std::string> id_to_token_;  // "" for ids without a token
  std::vector<bool> has_id_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_index_;  // (left id, right id) -> (rank, merged id)
  BpeOptions options_;
  std::optional<int32_t> unk_id_;

  static constexpr size_t kCacheShards = 16, kCacheCapacityPerShard = 8192, kMaxCachedPieceBytes = 256;
  struct CacheShard {
    std::mutex mutex;
    StringMap<std::vector<int32_t>> map;
  };
  mutable std::array<CacheShard, kCacheShards> cache_;
};

class WordPieceModel : public Model {
 public:
  WordPieceModel(std::unordered_map<std::string, int32_t> vocab, std::string unk_token,
                 std::string continuing_subword_prefix, size_t max_input_chars_per_word, const std::string& where);
  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override;
  int32_t token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return id_to_token_.size(); }
  nlohmann::json to_json() const override;

 private:
  StringMap<int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::string unk_token_, prefix_;
  int32_t unk_id_;
  size_t max_chars_;
};

}  // namespace r1::tokenizer
