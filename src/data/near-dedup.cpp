// `r1 data dedup` as a library call: near-duplicate removal with MinHash-LSH, the Jaccard of every candidate
// pair verified exactly, clusters by union-find, the first document of a cluster (input order) kept.
// Three streaming passes over the inputs (the documents of include/r1/data.h, read by documents.cpp):
//  1. signatures: each document's shingle set -> MinHash -> one key per band (parallel over chunks);
//     then, per band, documents sorted by key: runs of two or more are the LSH buckets;
//  2. verification, in input order: document j against the earlier members of its buckets, skipping those
//     already in j's cluster; a shingle set is held from its document until its last bucket-mate is passed;
//  3. output: the kept documents (JSONL rows byte for byte, text documents as read) and the report.
// Not here: shingling, signatures and the band/row choice (minhash.cpp); exact duplicates (prepare.cpp).
// Reference behaviour: text-dedup's minhash.py (bands -> clusters -> keep the cluster's first document), with
// datasketch's band/row choice. Departures: 1. candidate pairs are verified (text-dedup trusts the buckets),
// so a document is removed only through pairs whose exact Jaccard reaches the threshold.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "common/jsonl.h"
#include "common/progress.h"
#include "data/documents.h"
#include "data/minhash.h"
#include "data/ordered-chunks.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"

namespace r1::data {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kNoDocument = UINT32_MAX;

// Where a document starts; documents are numbered 0, 1, ... in input order.
struct DocumentPlace {
  uint64_t line = 0;
  uint32_t file = 0;
  bool shingled = false;  // has at least one shingle (else never compared)
};

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos; }

// The raw text of the documents of `chunk` that start at `lines` (ascending; found there by split_documents in
// pass 1): the row's line for JSONL and line documents, the block up to the next blank line for blank-line
// documents (what split_documents returns as the document's text). Views into chunk.text.
std::vector<std::string_view> locate_documents(const Chunk& chunk, bool blank_line_blocks, const uint64_t* lines,
                                               size_t count, const fs::path& file) {
  std::vector<std::string_view> out;
  out.reserve(count);
  std::string_view all = chunk.text;
  size_t line = chunk.first_line, pos = 0;
  auto next_line = [&](std::string_view& text) {
    if (pos >= all.size()) return false;
    size_t nl = all.find('\n', pos);
    size_t end = nl == std::string_view::npos ? all.size() : nl;
    text = strip_cr(all.substr(pos, end - pos));
    pos = end + 1;
    return true;
  };
  std::string_view text;
  for (size_t d = 0; d < count; ++d) {
    while (line < lines[d]) {
      if (!next_line(text)) fail("{}: changed while it was read (line {} is gone)", file.string(), lines[d]);
      ++line;
    }
    if (!next_line(text)) fail("{}: changed while it was read (line {} is gone)", file.string(), lines[d]);
    ++line;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    if (blank_line_blocks) {
      std::string_view more;
      size_t save_pos = pos;
      while (next_line(more) && !is_blank(more)) {
        end = more.data() + more.size();
        ++line;
        save_pos = pos;
      }
      pos = save_pos;  // the blank line (or the end) is read again by the next document's walk
    }
    out.emplace_back(begin, size_t(end - begin));
  }
  return out;
}

// The document text of a raw JSONL row: its string `field`.
std::string row_field(std::string_view row, const std::string& field, const fs::path& file, uint64_t line) {
  nlohmann::json j = parse_jsonl_line(row, file.string(), line);
  if (!j.is_object() || !j.contains(field) || !j[field].is_string())
    fail("{}:{}: changed while it was read (no string field \"{}\" any more)", file.string(), line, field);
  return j[field].get<std::string>();
}

class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) {
    for (size_t i = 0; i < n; ++i) parent_[i] = uint32_t(i);
  }
  uint32_t find(uint32_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void unite(uint32_t a, uint32_t b) {  // the smaller root (the earlier document) becomes the root
    a = find(a), b = find(b);
    if (a < b)
      parent_[b] = a;
    else if (b < a)
      parent_[a] = b;
  }

 private:
  std::vector<uint32_t> parent_;
};

