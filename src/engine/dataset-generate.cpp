// generate_dataset (dataset-generate.h): read rows, build prompts, generate locally (the engine, all rows
// submitted at once and continuously batched) or remotely (OpenAI chat/completions with `concurrency` worker
// threads, cpp-httplib client), and append finished rows to the output in input order. Resume = count the
// complete rows already written (a torn last line is cut off). Per-row seeds derive from (seed, row index),
// so a resumed run writes what an uninterrupted one would have. Completions are decoded without special
// tokens and cut at a matched stop string, as OpenAI servers return them.
#include "engine/dataset-generate.h"

#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/sampler.h"
#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/tokenizer.h"

namespace r1::engine {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

struct Completion {
  std::vector<std::string> texts;
  std::vector<std::string> reasons;
  int64_t tokens = 0;
};

std::vector<Json> read_rows(const fs::path& path, int64_t limit) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the input", path.string());
  std::vector<Json> rows;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) fail("{}:{}: not a JSON object", path.string(), line_no);
    row["__line"] = line_no;
    rows.push_back(std::move(row));
    if (limit > 0 && int64_t(rows.size()) >= limit) break;
  }
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
struct Prompt {
  Json messages = Json::array();
  std::string text;
};

Prompt build_prompt(const DatasetGenerateOptions& o, const Json& row, bool chat,
                    const tokenizer::ChatTemplate* prompt_template, const std::string& where) {
  Prompt p;
  if (!o.messages_column.empty()) {
    auto it = row.find(o.messages_column);
    if (it == row.end() || !it->is_array() || it->empty())
      fail("{}: column '{}' must be a non-empty list of messages", where, o.messages_column);
    p.messages = *it;
    while (!p.messages.empty() && p.messages.back().value("role", "") == "assistant") p.messages.erase(p.messages.size() - 1);
    if (p.messages.empty()) fail("{}: '{}' holds only assistant messages", where, o.messages_column);
    return p;
  }
  if (prompt_template != nullptr) {
    nlohmann::json context = nlohmann::json::parse(row.dump());
    p.text = prompt_template->render(context).text;
  } else {
    auto it = row.find(o.prompt_column);
    if (it == row.end() || !it->is_string())
      fail("{}: no string column '{}' (choose one with --prompt-column, or use --template / --messages-column)",
           where, o.prompt_column);
    p.text = it->get<std::string>();
  }
  if (chat) {
    if (!o.system_prompt.empty()) p.messages.push_back({{"role", "system"}, {"content", o.system_prompt}});
    p.messages.push_back({{"role", "user"}, {"content", p.text}});
  }
  return p;
}

// ---- local ----------------------------------------------------------------------------------------------

class LocalBackend {
 public:
  explicit LocalBackend(const DatasetGenerateOptions& o)
      : options_(o), tokenizer_(tokenizer::Tokenizer::load(o.model_dir)) {
    const std::string& source = tokenizer_.config().chat_template;
    if (o.chat_template == "auto") {
      if (!source.empty()) template_ = std::make_unique<tokenizer::ChatTemplate>(source);
    } else if (o.chat_template != "none") {
      template_ = std::make_unique<tokenizer::ChatTemplate>(tokenizer::ChatTemplate::named(o.chat_template));
    }
    if (!o.messages_column.empty() && !template_)
      fail_usage("--messages-column needs a chat template: {} has none; choose one with --chat-template",
                 o.model_dir.string());
    EngineOptions e = o.engine;
    e.decode = [this](const std::vector<int32_t>& ids) { return decode(ids, false); };
    model_ = model::load_pretrained(o.model_dir, {.dtype = o.engine.dtype, .device = at::Device(o.device)});
    if (e.eos_token_ids.empty()) {
      for (int64_t id : model_->config().eos_token_id) e.eos_token_ids.push_back(int32_t(id));
      if (auto eos = tokenizer_.eos_id()) e.eos_token_ids.push_back(*eos);
    }
    engine_options_ = std::move(e);
  }
  bool chat() const { return template_ != nullptr; }

  std::vector<int32_t> encode(const Prompt& p) const {
    if (!template_) return tokenizer_.encode(p.text, true);
    const auto& c = tokenizer_.config();
    nlohmann::json context = {{"messages", nlohmann::json::parse(p.messages.dump())},
                              {"add_generation_prompt", true},
                              {"bos_token", c.bos_token.value_or("")},
                              {"eos_token", c.eos_token.value_or("")}};
    return tokenizer_.encode(template_->render(context).text, false);
  }

