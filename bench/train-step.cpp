// bench-train-step: the training step of `r1 pretrain` (forward, fused LM head + fp32 cross-entropy, backward,
// global grad norm + clipping, AdamW) on random tokens, timed without data loading or logging;
// --logits-loss takes the unfused path (logits materialised, then cross-entropy); --profile writes a Chrome
// trace of the operators (LibTorch's profiler) to find where a step's time goes; --device cuda runs the step on
// the GPU (bf16: CUDA autocast; scripts/gpu/bench.sh). bench/train-throughput.sh runs it next to
// bench/train-reference.py (the same model in PyTorch-Python) and `r1 pretrain`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "model/autocast-state.h"
#include "r1/io.h"
#include "r1/model.h"
#include "r1/runtime.h"
#include "r1/train.h"

// CPU time of every thread of the process: on a machine shared with other work it still measures the work a
// step does (wall time does not), as long as no thread spins while it waits (OMP_WAIT_POLICY=PASSIVE).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

int main(int argc, char** argv) {
  r1::bootstrap_process(argc, argv);
  std::string config_path, profile, device_name = "cpu";
  int64_t batch = 8, seq = 256, steps = 10, warmup = 2;
  bool bf16 = false, checkpointing = false, logits_loss = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(argv[++i]); };
    if (a == "--config")
      config_path = next();
    else if (a == "--batch")
      batch = std::stoll(next());
    else if (a == "--seq")
      seq = std::stoll(next());
    else if (a == "--steps")
      steps = std::stoll(next());
    else if (a == "--warmup")
      warmup = std::stoll(next());
    else if (a == "--bf16")
      bf16 = true;
    else if (a == "--gradient-checkpointing")
      checkpointing = true;
    else if (a == "--logits-loss")
      logits_loss = true;
    else if (a == "--profile")
      profile = next();
    else if (a == "--device")
      device_name = next();
    else {
      fmt::print(stderr,
                 "usage: bench-train-step --config cfg.json [--batch 8] [--seq 256] [--steps 10] [--warmup 2] "
                 "[--bf16] [--gradient-checkpointing] [--logits-loss] [--profile trace.json] [--device cpu|cuda]\n");
      return 2;
    }
  }
  r1::configure_runtime({.device = device_name});  // validates the device
  const at::Device device(device_name);
  auto config = r1::model::ModelConfig::parse(r1::read_file(config_path), config_path);
  torch::manual_seed(0);
  r1::model::Transformer model(config, torch::TensorOptions().device(device));
  model->init_weights();
  model->train();
  model->set_gradient_checkpointing(checkpointing);
  r1::train::AdamW opt(r1::train::optimizer_params(*model, {"bias", "norm", "embed_tokens"}), 0.1, 0.9, 0.95, 1e-8);
  at::Tensor ids = torch::randint(0, config.vocab_size, {batch, seq + 1},
                                  torch::TensorOptions().dtype(torch::kLong).device(device));  // (B, T+1)
  std::unique_ptr<torch::autograd::profiler::RecordProfile> recorder;
  std::chrono::steady_clock::time_point start;
  double cpu_start = 0;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup) {
      start = std::chrono::steady_clock::now();
      cpu_start = process_cpu_seconds();
      if (!profile.empty()) recorder = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
    }
    at::Tensor loss;
    {
      if (bf16) r1::model::detail::set_autocast(device.type(), true, at::kBFloat16);
      at::Tensor hidden = model->hidden_states(ids.narrow(1, 0, seq));  // (B, T, C)
      at::Tensor labels = ids.narrow(1, 1, seq);
      loss = (logits_loss ? r1::train::causal_lm_loss_sum(model->logits(hidden), labels)
                          : r1::train::causal_lm_loss_sum(*model, hidden, labels))
                 .first /
             double(batch * seq);
      if (bf16) {
        r1::model::detail::set_autocast(device.type(), false, at::kBFloat16);
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
  if (device.is_cuda()) torch::cuda::synchronize();
  recorder.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = process_cpu_seconds() - cpu_start;
  fmt::print(
      "{{\"tokens_per_second\": {:.1f}, \"cpu_seconds_per_step\": {:.4f}, \"parameters\": {}, \"threads\": {}, "
      "\"device\": \"{}\"}}\n",
      double(batch * seq * steps) / seconds, cpu / double(steps), model->num_parameters(), at::get_num_threads(),
      device.str());
  return 0;
}
