// GRPO prompts from JSONL rows (see grpo-data.h for the column rules): rendering through the chat template with
// the generation prompt (as TRL's maybe_apply_chat_template), tokenizing without special tokens (as TRL's
// processing_class(..., add_special_tokens=False)) and keeping the last max_prompt_length ids.
#include "train/grpo-data.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <map>

#include "common/jsonl.h"
#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/rewards.h"
#include "train/reward-funcs.h"

namespace r1::train::rl {
namespace fs = std::filesystem;

namespace {

bool is_conversation(const nlohmann::json& v) {
  return v.is_array() && !v.empty() && v.front().is_object() && v.front().contains("role");
}

}  // namespace

nlohmann::json prompt_of(const nlohmann::json& row, const PromptOptions& o, bool has_chat_template) {
  nlohmann::json messages;
  if (row.contains("prompt") && is_conversation(row["prompt"])) {
    messages = tokenizer::text_messages(row["prompt"], "'prompt'");
  } else if (row.contains("messages") && is_conversation(row["messages"])) {
    messages = tokenizer::text_messages(row["messages"], "'messages'");
    while (!messages.empty() && messages.back().value("role", "") == "assistant") messages.erase(messages.size() - 1);
  } else {
    for (const char* c : {"prompt", "messages"})
      if (row.contains(c) && row[c].is_array() && row[c].empty()) fail("'{}' is an empty conversation", c);
    std::vector<std::string> columns = {o.dataset_prompt_column};
    for (const char* c : {"prompt", "problem"})
      if (c != o.dataset_prompt_column) columns.push_back(c);
    std::string text, used;
    for (const std::string& column : columns)
      if (row.contains(column) && row[column].is_string()) {
        text = row[column].get<std::string>();
        used = column;
        break;
      }
    if (!used.empty() && text.empty()) fail("'{}' is empty", used);
    if (used.empty())
      fail("no prompt: the row has no string column '{}' (nor '{}') and no conversation", columns[0],
           fmt::join(columns.begin() + 1, columns.end(), "', '"));
    if (!has_chat_template) return text;
    messages = nlohmann::json::array();
    if (!o.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", o.system_prompt}});
    messages.push_back({{"role", "user"}, {"content", text}});
  }
  if (!has_chat_template) fail("chat_template 'none' cannot render a conversation");
  return messages;
}

std::string render_prompt(const nlohmann::json& row, const PromptOptions& o, const tokenizer::Tokenizer& tok,
                          const tokenizer::ChatTemplate* chat_template) {
  const nlohmann::json prompt = prompt_of(row, o, chat_template != nullptr);
  if (prompt.is_string()) return prompt.get<std::string>();
  nlohmann::json context = {{"messages", prompt}, {"add_generation_prompt", true}};
  const tokenizer::TokenizerConfig& c = tok.config();
  if (c.bos_token) context["bos_token"] = *c.bos_token;
  if (c.eos_token) context["eos_token"] = *c.eos_token;
  return chat_template->render(context).text;
}

text::BundleSource policy_source(const PromptOptions& o) {
  return {.model_dir = o.model_name_or_path,
          .tokenizer_dir = o.tokenizer_name_or_path,
          .chat_template = o.chat_template,
          .option = "chat_template",
          .fallback_template = "r1-zero"};
}

PromptDataset PromptDataset::from_rows(std::vector<nlohmann::json> rows, const PromptOptions& o,
                                       const tokenizer::Tokenizer& tok, const tokenizer::ChatTemplate* tmpl,
                                       const std::string& source, std::vector<size_t> lines) {
  PromptDataset d;
  d.source_ = source;
  d.lines_ = std::move(lines);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string text;
    try {
      d.prompts_.push_back(prompt_of(rows[i], o, tmpl != nullptr));
      text = render_prompt(rows[i], o, tok, tmpl);
    } catch (const Error& e) {
      fail("{}: {}", d.where(i), e.what());
    }
    std::vector<int32_t> ids = tok.encode(text, /*add_special_tokens=*/false);
    if (ids.empty()) fail("{}: the prompt renders to no tokens", d.where(i));
    if (int64_t(ids.size()) > o.max_prompt_length) ids.erase(ids.begin(), ids.end() - o.max_prompt_length);
    d.texts_.push_back(std::move(text));
    d.ids_.push_back(std::move(ids));
  }
  d.rows_ = std::move(rows);
  if (d.rows_.empty()) fail_usage("dataset '{}' has no rows", source);
  return d;
}

PromptDataset PromptDataset::load(const PromptOptions& o, const tokenizer::Tokenizer& tok,
                                  const tokenizer::ChatTemplate* tmpl) {
  fs::path path = o.dataset_name;
  if (fs::is_directory(path)) path /= "train.jsonl";
  if (!fs::is_regular_file(path))
    fail_usage("dataset_name: '{}' is not a JSONL file (or a directory with train.jsonl)", path.string());
  std::vector<nlohmann::json> rows;
  std::vector<size_t> lines;
  JsonlReader reader(path);
  nlohmann::json row;
  while (reader.next(row)) {
    if (!row.is_object()) fail("{}:{}: expected a JSON object", path.string(), reader.line());
    rows.push_back(std::move(row));
    lines.push_back(reader.line());
    if (o.max_samples > 0 && int64_t(rows.size()) >= o.max_samples) break;
  }
  return from_rows(std::move(rows), o, tok, tmpl, path.string(), std::move(lines));
}

fs::path split_path(const std::string& dataset_name, const std::string& split) {
  const fs::path path = dataset_name;
  if (fs::is_directory(path)) return path / (split + ".jsonl");
  return path.parent_path() / (path.stem().string() + "." + split + ".jsonl");
}

std::string PromptDataset::where(size_t i) const {
  return fmt::format("{}:{}", source_, i < lines_.size() ? lines_[i] : i + 1);
}

void PromptDataset::check_rewards(const std::vector<std::string>& reward_names) const {
  const bool mixed = has_reward_model(reward_names);  // rows a rule-based reward cannot score are left to the model
  std::map<std::string, int64_t> not_applicable;
  for (const std::string& name : reward_names) {
    if (is_reward_model_entry(name)) continue;
    for (size_t i = 0; i < rows_.size(); ++i) {
      try {
        rewards::check_reward_example(name, rows_[i]);
      } catch (const UsageError&) {
        throw;  // an unknown reward name: the recipe's error, not the row's
      } catch (const Error& e) {
        if (!mixed) fail("{}: {}", where(i), e.what());
        ++not_applicable[name];
      }
    }
  }
  for (const auto& [name, n] : not_applicable)
    fmt::print("note: reward '{}' does not apply to {} of {} rows (a mixed dataset: the reward model scores them)\n",
               name, n, rows_.size());
}

}  // namespace r1::train::rl
