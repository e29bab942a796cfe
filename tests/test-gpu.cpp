// CUDA checks (CTest label `gpu`, skipped by `make test`; run with `make test-gpu` on a CUDA LibTorch):
// the golden logits and KV-cache decode on the GPU equal the CPU results, in fp32 and bf16.
#include <torch/cuda.h>
#include <torch/torch.h>

#include "r1/model.h"
#include "r1/safetensors.h"
#include "test-helpers.h"

namespace fs = std::filesystem;

TEST(Gpu, GoldenLogitsAndCacheOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (this LibTorch: CPU only or no GPU visible)";
  torch::NoGradGuard no_grad;
  at::globalContext().setAllowTF32CuBLAS(false);
  for (const char* name : {"qwen2-tiny", "llama-tiny", "llama-alibi-tiny"}) {
    fs::path dir = fs::path(R1_SOURCE_DIR) / "tests" / "golden" / name;
    r1::safetensors::File golden(dir / "golden.safetensors");
    at::Tensor ids = golden.get("input_ids").cuda(), mask = golden.get("attention_mask").cuda();
    at::Tensor want = golden.get("logits");
    auto model = r1::model::load_pretrained(dir, {.device = at::Device(at::kCUDA)});
    at::Tensor got = model->forward(ids, {.attention_mask = mask}).cpu();
    at::Tensor real = mask.cpu().to(at::kBool);
    EXPECT_LE((got.index({real}) - want.index({real})).abs().max().item<double>(), 1e-4) << name;

    // Decode with a KV cache on the GPU equals the full forward (row 0: no padding).
    at::Tensor row = ids.narrow(0, 0, 1);
    auto cache = r1::model::KvCache::allocate(model->config(), 1, 16, at::kFloat, at::Device(at::kCUDA));
    model->forward(row.narrow(1, 0, 5), {.cache = &cache});
    at::Tensor step = model->forward(row.narrow(1, 5, 1), {.cache = &cache}).cpu();
    EXPECT_LE((step[0][0] - want[0][5]).abs().max().item<double>(), 1e-4) << name;

    auto bf16 = r1::model::load_pretrained(dir, {.dtype = at::kBFloat16, .device = at::Device(at::kCUDA)});
    at::Tensor low = bf16->forward(ids, {.attention_mask = mask}).to(at::kFloat).cpu();
    EXPECT_LE((low.index({real}) - want.index({real})).abs().max().item<double>(), 0.25) << name;
  }
}
