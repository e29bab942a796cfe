// bench-grpo-learning: GRPO's learning phase on one micro-batch — the policy forward over prompt + completion rows,
// the completion tokens' log-probs and entropies through the chunked LM head, and the backward of a loss over them —
// padded (micro-batch × the longest sequence) against packed (GRPO's `packing`: best-fit decreasing rows of the
// longest sequence's length, attention kept inside each sequence), on completions whose lengths are drawn uniformly
// from [--min-len, --max-len]. The two layouts run on the same draws, alternating which goes first, and each round
// prints both times; the summary is the median of the per-round ratios (bench/grpo-packing.sh). It also checks
// that both give the same loss.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "r1/io.h"
#include "r1/model.h"
#include "r1/runtime.h"
#include "train/rollout.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  r1::bootstrap_process(argc, argv);
  std::string config_path;
  int64_t batch = 8, prompt_len = 64, min_len = 16, max_len = 512, rounds = 6, seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::stoll(argv[++i]); };
    if (a == "--config" && i + 1 < argc)
      config_path = argv[++i];
    else if (a == "--batch")
      batch = next();
    else if (a == "--prompt-len")
      prompt_len = next();
    else if (a == "--min-len")
      min_len = next();
    else if (a == "--max-len")
      max_len = next();
    else if (a == "--rounds")
      rounds = next();
    else if (a == "--seed")
      seed = next();
    else {
      fmt::print(stderr,
                 "usage: bench-grpo-learning --config cfg.json [--batch 8] [--prompt-len 64] [--min-len 16] "
                 "[--max-len 512] [--rounds 6] [--seed 1]\n");
      return 2;
    }
  }
  if (config_path.empty() || batch < 1 || min_len < 1 || max_len < min_len || rounds < 1) {
    fmt::print(stderr, "bench-grpo-learning: --config is required; lengths must satisfy 1 <= min <= max\n");
    return 2;
  }
  r1::configure_runtime({});
  auto config = r1::model::ModelConfig::parse(r1::read_file(config_path), config_path);
  torch::manual_seed(0);
  r1::model::Transformer model(config);
  model->init_weights();
  model->train();
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::uniform_int_distribution<int64_t> length(min_len, max_len), token(0, config.vocab_size - 1);

  auto step = [&](const r1::train::rl::TokenRows& prompts, const r1::train::rl::TokenRows& completions, bool packed,
                  double& loss_out) {
    const auto t0 = std::chrono::steady_clock::now();
    model->zero_grad();
    r1::train::rl::Scored s = r1::train::rl::score_completions(*model, prompts, completions, 1.0, 0, true,
                                                               /*entropy_grad=*/false, packed);
    at::Tensor loss = -(s.logp * s.mask).sum() / s.mask.sum();
    loss.backward();
    loss_out = loss.item<double>();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  std::vector<double> ratios, padded_times, packed_times;
  double max_loss_diff = 0;
  fmt::print("round | real tokens | padded tokens | padded s | packed s | padded / packed\n");
  for (int64_t r = 0; r < rounds + 1; ++r) {  // round 0 warms up
    std::vector<std::vector<int32_t>> p(static_cast<size_t>(batch)), c(static_cast<size_t>(batch));
    int64_t real = 0, longest = 0;
    for (int64_t b = 0; b < batch; ++b) {
      p[size_t(b)].resize(size_t(prompt_len));
      c[size_t(b)].resize(size_t(length(rng)));
      for (auto& x : p[size_t(b)]) x = int32_t(token(rng));
      for (auto& x : c[size_t(b)]) x = int32_t(token(rng));
      real += int64_t(p[size_t(b)].size() + c[size_t(b)].size());
      longest = std::max<int64_t>(longest, int64_t(p[size_t(b)].size() + c[size_t(b)].size()));
    }
    r1::train::rl::TokenRows prompts, completions;
    for (int64_t b = 0; b < batch; ++b) prompts.push_back(&p[size_t(b)]), completions.push_back(&c[size_t(b)]);
    double loss_padded = 0, loss_packed = 0, t_padded = 0, t_packed = 0;
    if (r % 2 == 0) {
      t_padded = step(prompts, completions, false, loss_padded);
      t_packed = step(prompts, completions, true, loss_packed);
    } else {
      t_packed = step(prompts, completions, true, loss_packed);
      t_padded = step(prompts, completions, false, loss_padded);
    }
    max_loss_diff = std::max(max_loss_diff, std::abs(loss_padded - loss_packed));
    if (r == 0) continue;
    ratios.push_back(t_padded / t_packed);
    padded_times.push_back(t_padded);
    packed_times.push_back(t_packed);
    fmt::print("{} | {} | {} | {:.3f} | {:.3f} | {:.2f}\n", r, real, batch * longest, t_padded, t_packed,
               t_padded / t_packed);
  }
  fmt::print(
      "{{\"padded_seconds_median\": {:.4f}, \"packed_seconds_median\": {:.4f}, \"ratio_median\": {:.3f}, "
      "\"max_loss_difference\": {:.3g}, \"parameters\": {}, \"threads\": {}}}\n",
      median(padded_times), median(packed_times), median(ratios), max_loss_diff, model->num_parameters(),
      at::get_num_threads());
  return 0;
}