  // Submits every prompt; `on_done(index, completion)` is called (on this thread) as each finishes.
  void run(const std::vector<std::vector<int32_t>>& prompts, const std::vector<uint64_t>& seeds,
           const std::function<void(size_t, Completion)>& on_done) {
    // Unless told otherwise, size the KV cache for the longest prompt + max_new_tokens rather than the
    // model's whole context (32k positions x batch would take gigabytes for a Hub model).
    if (engine_options_.max_seq_len <= 0) {
      size_t longest = 1;
      for (const auto& p : prompts) longest = std::max(longest, p.size());
      engine_options_.max_seq_len =
          std::min<int64_t>(model_->config().max_position_embeddings, int64_t(longest) + options_.sampling.max_new_tokens);
    }
    engine_ = std::make_unique<Engine>(model_, engine_options_);
    for (size_t i = 0; i < prompts.size(); ++i) {
      Request r;
      r.prompt = prompts[i];
      r.params = options_.sampling;
      if (!r.params.seed) r.params.seed = seeds[i];
      r.n = options_.num_generations;
      engine_->submit(std::move(r), [this, i, &on_done](const Event& e) {
        if (e.kind != Event::Kind::kDone) return;
        Completion c;
        for (const Sample& s : e.result->samples) {
          std::string text = decode(s.tokens, true);
          if (s.finish_reason == FinishReason::kStopString) {  // the first match is the one that stopped it
            const size_t cut = text.find(s.stop_string);
            if (cut != std::string::npos) text.resize(cut);
          }
          c.texts.push_back(std::move(text));
          c.reasons.push_back(s.finish_reason == FinishReason::kLength ? "length" : "stop");
          c.tokens += int64_t(s.tokens.size());
        }
        on_done(i, std::move(c));
      });
    }
    while (engine_->has_work()) engine_->step();
  }

 private:
  // Ids the tokenizer does not know (a model vocabulary padded past the tokenizer's) are dropped from the
  // text, as HF's decode skips them, instead of failing a long run.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const {
    const int32_t known = int32_t(tokenizer_.vocab_size());
    std::vector<int32_t> kept;
    for (int32_t id : ids)
      if (id < known) kept.push_back(id);
    return tokenizer_.decode(kept, skip_special);
  }
  const DatasetGenerateOptions& options_;
  tokenizer::Tokenizer tokenizer_;
  std::unique_ptr<tokenizer::ChatTemplate> template_;
  model::Transformer model_{nullptr};
  EngineOptions engine_options_;
  std::unique_ptr<Engine> engine_;
};

// ---- remote ---------------------------------------------------------------------------------------------

