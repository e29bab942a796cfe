// `r1 data filter` over files (r1/data.h's filter_files): the inputs read as `r1 data prepare` reads them, in
// ordered chunks over threads, each document through filter_document (quality-filter.cpp), the kept, rejected and
// explained documents written in the input's format, and the per-rule summary.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/progress.h"
#include "data/documents.h"
#include "data/quality-filter.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"

namespace r1::data {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using detail::enabled;
using detail::known_filters;

namespace {

// Every rule the enabled filters can report, in the order they run.
std::vector<std::string> rule_names(const QualityFilterOptions& o) {
  std::vector<std::string> names;
  for (const std::string& f : known_filters()) {
    if (!enabled(o, f.c_str())) continue;
    if (f == "language") names.push_back("language");
    if (f == "gopher-repetition") {
      for (const char* r : {"dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"})
        names.push_back(r);
      for (const auto& [n, t] : o.top_n_grams) names.push_back(fmt::format("top_{}_gram", n));
      for (const auto& [n, t] : o.dup_n_grams) names.push_back(fmt::format("duplicated_{}_n_grams", n));
    }
    if (f == "gopher-quality")
      for (const char* r :
           {"gopher_short_doc", "gopher_long_doc", "gopher_below_avg_threshold", "gopher_above_avg_threshold",
            "gopher_too_many_hashes", "gopher_too_many_ellipsis", "gopher_too_many_bullets",
            "gopher_too_many_end_ellipsis", "gopher_below_alpha_threshold", "gopher_enough_stop_words"})
        names.push_back(r);
    if (f == "c4")
      for (const char* r : {"lorem_ipsum", "curly_bracket", "too_few_sentences"}) names.push_back(r);
    if (f == "fineweb")
      for (const char* r : {"line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"}) names.push_back(r);
  }
  names.push_back("empty");
  return names;
}

bool is_jsonl_output(const fs::path& p) { return is_jsonl_path(p); }

// One document as a line (or block) of an output file.
std::string output_record(const fs::path& out, bool jsonl_input, std::string_view raw_row, const std::string& text,
                          bool use_raw, const std::string& field, DocumentSeparator separator,
                          const std::string& where) {
  if (is_jsonl_output(out)) {
    if (jsonl_input && use_raw) return std::string(raw_row) + "\n";
    Json row = Json::object();
    if (jsonl_input) {
      std::string error;
      if (!parse_json_bounded(raw_row, row, &error) || !row.is_object()) fail("{}: cannot re-read the row", where);
    }
    row[field] = text;
    return row.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  }
  if (separator == DocumentSeparator::Line) {
    if (text.find('\n') != std::string::npos)
      fail(
          "{}: this document holds a line break and {} holds one document per line; write JSONL (an output "
          "ending .jsonl) or use --document-separator blank-line",
          where, out.string());
    return text + "\n";
  }
  if (detail::has_blank_line(text))
    fail("{}: this document holds a blank line and {} separates documents by blank lines; write JSONL instead", where,
         out.string());
  return text + "\n\n";
}

struct ChunkOutput {
  std::string kept, rejected, explain;
  uint64_t read = 0, kept_docs = 0, modified = 0, invalid = 0, empty = 0, bytes = 0;
  std::map<std::string, uint64_t> dropped;
  FilterStats stats;
};

// Byte offsets of the lines of a chunk (line k of the chunk starts at starts[k]).
std::vector<size_t> line_starts(std::string_view text) {
  std::vector<size_t> starts = {0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts.push_back(i + 1);
  return starts;
}

std::string_view line_at(std::string_view text, const std::vector<size_t>& starts, size_t k) {
  const size_t a = starts.at(k);
  size_t b = k + 1 < starts.size() ? starts[k + 1] - 1 : text.size();
  if (b > a && text[b - 1] == '\r') --b;
  return text.substr(a, b - a);
}

}  // namespace

nlohmann::json FilterSummary::to_json() const {
  nlohmann::json d = nlohmann::json::object(), lines = nlohmann::json::object();
  for (const auto& [rule, n] : dropped) d[rule] = n;
  for (const auto& [why, n] : stats.lines_removed) lines[why] = n;
  return {{"documents_read", documents_read},
          {"kept", kept},
          {"modified", modified},
          {"empty", empty},
          {"invalid_rows", invalid_rows},
          {"dropped", d},
          {"c4_lines_removed", lines},
          {"input_bytes", input_bytes},
          {"seconds", seconds}};
}

std::string FilterSummary::format() const {
  auto share = [&](uint64_t n) { return documents_read ? 100.0 * double(n) / double(documents_read) : 0.0; };
  std::string out = fmt::format("read {} documents ({}) in {:.2f} s; kept {} ({:.1f}%)", documents_read,
                                format_bytes(input_bytes), seconds, kept, share(kept));
  if (modified) out += fmt::format(", {} shortened by c4", modified);
  if (empty) out += fmt::format("; {} empty", empty);
  if (invalid_rows) out += fmt::format("; skipped {} invalid rows", invalid_rows);
  out += fmt::format("\n{:<30} {:>10} {:>7}\n", "rule", "dropped", "share");
  for (const auto& [rule, n] : dropped) out += fmt::format("{:<30} {:>10} {:>6.1f}%\n", rule, n, share(n));
  if (!stats.lines_removed.empty()) {
    std::string lines;
    for (const auto& [why, n] : stats.lines_removed) lines += fmt::format("{}{} {}", lines.empty() ? "" : ", ", why, n);
    out += fmt::format("c4 lines removed: {}\n", lines);
  }
  return out;
}

FilterSummary filter_files(const FilterRunOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  validate(o.filters);
  if (o.inputs.empty()) fail_usage("--input: at least one file or directory is required");
  if (o.output.empty()) fail_usage("--output: required");
  const std::vector<fs::path> files = expand_inputs(o.inputs);
  uint64_t input_bytes = 0;
  for (const fs::path& f : files) {
    require_regular_file(f);
    input_bytes += fs::file_size(f);
  }
  // Outputs: never an input, never an existing file unless --overwrite.
  std::vector<fs::path> outputs = {o.output};
  if (!o.rejected.empty()) outputs.push_back(o.rejected);
  if (!o.explain.empty() && o.explain != "-") outputs.push_back(o.explain);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const fs::path& out = outputs[i];
    for (size_t j = 0; j < i; ++j)
      if (fs::weakly_canonical(outputs[j]) == fs::weakly_canonical(out))
        fail_usage("{} is named as two outputs", out.string());
    for (const fs::path& f : files)
      if (fs::weakly_canonical(f) == fs::weakly_canonical(out))
        fail_usage("{} is both an input and an output", out.string());
    if (fs::exists(out) && !o.overwrite) fail("{}: exists; pass --overwrite to replace it", out.string());
  }

