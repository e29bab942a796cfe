// `r1 data prepare` as a library call: inputs -> chunks -> (parallel) documents, cleaning filters and
// tokenization -> (in input order) dedup, train/validation split, shards -> manifest.json; plus
// tokenize_documents for evaluation text. Not here: the shard format (shards.cpp), the document rules and
// filters (documents.cpp). Reference behaviour: nanoGPT's data/openwebtext/prepare.py (encode_ordinary +
// EOT per document, uint16 token files, a seeded split) and the Gopher/C4 cleaning steps.
// Determinism: the output depends on the inputs, the options and the seed, never on --threads: workers
// parse, filter and tokenize chunks in any order, but results are committed in input order, and dedup (first
// occurrence kept) and the split (a keyed hash of the text) happen at commit.
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <regex>
#include <shared_mutex>
#include <tuple>
#include <unordered_set>

#include "common/progress.h"
#include "data/documents.h"
#include "data/hash.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "r1/tokenizer.h"

namespace r1::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kChunkBytes = size_t(1) << 20;
constexpr uint64_t kSplitStream = 0x73706c69742d6b65ull;

// Token ids of one document: the tokenizer's encoding (post-processor included) and EOS unless it already
// ends with it.
std::vector<int32_t> encode_document(const tokenizer::Tokenizer& tok, const std::string& text, int32_t eos) {
  std::vector<int32_t> ids = tok.encode(text, true);
  if (ids.empty() || ids.back() != eos) ids.push_back(eos);
  return ids;
}

int32_t require_eos(const tokenizer::Tokenizer& tok, const fs::path& where) {
  auto eos = tok.eos_id();
  if (!eos)
    fail(
        "{}: the tokenizer has no EOS token (set eos_token in tokenizer_config.json); documents need one between "
        "them",
        where.string());
  return *eos;
}

struct KeptDocument {
  uint64_t hash = 0;
  uint64_t text_bytes = 0;
  std::vector<int32_t> tokens;
};

struct ChunkResult {
  uint64_t read = 0, invalid = 0;
  std::map<std::string, uint64_t> removed;
  std::vector<KeptDocument> docs;
  uint64_t bytes = 0;
};

bool is_shard_name(const std::string& name) {
  static const std::regex pattern(R"((train|validation)-\d{5}\.bin)");
  return std::regex_match(name, pattern);
}

// One split's shards being written: closes a shard after the document that reaches shard_tokens.
class SplitWriter {
 public:
  SplitWriter(fs::path dir, std::string split, uint64_t shard_tokens, uint64_t vocab, int64_t eos, std::string hash)
      : dir_(std::move(dir)),
        split_(std::move(split)),
        shard_tokens_(shard_tokens),
        vocab_(vocab),
        eos_(eos),
        hash_(std::move(hash)) {}
  void add(const KeptDocument& doc) {
    if (!writer_)
      writer_ = std::make_unique<ShardWriter>(dir_ / fmt::format("{}-{:05d}.bin", split_, summary_.shards.size()),
                                              vocab_, eos_, hash_);
    writer_->add_document(doc.tokens, doc.text_bytes);
    summary_.documents += 1;
    summary_.tokens += doc.tokens.size();
    summary_.text_bytes += doc.text_bytes;
    if (writer_->tokens() >= shard_tokens_) close();
  }
  SplitSummary finish() {
    close();
    return summary_;
  }

 private:
  void close() {
    if (writer_ && writer_->documents() > 0) summary_.shards.push_back(writer_->finish());
    writer_.reset();
  }
  fs::path dir_;
  std::string split_;
  uint64_t shard_tokens_, vocab_;
  int64_t eos_;
  std::string hash_;
  std::unique_ptr<ShardWriter> writer_;
  SplitSummary summary_;
};

json split_json(const SplitSummary& s) {
  json shards = json::array();
  for (const ShardInfo& info : s.shards)
    shards.push_back({{"file", info.path.filename().string()},
                      {"tokens", info.tokens},
                      {"documents", info.documents},
                      {"text_bytes", info.text_bytes}});
  return {{"documents", s.documents}, {"tokens", s.tokens}, {"text_bytes", s.text_bytes}, {"shards", shards}};
}

}  // namespace