struct Buckets {
  std::vector<uint32_t> members;  // bucket b's documents, ascending: members[offsets[b], offsets[b+1])
  std::vector<uint64_t> offsets{0};
  std::vector<std::pair<uint32_t, uint32_t>> of_document;  // (document, bucket), sorted
};

// Per band: documents sorted by (key, document); each run of two or more equal keys is a bucket.
Buckets build_buckets(const std::vector<uint64_t>& keys, const std::vector<DocumentPlace>& docs, int bands,
                      int threads) {
  std::vector<std::vector<std::vector<uint32_t>>> per_band(static_cast<size_t>(bands));
  parallel_for(size_t(bands), threads, [&](size_t k) {
    std::vector<std::pair<uint64_t, uint32_t>> entries;
    for (size_t d = 0; d < docs.size(); ++d)
      if (docs[d].shingled) entries.emplace_back(keys[d * size_t(bands) + k], uint32_t(d));
    std::sort(entries.begin(), entries.end());
    for (size_t i = 0; i < entries.size();) {
      size_t j = i + 1;
      while (j < entries.size() && entries[j].first == entries[i].first) ++j;
      if (j - i >= 2) {
        std::vector<uint32_t>& bucket = per_band[k].emplace_back();
        for (size_t m = i; m < j; ++m) bucket.push_back(entries[m].second);
      }
      i = j;
    }
  });
  Buckets out;
  for (auto& band : per_band)
    for (auto& bucket : band) {
      const uint32_t id = uint32_t(out.offsets.size() - 1);
      for (uint32_t d : bucket) out.of_document.emplace_back(d, id);
      out.members.insert(out.members.end(), bucket.begin(), bucket.end());
      out.offsets.push_back(out.members.size());
    }
  std::sort(out.of_document.begin(), out.of_document.end());
  return out;
}

struct Pass1Result {
  std::vector<DocumentPlace> docs;
  std::vector<uint64_t> keys;  // bands per document
  uint64_t empty = 0, invalid = 0;
};

struct Partner {
  uint32_t document = kNoDocument;
  double jaccard = 0;
};

void check_output(const fs::path& path, const std::vector<fs::path>& files, bool overwrite, const char* option) {
  if (path.empty()) return;
  if (fs::exists(path)) {
    if (fs::is_directory(path)) fail("{} {}: is a directory", option, path.string());
    for (const fs::path& f : files)
      if (fs::equivalent(f, path)) fail("{} {}: is also an input; write to another file", option, path.string());
    if (!overwrite) fail("{} {}: exists; pass --overwrite to replace it", option, path.string());
  }
}

}  // namespace

std::string NearDedupSummary::format() const {
  std::string out = fmt::format("read {} documents ({}) in {:.2f} s: {:.0f} documents/s\n", documents,
                                format_bytes(input_bytes), seconds, seconds > 0 ? double(documents) / seconds : 0.0);
  out += fmt::format("LSH: {} bands x {} rows; {} candidate pairs compared, {} at or above the threshold\n", lsh.bands,
                     lsh.rows, candidate_pairs, duplicate_pairs);
  out += fmt::format("removed {} near-duplicates in {} clusters, kept {}", removed, clusters, kept());
  std::vector<std::string> notes;
  if (empty) notes.push_back(fmt::format("dropped {} empty documents", empty));
  if (invalid_rows) notes.push_back(fmt::format("skipped {} invalid rows", invalid_rows));
  if (without_shingles) notes.push_back(fmt::format("{} documents without words kept uncompared", without_shingles));
  for (size_t i = 0; i < notes.size(); ++i) out += (i ? ", " : " (") + notes[i] + (i + 1 == notes.size() ? ")" : "");
  return out + "\n";
}

