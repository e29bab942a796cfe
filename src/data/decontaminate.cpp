// `r1 data decontaminate` as a library call: open-r1's scripts/decontaminate.py (after s1's
// decontaminate_util.py, Muennighoff et al. 2025). Each benchmark problem is normalised as open-r1's
// normalize_string does (Python's str.lower(), whitespace runs collapsed) and its word n-grams (" ".join of n
// consecutive words) go into one lookup; a training row is contaminated by a benchmark when one of its own
// n-grams is in that benchmark's n-grams. Rows are written unchanged (drop mode: the uncontaminated ones), or
// all of them with open-r1's columns contaminated_<benchmark> added (flag mode).
// Not here: reading the eval task formats (the CLI hands the benchmark problems over; src/eval/tasks.cpp).
// Departures: 1. n-grams are looked up by a 64-bit hash of their words, and each hit is confirmed by comparing
// the words themselves, so the result equals open-r1's string lookup.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "common/jsonl.h"
#include "common/progress.h"
#include "data/documents.h"
#include "data/hash.h"
#include "data/ordered-chunks.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "tokenizer/unicode.h"

namespace r1::data {
namespace fs = std::filesystem;

namespace {

// Python's str.isspace(): Unicode White_Space plus the separators U+001C..U+001F.
bool is_py_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1C && cp <= 0x1F);
  return tokenizer::is_whitespace(cp);
}

// open-r1's normalize_string(text).split(): the lower-cased text's whitespace-separated words, as views into
// `lowered` (which receives the lower-cased text), into `words`.
void words_of(std::string_view text, std::string& lowered, std::vector<std::string_view>& words) {
  words.clear();
  // ASCII (the common case) in one pass: lower-case, split; any other byte restarts on the Unicode path.
  lowered.resize(text.size());
  char* out = lowered.data();
  size_t word_start = 0;
  bool in_word = false, ascii = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    out[i] = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    const bool space = is_py_space(c);
    if (space && in_word) words.emplace_back(out + word_start, i - word_start);
    if (!space && !in_word) word_start = i;
    in_word = !space;
  }
  if (ascii) {
    if (in_word) words.emplace_back(out + word_start, text.size() - word_start);
    return;
  }
  words.clear();
  lowered = tokenizer::to_lower_unicode(text);
  const std::string_view s = lowered;
  word_start = std::string_view::npos;
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const char32_t cp = tokenizer::next_code_point(s, pos);
    if (cp != tokenizer::kInvalidCodePoint && is_py_space(cp)) {
      if (word_start != std::string_view::npos) words.push_back(s.substr(word_start, start - word_start));
      word_start = std::string_view::npos;
    } else if (word_start == std::string_view::npos) {
      word_start = start;
    }
  }
  if (word_start != std::string_view::npos) words.push_back(s.substr(word_start));
}

// The hash of each n-gram words[i, i+n), i = 0 .. size-n, into `out`.
void word_ngram_hashes(const std::vector<std::string_view>& words, size_t n, std::vector<uint64_t>& out) {
  thread_local std::vector<uint64_t> word_hashes;
  word_hashes.resize(words.size());
  for (size_t i = 0; i < words.size(); ++i) word_hashes[i] = fnv1a64(words[i]);
  ngram_hashes(word_hashes.data(), word_hashes.size(), n, out);
}

std::string join_words(const std::vector<std::string_view>& words, size_t begin, size_t n) {
  std::string out;
  for (size_t k = 0; k < n; ++k) {
    if (k) out += ' ';
    out.append(words[begin + k]);
  }
  return out;
}

// Every benchmark's n-grams in one table: hash -> the first occurrence in each benchmark that has it. Built
// with a hash map, then frozen into an open-addressing table (linear probing, at most half full) that the
// training rows probe once per n-gram.
class NgramIndex {
 public:
  struct Occurrence {
    uint32_t benchmark, problem, word;
  };