  AtomicFile kept_file(o.output);
  std::unique_ptr<AtomicFile> rejected_file, explain_file;
  if (!o.rejected.empty()) rejected_file = std::make_unique<AtomicFile>(o.rejected);
  const bool explain_stdout = o.explain == "-";
  const bool explain_jsonl = !explain_stdout && is_jsonl_path(o.explain);
  if (!o.explain.empty() && !explain_stdout) explain_file = std::make_unique<AtomicFile>(o.explain);

  FilterSummary summary;
  summary.input_bytes = input_bytes;
  std::map<std::string, uint64_t> dropped;
  ChunkReader reader(files, o.separator, size_t(1) << 20);
  const size_t threads = resolve_threads(o.threads);
  Progress progress("Filtering", input_bytes, o.show_progress);

  auto process = [&](const Chunk& chunk, ChunkOutput& r) {
    const fs::path& file = files[chunk.file];
    const bool jsonl = is_jsonl_path(file);
    std::vector<Document> docs =
        split_documents(chunk, file, jsonl, o.separator, o.field, o.skip_invalid, &r.empty, &r.invalid);
    std::vector<size_t> starts;
    if (jsonl) starts = line_starts(chunk.text);
    r.read = docs.size() + r.empty;
    r.bytes = chunk.text.size();
    for (const Document& d : docs) {
      const std::string where = fmt::format("{}:{}", file.string(), d.line);
      const std::string_view raw = jsonl ? line_at(chunk.text, starts, d.line - chunk.first_line) : std::string_view();
      FilterVerdict v = filter_document(d.text, o.filters, &r.stats);
      if (v.keep) {
        ++r.kept_docs;
        r.modified += v.modified;
        r.kept += output_record(o.output, jsonl, raw, v.text, !v.modified, o.field, o.separator, where);
        continue;
      }
      ++r.dropped[v.rule];
      if (rejected_file) r.rejected += output_record(o.rejected, jsonl, raw, d.text, true, o.field, o.separator, where);
      if (o.explain.empty()) continue;
      if (explain_jsonl) {
        Json e = {
            {"file", file.string()},   {"line", d.line},           {"filter", v.filter}, {"rule", v.rule},
            {"measure", v.measure},    {"parameter", v.parameter}, {"value", v.value},   {"comparison", v.comparison},
            {"threshold", v.threshold}};
        if (!v.language.empty()) e["language"] = v.language, e["language_score"] = v.language_score;
        r.explain += e.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      } else {
        r.explain += fmt::format("{}: {}\n", where, v.explain());
      }
    }
  };

  std::vector<Chunk> batch;
  while (true) {
    batch.clear();
    Chunk chunk;
    while (batch.size() < 2 * threads && reader.next(chunk)) batch.push_back(std::move(chunk));
    if (batch.empty()) break;
    std::vector<ChunkOutput> results(batch.size());
    std::vector<std::exception_ptr> errors(batch.size());
    parallel_for(batch.size(), int(threads), [&](size_t i) {
      try {
        process(batch[i], results[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
    for (size_t i = 0; i < batch.size(); ++i) {  // in input order: the first error, then the outputs
      if (errors[i]) std::rethrow_exception(errors[i]);
      ChunkOutput& r = results[i];
      kept_file.write(r.kept);
      if (rejected_file) rejected_file->write(r.rejected);
      if (explain_file)
        explain_file->write(r.explain);
      else if (explain_stdout)
        fmt::print("{}", r.explain);
      summary.documents_read += r.read;
      summary.kept += r.kept_docs;
      summary.modified += r.modified;
      summary.invalid_rows += r.invalid;
      summary.empty += r.empty;
      for (const auto& [rule, n] : r.dropped) dropped[rule] += n;
      for (const auto& [why, n] : r.stats.lines_removed) summary.stats.lines_removed[why] += n;
      progress.add(r.bytes);
    }
  }
  progress.finish();
  kept_file.commit();
  if (rejected_file) rejected_file->commit();
  if (explain_file) explain_file->commit();
  for (const std::string& rule : rule_names(o.filters)) {
    auto it = dropped.find(rule);
    if (rule == "empty" && it == dropped.end()) continue;  // only shown when c4 emptied a document
    summary.dropped.emplace_back(rule, it == dropped.end() ? 0 : it->second);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace r1::data