namespace {

// One run of near_dedup: the inputs, what pass 1 learnt about each document, the clusters and the summary.
class NearDedupRun {
 public:
  NearDedupRun(const NearDedupOptions& o, LshParams lsh, std::vector<fs::path> files)
      : o_(o),
        lsh_(lsh),
        files_(std::move(files)),
        jsonl_(is_jsonl_path(files_.front())),
        blocks_(!jsonl_ && o.separator == DocumentSeparator::BlankLine),
        clusters_(0) {
    summary_.lsh = lsh;
    for (const fs::path& f : files_) summary_.input_bytes += fs::file_size(f);
  }

  NearDedupSummary run() {
    Buckets buckets = build_buckets(sign(), docs_, lsh_.bands, o_.threads);
    clusters_ = UnionFind(docs_.size());
    if (!buckets.of_document.empty()) verify(buckets);
    write();
    return summary_;
  }

 private:
  // Pass 1: each document's place and band keys (bands per document, in input order).
  std::vector<uint64_t> sign() {
    const size_t bands = size_t(lsh_.bands);
    const MinHasher hasher(o_.num_perm, o_.seed);
    std::vector<uint64_t> keys;
    Progress progress("dedup 1/3: signatures", summary_.input_bytes, o_.show_progress);
    ChunkReader reader(files_, o_.separator, o_.chunk_bytes);
    map_chunks_in_order(
        reader, o_.threads,
        [&](const Chunk& chunk) {
          Pass1Result r;
          std::vector<Document> found = split_documents(chunk, files_[chunk.file], jsonl_, o_.separator, o_.field,
                                                        o_.skip_invalid, &r.empty, &r.invalid);
          std::vector<uint32_t> signature(size_t(o_.num_perm));
          r.keys.resize(found.size() * bands);
          for (size_t i = 0; i < found.size(); ++i) {
            std::vector<uint64_t> shingles = shingle_set(found[i].text, o_.shingle, o_.ngram);
            r.docs.push_back({found[i].line, uint32_t(chunk.file), !shingles.empty()});
            if (shingles.empty()) continue;
            hasher.signature(shingles, signature.data());
            band_keys(signature.data(), lsh_.bands, lsh_.rows, r.keys.data() + i * bands);
          }
          return r;
        },
        [&](const Chunk& chunk, Pass1Result& r) {
          if (chunk_first_doc_.size() != chunk.index) fail("internal: chunk {} out of order", chunk.index);
          chunk_first_doc_.push_back(docs_.size());
          summary_.empty += r.empty;
          summary_.invalid_rows += r.invalid;
          docs_.insert(docs_.end(), r.docs.begin(), r.docs.end());
          keys.insert(keys.end(), r.keys.begin(), r.keys.end());
          if (docs_.size() >= kNoDocument) fail("--input: more than {} documents; split the input", kNoDocument - 1);
          progress.add(chunk.text.size());
        });
    progress.finish();
    chunk_first_doc_.push_back(docs_.size());
    summary_.documents = docs_.size();
    for (const DocumentPlace& d : docs_) summary_.without_shingles += !d.shingled;
    return keys;
  }

  // The chunk's documents [first, last) and their raw text (passes 2 and 3 read the same chunks as pass 1).
  std::pair<size_t, size_t> documents_of(const Chunk& chunk) const {
    return {chunk_first_doc_.at(chunk.index), chunk_first_doc_.at(chunk.index + 1)};
  }
  std::vector<std::string_view> raw_documents(const Chunk& chunk) const {
    auto [first, last] = documents_of(chunk);
    std::vector<uint64_t> lines;
    for (size_t d = first; d < last; ++d) lines.push_back(docs_[d].line);
    return locate_documents(chunk, blocks_, lines.data(), lines.size(), files_[chunk.file]);
  }

