// Fine-tuning examples from JSONL rows in TRL's dataset formats (see r1/data.h): SFT rows (text,
// prompt/completion, messages, Alpaca instruction/input/output) tokenized with their loss masks, preference
// rows (prompt/chosen/rejected, explicit or implicit prompt) tokenized as TRL's DPOTrainer does, and
// best-fit-decreasing packing. Reference behaviour: TRL SFTTrainer / DPOTrainer dataset preparation
// (tokenize_row, completion_mask, assistant_masks, pack_dataset(strategy="bfd")).
// Departures from TRL are listed in r1/data.h.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "r1/chat-template.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/tokenizer.h"

namespace r1::data {
using nlohmann::json;
namespace {

std::string keys_of(const json& row) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : row.items()) keys.push_back(k);
  return fmt::format("[{}]", fmt::join(keys, ", "));
}

const std::string& string_field(const json& row, const char* key, const std::string& where) {
  const json& v = row.at(key);
  if (!v.is_string()) fail("{}: column '{}' must be a string here, got {}", where, key, v.type_name());
  return v.get_ref<const std::string&>();
}

bool is_messages(const json& v) { return v.is_array() && (v.empty() || v[0].is_object()); }

const tokenizer::ChatTemplate& require_template(const tokenizer::ChatTemplate* t, const std::string& where) {
  if (t == nullptr)
    fail("{}: this row holds messages but the tokenizer has no chat_template (set chat_template in the recipe)", where);
  return *t;
}

tokenizer::ChatEncoding render(const tokenizer::Tokenizer& tok, const tokenizer::ChatTemplate& tmpl,
                               const json& messages, const json& row, bool generation_prompt,
                               const std::string& where) {
  json context = {{"messages", tokenizer::text_messages(messages, where)}};
  if (row.contains("tools")) context["tools"] = row["tools"];
  try {
    return tokenizer::encode_chat(tok, tmpl, context.dump(), generation_prompt);
  } catch (const Error& e) {  // the template's own error names a template position, not the row
    fail("{}: {}", where, e.what());
  }
}

void append_eos(const tokenizer::Tokenizer& tok, std::vector<int32_t>& ids) {
  if (auto eos = tok.eos_id(); eos && (ids.empty() || ids.back() != *eos)) ids.push_back(*eos);
}

// The rendered prompt (with the generation prompt) and the rendered prompt + continuation: the continuation
// is what follows the prompt's tokens, which must be a prefix.
std::vector<int32_t> continuation_ids(const tokenizer::ChatEncoding& prompt, const tokenizer::ChatEncoding& full,
                                      const std::string& where) {
  if (full.ids.size() < prompt.ids.size() || !std::equal(prompt.ids.begin(), prompt.ids.end(), full.ids.begin()))
    fail(
        "{}: the chat template's rendering of the prompt is not a prefix of prompt + completion (the template "
        "rewrites earlier turns?)",
        where);
  return {full.ids.begin() + long(prompt.ids.size()), full.ids.end()};
}

}  // namespace

SftExample sft_example(const tokenizer::Tokenizer& tok, const tokenizer::ChatTemplate* tmpl, const json& row_in,
                       const SftFormatOptions& o, const std::string& where) {
  if (!row_in.is_object()) fail("{}: expected a JSON object, got {}", where, row_in.type_name());
  json row = row_in;
  if (!row.contains("prompt") && row.contains("instruction") && row.contains("output")) {  // Alpaca / BELLE
    std::string prompt = string_field(row, "instruction", where);
    if (row.contains("input") && row["input"].is_string() && !row["input"].get<std::string>().empty())
      prompt += "\n\n" + row["input"].get<std::string>();
    const std::string& output = string_field(row, "output", where);
    if (tmpl) {
      row["prompt"] = json::array({{{"role", "user"}, {"content", prompt}}});
      row["completion"] = json::array({{{"role", "assistant"}, {"content", output}}});
    } else {
      row["prompt"] = prompt;
      row["completion"] = output;
    }
  }
  SftExample ex;
  std::vector<uint8_t> mask;
  if (row.contains("messages")) {
    if (!is_messages(row["messages"])) fail("{}: 'messages' must be a list of {{role, content}} objects", where);
    if (row["messages"].empty()) fail("{}: 'messages' is empty", where);
    tokenizer::ChatEncoding e = render(tok, require_template(tmpl, where), row["messages"], row, false, where);
    ex.ids = std::move(e.ids);
    mask = o.assistant_only_loss ? e.assistant_mask : std::vector<uint8_t>(ex.ids.size(), 1);
    if (o.assistant_only_loss && std::find(mask.begin(), mask.end(), 1) == mask.end())
      fail("{}: assistant_only_loss: the conversation has no assistant tokens", where);
  } else if (row.contains("prompt") && row.contains("completion")) {
    const bool completion_only = o.completion_only_loss.value_or(true);
    size_t prompt_tokens = 0;
    if (is_messages(row["prompt"]) || is_messages(row["completion"])) {
      if (!is_messages(row["prompt"]) || !is_messages(row["completion"]))
        fail("{}: 'prompt' and 'completion' must both be strings or both message lists", where);
      if (row["completion"].empty()) fail("{}: 'completion' is an empty message list", where);
      const auto& t = require_template(tmpl, where);
      json all = row["prompt"];
      for (const auto& m : row["completion"]) all.push_back(m);
      tokenizer::ChatEncoding prompt = render(tok, t, row["prompt"], row, true, where);
      tokenizer::ChatEncoding full = render(tok, t, all, row, false, where);
      std::vector<int32_t> completion = continuation_ids(prompt, full, where);
      ex.ids = prompt.ids;
      prompt_tokens = ex.ids.size();
      ex.ids.insert(ex.ids.end(), completion.begin(), completion.end());
      mask.assign(ex.ids.size(), 1);
      if (o.assistant_only_loss)
        for (size_t i = 0; i < ex.ids.size(); ++i) mask[i] = full.assistant_mask[i];
    } else {
      if (o.assistant_only_loss) fail_usage("assistant_only_loss needs conversational data (messages)");
      ex.ids = tok.encode(string_field(row, "prompt", where), /*add_special_tokens=*/true);
      prompt_tokens = ex.ids.size();
      std::vector<int32_t> completion = tok.encode(string_field(row, "completion", where), false);
      append_eos(tok, completion);
      ex.ids.insert(ex.ids.end(), completion.begin(), completion.end());
      mask.assign(ex.ids.size(), 1);
    }
    if (completion_only)
      for (size_t i = 0; i < prompt_tokens; ++i) mask[i] = 0;
  } else if (row.contains("text")) {
    if (o.assistant_only_loss) fail_usage("assistant_only_loss needs conversational data (messages)");
    ex.ids = tok.encode(string_field(row, "text", where), /*add_special_tokens=*/true);
    append_eos(tok, ex.ids);
    mask.assign(ex.ids.size(), 1);
  } else {
    fail("{}: no SFT columns: expected text, prompt + completion, messages, or instruction + output; found {}", where,
         keys_of(row));
  }
  if (!mask.empty()) mask[0] = 0;
  if (o.max_length > 0 && int64_t(ex.ids.size()) > o.max_length) {
    ex.ids.resize(size_t(o.max_length));
    mask.resize(size_t(o.max_length));
    ex.truncated = true;
  }
  ex.loss_mask = std::move(mask);
  return ex;
}