json PrepareSummary::to_json() const {
  return {{"format", "r1-token-shards"},
          {"version", kShardVersion},
          {"tokenizer_hash", tokenizer_hash},
          {"dtype", bytes_per_token == 2 ? "uint16" : "uint32"},
          {"documents_read", documents_read},
          {"removed", removed},
          {"invalid_rows", invalid_rows},
          {"documents", documents()},
          {"tokens", tokens()},
          {"tokens_per_document", documents() ? double(tokens()) / double(documents()) : 0.0},
          {"input_bytes", input_bytes},
          {"seconds", seconds},
          {"tokens_per_second", tokens_per_second()},
          {"splits", {{"train", split_json(train)}, {"validation", split_json(validation)}}}};
}

std::string PrepareSummary::format() const {
  std::string out = fmt::format("read {} documents ({}) in {:.2f} s: {} tokens/s, {}/s\n", documents_read,
                                format_bytes(input_bytes), seconds, format_count(int64_t(tokens_per_second())),
                                format_bytes(uint64_t(seconds > 0 ? double(input_bytes) / seconds : 0)));
  std::string removed_text;
  for (const std::string& name : filter_names())
    removed_text +=
        fmt::format("{}{} {}", removed_text.empty() ? "" : ", ", name, removed.count(name) ? removed.at(name) : 0);
  out += fmt::format("removed: {}{}\n", removed_text,
                     invalid_rows ? fmt::format("; skipped {} invalid rows", invalid_rows) : "");
  for (const auto& [name, s] :
       {std::pair<const char*, const SplitSummary&>{"train", train}, {"validation", validation}})
    out += fmt::format("{:<10} {:>9} documents {:>12} tokens ({:.1f} tokens/document) {:>10} text, {} shard(s)\n", name,
                       s.documents, s.tokens, s.documents ? double(s.tokens) / double(s.documents) : 0.0,
                       format_bytes(s.text_bytes), s.shards.size());
  out += fmt::format("tokens stored as {}, tokenizer {}\n", bytes_per_token == 2 ? "uint16" : "uint32", tokenizer_hash);
  return out;
}

