// The batch layout of rollout scoring (rollout.h): prompt and completion of each row end to end, right-padded;
// completion token t of row b is predicted by position b * T + |prompt_b| + t - 1. Packed: the sequences in rows
// of the longest one's length (best-fit decreasing, r1::data's packing), end to end within a row, segment ids
// keeping attention and positions inside each sequence; token t of sequence b is predicted by position start_b +
// |prompt_b| + t - 1, start_b where its row and place begin.
#include "train/rollout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/types.h>

#include <algorithm>

#include "model/lm-head-losses.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/safetensors.h"

namespace r1::train::rl {
namespace {

struct Layout {
  int64_t B = 0, T = 1, L = 1;  // sequences, row length, longest completion
  at::Tensor input;             // (B, T) ids; padding-free (1, T)
  at::Tensor segments;          // padding-free: (1, T) the sequence of each position; else undefined
  at::Tensor rows;              // (N) flat positions predicting the completion tokens
  at::Tensor targets, slots;    // (N) the tokens; their flat (b * L + t) places in (B, L)
};

Layout layout(const TokenRows& prompts, const TokenRows& completions, int32_t pad_id, bool packed, at::Device device) {
  Layout l;
  l.B = int64_t(prompts.size());
  std::vector<size_t> lengths;
  for (int64_t b = 0; b < l.B; ++b) {
    lengths.push_back(prompts[b]->size() + completions[b]->size());
    l.T = std::max<int64_t>(l.T, int64_t(lengths.back()));
    l.L = std::max<int64_t>(l.L, int64_t(completions[b]->size()));
  }
  // Rows of sequence indices: one each, or packed best-fit decreasing into rows of the longest one's length.
  std::vector<std::vector<size_t>> bins;
  if (packed) {
    bins = data::pack_best_fit_decreasing(lengths, size_t(l.T));
    int64_t fullest = 1;
    for (const auto& bin : bins) {
      int64_t n = 0;
      for (size_t b : bin) n += int64_t(lengths[b]);
      fullest = std::max(fullest, n);
    }
    l.T = fullest;
  } else {
    for (size_t b = 0; b < size_t(l.B); ++b) bins.push_back({b});
  }
  const int64_t R = int64_t(bins.size());
  std::vector<int64_t> ids(size_t(R * l.T), pad_id), segments, rows, targets, slots;
  if (packed) segments.assign(size_t(R * l.T), -1);  // padding: a segment of its own
  rows.resize(size_t(l.B * l.L), -1);
  targets.resize(rows.size(), 0);
  for (int64_t r = 0; r < R; ++r) {
    int64_t start = r * l.T;  // where the next sequence of row r begins in the flat input
    for (size_t b : bins[size_t(r)]) {
      const auto& p = *prompts[b];
      const auto& c = *completions[b];
      std::copy(p.begin(), p.end(), ids.begin() + start);
      std::copy(c.begin(), c.end(), ids.begin() + start + int64_t(p.size()));
      for (size_t t = 0; t < c.size(); ++t) {
        rows[b * size_t(l.L) + t] = start + int64_t(p.size() + t) - 1;
        targets[b * size_t(l.L) + t] = c[t];
      }
      if (packed) std::fill(segments.begin() + start, segments.begin() + start + int64_t(lengths[b]), int64_t(b));
      start += int64_t(lengths[b]);
    }
  }
  // The completion tokens in (sequence, position) order, as the (B, L) results are laid out.
  size_t n = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= 0) rows[n] = rows[i], targets[n] = targets[i], slots.push_back(int64_t(i)), ++n;
  rows.resize(n);
  targets.resize(n);
  auto long_tensor = [&](std::vector<int64_t>& v, at::IntArrayRef shape) {
    return torch::from_blob(v.data(), shape, torch::kLong).clone().to(device);
  };
  l.input = long_tensor(ids, {R, l.T});
  if (packed) l.segments = long_tensor(segments, {R, l.T});
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
                         double temperature, int32_t pad_id, bool with_entropy, bool entropy_grad, bool packed) {
  const Layout l = layout(prompts, completions, pad_id, packed, model.parameters().front().device());
  const int64_t C = model.config().hidden_size;
  model::ForwardArgs args;
  args.segment_ids = l.segments;
  at::Tensor hidden = model.hidden_states(l.input, args).reshape({-1, C}).index_select(0, l.rows);  // (N, C)
  model::TokenLogprobs t = entropy_grad
                               ? model::token_logprobs_with_entropy_grad(model, hidden, l.targets, temperature)
                               : model::token_logprobs(model, hidden, l.targets, temperature, with_entropy);  // chunked
  Scored s;
  s.logp = scatter(l, t.logp);
  s.mask = at::zeros({l.B * l.L}, t.logp.options()).index_fill(0, l.slots, 1.0).view({l.B, l.L});
  if (with_entropy) s.entropy = scatter(l, t.entropy);
  s.tokens = l.input.numel();
  return s;
}

at::Tensor completion_values(model::TransformerImpl& value_model, const TokenRows& prompts,
                             const TokenRows& completions, int32_t pad_id) {
  const Layout l = layout(prompts, completions, pad_id, /*packed=*/false, value_model.parameters().front().device());
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
