// Tokenizer::Impl, shared by the facade (tokenizer.cpp), the trainers and vocabulary extension: the pipeline
// components of one tokenizer.json plus its added tokens and tokenizer_config.json. Internal to src/tokenizer.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "r1/tokenizer.h"
#include "tokenizer/components.h"

namespace r1::tokenizer {

struct Tokenizer::Impl {
  std::shared_ptr<const Normalizer> normalizer;
  std::shared_ptr<const PreTokenizer> pre_tokenizer;
  std::shared_ptr<const Model> model;
  std::shared_ptr<const PostProcessor> post_processor;
  std::shared_ptr<const Decoder> decoder;
  std::vector<AddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  std::unordered_map<std::string, size_t> added_by_content;
  std::array<std::vector<uint32_t>, 256> added_by_first_byte;  // indices into `added`, longest first
  nlohmann::json truncation, padding;  // kept as given; r1 truncates and pads in its data loaders
  TokenizerConfig config;
  nlohmann::json config_raw = nlohmann::json::object();  // tokenizer_config.json as read, updated on save
};

// Rebuilds the added-token lookups (by id, by content, by first byte) from `added`.
void index_added_tokens(Tokenizer::Impl& impl);

// Builds a Tokenizer from its parts (the trainers' output).
Tokenizer make_tokenizer(std::shared_ptr<Tokenizer::Impl> impl);

// Normalizes and pre-tokenizes one sequence as training sees it (no added-token splitting, as HF's
// train_from_files), appending the piece strings.
void pre_tokenize_for_training(const Tokenizer::Impl& impl, std::string_view text, std::vector<std::string>& out);

// Training input: text files give one sequence per line (line end kept, as HF's train_from_files), .jsonl /
// .json files one per row from `field`. Views point into `buffers`. Errors name file:line.
std::vector<std::string_view> read_sequences(const std::vector<std::filesystem::path>& inputs, const std::string& field,
                                             std::vector<std::string>& buffers);
// Counts pre-tokenized pieces over the sequences, in parallel over `threads` (0: hardware concurrency).
std::unordered_map<std::string, uint64_t> count_words(const Tokenizer::Impl& pipeline,
                                                      const std::vector<std::string_view>& seqs, int threads,
                                                      bool show_progress);

}  // namespace r1::tokenizer