PrepareSummary prepare_data(const PrepareOptions& o) {
  auto start = std::chrono::steady_clock::now();
  if (o.inputs.empty()) fail_usage("--input: at least one file or directory is required");
  if (o.out.empty()) fail_usage("--out: required");
  if (o.validation_fraction < 0 || o.validation_fraction > 1)
    fail_usage("--validation-fraction: expected a value in [0, 1], got {}", o.validation_fraction);
  if (o.shard_tokens == 0) fail_usage("--shard-tokens: must be positive");
  if (o.max_chars > 0 && o.max_chars < o.min_chars)
    fail_usage("--max-chars {} is below --min-chars {}", o.max_chars, o.min_chars);

  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(o.tokenizer);
  const int32_t eos = require_eos(tok, o.tokenizer);
  const std::string hash = tokenizer_hash(tok);
  const uint64_t vocab = tok.vocab_size();

  // The output: refuse to replace prepared data unless asked; never touch other files.
  if (fs::exists(o.out) && !fs::is_directory(o.out)) fail("--out {}: exists and is not a directory", o.out.string());
  fs::create_directories(o.out);
  std::vector<fs::path> previous;
  for (const auto& entry : fs::directory_iterator(o.out)) {
    std::string name = entry.path().filename().string();
    if (name == "manifest.json" || is_shard_name(name)) previous.push_back(entry.path());
  }
  if (!previous.empty() && !o.overwrite)
    fail("--out {}: already holds prepared data ({}); pass --overwrite to replace it", o.out.string(),
         previous.front().filename().string());
  if (fs::exists(o.out / "manifest.json")) fs::remove(o.out / "manifest.json");  // no manifest until complete

  const std::vector<fs::path> files = expand_inputs(o.inputs, o.out);
  uint64_t input_bytes = 0;
  for (const fs::path& f : files) input_bytes += fs::file_size(f);

  CleaningOptions cleaning{o.min_chars, o.max_chars, o.max_non_printable_ratio, o.max_repeated_line_ratio};
  ChunkReader reader(files, o.separator, o.chunk_bytes);
  SplitWriter train(o.out, "train", o.shard_tokens, vocab, eos, hash);
  SplitWriter validation(o.out, "validation", o.shard_tokens, vocab, eos, hash);

  PrepareSummary summary;
  for (const std::string& name : filter_names()) summary.removed[name] = 0;
  std::unordered_set<uint64_t> seen;  // dedup keys of committed documents
  std::shared_mutex seen_mutex;
  // --validation-documents N: the N smallest split keys so far (max-heap on (key, order)).
  struct Held {
    uint64_t key, order;
    KeptDocument doc;
    bool operator<(const Held& other) const { return std::tie(key, order) < std::tie(other.key, other.order); }
  };
  std::priority_queue<Held> held;
  uint64_t committed_docs = 0;

  auto commit = [&](ChunkResult& r) {
    summary.documents_read += r.read;
    summary.invalid_rows += r.invalid;
    for (const auto& [name, n] : r.removed) summary.removed[name] += n;
    for (KeptDocument& doc : r.docs) {
      if (o.dedup) {
        std::unique_lock lock(seen_mutex);
        if (!seen.insert(doc.hash).second) {
          ++summary.removed["duplicate"];
          continue;
        }
      }
      uint64_t key = mix64(o.seed, kSplitStream, doc.hash);
      if (o.validation_documents) {
        if (*o.validation_documents == 0) {
          train.add(doc);
        } else if (held.size() < *o.validation_documents) {
          held.push({key, committed_docs, std::move(doc)});
        } else if (key < held.top().key) {
          train.add(held.top().doc);
          held.pop();
          held.push({key, committed_docs, std::move(doc)});
        } else {
          train.add(doc);
        }
      } else {
        (unit_interval(key) < o.validation_fraction ? validation : train).add(doc);
      }
      ++committed_docs;
    }
  };

  // Workers: take the next chunk (in order), process it, commit results in chunk order.
  const size_t threads = resolve_threads(o.threads);
  const size_t max_in_flight = 2 * threads + 2;
  std::mutex mutex;  // guards the reader, the pending results, the commit and the error
  std::condition_variable cv;
  std::map<size_t, ChunkResult> pending;
  size_t next_commit = 0;
  bool reader_done = false;
  std::exception_ptr error;
  size_t error_chunk = SIZE_MAX;
  Progress progress("Preparing", input_bytes, o.show_progress);

  auto worker = [&] {
    Chunk chunk;
    while (true) {
      {
        std::unique_lock lock(mutex);
        if (error || reader_done) return;
        try {
          if (!reader.next(chunk)) {
            reader_done = true;
            cv.notify_all();
            return;
          }
        } catch (...) {
          error = std::current_exception();
          cv.notify_all();
          return;
        }
        // Bound memory: wait while this chunk is far ahead of the commit point.
        cv.wait(lock, [&] { return error || chunk.index < next_commit + max_in_flight; });
        if (error) return;
      }
      ChunkResult result;
      try {
        const fs::path& file = files[chunk.file];
        uint64_t empty = 0;
        std::vector<Document> docs = split_documents(chunk, file, is_jsonl_path(file), o.separator, o.field,
                                                     o.skip_invalid, &empty, &result.invalid);
        result.read = docs.size() + empty;
        result.removed["empty"] = empty;
        std::unordered_set<uint64_t> local;
        for (Document& d : docs) {
          if (auto why = rejected_by(d.text, cleaning)) {
            ++result.removed[*why];
            continue;
          }
          uint64_t h = fnv1a64(d.text);
          if (o.dedup) {
            std::shared_lock lock(seen_mutex);
            if (seen.count(h) || !local.insert(h).second) {  // a duplicate of something before it: no need to encode
              ++result.removed["duplicate"];
              continue;
            }
          }
          result.docs.push_back({h, d.text.size(), encode_document(tok, d.text, eos)});
        }
        result.bytes = chunk.text.size();
      } catch (...) {
        std::unique_lock lock(mutex);
        if (chunk.index < error_chunk) error = std::current_exception(), error_chunk = chunk.index;
        cv.notify_all();
        return;
      }
      std::unique_lock lock(mutex);
      pending.emplace(chunk.index, std::move(result));
      try {
        for (auto it = pending.find(next_commit); it != pending.end() && !error; it = pending.find(next_commit)) {
          commit(it->second);
          progress.add(it->second.bytes);
          pending.erase(it);
          ++next_commit;
        }
      } catch (...) {
        error = std::current_exception();
      }
      cv.notify_all();
    }
  };
  // Each of the `threads` items is one worker's loop; the loop keeps its own error (the earliest chunk's, so
  // the message does not depend on timing) and never throws.
  parallel_for(threads, int(threads), [&](size_t) { worker(); });
  if (error) std::rethrow_exception(error);
  if (!pending.empty()) fail("internal: {} chunks left uncommitted", pending.size());
  progress.finish();

  // Held validation documents in commit order.
  std::vector<Held> chosen;
  while (!held.empty()) chosen.push_back(std::move(const_cast<Held&>(held.top()))), held.pop();
  std::sort(chosen.begin(), chosen.end(), [](const Held& a, const Held& b) { return a.order < b.order; });
  for (const Held& h : chosen) validation.add(h.doc);

  summary.train = train.finish();
  summary.validation = validation.finish();
  if (summary.documents() == 0)
    fail("{}: no documents left after filtering ({} read); nothing written", o.inputs.front().string(),
         summary.documents_read);
  summary.input_bytes = input_bytes;
  summary.tokenizer_hash = hash;
  summary.bytes_per_token = vocab <= 65536 ? 2 : 4;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  json manifest = summary.to_json();
  manifest["tokenizer"] = o.tokenizer.string();
  manifest["vocab_size"] = vocab;
  manifest["eos_id"] = eos;
  json inputs = json::array();
  for (const fs::path& f : files) inputs.push_back(f.string());
  manifest["inputs"] = inputs;
  json options = {{"field", o.field},
                  {"document_separator", o.separator == DocumentSeparator::Line ? "line" : "blank-line"},
                  {"min_chars", o.min_chars},
                  {"max_chars", o.max_chars},
                  {"max_non_printable_ratio", o.max_non_printable_ratio},
                  {"max_repeated_line_ratio", o.max_repeated_line_ratio},
                  {"dedup", o.dedup},
                  {"skip_invalid", o.skip_invalid},
                  {"shard_tokens", o.shard_tokens},
                  {"seed", o.seed}};
  if (o.validation_documents)
    options["validation_documents"] = *o.validation_documents;
  else
    options["validation_fraction"] = o.validation_fraction;
  manifest["options"] = options;
  write_file_atomic(o.out / "manifest.json", manifest.dump(2) + "\n");

  // --overwrite: remove the previous run's shards that this run did not rewrite.
  std::unordered_set<std::string> written;
  for (const SplitSummary* s : {&summary.train, &summary.validation})
    for (const ShardInfo& info : s->shards) written.insert(info.path.filename().string());
  for (const fs::path& p : previous)
    if (p.filename() != "manifest.json" && !written.count(p.filename().string())) fs::remove(p);
  return summary;
}

TokenizedText tokenize_documents(const tokenizer::Tokenizer& tok, const fs::path& path, const std::string& field,
                                 bool skip_invalid, DocumentSeparator separator, int threads) {
  const int32_t eos = require_eos(tok, path);
  std::vector<fs::path> files = expand_inputs({path});
  ChunkReader reader(files, separator, kChunkBytes);
  TokenizedText out;
  Chunk chunk;
  while (reader.next(chunk)) {
    const fs::path& file = files[chunk.file];
    uint64_t empty = 0;
    std::vector<Document> docs =
        split_documents(chunk, file, is_jsonl_path(file), separator, field, skip_invalid, &empty, &out.skipped_invalid);
    std::vector<std::string> texts;
    texts.reserve(docs.size());
    for (Document& d : docs) {
      out.text_bytes += d.text.size();
      for (const char c : d.text) out.text_characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      texts.push_back(std::move(d.text));
    }
    for (auto& ids : tok.encode_batch(texts, true, threads)) {
      if (ids.empty() || ids.back() != eos) ids.push_back(eos);
      out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
    }
    out.documents += docs.size();
  }
  return out;
}

}  // namespace r1::data
