// Pretraining data: token shards (mmap-able binary files written by `r1 data prepare`), the packed mixture
// loader the trainer draws batches from, sequential evaluation windows, and document-level tokenization.
// Not here: SFT / preference / prompt datasets (they build on src/common/jsonl.h), the training loop.
// Reference behaviour: nanoGPT / llm.c token files (one flat token stream, EOS between documents, windows of
// seq_len+1 tokens packed across document boundaries) and GPT-3's weighted mixture of sources (each batch
// row picks a source by weight; a small source is repeated for more epochs than a large one).
// Torch-free: callers copy the int64 tokens into tensors themselves.
//
// Usage:
//   r1::data::PrepareOptions prepare;  // r1 data prepare
//   prepare.tokenizer = "models/tok"; prepare.inputs = {"corpus.jsonl"}; prepare.out = "data/corpus";
//   r1::data::PrepareSummary summary = r1::data::prepare_data(prepare);
//   r1::data::PackedLoader loader({.sources = {{"corpus", r1::data::list_shards("data/corpus", "train")}}});
//   std::vector<int64_t> batch(8 * (loader.seq_len() + 1));
//   loader.next(8, batch.data());  // 8 rows of seq_len + 1 tokens; loader.state() saves the position
//   r1::data::SftExample example = r1::data::sft_example(tokenizer, &chat_template, row, {}, "train.jsonl:1");
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::tokenizer {
class Tokenizer;
class ChatTemplate;
}  // namespace r1::tokenizer