  NgramIndex(const std::vector<Benchmark>& benchmarks, size_t n) : n_(n) {
    words_.resize(benchmarks.size());
    lowered_.resize(benchmarks.size());
    std::unordered_map<uint64_t, std::vector<Occurrence>> table;
    std::vector<uint64_t> hashes;
    for (size_t b = 0; b < benchmarks.size(); ++b) {
      const Benchmark& bench = benchmarks[b];
      words_[b].resize(bench.problems.size());
      lowered_[b].resize(bench.problems.size());
      for (size_t p = 0; p < bench.problems.size(); ++p) {
        words_of(bench.problems[p], lowered_[b][p], words_[b][p]);
        word_ngram_hashes(words_[b][p], n, hashes);
        for (size_t i = 0; i < hashes.size(); ++i) {
          std::vector<Occurrence>& list = table[hashes[i]];
          bool seen = false;  // this benchmark already has an occurrence with these words
          for (const Occurrence& o : list) seen |= o.benchmark == b && same(words_[b][p], i, o);
          if (!seen) list.push_back({uint32_t(b), uint32_t(p), uint32_t(i)});
        }
      }
    }
    ngrams_.assign(benchmarks.size(), 0);
    size_t capacity = 16;
    while (capacity < 2 * table.size()) capacity *= 2;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{});
    for (const auto& [hash, list] : table) {
      size_t i = hash & mask_;
      while (slots_[i].count) i = (i + 1) & mask_;
      slots_[i] = {hash, uint32_t(occurrences_.size()), uint32_t(list.size())};
      occurrences_.insert(occurrences_.end(), list.begin(), list.end());
      for (const Occurrence& o : list) ++ngrams_[o.benchmark];
    }
  }
  NgramIndex(const NgramIndex&) = delete;  // words_ points into lowered_
  NgramIndex& operator=(const NgramIndex&) = delete;

  // Calls fn for the occurrences whose words equal words[begin, begin+n).
  template <typename Fn>
  void find(uint64_t hash, const std::vector<std::string_view>& words, size_t begin, Fn&& fn) const {
    for (size_t i = hash & mask_; slots_[i].count; i = (i + 1) & mask_) {
      if (slots_[i].hash != hash) continue;
      for (uint32_t k = 0; k < slots_[i].count; ++k) {
        const Occurrence& o = occurrences_[slots_[i].first + k];
        if (same(words, begin, o)) fn(o);
      }
      return;
    }
  }
  uint64_t ngrams(size_t benchmark) const { return ngrams_[benchmark]; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t first = 0, count = 0;  // count 0: a free slot
  };
  bool same(const std::vector<std::string_view>& words, size_t begin, const Occurrence& o) const {
    const auto& theirs = words_[o.benchmark][o.problem];
    for (size_t k = 0; k < n_; ++k)
      if (words[begin + k] != theirs[o.word + k]) return false;
    return true;
  }
  size_t n_;
  std::vector<std::vector<std::string>> lowered_;  // the benchmarks' lower-cased problems (words_ points here)
  std::vector<std::vector<std::vector<std::string_view>>> words_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::vector<Occurrence> occurrences_;
  std::vector<uint64_t> ngrams_;
};

struct Match {
  bool hit = false;
  std::string ngram;
  uint32_t problem = 0;
};

struct ChunkOutput {
  std::string text;    // the lines to write
  std::string report;  // report lines
  uint64_t rows = 0, contaminated = 0, invalid = 0;
  std::vector<uint64_t> hits;            // per benchmark: rows it contaminates
  std::vector<std::string> example;      // per benchmark: the first matched n-gram in this chunk
  std::vector<std::string> example_row;  // and its row, "file:line"
  std::vector<uint32_t> example_problem;
};

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos; }

// "file:line" of a benchmark problem, or "file#index" when its line is unknown.
std::string problem_place(const Benchmark& b, uint32_t problem) {
  if (problem < b.lines.size() && b.lines[problem]) return fmt::format("{}:{}", b.path.string(), b.lines[problem]);
  return fmt::format("{}#{}", b.path.string(), problem);
}

}  // namespace

Benchmark read_benchmark_column(const fs::path& path, const std::string& field, std::string name) {
  Benchmark b;
  b.name = std::move(name);
  b.path = path;
  require_regular_file(path);
  for_each_jsonl_row(
      path,
      [&](const nlohmann::json& row, size_t line) {
        auto it = row.is_object() ? row.find(field) : row.end();
        if (!row.is_object() || it == row.end() || !it->is_string())
          fail("{}:{}: no string field \"{}\" (choose the benchmark's problem column with --benchmark-field)",
               path.string(), line, field);
        b.problems.push_back(it->get<std::string>());
        b.lines.push_back(line);
      },
      false);
  if (b.problems.empty()) fail("{}: no rows", path.string());
  return b;
}

