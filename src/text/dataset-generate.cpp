// generate_dataset (r1/text.h): read rows, build prompts, generate locally (the engine, all rows
// submitted at once and continuously batched) or remotely (OpenAI chat/completions with `concurrency` worker
// threads; both back-ends in text-backends.cpp), and append finished rows to the output in input order. Resume = count
// the complete rows already written (a torn last line is cut off). Per-row seeds derive from (seed, row index), so a
// resumed run writes what an uninterrupted one would have. Completions are decoded without special tokens and cut at a
// matched stop string, as OpenAI servers return them.
#include "r1/text.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/sampler.h"
#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "r1/tokenizer.h"
#include "text/text-backends.h"

namespace r1::text {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

std::vector<Json> read_rows(const fs::path& path, int64_t limit) {
  require_regular_file(path);
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the input", path.string());
  std::vector<Json> rows;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row;
    std::string error;
    if (!parse_json_bounded(line, row, &error)) fail("{}:{}: not valid JSON ({})", path.string(), line_no, error);
    if (!row.is_object()) fail("{}:{}: not a JSON object", path.string(), line_no);
    row["__line"] = line_no;
    rows.push_back(std::move(row));
    if (limit > 0 && int64_t(rows.size()) >= limit) break;
  }
  if (in.bad()) fail("{}:{}: read error", path.string(), line_no + 1);
  if (rows.empty()) fail("{}: no rows (the input is empty)", path.string());
  return rows;
}

// Rows already complete in `path`; cuts the file after the last complete row (a torn line, or a partial group
// of flat rows).
int64_t resume_point(const fs::path& path, int64_t lines_per_row) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<size_t> ends;  // byte offset after each complete line
  for (size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] == '\n') ends.push_back(i + 1);
  const int64_t rows = int64_t(ends.size()) / lines_per_row;
  const size_t keep = rows == 0 ? 0 : ends[size_t(rows * lines_per_row) - 1];
  if (keep != bytes.size()) fs::resize_file(path, keep);
  return rows;
}

// The prompt of a row as chat messages (when `chat`) or plain text.
TextPrompt build_prompt(const DatasetGenerateOptions& o, const Json& row, bool chat,
                        const tokenizer::ChatTemplate* prompt_template, const std::string& where) {
  TextPrompt p;
  if (!o.messages_column.empty()) {
    auto it = row.find(o.messages_column);
    if (it == row.end() || !it->is_array() || it->empty())
      fail("{}: column '{}' must be a non-empty list of messages", where, o.messages_column);
    p.messages = *it;
    while (!p.messages.empty() && p.messages.back().value("role", "") == "assistant")
      p.messages.erase(p.messages.size() - 1);
    if (p.messages.empty()) fail("{}: '{}' holds only assistant messages", where, o.messages_column);
    return p;
  }
  if (prompt_template != nullptr) {
    nlohmann::json context = nlohmann::json::parse(row.dump());
    p.text = prompt_template->render(context).text;
  } else {
    auto it = row.find(o.prompt_column);
    if (it == row.end() || !it->is_string())
      fail("{}: no string column '{}' (choose one with --prompt-column, or use --template / --messages-column)", where,
           o.prompt_column);
    p.text = it->get<std::string>();
  }
  if (chat) {
    if (!o.system_prompt.empty()) p.messages.push_back({{"role", "system"}, {"content", o.system_prompt}});
    p.messages.push_back({{"role", "user"}, {"content", p.text}});
  }
  return p;
}

}  // namespace

