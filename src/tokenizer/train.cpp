// train_tokenizer(): builds the normalizer / pre-tokenizer / decoder of the chosen family, counts words over
// the inputs in parallel (each thread its own map, merged at the end), runs the BPE trainer and assembles
// the Tokenizer. WordPiece is trained as HF's WordPieceTrainer does: BPE with continuing_subword_prefix "##"
// whose vocabulary becomes the WordPiece vocabulary.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/progress.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "tokenizer/bpe-trainer.h"
#include "tokenizer/tokenizer-impl.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::shared_ptr<Tokenizer::Impl> make_pipeline(const TrainOptions& o) {
  auto impl = std::make_shared<Tokenizer::Impl>();
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  auto split = [](const char* pattern) {
    return json{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  if (o.model == "bpe") {
    if (o.pre_tokenizer == "gpt2") {
      json pre = byte_level;
      pre["use_regex"] = true;
      impl->pre_tokenizer = make_pre_tokenizer(pre, "pre_tokenizer");
    } else if (o.pre_tokenizer == "llama3" || o.pre_tokenizer == "qwen2") {
      bool qwen = o.pre_tokenizer == "qwen2";
      impl->pre_tokenizer = make_pre_tokenizer(
          {{"type", "Sequence"}, {"pretokenizers", {split(qwen ? kQwen2Pattern : kLlama3Pattern), byte_level}}},
          "pre_tokenizer");
      if (qwen) impl->normalizer = make_normalizer({{"type", "NFC"}}, "normalizer");
    } else {
      fail_usage("--pre-tokenizer: expected gpt2, llama3 or qwen2 for a BPE tokenizer, got '{}'", o.pre_tokenizer);
    }
    impl->decoder = make_decoder(byte_level, "decoder");
    impl->post_processor = make_post_processor(byte_level, "post_processor");
  } else if (o.model == "wordpiece") {
    if (o.pre_tokenizer != "bert" && o.pre_tokenizer != "llama3")  // llama3 is the CLI default: accept it as "unset"
      fail_usage("--pre-tokenizer: a WordPiece tokenizer uses 'bert', got '{}'", o.pre_tokenizer);
    impl->normalizer = make_normalizer({{"type", "BertNormalizer"},
                                        {"clean_text", true},
                                        {"handle_chinese_chars", true},
                                        {"strip_accents", nullptr},
                                        {"lowercase", o.lowercase}},
                                       "normalizer");
    impl->pre_tokenizer = make_pre_tokenizer({{"type", "BertPreTokenizer"}}, "pre_tokenizer");
    impl->decoder = make_decoder({{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}, "decoder");
  } else {
    fail_usage("--model: expected bpe or wordpiece, got '{}'", o.model);
  }
  return impl;
}

}  // namespace

std::vector<std::string_view> read_sequences(const std::vector<fs::path>& inputs, const std::string& field,
                                             std::vector<std::string>& buffers) {
  std::vector<std::string_view> seqs;
  buffers.reserve(inputs.size() * 2);
  for (const fs::path& path : inputs) {
    std::string ext = path.extension().string();
    buffers.push_back(read_file(path));
    std::string_view all = buffers.back();
    if (ext == ".jsonl" || ext == ".json") {
      std::string texts;
      std::vector<std::pair<size_t, size_t>> spans;
      size_t line_no = 0;
      for (size_t start = 0; start < all.size();) {
        size_t end = all.find('\n', start);
        if (end == std::string_view::npos) end = all.size();
        ++line_no;
        std::string_view line = all.substr(start, end - start);
        start = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        const json row = parse_json(line, fmt::format("{}:{}", path.string(), line_no));
        if (!row.is_object() || !row.contains(field) || !row[field].is_string())
          fail("{}:{}: no string field \"{}\" (choose one with --field)", path.string(), line_no, field);
        spans.emplace_back(texts.size(), row[field].get_ref<const std::string&>().size());
        texts += row[field].get_ref<const std::string&>();
      }
      buffers.push_back(std::move(texts));
      std::string_view t = buffers.back();
      for (auto [b, n] : spans) seqs.push_back(t.substr(b, n));
    } else {
      for (size_t start = 0; start < all.size();) {  // lines with their endings, as HF reads files
        size_t end = all.find('\n', start);
        end = end == std::string_view::npos ? all.size() : end + 1;
        seqs.push_back(all.substr(start, end - start));
        start = end;
      }
    }
  }
  return seqs;
}

// Per-worker maps, summed at the end: the totals do not depend on which worker counted which sequence, and
// train_bpe_model sorts the words, so the trained tokenizer does not depend on the thread count.
std::unordered_map<std::string, uint64_t> count_words(const Tokenizer::Impl& pipeline,
                                                      const std::vector<std::string_view>& seqs, int threads,
                                                      bool show_progress) {
  struct alignas(64) WorkerState {  // a cache line apart: no false sharing between workers
    std::unordered_map<std::string, uint64_t> counts;
    std::vector<std::string> pieces;
    uint64_t unreported = 0;  // sequences done but not yet added to the progress bar
  };
  std::vector<WorkerState> partial(std::max<size_t>(1, parallel_workers(seqs.size(), threads)));
  Progress progress("Counting words", seqs.size(), show_progress);
  parallel_for_workers(seqs.size(), threads, [&](size_t w, size_t i) {
    WorkerState& s = partial[w];
    s.pieces.clear();
    pre_tokenize_for_training(pipeline, seqs[i], s.pieces);
    for (auto& p : s.pieces) ++s.counts[std::move(p)];
    if (++s.unreported == 4096) progress.add(4096), s.unreported = 0;
  });
  progress.set(seqs.size());
  progress.finish();
  std::unordered_map<std::string, uint64_t> total = std::move(partial[0].counts);
  for (size_t w = 1; w < partial.size(); ++w)
    for (auto& [word, count] : partial[w].counts) total[word] += count;
  return total;
}

Tokenizer train_tokenizer(const std::vector<fs::path>& inputs, const TrainOptions& o) {
  if (inputs.empty()) fail_usage("no training files given");
  if (o.vocab_size == 0) fail_usage("--vocab-size must be positive");
  auto impl = make_pipeline(o);
  std::vector<std::string> buffers;
  auto seqs = read_sequences(inputs, o.text_field, buffers);
  auto counts = count_words(*impl, seqs, o.threads, o.show_progress);
  if (counts.empty()) {  // nothing to learn merges from: empty files, JSONL rows with empty text
    std::string names;
    for (const fs::path& p : inputs) names += (names.empty() ? "" : ", ") + p.string();
    fail("{}: no text to train on", names);
  }
  // Each special token once, as HF's added vocabulary keeps them (a repeated one would get two entries).
  std::vector<std::string> specials;
  for (const std::string& s : o.special_tokens) {
    if (s.empty()) fail_usage("--special-tokens: a special token is empty");
    if (std::find(specials.begin(), specials.end(), s) == specials.end()) specials.push_back(s);
  }

  BpeTrainerOptions t;
  t.vocab_size = o.vocab_size;
  t.min_frequency = o.min_frequency;
  t.special_tokens = specials;
  t.limit_alphabet = o.limit_alphabet;
  t.max_token_length = o.max_token_length;
  t.show_progress = o.show_progress;
  if (o.model == "bpe" && o.byte_alphabet)
    for (const auto& s : byte_to_unicode()) t.initial_alphabet.push_back(s);
  if (o.model == "wordpiece") {
    t.continuing_subword_prefix = "##";
    if (std::find(t.special_tokens.begin(), t.special_tokens.end(), "[UNK]") == t.special_tokens.end())
      fail_usage("a WordPiece tokenizer needs \"[UNK]\" among --special-tokens");
  }
  BpeTrainingResult r = train_bpe_model(counts, t);

  json model_json;
  if (o.model == "bpe") {
    json merges = json::array();
    for (const auto& [a, b] : r.merges) merges.push_back({a, b});
    model_json = {{"type", "BPE"}, {"vocab", r.vocab}, {"merges", merges}, {"ignore_merges", false}};
  } else {
    model_json = {{"type", "WordPiece"},
                  {"vocab", r.vocab},
                  {"unk_token", "[UNK]"},
                  {"continuing_subword_prefix", "##"},
                  {"max_input_chars_per_word", 100}};
  }
  impl->model = make_model(model_json, "trained model");
  for (const auto& s : specials) impl->added.push_back({s, r.vocab.at(s), true, false, false, false, false});
  if (o.model == "wordpiece") {
    auto id = [&](const char* tok) -> json {
      auto it = r.vocab.find(tok);
      return it == r.vocab.end() ? json(nullptr) : json(it->second);
    };
    if (!id("[CLS]").is_null() && !id("[SEP]").is_null())
      impl->post_processor = make_post_processor(
          {{"type", "BertProcessing"}, {"sep", {"[SEP]", id("[SEP]")}}, {"cls", {"[CLS]", id("[CLS]")}}},
          "post_processor");
    impl->config.unk_token = "[UNK]";
  }
  return make_tokenizer(std::move(impl));
}

}  // namespace r1::tokenizer