std::string DecontaminateSummary::format() const {
  std::string out = fmt::format("checked {} rows ({}) in {:.2f} s against {} benchmark(s): {} contaminated, wrote {}",
                                rows, format_bytes(input_bytes), seconds, benchmarks.size(), contaminated, written);
  if (invalid_rows) out += fmt::format(" (skipped {} invalid rows)", invalid_rows);
  out += "\n";
  size_t width = 9;
  for (const BenchmarkContamination& b : benchmarks) width = std::max(width, b.name.size());
  out += fmt::format("{:<{}} {:>8} {:>9} {:>6}  example\n", "benchmark", width, "problems", "n-grams", "rows");
  for (const BenchmarkContamination& b : benchmarks) {
    std::string example =
        b.rows ? fmt::format("\"{}\" ({} ~ {})", b.example_ngram, b.example_row, b.example_problem) : "-";
    out += fmt::format("{:<{}} {:>8} {:>9} {:>6}  {}\n", b.name, width, b.problems, b.ngrams, b.rows, example);
  }
  return out;
}

namespace {

// Checks the rows of one chunk against every benchmark and builds what the chunk adds to the outputs.
class ChunkChecker {
 public:
  ChunkChecker(const DecontaminateOptions& o, const std::vector<Benchmark>& benchmarks, const NgramIndex& index)
      : o_(o), benchmarks_(benchmarks), index_(index) {
    for (const Benchmark& b : benchmarks) flag_columns_.push_back("contaminated_" + b.name);
  }

  // JSONL: each non-blank line is a row (the text is its `field`); plain text: each line is a row.
  ChunkOutput check(const Chunk& chunk, const fs::path& file) const {
    const size_t nb = benchmarks_.size();
    ChunkOutput out;
    out.hits.assign(nb, 0);
    out.example.assign(nb, {});
    out.example_row.assign(nb, {});
    out.example_problem.assign(nb, 0);
    const bool jsonl = is_jsonl_path(file);
    std::string_view all = chunk.text;
    std::vector<Match> matches(nb);
    size_t line = chunk.first_line;
    for (size_t pos = 0; pos < all.size(); ++line) {
      const size_t nl = all.find('\n', pos);
      const size_t end = nl == std::string_view::npos ? all.size() : nl;
      const std::string_view raw = strip_cr(all.substr(pos, end - pos));
      pos = end + 1;
      if (jsonl && is_blank(raw)) continue;
      ++out.rows;
      nlohmann::ordered_json row;
      std::string_view text = raw;
      if (jsonl) {
        const std::string* field = parse_row(raw, row, file, line);
        if (!field) {
          ++out.invalid;
          continue;
        }
        text = *field;
      }
      const size_t found = match(text, matches);
      if (found) record(out, matches, fmt::format("{}:{}", file.string(), line));
      if (o_.mode == ContaminationMode::Flag) {
        for (size_t b = 0; b < nb; ++b) row[flag_columns_[b]] = matches[b].hit;
        out.text += row.dump();
        out.text += '\n';
      } else if (!found) {
        out.text.append(raw);
        out.text += '\n';
      }
    }
    return out;
  }

 private:
  // The row's `field`, or nullptr for a row skipped as invalid (r1::Error naming file:line without skip_invalid).
  const std::string* parse_row(std::string_view raw, nlohmann::ordered_json& row, const fs::path& file,
                               size_t line) const {
    std::string error;
    if (!parse_json_bounded(raw, row, &error)) {
      if (!o_.skip_invalid) fail("{}:{}: not valid JSON ({})", file.string(), line, error);
      return nullptr;
    }
    auto it = row.is_object() ? row.find(o_.field) : row.end();
    if (it == row.end() || !it->is_string()) {
      if (!o_.skip_invalid)
        fail("{}:{}: no string field \"{}\" (choose the problem column with --field)", file.string(), line, o_.field);
      return nullptr;
    }
    return &it->get_ref<const std::string&>();
  }

  // Sets matches[b] for every benchmark b that shares an n-gram with `text` (the first such n-gram); returns
  // how many benchmarks do.
  size_t match(std::string_view text, std::vector<Match>& matches) const {
    thread_local std::string lowered;
    thread_local std::vector<std::string_view> words;
    thread_local std::vector<uint64_t> hashes;
    const size_t n = size_t(o_.ngram);
    words_of(text, lowered, words);
    word_ngram_hashes(words, n, hashes);
    std::fill(matches.begin(), matches.end(), Match{});
    size_t found = 0;
    for (size_t i = 0; i < hashes.size() && found < matches.size(); ++i)
      index_.find(hashes[i], words, i, [&](const NgramIndex::Occurrence& occ) {
        Match& m = matches[occ.benchmark];
        if (m.hit) return;
        m = {true, join_words(words, i, n), occ.problem};
        ++found;
      });
    return found;
  }