class RemoteBackend {
 public:
  explicit RemoteBackend(const DatasetGenerateOptions& o) : options_(o) {
    std::string url = o.server_url;
    size_t scheme = url.find("://");
    size_t path_at = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    origin_ = path_at == std::string::npos ? url : url.substr(0, path_at);
    std::string base = path_at == std::string::npos ? "" : url.substr(path_at);
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.size() < 3 || base.substr(base.size() - 3) != "/v1") base += "/v1";
    base_path_ = base;
    if (scheme == std::string::npos || url.substr(0, scheme) != "http")
      fail_usage("--server: expected http://host:port[/v1], got '{}'", url);
  }
  bool chat() const { return options_.chat_template != "none" || !options_.messages_column.empty(); }

  Completion complete(const Prompt& p, uint64_t seed) const {
    const SamplingParams& s = options_.sampling;
    Json body = {{"model", options_.server_model}, {"n", options_.num_generations}, {"max_tokens", s.max_new_tokens},
                 {"temperature", std::max(0.0, s.temperature)}, {"top_p", s.top_p}, {"seed", s.seed.value_or(seed)}};
    if (s.top_k > 0) body["top_k"] = s.top_k;
    if (s.min_p > 0) body["min_p"] = s.min_p;
    if (s.repetition_penalty != 1.0) body["repetition_penalty"] = s.repetition_penalty;
    if (s.presence_penalty != 0.0) body["presence_penalty"] = s.presence_penalty;
    if (s.frequency_penalty != 0.0) body["frequency_penalty"] = s.frequency_penalty;
    if (!s.stop.empty()) body["stop"] = s.stop;
    const bool is_chat = chat();
    if (is_chat)
      body["messages"] = p.messages;
    else
      body["prompt"] = p.text;
    const std::string path = base_path_ + (is_chat ? "/chat/completions" : "/completions");
    std::string last_error;
    for (int32_t attempt = 0; attempt <= options_.retries; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt, 6)));
      httplib::Client client(origin_);
      const auto seconds = std::chrono::duration<double>(options_.timeout_seconds);
      client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
      client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
      client.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
      if (!options_.api_key.empty()) client.set_bearer_token_auth(options_.api_key);
      auto res = client.Post(path, body.dump(), "application/json");
      if (!res) {
        last_error = httplib::to_string(res.error());
        continue;
      }
      if (res->status == 429 || res->status >= 500) {
        last_error = fmt::format("HTTP {}: {}", res->status, res->body.substr(0, 200));
        continue;
      }
      if (res->status != 200)
        fail("{}{}: HTTP {}: {}", origin_, path, res->status, res->body.substr(0, 300));
      Json reply = Json::parse(res->body, nullptr, false);
      if (reply.is_discarded() || !reply.contains("choices") || !reply["choices"].is_array())
        fail("{}{}: the reply is not an OpenAI completion: {}", origin_, path, res->body.substr(0, 300));
      Completion c;
      for (const auto& choice : reply["choices"]) {
        const Json* text = is_chat ? (choice.contains("message") ? &choice["message"]["content"] : nullptr)
                                   : (choice.contains("text") ? &choice["text"] : nullptr);
        if (text == nullptr || !text->is_string())
          fail("{}{}: a choice without {}", origin_, path, is_chat ? "message.content" : "text");
        c.texts.push_back(text->get<std::string>());
        c.reasons.push_back(choice.value("finish_reason", std::string("stop")));
      }
      if (int32_t(c.texts.size()) != options_.num_generations)
        fail("{}{}: asked for n = {} choices, got {}", origin_, path, options_.num_generations, c.texts.size());
      return c;
    }
    fail("{}{}: failed after {} attempts: {}", origin_, path, options_.retries + 1, last_error);
  }

 private:
  const DatasetGenerateOptions& options_;
  std::string origin_, base_path_;
};

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

  std::unique_ptr<LocalBackend> local;
  std::unique_ptr<RemoteBackend> remote;
  if (o.server_url.empty())
    local = std::make_unique<LocalBackend>(o);
  else
    remote = std::make_unique<RemoteBackend>(o);
  const bool chat = local ? local->chat() : remote->chat();

  const size_t first = size_t(report.skipped), count = rows.size() - first;
  std::vector<Prompt> prompts;
  std::vector<uint64_t> seeds;
  for (size_t i = first; i < rows.size(); ++i) {
    prompts.push_back(build_prompt(o, rows[i], chat, prompt_template.get(),
                                   fmt::format("{}:{}", o.input.string(), rows[i]["__line"].get<int64_t>())));
    seeds.push_back(mix_seed(o.seed, uint64_t(i)));
  }

  std::ofstream out;  // opened at the first finished row, so a run that fails before leaves no file behind
  std::vector<std::optional<Completion>> done(count);
  size_t next = 0;
  auto write_ready = [&] {
    for (; next < count && done[next]; ++next) {
      Json row = rows[first + next];
      row.erase("__line");
      const Completion& c = *done[next];
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
    for (const Prompt& p : prompts) ids.push_back(local->encode(p));
  const auto generation_start = std::chrono::steady_clock::now();
  if (local) {
    local->run(ids, seeds, [&](size_t i, Completion c) {
      done[i] = std::move(c);
      write_ready();
    });
  } else {
    std::mutex mutex;
    std::condition_variable ready;
    std::atomic<size_t> cursor{0};
    std::atomic<bool> stop{false};
    std::string error;
    std::vector<std::optional<Completion>> results(count);
    std::vector<std::thread> workers;
    for (int32_t w = 0; w < std::max(1, o.concurrency); ++w)
      workers.emplace_back([&] {
        for (size_t i; !stop && (i = cursor++) < count;) {
          try {
            Completion c = remote->complete(prompts[i], seeds[i]);
            std::lock_guard<std::mutex> lock(mutex);
            results[i] = std::move(c);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mutex);
            if (error.empty()) error = e.what();
            stop = true;
          }
          ready.notify_all();
        }
      });
    {
      std::unique_lock<std::mutex> lock(mutex);
      while (next < count && error.empty()) {
        ready.wait(lock, [&] { return !error.empty() || results[next].has_value(); });
        while (next < count && results[next]) {
          done[next] = std::move(results[next]);
          write_ready();
        }
      }
    }
    for (auto& t : workers) t.join();
    if (!error.empty()) fail("{}", error);
  }
  const auto end = std::chrono::steady_clock::now();
  report.seconds = std::chrono::duration<double>(end - start).count();
  report.generation_seconds = std::chrono::duration<double>(end - generation_start).count();
  return report;
}

}  // namespace r1::engine
