// The BPE trainer: word counting (parallel over threads), then merges exactly as HF tokenizers' BpeTrainer
// (models/bpe/trainer.rs + word.rs) so that the same corpus and options give the same vocabulary and merges:
//   ids: special tokens, then the alphabet sorted by code point, then merges in order;
//   each step takes the pair with the highest count, ties to the smallest (left id, right id);
//   queue entries carry the word positions known when they were pushed and are re-queued when their
//   count is stale; a merged pair's own count is not decremented (HF's Word::merge reports only the
//   neighbouring pairs), so a pair can be merged again later for other words, and its rank is then its
//   last occurrence.
// Departures: counts are 64-bit (HF: i32, which overflows on very large corpora), and words are processed in
// sorted order so that ids created for continuing_subword_prefix / end_of_word_suffix forms are deterministic
// (HF iterates a HashMap). Data structures are flat: pairs are 64-bit keys, positions sorted vectors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace r1::tokenizer {

struct BpeTrainerOptions {
  size_t vocab_size = 30000;
  uint64_t min_frequency = 0;
  std::vector<std::string> special_tokens;  // ids 0..n-1
  std::optional<size_t> limit_alphabet;
  std::vector<std::string> initial_alphabet;  // characters always kept (e.g. the 256 byte-level characters)
  std::string continuing_subword_prefix;      // "##" for WordPiece-style training
  std::string end_of_word_suffix;
  std::optional<size_t> max_token_length;  // in characters
  bool show_progress = true;
};

struct BpeTrainingResult {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
};

// The merge loop on an explicit state, shared by training from characters and by vocabulary extension
// (continued training on top of an existing model's segmentation). Words are id sequences; id_to_word may
// have reserved ids (empty strings mark free ones below its size); new tokens take the lowest free id at or
// above next_id. Runs until done() or no pair is left; merges are appended as (pair key, new id).
struct BpeSymbol {
  uint32_t id;
  uint32_t len;  // characters
};
struct MergeState {
  std::vector<std::vector<BpeSymbol>> words;
  std::vector<uint64_t> counts;
  std::unordered_map<std::string, uint32_t> word_to_id;
  std::vector<std::string> id_to_word;
  std::vector<std::pair<uint64_t, uint32_t>> merges;
  size_t next_id = 0;
};
void run_merges(MergeState& state, const BpeTrainerOptions& options, const std::function<bool()>& done,
                size_t progress_total);

// The merges of a finished run as token strings, in rank order, each pair once (at its last rank).
std::vector<std::pair<std::string, std::string>> unique_merges(const MergeState& state);

BpeTrainingResult train_bpe_model(const std::unordered_map<std::string, uint64_t>& word_counts,
                                  const BpeTrainerOptions& options);

}  // namespace r1::tokenizer
