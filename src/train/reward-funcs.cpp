// reward_funcs entries resolved to functions (see reward-funcs.h): registry rewards and reward models, with the
// row check that makes a mixed dataset's rows "not applicable" to the rewards they cannot be scored by. The reward
// model follows TRL's GRPOTrainer._calculate_rewards: render prompt + completion with the reward model's own
// tokenizer, right-pad, no special tokens added, logits[:, 0] under inference mode.
#include "train/reward-funcs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_registered(const std::string& name) {
  for (const rewards::RewardInfo& info : rewards::registered_rewards())
    if (info.name == name) return true;
  return false;
}

std::string last_component(const std::string& entry) {
  fs::path p(entry);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// An entry that is not a registry name: a reward model directory, else a usage error saying what was expected.
void require_reward_model(const std::string& entry) {
  if (is_reward_model_dir(entry)) return;
  if (fs::is_directory(entry))
    fail_usage(
        "reward_funcs: '{}' is a directory but not a sequence-classification model (config.json architectures "
        "*ForSequenceClassification, or a LoRA adapter with task_type SEQ_CLS, as `r1 reward` writes)",
        entry);
  std::vector<std::string> names;
  for (const rewards::RewardInfo& info : rewards::registered_rewards()) names.push_back(info.name);
  fail_usage("reward_funcs: unknown reward '{}': expected one of {}, or a reward model directory", entry,
             fmt::join(names, ", "));
}

}  // namespace

// ---- The reward model -----------------------------------------------------------------------------------------------

RewardModelOptions RewardModelOptions::parse(const json& params, const std::string& entry) {
  RewardModelOptions o;
  if (params.is_null()) return o;
  if (!params.is_object()) fail_usage("reward_kwargs['{}']: expected a mapping {{parameter: value}}", entry);
  for (const auto& [key, value] : params.items()) {
    if (key == "score" && value.is_string() && (value == "all" || value == "answer")) {
      o.score = value == "all" ? ScoredText::kAll : ScoredText::kAnswer;
    } else if (key == "batch_size" && value.is_number_integer() && value.get<int64_t>() >= 1) {
      o.batch_size = value.get<int64_t>();
    } else if (key == "score" || key == "batch_size") {
      fail_usage("reward_kwargs['{}']: {} must be {}, got {}", entry, key,
                 key == "score" ? "\"all\" or \"answer\"" : "an integer >= 1", value.dump());
    } else {
      fail_usage("reward_kwargs['{}']: unknown parameter '{}' of a reward model (score, batch_size)", entry, key);
    }
  }
  return o;
}

bool is_reward_model_dir(const std::string& entry) {
  const fs::path config = fs::path(entry) / "config.json";
  if (!fs::is_directory(entry)) return false;
  if (fs::is_regular_file(config)) return model::ModelConfig::load(config).is_classifier();
  // a PEFT adapter of a sequence classifier (`r1 reward` with use_peft): loaded with its base and merged
  return model::directory_has_adapter(entry) && model::read_adapter_config(entry).task_type == "SEQ_CLS";
}

bool is_reward_model_entry(const std::string& entry) { return !is_registered(entry) && is_reward_model_dir(entry); }

std::string answer_part(const std::string& completion) {
  const std::string close = "</think>";
  const size_t at = completion.find(close);
  return at == std::string::npos ? completion : completion.substr(at + close.size());
}

RewardModel::RewardModel(const fs::path& dir, const RewardModelOptions& options, at::Device device)
    : dir_(dir), options_(options) {
  bundle_ = text::load_model_bundle({.model_dir = dir, .chat_template = "", .option = "reward model"},
                                    {.device = device, .num_labels = 1});
  bundle_.model->eval();
  for (auto& p : bundle_.model->parameters()) p.set_requires_grad(false);
}