  // Pass 2: in input order, document j against the earlier members of its buckets that are not yet in its
  // cluster; a shingle set is held from its document until its last bucket-mate has been compared.
  void verify(const Buckets& buckets) {
    using Sets = std::vector<std::pair<uint32_t, std::vector<uint64_t>>>;
    const auto& of_document = buckets.of_document;
    auto first_bucket_of = [&](size_t d) {  // index in of_document of document d's first bucket (or later)
      return size_t(std::lower_bound(of_document.begin(), of_document.end(), std::make_pair(uint32_t(d), 0u)) -
                    of_document.begin());
    };
    std::unordered_map<uint32_t, std::vector<uint64_t>> held;
    std::priority_queue<std::pair<uint32_t, uint32_t>, std::vector<std::pair<uint32_t, uint32_t>>, std::greater<>>
        release;  // (last bucket-mate, document)
    std::vector<uint32_t> candidates;
    Progress progress("dedup 2/3: verification", summary_.input_bytes, o_.show_progress);
    ChunkReader reader(files_, o_.separator, o_.chunk_bytes);
    map_chunks_in_order(
        reader, o_.threads,
        [&](const Chunk& chunk) {  // the shingle sets of the chunk's documents that are in a bucket
          Sets sets;
          auto [first, last] = documents_of(chunk);
          const size_t lo = first_bucket_of(first), hi = first_bucket_of(last);
          if (lo == hi) return sets;
          const std::vector<std::string_view> raw = raw_documents(chunk);
          for (size_t i = lo; i < hi; ++i) {
            const uint32_t d = of_document[i].first;
            if (!sets.empty() && sets.back().first == d) continue;
            std::string field;
            std::string_view text = raw[d - first];
            if (jsonl_) text = field = row_field(text, o_.field, files_[chunk.file], docs_[d].line);
            sets.emplace_back(d, shingle_set(text, o_.shingle, o_.ngram));
          }
          return sets;
        },
        [&](const Chunk& chunk, Sets& sets) {
          for (auto& [j, set] : sets) {
            candidates.clear();
            uint32_t last_mate = j;
            for (size_t k = first_bucket_of(j); k < of_document.size() && of_document[k].first == j; ++k) {
              const uint32_t b = of_document[k].second;
              for (uint64_t m = buckets.offsets[b]; m < buckets.offsets[b + 1] && buckets.members[m] < j; ++m)
                candidates.push_back(buckets.members[m]);
              last_mate = std::max(last_mate, buckets.members[buckets.offsets[b + 1] - 1]);
            }
            std::sort(candidates.begin(), candidates.end());
            candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
            for (uint32_t i : candidates) compare(i, j, held.at(i), set);
            if (last_mate > j) held.emplace(j, std::move(set)), release.emplace(last_mate, j);
            for (; !release.empty() && release.top().first <= j; release.pop()) held.erase(release.top().second);
          }
          progress.add(chunk.text.size());
        });
    progress.finish();
  }

  // One candidate pair (i < j): skipped when already in one cluster, else linked when its Jaccard reaches the
  // threshold (each document remembers its first link for the report).
  void compare(uint32_t i, uint32_t j, const std::vector<uint64_t>& set_i, const std::vector<uint64_t>& set_j) {
    if (clusters_.find(i) == clusters_.find(j)) return;
    ++summary_.candidate_pairs;
    const double jac = jaccard(set_i, set_j);
    if (jac < o_.threshold) return;
    ++summary_.duplicate_pairs;
    clusters_.unite(i, j);
    for (auto [a, b] : {std::make_pair(i, j), std::make_pair(j, i)}) {
      Partner& p = partners_[a];
      if (p.document == kNoDocument) p = {b, jac};
    }
  }

