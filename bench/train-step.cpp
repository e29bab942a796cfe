// bench-train-step: the training step of `r1 pretrain` (forward, fp32 cross-entropy, backward, global grad
// norm + clipping, AdamW) on random tokens, timed without data loading or logging; --profile writes a Chrome
// trace of the operators (LibTorch's profiler) to find where a step's time goes. bench/train-throughput.sh
// runs it next to bench/train-reference.py (the same model in PyTorch-Python) and `r1 pretrain`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/types.h>

#include <chrono>
#include <memory>

#include "common/atomic-file.h"
#include "r1/model.h"
#include "r1/runtime.h"
#include "r1/train.h"

int main(int argc, char** argv) {
  r1::bootstrap_process(argc, argv);
  std::string config_path, profile;
  int64_t batch = 8, seq = 256, steps = 10, warmup = 2;
  bool bf16 = false, checkpointing = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(argv[++i]); };
    if (a == "--config") config_path = next();
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--seq") seq = std::stoll(next());
    else if (a == "--steps") steps = std::stoll(next());
    else if (a == "--warmup") warmup = std::stoll(next());
    else if (a == "--bf16") bf16 = true;
    else if (a == "--gradient-checkpointing") checkpointing = true;
    else if (a == "--profile") profile = next();
    else {
      fmt::print(stderr, "usage: bench-train-step --config cfg.json [--batch 8] [--seq 256] [--steps 10] [--warmup 2] "
                         "[--bf16] [--gradient-checkpointing] [--profile trace.json]\n");
      return 2;
    }
  }
  r1::configure_runtime({});
  auto config = r1::model::ModelConfig::parse(r1::read_file(config_path), config_path);
  torch::manual_seed(0);
  r1::model::Transformer model(config);
  model->init_weights();
  model->train();
  model->set_gradient_checkpointing(checkpointing);
  r1::train::AdamW opt(r1::train::optimizer_params(*model, {"bias", "norm", "embed_tokens"}), 0.1, 0.9, 0.95, 1e-8);
  at::Tensor ids = torch::randint(0, config.vocab_size, {batch, seq + 1}, torch::kLong);  // (B, T+1)
  std::unique_ptr<torch::autograd::profiler::RecordProfile> recorder;
  std::chrono::steady_clock::time_point start;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup) {
      start = std::chrono::steady_clock::now();
      if (!profile.empty()) recorder = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
    }
    at::Tensor loss;
    {
      if (bf16) {
        at::autocast::set_cpu_enabled(true);
        at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      }
      at::Tensor logits = model->forward(ids.narrow(1, 0, seq));  // (B, T, V)
      loss = r1::train::causal_lm_loss_sum(logits, ids.narrow(1, 1, seq)).first / double(batch * seq);
      if (bf16) {
        at::autocast::set_cpu_enabled(false);
        at::autocast::clear_cache();
      }
    }
    loss.backward();
    std::vector<at::Tensor> norms;
    for (const auto& p : opt.params()) norms.push_back(p.tensor.grad().norm(2));
    const double norm = at::stack(norms).norm(2).item<double>();
    if (norm > 1.0) {
      torch::NoGradGuard no_grad;
      for (const auto& p : opt.params()) p.tensor.mutable_grad().mul_(1.0 / (norm + 1e-6));
    }
    opt.step(1e-4);
    opt.zero_grad();
  }
  recorder.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{{\"tokens_per_second\": {:.1f}, \"parameters\": {}, \"threads\": {}}}\n",
             double(batch * seq * steps) / seconds, model->num_parameters(), at::get_num_threads());
  return 0;
}