PreferenceExample preference_example(const tokenizer::Tokenizer& tok, const tokenizer::ChatTemplate* tmpl,
                                     const json& row, int64_t max_prompt_length, int64_t max_length,
                                     const std::string& where) {
  if (!row.is_object()) fail("{}: expected a JSON object, got {}", where, row.type_name());
  for (const char* key : {"chosen", "rejected"})
    if (!row.contains(key))
      fail("{}: no '{}' column (preference rows need prompt, chosen, rejected); found {}", where, key, keys_of(row));
  PreferenceExample ex;
  const bool conversational = is_messages(row["chosen"]);
  if (conversational) {
    if (!is_messages(row["rejected"])) fail("{}: 'chosen' is a message list but 'rejected' is not", where);
    const auto& t = require_template(tmpl, where);
    json prompt = json::array();
    json chosen = row["chosen"], rejected = row["rejected"];
    if (row.contains("prompt")) {
      if (!is_messages(row["prompt"])) fail("{}: 'prompt' must be a message list like 'chosen'", where);
      prompt = row["prompt"];
    } else {  // implicit prompt: the leading messages both conversations share
      size_t n = 0;
      while (n < chosen.size() && n < rejected.size() && chosen[n] == rejected[n]) ++n;
      if (n == 0) fail("{}: no 'prompt' column and chosen/rejected share no leading messages", where);
      prompt = json(chosen.begin(), chosen.begin() + long(n));
      chosen = json(chosen.begin() + long(n), chosen.end());
      rejected = json(rejected.begin() + long(n), rejected.end());
    }
    tokenizer::ChatEncoding p = render(tok, t, prompt, row, true, where);
    auto continuation = [&](const json& tail) {
      json all = prompt;
      for (const auto& m : tail) all.push_back(m);
      return continuation_ids(p, render(tok, t, all, row, false, where), where);
    };
    ex.prompt = p.ids;
    ex.chosen = continuation(chosen);
    ex.rejected = continuation(rejected);
  } else {
    if (!row.contains("prompt"))
      fail("{}: no 'prompt' column (string chosen/rejected need one); found {}", where, keys_of(row));
    ex.prompt = tok.encode(string_field(row, "prompt", where), /*add_special_tokens=*/true);
    ex.chosen = tok.encode(string_field(row, "chosen", where), false);
    ex.rejected = tok.encode(string_field(row, "rejected", where), false);
    append_eos(tok, ex.chosen);
    append_eos(tok, ex.rejected);
  }
  if (ex.chosen.empty() || ex.rejected.empty()) fail("{}: an empty chosen or rejected continuation", where);
  if (max_prompt_length > 0 && int64_t(ex.prompt.size()) > max_prompt_length) {
    ex.prompt.erase(ex.prompt.begin(), ex.prompt.end() - max_prompt_length);
    ex.truncated = true;
  }
  if (max_length > 0) {
    const size_t room = size_t(std::max<int64_t>(1, max_length - int64_t(ex.prompt.size())));
    for (auto* c : {&ex.chosen, &ex.rejected})
      if (c->size() > room) {
        c->resize(room);
        ex.truncated = true;
      }
  }
  return ex;
}

std::vector<std::vector<size_t>> pack_best_fit_decreasing(const std::vector<size_t>& lengths, size_t capacity) {
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> bins;
  std::multimap<size_t, size_t> by_room;  // remaining capacity -> bin
  for (size_t i : order) {
    if (lengths[i] > capacity)
      fail("pack_best_fit_decreasing: a sequence of {} tokens exceeds the capacity {}", lengths[i], capacity);
    auto it = by_room.lower_bound(lengths[i]);  // the fullest bin it fits in
    size_t bin;
    size_t room;
    if (it == by_room.end()) {
      bin = bins.size();
      bins.emplace_back();
      room = capacity;
    } else {
      bin = it->second;
      room = it->first;
      by_room.erase(it);
    }
    bins[bin].push_back(i);
    by_room.emplace(room - lengths[i], bin);
  }
  return bins;
}

}  // namespace r1::data