namespace r1::data {

// ---- Shards ---------------------------------------------------------------------------------------------------------
// File layout (little-endian): a 128-byte header, then `tokens` ids of `bytes_per_token` bytes each.
//   0 magic "R1TOKENS" | 8 u32 version (1) | 12 u32 bytes_per_token (2: uint16, vocab < 65536; 4: uint32)
//  16 u64 tokens | 24 u64 documents | 32 u64 text_bytes (UTF-8 bytes of the documents, EOS excluded)
//  40 u64 vocab_size | 48 i64 eos_id (-1: none) | 56 char[64] tokenizer hash (ASCII, zero-padded) | 120 u64 0
constexpr char kShardMagic[8] = {'R', '1', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr uint32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 128;

struct ShardInfo {
  std::filesystem::path path;
  int bytes_per_token = 2;
  uint64_t tokens = 0, documents = 0, text_bytes = 0;
  std::string tokenizer_hash;
  uint64_t vocab_size = 0;
  int64_t eos_id = -1;
};

// A stable hash of a tokenizer (FNV-1a 64 of its canonical tokenizer.json text, "fnv1a64:<16 hex>"): two
// shards, or a shard and a model directory, were made with the same tokenizer iff their hashes are equal.
std::string tokenizer_hash(const tokenizer::Tokenizer& tokenizer);

// Read-only mmap view of one shard; validates the header on open (r1::Error naming the file: bad magic,
// unsupported version or token width, truncated file, token count that disagrees with the file size).
class TokenShard {
 public:
  static TokenShard open(const std::filesystem::path& path);
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;
  ~TokenShard();

  const ShardInfo& info() const { return info_; }
  uint64_t size() const { return info_.tokens; }  // tokens
  // Tokens [offset, offset+count) widened to int64; r1::Error naming the file if out of range.
  void read(uint64_t offset, size_t count, int64_t* out) const;

 private:
  TokenShard() = default;
  ShardInfo info_;
  const uint8_t* map_ = nullptr;  // the whole file, header included; nullptr for an empty mapping
  size_t map_bytes_ = 0;
};

// Writes one shard atomically (temp file + rename) when finish() is called; tokens are held in memory
// until then (--shard-tokens bounds it). Ids must be < vocab_size.
class ShardWriter {
 public:
  ShardWriter(std::filesystem::path path, uint64_t vocab_size, int64_t eos_id, std::string tokenizer_hash);
  void add_document(const std::vector<int32_t>& tokens, uint64_t text_bytes);
  uint64_t tokens() const { return tokens_; }
  uint64_t documents() const { return documents_; }
  ShardInfo finish();  // writes the file; the writer is empty afterwards

 private:
  std::filesystem::path path_;
  uint64_t vocab_size_;
  int64_t eos_id_;
  std::string tokenizer_hash_;
  int bytes_per_token_;
  std::vector<uint8_t> payload_;
  uint64_t tokens_ = 0, documents_ = 0, text_bytes_ = 0;
};

// The shards of one split: a prepared directory (OUT of `r1 data prepare`: its manifest.json lists them, or
// else <split>-NNNNN.bin in name order) or a single .bin file (returned as is, whatever the split).
// r1::Error if there are none.
std::vector<std::filesystem::path> list_shards(const std::filesystem::path& dir_or_file, const std::string& split);

// ---- Packed mixture loader ------------------------------------------------------------------------------------------
// Each source is the concatenation of its shards: N tokens and W = (N-1)/seq_len windows, window i covering
// tokens [i*seq_len, i*seq_len+seq_len+1) (neighbours share one token, so every token after the first is a
// target exactly once per epoch; the last N-1-W*seq_len tokens, fewer than seq_len, are not used). A source
// visits its windows in a seeded pseudo-random permutation per epoch (a keyed Feistel bijection of (seed,
// source, epoch): O(1) memory for any W). Each batch row picks its source by weight from a counter-based
// stream (seed, row number). So the position is (rows drawn, per-source epoch and cursor): exactly saveable.
struct MixtureSource {
  std::string name;
  std::vector<std::filesystem::path> shards;
  double weight = 1.0;
};
struct LoaderOptions {
  std::vector<MixtureSource> sources;
  int64_t seq_len = 256;
  uint64_t seed = 42;
};
struct SourceReport {
  std::string name;
  uint64_t tokens = 0, windows = 0;
  double share = 0, effective_epochs = 0;  // share of rows; planned target tokens / (windows * seq_len)
};

class PackedLoader {
 public:
  // Opens every shard; r1::Error if sources disagree on the tokenizer hash, a weight is not positive, or a
  // source has fewer than seq_len+1 tokens.
  explicit PackedLoader(LoaderOptions options);
  ~PackedLoader();
  PackedLoader(PackedLoader&&) noexcept;
  PackedLoader& operator=(PackedLoader&&) noexcept;

  void next(int64_t rows, int64_t* out);         // fills rows x (seq_len+1) int64, row-major
  nlohmann::json state() const;                  // exact position (per-source epoch + cursor, row counter)
  void load_state(const nlohmann::json& state);  // r1::Error if it does not match these options/sources
  std::vector<SourceReport> report(uint64_t planned_tokens) const;
  std::string format_report(uint64_t planned_tokens) const;  // the table the trainer prints at start
  std::string tokenizer_hash() const;
  uint64_t text_bytes() const;
  uint64_t tokens() const;  // totals over all sources
  int64_t seq_len() const;
  uint64_t vocab_size() const;  // the shards' vocabulary size (largest over shards)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sequential evaluation windows over the concatenated shards (validation loss / perplexity / bits per byte):
// window i = tokens [i*seq_len, min(i*seq_len+seq_len+1, N)); the last partial window is included, so every
// token after the first is a target exactly once. Bits per byte = sum of target NLL (nats) / ln 2 / text_bytes.
class EvalWindows {
 public:
  EvalWindows(std::vector<std::filesystem::path> shards, int64_t seq_len);
  ~EvalWindows();
  EvalWindows(EvalWindows&&) noexcept;
  EvalWindows& operator=(EvalWindows&&) noexcept;
  size_t size() const;                          // number of windows
  std::vector<int64_t> window(size_t i) const;  // up to seq_len+1 tokens
  uint64_t tokens() const;
  uint64_t text_bytes() const;
  std::string tokenizer_hash() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Documents and preparation --------------------------------------------------------------------------------------
// Document rules (shared by prepare_data and tokenize_documents):
//  - .jsonl / .json: one JSON object per line, the document is its string field `field` (blank lines are
//    ignored; a malformed row or a missing / non-string field is an r1::Error naming file:line, or with
//    skip_invalid is skipped and counted);
//  - any other file is plain text: one document per line (the line ending is not part of it), or with
//    DocumentSeparator::BlankLine one document per block of lines separated by blank lines;
//  - a directory stands for its .txt, .text, .md, .jsonl and .json files (recursively, in name order);
//  - whitespace-only documents are dropped (counted as "empty").
// Each document is encoded with the tokenizer's post-processor (as HF run_clm: BOS if it adds one) and
// followed by the tokenizer's EOS (not doubled if the post-processor already ends with it).
enum class DocumentSeparator { Line, BlankLine };

struct TokenizedText {
  std::vector<int64_t> tokens;
  uint64_t text_bytes = 0;       // UTF-8 bytes of the documents' text
  uint64_t text_characters = 0;  // Unicode code points of the same text (bits per character)
  uint64_t documents = 0;
  uint64_t skipped_invalid = 0;
};
TokenizedText tokenize_documents(const tokenizer::Tokenizer& tokenizer, const std::filesystem::path& text_or_jsonl,
                                 const std::string& field, bool skip_invalid,
                                 DocumentSeparator separator = DocumentSeparator::Line, int threads = 0);

struct PrepareOptions {
  std::filesystem::path tokenizer;  // tokenizer.json or a directory holding one (+ tokenizer_config.json)
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path out;
  std::string field = "text";
  DocumentSeparator separator = DocumentSeparator::Line;
  // Validation split, by a keyed hash of the document text (independent of file order and threads): a
  // document goes to validation if hash < fraction * 2^64, or, with validation_documents, the N documents
  // with the smallest hashes (held in memory until the end).
  double validation_fraction = 0.005;
  std::optional<uint64_t> validation_documents;
  // Cleaning filters, applied in this order; a removed document is counted by the first filter that fires.
  uint64_t min_chars = 0;                // code points; 0 = no minimum
  uint64_t max_chars = 0;                // 0 = no maximum
  double max_non_printable_ratio = 0.1;  // control characters, U+FFFD and invalid UTF-8 bytes / code points
  double max_repeated_line_ratio = 0.3;  // non-blank lines equal to an earlier line / non-blank lines (Gopher)
  bool dedup = true;                     // exact duplicates (64-bit hash of the text): the first one is kept
  bool skip_invalid = false;
  uint64_t shard_tokens = 100'000'000;
  bool overwrite = false;
  int threads = 0;  // 0 = one per usable physical core
  uint64_t seed = 42;
  bool show_progress = true;
  size_t chunk_bytes = size_t(1) << 20;  // unit of parallel work (files are cut at document ends)
};

struct SplitSummary {
  uint64_t documents = 0, tokens = 0, text_bytes = 0;
  std::vector<ShardInfo> shards;
};
struct PrepareSummary {
  uint64_t documents_read = 0;              // documents found in the inputs (before filtering)
  std::map<std::string, uint64_t> removed;  // filter name -> documents it removed ("empty", "min_chars", ...)
  uint64_t invalid_rows = 0;                // malformed JSONL rows skipped (skip_invalid)
  SplitSummary train, validation;
  uint64_t input_bytes = 0;
  double seconds = 0;
  std::string tokenizer_hash;
  int bytes_per_token = 2;
  uint64_t documents() const { return train.documents + validation.documents; }
  uint64_t tokens() const { return train.tokens + validation.tokens; }
  double tokens_per_second() const { return seconds > 0 ? double(tokens()) / seconds : 0.0; }
  nlohmann::json to_json() const;  // what manifest.json holds (without the options)
  std::string format() const;      // the human-readable summary the CLI prints
};

// Reads, cleans, splits and tokenizes the inputs into OUT/{train,validation}-NNNNN.bin and OUT/manifest.json
// (written last). Refuses (r1::Error) if OUT already holds a manifest or shards, unless overwrite; with
// overwrite, only the shards named by the previous manifest (or matching the shard names) are replaced.
PrepareSummary prepare_data(const PrepareOptions& options);

// "100M", "1.5B", "20k", "5000" -> count (powers of 1000). r1::UsageError naming `option` otherwise.
uint64_t parse_count(const std::string& text, const std::string& option);

// ---- Fine-tuning examples (TRL dataset formats) ---------------------------------------------------------------------
// One JSONL row of an SFT dataset, tokenized with its loss mask, as TRL's SFTTrainer prepares it. Formats:
//   {"text": ...}                          language modelling: all tokens are targets; EOS appended
//   {"prompt": ..., "completion": ...}      strings, or message lists (rendered with the chat template);
//                                          completion_only_loss (default on) masks the prompt tokens
//   {"messages": [...]}                    a conversation through the chat template; assistant_only_loss
//                                          keeps only assistant tokens (tokenizer.h encode_chat's mask)
//   {"instruction", "input", "output"}     Alpaca / BELLE: prompt = instruction, plus "\n\n" + input when input
//                                          is not empty; completion = output; as user/assistant messages when a
//                                          chat template is given, else as prompt/completion strings
// Departures from TRL: 1. string prompt and completion are tokenized separately and concatenated (TRL
// tokenizes their concatenation and assumes the prompt's tokens are a prefix); so the boundary is exact.
// The first token is never a target (nothing predicts it).
struct SftFormatOptions {
  std::optional<bool> completion_only_loss;  // unset: true (TRL's default None = on for prompt/completion)
  bool assistant_only_loss = false;          // messages only: train on assistant tokens
  int64_t max_length = 1024;                 // keep the first max_length tokens (0: no limit)
};
struct SftExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // 1: the token is a target
  bool truncated = false;
};
// `where` ("file:line") prefixes every error (missing or mistyped columns, a message list without a template).
SftExample sft_example(const tokenizer::Tokenizer& tokenizer, const tokenizer::ChatTemplate* chat_template,
                       const nlohmann::json& row, const SftFormatOptions& options, const std::string& where);

// One preference pair as TRL's DPOTrainer tokenizes it: prompt (BOS if the tokenizer adds one; a message list
// rendered with the generation prompt), chosen and rejected continuations each ending with EOS (message lists:
// the rendered conversation minus the rendered prompt). Rows without "prompt" whose chosen/rejected are
// conversations take their shared leading messages as the prompt (TRL's implicit prompt). Truncation as TRL:
// the prompt keeps its last max_prompt_length tokens, then each continuation keeps its first
// max_length - prompt tokens (0: no limit).
struct PreferenceExample {
  std::vector<int32_t> prompt, chosen, rejected;
  bool truncated = false;
};
PreferenceExample preference_example(const tokenizer::Tokenizer& tokenizer,
                                     const tokenizer::ChatTemplate* chat_template, const nlohmann::json& row,
                                     int64_t max_prompt_length, int64_t max_length, const std::string& where);

// Best-fit decreasing bin packing (TRL's "bfd" packing strategy): sequences taken longest first, each into the
// fullest bin it still fits (a new bin when none); lengths must be <= capacity. Returns the bins as indices
// into `lengths`; deterministic (ties broken by index).
std::vector<std::vector<size_t>> pack_best_fit_decreasing(const std::vector<size_t>& lengths, size_t capacity);

// ---- Quality filters and language identification (r1 data filter) --------------------------------------------------
// The document-level heuristics of the pretraining literature as datatrove implements them (its parameter names
// and defaults; src/data/quality-filter.cpp lists the departures), applied in FineWeb's order, a document
// dropped by the first rule that fires:
//   language           CLD2 language identification: the best requested language's score must exceed its
//                      threshold (LanguageFilter)
//   gopher-repetition  duplicate lines / paragraphs (count and character fractions), top 2-4-gram and duplicated
//                      5-10-gram character fractions (GopherRepetitionFilter; Gopher, Rae et al. 2021, table A1)
//   gopher-quality     word count, mean word length, '#' and ellipsis per word, bullet and ellipsis lines,
//                      words with a letter, stop words (GopherQualityFilter)
//   c4                 drops lines (no terminal punctuation, < 3 words, a word over 1000 characters, javascript,
//                      cookie/terms-of-use phrases; citations removed) and documents (lorem ipsum, '{', < 5
//                      sentences) — the kept text is the kept lines (C4QualityFilter; Raffel et al. 2020)
//   fineweb            lines ending in terminal punctuation, short lines, duplicated-line characters, newlines
//                      per word (FineWebQualityFilter; Penedo et al. 2024)
// Words: the text split at white space, punctuation and symbols split off each word's ends (as NLTK's word
// tokenizer, which datatrove uses for English, does), and every Han / kana character a word of its own.

// Language identification with Google's CLD2 (libcld2: 80+ languages, tables compiled in). A language's score is
// the share (0..1) of the text's letters CLD2 assigns to it among its top three, and 0 for every language when
// CLD2 calls the text unreliable (too short or too mixed).
struct LanguageGuess {
  std::string language = "un";                             // the best language's code (en, zh, zh-Hant, ja, ...)
  double score = 0;                                        // its score
  std::vector<std::pair<std::string, double>> candidates;  // up to three (code, score), best first
  bool reliable = false;
};
LanguageGuess identify_language(std::string_view text);
// The score of `language` (a code CLD2 knows: "en", "zh", "zh-Hant", "fr", "de", "ja", ...); "zh" also counts
// "zh-Hant" (Chinese in either script).
double language_score(const LanguageGuess& guess, const std::string& language);
// The code as CLD2 spells it ("EN" -> "en", "he" -> "iw", "nb" -> "no"); r1::UsageError naming `option` if CLD2
// does not know it.
std::string canonical_language(const std::string& language, const std::string& option);
std::string language_identifier_version();  // "CLD2 V2.0 - 20141016"

struct QualityFilterOptions {
  // Filters to run, in this order; any subset of language, gopher-repetition, gopher-quality, c4, fineweb.
  std::vector<std::string> filters = {"language", "gopher-repetition", "gopher-quality", "c4", "fineweb"};
  // language (LanguageFilter): keep when a requested language scores above its threshold; with no languages,
  // when the best language does.
  std::vector<std::string> languages;
  double language_threshold = 0.65;
  std::map<std::string, double> language_thresholds;  // per-language overrides (canonical codes)
  // gopher-repetition (0 turns a fraction off; an empty n-gram list turns those rules off)
  double dup_line_frac = 0.3, dup_para_frac = 0.3, dup_line_char_frac = 0.2, dup_para_char_frac = 0.2;
  std::vector<std::pair<int, double>> top_n_grams = {{2, 0.2}, {3, 0.18}, {4, 0.16}};
  std::vector<std::pair<int, double>> dup_n_grams = {{5, 0.15}, {6, 0.14}, {7, 0.13}, {8, 0.12}, {9, 0.11}, {10, 0.10}};
  // gopher-quality (0 turns a rule off)
  int64_t min_doc_words = 50, max_doc_words = 100000;
  double min_avg_word_length = 3, max_avg_word_length = 10;
  double max_symbol_word_ratio = 0.1, max_bullet_lines_ratio = 0.9, max_ellipsis_lines_ratio = 0.3;
  double max_non_alpha_words_ratio = 0.8;  // the minimum share of words with a letter (datatrove's name)
  int64_t min_stop_words = 2;
  std::vector<std::string> stop_words = {"the", "be", "to", "of", "and", "that", "have", "with"};
  // c4 (-1 turns a number off)
  bool split_paragraph = true;  // lines; false: sentences
  bool remove_citations = true, filter_no_terminal_punct = true;
  int64_t min_num_sentences = 5, min_words_per_line = 3, max_word_length = 1000;
  bool filter_lorem_ipsum = true, filter_javascript = true, filter_curly_bracket = true, filter_policy = true;
  // fineweb
  double line_punct_thr = 0.12;
  bool line_punct_exclude_zero = false;
  double short_line_thr = 0.67;
  int64_t short_line_length = 30;
  double char_duplicates_ratio = 0.01, new_line_ratio = 0.3;
};
// r1::UsageError for an unknown filter or language, a threshold outside its range, an n-gram size < 1.
void validate(const QualityFilterOptions& options);

// Why a document was dropped: the rule (datatrove's reason name: gopher_short_doc, dup_line_frac, top_2_gram,
// too_few_sentences, line_punct_ratio, language, ...), its filter, what was measured and the threshold it failed.
struct FilterVerdict {
  bool keep = true;
  std::string filter, rule;
  std::string measure;    // "words", "mean word length", "duplicate lines / lines", ...
  std::string parameter;  // the option: min_doc_words, dup_line_frac, ...
  double value = 0, threshold = 0;
  std::string comparison;  // how value failed threshold: "<", ">", "<=", ">=", "contains"
  std::string text;        // the kept text (the c4 filter drops lines); empty when dropped
  bool modified = false;   // text differs from the input
  std::string language;    // when the language filter ran: the best language and its score
  double language_score = 0;
  std::string explain() const;  // "gopher_short_doc: words 12 < min_doc_words 50"
};
// Counters a filter keeps besides verdicts (datatrove's stat_update): c4's dropped lines by reason.
struct FilterStats {
  std::map<std::string, uint64_t> lines_removed;  // c4: too_long_word, no_terminal_punct, too_few_words, ...
};
FilterVerdict filter_document(std::string_view text, const QualityFilterOptions& options, FilterStats* stats = nullptr);

// The measures the rules use, each as datatrove computes it (exposed for tests and explanations).
std::vector<std::string> split_words(std::string_view text);  // the word rule above
std::vector<std::string> split_sentences(std::string_view text);

// `r1 data filter`: documents from text / JSONL files (the document rules of prepare_data) -> the kept ones, in
// input order. Output format by file name: .jsonl / .json: JSONL (a JSONL input row as read, with `field`
// rewritten only when the c4 filter changed the text; a text document as {field: text}); otherwise plain text,
// one document per line or per blank-line-separated block (`separator`).
struct FilterRunOptions {
  QualityFilterOptions filters;
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path output;
  std::filesystem::path rejected;  // non-empty: the dropped documents, in the same formats
  std::filesystem::path explain;   // non-empty: why each was dropped ("-": stdout); .jsonl: one JSON object each
  std::string field = "text";
  DocumentSeparator separator = DocumentSeparator::Line;
  bool skip_invalid = false;
  bool overwrite = false;  // replace an existing output (else r1::Error)
  int threads = 0;
  bool show_progress = true;
};
struct FilterSummary {
  uint64_t documents_read = 0, kept = 0, modified = 0, invalid_rows = 0, empty = 0;
  std::vector<std::pair<std::string, uint64_t>> dropped;  // rule -> documents, in the order rules run
  FilterStats stats;
  uint64_t input_bytes = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
  std::string format() const;  // the table the CLI prints
};
FilterSummary filter_files(const FilterRunOptions& options);

// ---- Near-duplicate removal and benchmark decontamination (r1 data dedup / decontaminate) ---------------------------
// Both read the inputs as `r1 data prepare` does (the document rules above) and write one output file in the
// inputs' format. Exact duplicates are `data prepare`'s (its --no-dedup); this is the near-duplicate step.
//
// dedup: MinHash-LSH (datasketch / text-dedup) with the Jaccard of candidate pairs verified exactly, so no
// removed document is below `threshold` with the one that linked it. Documents are shingled by the rule of
// src/data/minhash.h (NFKC, lower case, punctuation dropped, word or character n-grams). Verified pairs join
// clusters (union-find); each cluster keeps its first document in input order. Three streaming passes over
// the inputs: signatures -> LSH buckets; exact verification of candidate pairs (shingle sets held only for
// documents that still have an unverified partner later on); writing the kept documents. Memory: per document
// its location and band keys, plus the buckets with two or more members; never the texts.
//
// Usage:
//   r1::data::NearDedupOptions dedup;                      // r1 data dedup
//   dedup.inputs = {"raw.jsonl"}; dedup.output = "dedup.jsonl"; dedup.report = "removed.jsonl";
//   r1::data::NearDedupSummary d = r1::data::near_dedup(dedup);  // d.removed, d.clusters, d.format()
//   r1::data::DecontaminateOptions clean;                  // r1 data decontaminate
//   clean.inputs = {"dedup.jsonl"}; clean.output = "clean.jsonl";
//   auto s = r1::data::decontaminate(clean, {r1::data::read_benchmark_column("aime.jsonl", "problem", "aime")});
enum class ShingleKind {
  Auto,  // word n-grams; every CJK ideograph and kana is a word of its own (so CJK text gets character n-grams)
  Word,  // word n-grams (a run of CJK characters is one word)
  Char,  // character n-grams of the normalised words joined by single spaces
};
ShingleKind parse_shingle_kind(const std::string& name);  // auto | word | char; r1::UsageError naming --shingle

// datasketch's MinHashLSH._optimal_param: the (bands, rows) with bands * rows <= num_perm minimising
// fp_weight * integral_0^t P(s) ds + fn_weight * integral_t^1 (1 - P(s)) ds, P(s) = 1 - (1 - s^rows)^bands the
// probability that a pair of Jaccard s becomes a candidate (the integrals by Simpson's rule; the first
// minimum in (bands, rows) order wins, as in datasketch). t = 0.7, 128 permutations -> 14 bands of 9 rows.
struct LshParams {
  int bands = 0, rows = 0;
};
LshParams optimal_lsh_params(double threshold, int num_perm, double false_positive_weight = 0.5,
                             double false_negative_weight = 0.5);

struct NearDedupOptions {
  std::vector<std::filesystem::path> inputs;  // files or directories (all JSONL, or all plain text)
  std::filesystem::path output;               // the kept documents: JSONL rows unchanged, or text documents
  std::filesystem::path report;               // optional JSONL: one line per removed document
  std::string field = "text";
  DocumentSeparator separator = DocumentSeparator::Line;
  ShingleKind shingle = ShingleKind::Auto;
  int ngram = 5;
  int num_perm = 128;
  double threshold = 0.7;
  int bands = 0, rows = 0;  // both set: used as given (bands * rows <= num_perm); else optimal_lsh_params
  bool skip_invalid = false;
  bool overwrite = false;
  int threads = 0;
  uint64_t seed = 42;
  bool show_progress = true;
  size_t chunk_bytes = size_t(1) << 20;
};

struct NearDedupSummary {
  uint64_t documents = 0;         // documents read (after empty and invalid rows)
  uint64_t empty = 0;             // whitespace-only documents, dropped as `data prepare` drops them
  uint64_t invalid_rows = 0;      // malformed JSONL rows skipped (skip_invalid)
  uint64_t without_shingles = 0;  // documents with no word character: never compared, kept
  uint64_t candidate_pairs = 0;   // pairs sharing a band whose Jaccard was computed
  uint64_t duplicate_pairs = 0;   // of those, pairs at or above the threshold
  uint64_t clusters = 0;          // clusters of two or more documents
  uint64_t removed = 0;
  LshParams lsh;
  uint64_t input_bytes = 0;
  double seconds = 0;
  uint64_t kept() const { return documents - removed; }
  std::string format() const;  // what the CLI prints
};

// r1::Error for unreadable inputs, a malformed row (file:line) or an existing output without overwrite;
// r1::UsageError for inconsistent options.
NearDedupSummary near_dedup(const NearDedupOptions& options);

// decontaminate: open-r1's scripts/decontaminate.py (after s1's decontaminate_util.py). Text is normalised as
// open-r1 does (Python's str.lower(), then split on whitespace); a training row is contaminated by a benchmark
// when one of its word n-grams (" ".join of `ngram` consecutive words) is an n-gram of one of the benchmark's
// problems. Texts with fewer than `ngram` words have no n-grams and are never contaminated.
struct Benchmark {
  std::string name;  // the flag column is contaminated_<name>
  std::filesystem::path path;
  std::vector<std::string> problems;
  std::vector<size_t> lines;  // 1-based line of each problem in `path` (0: unknown)
};
// The benchmark texts of a JSONL file's `field` column: r1::Error naming file:line for a malformed row or a
// row without a string `field`.
Benchmark read_benchmark_column(const std::filesystem::path& path, const std::string& field, std::string name);

enum class ContaminationMode {
  Drop,  // write the rows no benchmark contaminates (open-r1 --cleanup)
  Flag,  // write every row with a boolean column contaminated_<benchmark> per benchmark (JSONL only)
};

struct DecontaminateOptions {
  std::vector<std::filesystem::path> inputs;  // JSONL files (or plain text, one row per line: drop mode only)
  std::filesystem::path output;
  std::filesystem::path report;   // optional JSONL: one line per contaminated row (benchmarks, n-gram, problem)
  std::string field = "problem";  // open-r1's --problem_column
  int ngram = 8;                  // open-r1's --ngram_size
  ContaminationMode mode = ContaminationMode::Drop;
  bool skip_invalid = false;  // skip (and count) malformed rows and rows without the field instead of failing
  bool overwrite = false;
  int threads = 0;
  bool show_progress = true;
  size_t chunk_bytes = size_t(1) << 20;
};

struct BenchmarkContamination {
  std::string name;
  uint64_t problems = 0, ngrams = 0;         // the benchmark's problems and distinct n-grams
  uint64_t rows = 0;                         // training rows it contaminates
  std::string example_ngram;                 // the first matched n-gram (input order) and where it was found
  std::string example_row, example_problem;  // "file:line" of the training row and the benchmark problem
};

struct DecontaminateSummary {
  uint64_t rows = 0;          // training rows read
  uint64_t contaminated = 0;  // rows contaminated by at least one benchmark
  uint64_t written = 0;
  uint64_t invalid_rows = 0;
  std::vector<BenchmarkContamination> benchmarks;
  uint64_t input_bytes = 0;
  double seconds = 0;
  std::string format() const;  // what the CLI prints
};

// r1::Error for unreadable inputs, a malformed row or missing field (file:line) unless skip_invalid, or an
// existing output without overwrite; r1::UsageError for flag mode on text input, ngram < 1, duplicate
// benchmark names or no benchmarks.
DecontaminateSummary decontaminate(const DecontaminateOptions& options, const std::vector<Benchmark>& benchmarks);

}  // namespace r1::data
