// The batch layout of rollout scoring (rollout.h): prompt and completion of each row end to end, right-padded;
// completion token t of row b is predicted by position b * T + |prompt_b| + t - 1.
#include "train/rollout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/types.h>

#include <algorithm>

#include "model/lm-head-losses.h"
#include "r1/error.h"
#include "r1/safetensors.h"

namespace r1::train::rl {
namespace {

struct Layout {
  int64_t B = 0, T = 1, L = 1;
  at::Tensor input;           // (B, T) ids
  at::Tensor rows;            // (N) flat positions predicting the completion tokens
  at::Tensor targets, slots;  // (N) the tokens; their flat (b * L + t) places in (B, L)
};

Layout layout(const TokenRows& prompts, const TokenRows& completions, int32_t pad_id, at::Device device) {
  Layout l;
  l.B = int64_t(prompts.size());
  for (int64_t b = 0; b < l.B; ++b) {
    l.T = std::max<int64_t>(l.T, int64_t(prompts[b]->size() + completions[b]->size()));
    l.L = std::max<int64_t>(l.L, int64_t(completions[b]->size()));
  }
  std::vector<int64_t> ids(size_t(l.B * l.T), pad_id), rows, targets, slots;
  for (int64_t b = 0; b < l.B; ++b) {
    const auto& p = *prompts[b];
    const auto& c = *completions[b];
    std::copy(p.begin(), p.end(), ids.begin() + b * l.T);
    std::copy(c.begin(), c.end(), ids.begin() + b * l.T + int64_t(p.size()));
    for (size_t t = 0; t < c.size(); ++t) {
      rows.push_back(b * l.T + int64_t(p.size() + t) - 1);
      targets.push_back(c[t]);
      slots.push_back(b * l.L + int64_t(t));
    }
  }
  auto long_tensor = [&](std::vector<int64_t>& v, at::IntArrayRef shape) {
    return torch::from_blob(v.data(), shape, torch::kLong).clone().to(device);
  };
  l.input = long_tensor(ids, {l.B, l.T});
  l.rows = long_tensor(rows, {int64_t(rows.size())});
  l.targets = long_tensor(targets, {int64_t(targets.size())});
  l.slots = long_tensor(slots, {int64_t(slots.size())});
  return l;
}

// Values (N) placed into a zero (B, L) tensor at the layout's slots.
at::Tensor scatter(const Layout& l, const at::Tensor& values) {
  return at::zeros({l.B * l.L}, values.options()).index_put({l.slots}, values).view({l.B, l.L});
}

}  // namespace

Scored score_completions(model::TransformerImpl& model, const TokenRows& prompts, const TokenRows& completions,
                         double temperature, int32_t pad_id, bool with_entropy, bool entropy_grad) {
  const Layout l = layout(prompts, completions, pad_id, model.parameters().front().device());
  const int64_t C = model.config().hidden_size;
  at::Tensor hidden = model.hidden_states(l.input).reshape({l.B * l.T, C}).index_select(0, l.rows);  // (N, C)
  model::TokenLogprobs t = entropy_grad
                               ? model::token_logprobs_with_entropy_grad(model, hidden, l.targets, temperature)
                               : model::token_logprobs(model, hidden, l.targets, temperature, with_entropy);  // chunked
  Scored s;
  s.logp = scatter(l, t.logp);
  s.mask = at::zeros({l.B * l.L}, t.logp.options()).index_fill(0, l.slots, 1.0).view({l.B, l.L});
  if (with_entropy) s.entropy = scatter(l, t.entropy);
  s.tokens = l.B * l.T;
  return s;
}

at::Tensor completion_values(model::TransformerImpl& value_model, const TokenRows& prompts,
                             const TokenRows& completions, int32_t pad_id) {
  const Layout l = layout(prompts, completions, pad_id, value_model.parameters().front().device());
  const int64_t C = value_model.config().hidden_size;
  at::Tensor hidden = value_model.hidden_states(l.input).reshape({l.B * l.T, C}).index_select(0, l.rows);  // (N, C)
  at::Tensor values = value_model.score(hidden).select(-1, 0).to(at::kFloat);                              // (N)
  return scatter(l, values);
}

at::Tensor floats_to_tensor(const std::vector<const std::vector<float>*>& rows, int64_t L) {
  at::Tensor out = at::zeros({int64_t(rows.size()), L}, at::kFloat);  // (B, L)
  for (size_t b = 0; b < rows.size(); ++b)
    std::copy(rows[b]->begin(), rows[b]->end(), out[int64_t(b)].data_ptr<float>());
  return out;
}

std::vector<float> row_prefix(const at::Tensor& t, int64_t b, size_t n) {
  at::Tensor row = t[b].to(at::kCPU, at::kFloat).contiguous();
  const float* p = row.data_ptr<float>();
  return std::vector<float>(p, p + n);
}

void load_model_tensors(const std::filesystem::path& file, model::TransformerImpl& model) {
  safetensors::File saved(file);
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model::named_tensors(model)) {
    if (!saved.find(name)) fail("{}: no tensor '{}'", file.string(), name);
    at::Tensor stored = saved.get(name);
    if (stored.sizes() != tensor.sizes())
      fail("{}: tensor '{}' has shape [{}], the model [{}]", file.string(), name, fmt::join(stored.sizes(), ", "),
           fmt::join(tensor.sizes(), ", "));
    tensor.copy_(stored);
  }
}

}  // namespace r1::train::rl