  // Pass 3: the kept documents (each cluster's root: its first document) and the report.
  void write() {
    auto where = [&](uint32_t d) { return fmt::format("{}:{}", files_[docs_[d].file].string(), docs_[d].line); };
    Progress progress("dedup 3/3: writing", summary_.input_bytes, o_.show_progress);
    AtomicFile out(o_.output);
    std::unique_ptr<AtomicFile> report;
    if (!o_.report.empty()) report = std::make_unique<AtomicFile>(o_.report);
    std::vector<uint8_t> is_root(docs_.size(), 0);
    bool first_block = true;
    std::string buffer;
    ChunkReader reader(files_, o_.separator, o_.chunk_bytes);
    map_chunks_in_order(
        reader, 1, [](const Chunk&) { return 0; },
        [&](const Chunk& chunk, int) {
          auto [first, last] = documents_of(chunk);
          const std::vector<std::string_view> raw = raw_documents(chunk);
          buffer.clear();
          for (size_t d = first; d < last; ++d) {
            const uint32_t root = clusters_.find(uint32_t(d));
            if (root == d) {
              if (blocks_ && !first_block) buffer += '\n';
              first_block = false;
              buffer.append(raw[d - first]);
              buffer += '\n';
              continue;
            }
            ++summary_.removed;
            if (!is_root[root]) is_root[root] = 1, ++summary_.clusters;
            if (!report) continue;
            const Partner& p = partners_.at(uint32_t(d));
            nlohmann::ordered_json line = {{"removed", where(uint32_t(d))}, {"removed_index", d},
                                           {"kept", where(root)},           {"kept_index", root},
                                           {"matched", where(p.document)},  {"matched_index", p.document},
                                           {"jaccard", p.jaccard}};
            report->write(line.dump() + "\n");
          }
          out.write(buffer);
          progress.add(chunk.text.size());
        });
    out.commit();
    if (report) report->commit();
    progress.finish();
  }

  const NearDedupOptions& o_;
  const LshParams lsh_;
  const std::vector<fs::path> files_;
  const bool jsonl_, blocks_;
  std::vector<DocumentPlace> docs_;      // documents in input order
  std::vector<size_t> chunk_first_doc_;  // by chunk index, then the document count
  UnionFind clusters_;
  std::unordered_map<uint32_t, Partner> partners_;  // the first verified partner of each linked document
  NearDedupSummary summary_;
};

}  // namespace

NearDedupSummary near_dedup(const NearDedupOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.inputs.empty()) fail_usage("--input: at least one file or directory is required");
  if (o.output.empty()) fail_usage("--output: required");
  if (o.ngram < 1) fail_usage("--ngram: must be at least 1, got {}", o.ngram);
  if (o.num_perm < 2) fail_usage("--num-perm: must be at least 2, got {}", o.num_perm);
  if (!(o.threshold > 0 && o.threshold <= 1))
    fail_usage("--threshold: expected a value in (0, 1], got {}", o.threshold);
  if (o.bands < 0 || o.rows < 0) fail_usage("--bands and --rows: must be positive");
  if ((o.bands > 0) != (o.rows > 0)) fail_usage("--bands and --rows: give both or neither");
  if (o.bands > 0 && int64_t(o.bands) * o.rows > o.num_perm)
    fail_usage("--bands {} x --rows {} = {} exceeds --num-perm {}", o.bands, o.rows, int64_t(o.bands) * o.rows,
               o.num_perm);
  const LshParams lsh = o.bands > 0 ? LshParams{o.bands, o.rows} : optimal_lsh_params(o.threshold, o.num_perm);

  std::vector<fs::path> files = expand_inputs(o.inputs);
  for (const fs::path& f : files)
    if (is_jsonl_path(f) != is_jsonl_path(files.front()))
      fail("--input: {} and {} mix JSONL and plain text; deduplicate them separately", files.front().string(),
           f.string());
  check_output(o.output, files, o.overwrite, "--output");
  check_output(o.report, files, o.overwrite, "--report");
  if (!o.report.empty() && o.report.lexically_normal() == o.output.lexically_normal())
    fail_usage("--output and --report name the same file");
  NearDedupSummary summary = NearDedupRun(o, lsh, std::move(files)).run();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace r1::data