std::string RewardModel::render(const json& prompt, const std::string& completion) const {
  const std::string text = options_.score == ScoredText::kAnswer ? answer_part(completion) : completion;
  if (prompt.is_string()) return prompt.get<std::string>() + text;
  if (bundle_.chat_template == nullptr)
    fail("reward model '{}': its tokenizer has no chat template to render a conversational prompt", dir_.string());
  json messages = tokenizer::text_messages(prompt, "the prompt");
  messages.push_back({{"role", "assistant"}, {"content", text}});
  json context = {{"messages", messages}, {"add_generation_prompt", false}};
  const tokenizer::TokenizerConfig& c = bundle_.tokenizer.config();
  if (c.bos_token) context["bos_token"] = *c.bos_token;
  if (c.eos_token) context["eos_token"] = *c.eos_token;
  return bundle_.chat_template->render(context).text;
}

std::vector<double> RewardModel::score(const std::vector<json>& prompts,
                                       const std::vector<std::string>& completions) const {
  if (prompts.size() != completions.size())
    fail("reward model '{}': {} prompts but {} completions", dir_.string(), prompts.size(), completions.size());
  torch::InferenceMode inference;
  model::Transformer m = bundle_.model;
  const int64_t max_len = m->config().max_position_embeddings;
  const int64_t pad = bundle_.tokenizer.padding_id();
  const at::Device device = m->parameters().front().device();
  std::vector<double> out;
  out.reserve(completions.size());
  for (size_t begin = 0; begin < completions.size(); begin += size_t(options_.batch_size)) {
    const size_t end = std::min(completions.size(), begin + size_t(options_.batch_size));
    std::vector<std::vector<int32_t>> rows;
    int64_t T = 1;
    for (size_t i = begin; i < end; ++i) {
      std::vector<int32_t> ids = bundle_.tokenizer.encode(render(prompts[i], completions[i]), false);
      if (ids.empty()) ids.push_back(int32_t(pad));  // nothing to read: scored as the pad token alone
      if (int64_t(ids.size()) > max_len) ids.erase(ids.begin(), ids.end() - max_len);  // keep the last tokens
      T = std::max<int64_t>(T, int64_t(ids.size()));
      rows.push_back(std::move(ids));
    }
    const int64_t B = int64_t(rows.size());
    std::vector<int64_t> flat(size_t(B * T), pad), last;  // right padding; each row's last token
    for (int64_t b = 0; b < B; ++b) {
      const std::vector<int32_t>& ids = rows[size_t(b)];
      std::copy(ids.begin(), ids.end(), flat.begin() + b * T);
      last.push_back(int64_t(ids.size()) - 1);
    }
    at::Tensor input = torch::tensor(flat).view({B, T}).to(device);                                          // (B, T)
    at::Tensor rows_index = torch::arange(B, input.options()), last_index = torch::tensor(last).to(device);  // (B)
    at::Tensor hidden = m->hidden_states(input);                 // (B, T, C)
    at::Tensor pooled = hidden.index({rows_index, last_index});  // (B, C): each row's last token
    at::Tensor scores = m->score(pooled).select(1, 0).to(at::kCPU, at::kDouble).contiguous();  // (B): logits[:, 0]
    const double* s = scores.data_ptr<double>();
    out.insert(out.end(), s, s + B);
  }
  return out;
}

// ---- reward_funcs entries -------------------------------------------------------------------------------------------

std::vector<rewards::Score> RewardFunc::operator()(const std::vector<json>& prompts,
                                                   const std::vector<std::string>& completions,
                                                   const std::vector<json>& examples) const {
  if (model_) {
    std::vector<rewards::Score> out;
    for (double s : model_->score(prompts, completions)) out.emplace_back(s);
    return out;
  }
  if (!skip_rows_it_cannot_score_) return fn_(completions, examples);
  std::vector<size_t> applicable;
  for (size_t i = 0; i < examples.size(); ++i) {
    try {
      rewards::check_reward_example(entry_, examples[i]);
      applicable.push_back(i);
    } catch (const UsageError&) {
      throw;
    } catch (const Error&) {  // the row lacks what this reward reads: not applicable
    }
  }
  if (applicable.size() == examples.size()) return fn_(completions, examples);
  std::vector<std::string> some_completions;
  std::vector<json> some_examples;
  for (size_t i : applicable) some_completions.push_back(completions[i]), some_examples.push_back(examples[i]);
  std::vector<rewards::Score> out(completions.size());
  if (applicable.empty()) return out;
  std::vector<rewards::Score> some = fn_(some_completions, some_examples);
  for (size_t k = 0; k < applicable.size(); ++k) out[applicable[k]] = some[k];
  return out;
}

