// The stages of a Hugging Face tokenizer pipeline, one abstract class each, as tokenizer.json describes them:
//   normalizer -> pre_tokenizer -> model -> post_processor      (encoding)
//   model ids -> tokens -> decoder                               (decoding)
// Each concrete component is built from its tokenizer.json object by a make_* factory and serialises back
// with to_json(), so a loaded tokenizer saves as the same file. Unknown component types are errors that
// name the type. Offsets are byte offsets into the text handed to encode().
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tokenizer {

// A piece of text on its way through pre-tokenization: its current bytes and the span of the original
// text it came from. (Normalization may make `text` differ from the original span.)
struct Piece {
  std::string text;
  size_t begin = 0, end = 0;
  bool exact = true;  // text is byte-for-byte original[begin, end): sub-spans map exactly
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
  virtual nlohmann::json to_json() const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (and may rewrite) pieces in place.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
  virtual nlohmann::json to_json() const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one pre-tokenized piece.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& ids) const = 0;
  virtual int32_t token_to_id(std::string_view token) const = 0;  // -1 if absent
  virtual const std::string* id_to_token(int32_t id) const = 0;   // nullptr if absent
  virtual size_t vocab_size() const = 0;                          // largest id + 1
  virtual nlohmann::json to_json() const = 0;
};

// A token id with the span of the input it covers (special tokens added by a post-processor: empty span).
struct Token {
  int32_t id = 0;
  size_t begin = 0, end = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Adds special tokens around one sequence (only when add_special_tokens).
  virtual void process(std::vector<Token>& tokens) const = 0;
  virtual nlohmann::json to_json() const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF's decode_chain: rewrites the token strings; the results are concatenated at the end.
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
  virtual nlohmann::json to_json() const = 0;
};

// Factories from tokenizer.json objects; `where` (e.g. "tokenizer.json: pre_tokenizer") prefixes errors.
// A null JSON value yields nullptr (the stage is absent).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Model> make_model(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);

// Shared by the Split pre-tokenizer and others: how a match is kept relative to its neighbours.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
SplitBehavior parse_split_behavior(const std::string& name, const std::string& where);
std::string split_behavior_name(SplitBehavior behavior);
// Splits one piece at the given match spans (relative to piece.text) according to behavior; when the
// piece's text is a rewrite of its original span, sub-pieces inherit the whole original span.
void split_piece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out);

}  // namespace r1::tokenizer