  // Counts a contaminated row per benchmark, keeps the chunk's first example of each, adds its report line.
  void record(ChunkOutput& out, const std::vector<Match>& matches, const std::string& where) const {
    ++out.contaminated;
    nlohmann::ordered_json report = {{"row", where}, {"benchmarks", nlohmann::ordered_json::array()}};
    for (size_t b = 0; b < matches.size(); ++b) {
      if (!matches[b].hit) continue;
      ++out.hits[b];
      if (out.example[b].empty())
        out.example[b] = matches[b].ngram, out.example_row[b] = where, out.example_problem[b] = matches[b].problem;
      report["benchmarks"].push_back(
          nlohmann::ordered_json{{"benchmark", benchmarks_[b].name},
                                 {"ngram", matches[b].ngram},
                                 {"problem", problem_place(benchmarks_[b], matches[b].problem)}});
    }
    if (!o_.report.empty()) out.report += report.dump() + "\n";
  }

  const DecontaminateOptions& o_;
  const std::vector<Benchmark>& benchmarks_;
  const NgramIndex& index_;
  std::vector<std::string> flag_columns_;
};

}  // namespace

DecontaminateSummary decontaminate(const DecontaminateOptions& o, const std::vector<Benchmark>& benchmarks) {
  const auto start = std::chrono::steady_clock::now();
  if (o.inputs.empty()) fail_usage("--input: at least one file or directory is required");
  if (o.output.empty()) fail_usage("--output: required");
  if (o.ngram < 1) fail_usage("--ngram: must be at least 1, got {}", o.ngram);
  if (benchmarks.empty()) fail_usage("--benchmark: at least one benchmark file is required");
  std::set<std::string> names;
  for (const Benchmark& b : benchmarks)
    if (!names.insert(b.name).second)
      fail_usage("--benchmark: two benchmarks are named '{}' (name them with NAME=FILE)", b.name);

  const std::vector<fs::path> files = expand_inputs(o.inputs);
  for (const fs::path& f : files)
    if (!is_jsonl_path(f) && o.mode == ContaminationMode::Flag)
      fail_usage("--mode flag adds columns to JSONL rows; {} is plain text (use --mode drop)", f.string());
  for (const fs::path* out : {&o.output, &o.report}) {
    if (out->empty() || !fs::exists(*out)) continue;
    for (const fs::path& f : files)
      if (fs::equivalent(f, *out)) fail("{}: is also an input; write to another file", out->string());
    if (!o.overwrite) fail("{}: exists; pass --overwrite to replace it", out->string());
  }

  const NgramIndex index(benchmarks, size_t(o.ngram));
  const ChunkChecker checker(o, benchmarks, index);
  DecontaminateSummary summary;
  for (const fs::path& f : files) summary.input_bytes += fs::file_size(f);
  for (size_t b = 0; b < benchmarks.size(); ++b)
    summary.benchmarks.push_back({benchmarks[b].name, benchmarks[b].problems.size(), index.ngrams(b), 0, {}, {}, {}});

  Progress progress("decontaminate", summary.input_bytes, o.show_progress);
  AtomicFile output(o.output);
  std::unique_ptr<AtomicFile> report;
  if (!o.report.empty()) report = std::make_unique<AtomicFile>(o.report);
  ChunkReader reader(files, DocumentSeparator::Line, o.chunk_bytes);
  map_chunks_in_order(
      reader, o.threads, [&](const Chunk& chunk) { return checker.check(chunk, files[chunk.file]); },
      [&](const Chunk& chunk, ChunkOutput& out) {
        output.write(out.text);
        if (report) report->write(out.report);
        summary.rows += out.rows;
        summary.contaminated += out.contaminated;
        summary.invalid_rows += out.invalid;
        summary.written += out.rows - out.invalid - (o.mode == ContaminationMode::Flag ? 0 : out.contaminated);
        for (size_t b = 0; b < benchmarks.size(); ++b) {
          BenchmarkContamination& c = summary.benchmarks[b];
          c.rows += out.hits[b];
          if (c.example_ngram.empty() && !out.example[b].empty()) {
            c.example_ngram = out.example[b];
            c.example_row = out.example_row[b];
            c.example_problem = problem_place(benchmarks[b], out.example_problem[b]);
          }
        }
        progress.add(chunk.text.size());
      });
  output.commit();
  if (report) report->commit();
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace r1::data