json reward_params(const json& reward_kwargs, const std::string& entry) {
  if (reward_kwargs.is_object() && reward_kwargs.contains(entry)) return reward_kwargs[entry];
  return json::object();
}

bool has_reward_model(const std::vector<std::string>& entries) {
  return std::any_of(entries.begin(), entries.end(), is_reward_model_entry);
}

void append_scored_completions(const std::filesystem::path& file, int64_t step, const std::vector<std::string>& prompts,
                               const std::vector<std::string>& completions, const std::vector<RewardFunc>& rewards,
                               const std::vector<std::vector<rewards::Score>>& per_reward,
                               const std::function<void(size_t i, nlohmann::ordered_json& line)>& extra) {
  std::ofstream out(file, std::ios::app);
  if (!out) fail("cannot write '{}'", file.string());
  for (size_t i = 0; i < completions.size(); ++i) {
    nlohmann::ordered_json line = {{"step", step}, {"prompt", prompts[i]}, {"completion", completions[i]}};
    for (size_t f = 0; f < per_reward.size(); ++f)
      line[rewards[f].name()] = per_reward[f][i] ? nlohmann::ordered_json(*per_reward[f][i]) : nullptr;
    extra(i, line);
    out << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  }
}

void check_reward_keys(const std::vector<std::string>& rewards, const std::vector<double>& reward_weights,
                       const json& reward_kwargs) {
  if (rewards.empty()) fail_usage("reward_funcs: at least one reward is required");
  if (!reward_weights.empty() && reward_weights.size() != rewards.size())
    fail_usage("reward_weights has {} values but there are {} rewards", reward_weights.size(), rewards.size());
  if (!reward_kwargs.is_null() && !reward_kwargs.is_object())
    fail_usage("reward_kwargs must be a mapping {{reward name: {{parameter: value}}}}");
  if (reward_kwargs.is_object())
    for (const auto& [name, params] : reward_kwargs.items())
      if (std::find(rewards.begin(), rewards.end(), name) == rewards.end())
        fail_usage("reward_kwargs: '{}' is not one of the rewards ({})", name, fmt::join(rewards, ", "));
}

void check_reward_funcs(const std::vector<std::string>& entries, const json& reward_kwargs) {
  for (const std::string& entry : entries) {
    if (is_registered(entry)) {
      rewards::make_reward(entry, reward_params(reward_kwargs, entry));  // bad parameters are errors now
      continue;
    }
    require_reward_model(entry);
    RewardModelOptions::parse(reward_params(reward_kwargs, entry), entry);
  }
}

std::vector<RewardFunc> make_reward_funcs(const std::vector<std::string>& entries, const json& reward_kwargs,
                                          at::Device device) {
  check_reward_funcs(entries, reward_kwargs);
  const bool mixed = has_reward_model(entries);
  std::vector<RewardFunc> out;
  for (const std::string& entry : entries) {
    RewardFunc f;
    f.entry_ = entry;
    const json params = reward_params(reward_kwargs, entry);
    if (is_registered(entry)) {
      f.name_ = entry;
      f.fn_ = rewards::make_reward(entry, params);
      f.skip_rows_it_cannot_score_ = mixed;
    } else {
      f.name_ = last_component(entry);
      f.model_ = std::make_shared<const RewardModel>(entry, RewardModelOptions::parse(params, entry), device);
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace r1::train