DatasetGenerateReport generate_dataset(const DatasetGenerateOptions& o,
                                       const std::function<void(int64_t, int64_t)>& on_row) {
  const auto start = std::chrono::steady_clock::now();
  if (o.num_generations < 1) fail_usage("--num-generations must be >= 1, got {}", o.num_generations);
  if (o.server_url.empty() && o.model_dir.empty()) fail_usage("give --model (local) or --server URL");
  const int64_t lines_per_row = o.group_generations ? 1 : o.num_generations;
  DatasetGenerateReport report;
  std::vector<Json> rows = read_rows(o.input, o.limit);
  report.rows = int64_t(rows.size());
  if (fs::exists(o.output) && !fs::is_regular_file(o.output))  // --overwrite replaces a file, never a directory
    fail_usage("--output {}: exists and is not a regular file", o.output.string());
  if (fs::exists(o.output)) {
    if (o.overwrite)
      fs::remove(o.output);
    else if (o.resume)
      report.skipped = std::min<int64_t>(resume_point(o.output, lines_per_row), report.rows);
    else
      fail_usage("{} exists: pass --resume to continue it or --overwrite to replace it", o.output.string());
  }
  std::unique_ptr<tokenizer::ChatTemplate> prompt_template;
  if (!o.prompt_template.empty()) prompt_template = std::make_unique<tokenizer::ChatTemplate>(o.prompt_template);

  std::unique_ptr<LocalTextBackend> local;
  std::unique_ptr<RemoteTextBackend> remote;
  if (o.server_url.empty())
    local = std::make_unique<LocalTextBackend>(o);
  else
    remote = std::make_unique<RemoteTextBackend>(o);
  const bool chat = local ? local->chat() : remote->chat();

  const size_t first = size_t(report.skipped), count = rows.size() - first;
  std::vector<TextPrompt> prompts;
  std::vector<uint64_t> seeds;
  for (size_t i = first; i < rows.size(); ++i) {
    prompts.push_back(build_prompt(o, rows[i], chat, prompt_template.get(),
                                   fmt::format("{}:{}", o.input.string(), rows[i]["__line"].get<int64_t>())));
    seeds.push_back(engine::mix_seed(o.seed, uint64_t(i)));
  }

  std::ofstream out;  // opened at the first finished row, so a run that fails before leaves no file behind
  std::vector<std::optional<TextCompletion>> done(count);
  size_t next = 0;
  auto write_ready = [&] {
    for (; next < count && done[next]; ++next) {
      Json row = rows[first + next];
      row.erase("__line");
      if (!o.prompt_output_column.empty())
        row[o.prompt_output_column] = chat ? prompts[next].messages : Json(prompts[next].text);
      const TextCompletion& c = *done[next];
      std::string lines;
      if (o.group_generations) {
        row[o.output_column + "s"] = c.texts;
        row["finish_reasons"] = c.reasons;
        lines = row.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      } else {
        for (size_t k = 0; k < c.texts.size(); ++k) {
          Json flat = row;
          flat[o.output_column] = c.texts[k];
          flat["finish_reason"] = c.reasons[k];
          lines += flat.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
        }
      }
      if (!out.is_open()) {
        out.open(o.output, std::ios::app | std::ios::binary);
        if (!out) fail("{}: cannot open for writing", o.output.string());
      }
      out << lines;
      out.flush();
      if (!out) fail("{}: write failed", o.output.string());
      ++report.generated;
      report.completions += int64_t(c.texts.size());
      report.completion_tokens += c.tokens;
      done[next].reset();
      if (on_row) on_row(report.skipped + report.generated, report.rows);
    }
  };

  std::vector<std::vector<int32_t>> ids;
  if (local)
    for (size_t k = 0; k < prompts.size(); ++k)
      ids.push_back(
          local->encode(prompts[k], fmt::format("{}:{}", o.input.string(), rows[first + k]["__line"].get<int64_t>())));
  const auto generation_start = std::chrono::steady_clock::now();
  if (local) {
    local->run(ids, seeds, [&](size_t i, TextCompletion c) {
      done[i] = std::move(c);
      write_ready();
    });
  } else {
    // Requests go out from `concurrency` workers (--concurrency 0 or less: one); the worker that finishes a row
    // writes every row now ready, in input order, under the lock.
    std::mutex mutex;  // guards done, next, out and report
    parallel_for(count, std::max(1, o.concurrency), [&](size_t i) {
      TextCompletion c = remote->complete(prompts[i], seeds[i]);
      std::lock_guard<std::mutex> lock(mutex);
      done[i] = std::move(c);
      write_ready();
    });
  }
  const auto end = std::chrono::steady_clock::now();
  report.seconds = std::chrono::duration<double>(end - start).count();
  report.generation_seconds = std::chrono::duration<double>(end - generation_start).count();
  return report;
}

}  // namespace r1::text
