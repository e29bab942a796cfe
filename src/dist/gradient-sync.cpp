// GradientSync (see gradient-sync.h): buckets, the accumulator post-hooks, in-order launches and the write-back.
#include "dist/gradient-sync.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>

#include "r1/error.h"

namespace r1::dist {

struct GradientSync::State {
  struct Bucket {
    std::vector<size_t> params;   // indices into State::params
    std::vector<int64_t> offset;  // each parameter's first element in the flat buffer
    int64_t numel = 0;            // gradient elements; the flags follow them
    at::ScalarType dtype = at::kFloat;
    int64_t waiting = 0;  // parameters still to fire before the bucket is full (this backward)
    bool launched = false;
    at::Tensor flat;  // (numel + params.size())
    std::unique_ptr<World::Pending> work;
  };

  const World& world;
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept alive so the hooks stay
  std::vector<uintptr_t> hook_keys;
  std::vector<size_t> bucket_of;
  std::vector<int64_t> fired, expected;  // hook calls this backward; on the first synchronised one (-1: unknown)
  std::vector<Bucket> buckets;
  size_t next = 0;  // the next bucket to launch (strictly in order)
  bool armed = false, learned = false;

  State(const World& w, std::vector<at::Tensor> p) : world(w), params(std::move(p)) {}

  void launch(Bucket& b) {
    std::vector<at::Tensor> parts;
    at::Tensor flags = torch::zeros({int64_t(b.params.size())}, torch::TensorOptions().dtype(b.dtype));
    for (size_t j = 0; j < b.params.size(); ++j) {
      const at::Tensor& p = params[b.params[j]];
      const at::Tensor& g = p.grad();
      if (g.defined()) {
        parts.push_back(g.detach().reshape({-1}).to(b.dtype));
        flags[int64_t(j)] = 1;
      } else {
        parts.push_back(torch::zeros({p.numel()}, torch::TensorOptions().dtype(b.dtype)));
      }
    }
    parts.push_back(flags);
    b.flat = at::cat(parts);
    b.work = world.all_reduce_async(b.flat);
    b.launched = true;
  }

  void launch_ready() {
    while (next < buckets.size() && buckets[next].waiting == 0) launch(buckets[next++]);
  }

  void on_gradient(size_t i) {
    if (!armed) return;
    ++fired[i];
    if (!learned || fired[i] != expected[i]) return;
    Bucket& b = buckets[bucket_of[i]];
    if (--b.waiting == 0) launch_ready();
  }

  void write_back(Bucket& b) {
    torch::NoGradGuard no_grad;
    const int64_t n = int64_t(b.params.size());
    at::Tensor flags = b.flat.narrow(0, b.numel, n);
    for (int64_t j = 0; j < n; ++j) {
      if (!(flags[j].item<double>() > 0)) continue;  // no rank had a gradient: none, as in one process
      at::Tensor& p = params[b.params[size_t(j)]];
      at::Tensor sum = b.flat.narrow(0, b.offset[size_t(j)], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(sum);
      else
        p.mutable_grad() = sum.to(p.scalar_type()).clone();
    }
  }
};

GradientSync::GradientSync(const World& world, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : state_(std::make_unique<State>(world, std::move(params))) {
  State& s = *state_;
  const size_t n = s.params.size();
  s.bucket_of.assign(n, 0);
  s.fired.assign(n, 0);
  s.expected.assign(n, -1);
  // reverse order: the last layers' gradients come first in backward
  for (size_t k = n; k-- > 0;) {
    const at::Tensor& p = s.params[k];
    if (!p.requires_grad()) fail("GradientSync: parameter {} does not require a gradient", k);
    const int64_t bytes = p.numel() * int64_t(p.element_size());
    if (s.buckets.empty() || s.buckets.back().dtype != p.scalar_type() ||
        (s.buckets.back().numel * int64_t(p.element_size()) + bytes > bucket_bytes && !s.buckets.back().params.empty()))
      s.buckets.push_back(State::Bucket{.dtype = p.scalar_type()});
    State::Bucket& b = s.buckets.back();
    b.params.push_back(k);
    b.offset.push_back(b.numel);
    b.numel += p.numel();
    s.bucket_of[k] = s.buckets.size() - 1;
  }
  for (size_t k = 0; k < n; ++k) {
    std::shared_ptr<torch::autograd::Node> acc = torch::autograd::impl::grad_accumulator(s.params[k]);
    if (!acc) fail("GradientSync: parameter {} is not a leaf with a gradient accumulator", k);
    State* state = state_.get();
    s.hook_keys.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [state, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          state->on_gradient(k);
          return outputs;
        })));
    s.accumulators.push_back(std::move(acc));
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < state_->accumulators.size(); ++k) state_->accumulators[k]->del_post_hook(state_->hook_keys[k]);
}

size_t GradientSync::num_buckets() const { return state_->buckets.size(); }

void GradientSync::arm() {
  State& s = *state_;
  std::fill(s.fired.begin(), s.fired.end(), 0);
  for (State::Bucket& b : s.buckets) {
    b.launched = false;
    b.work.reset();
    b.waiting = 0;
    if (s.learned)
      for (size_t k : b.params) b.waiting += s.expected[k] > 0 ? 1 : 0;
    if (!s.learned) b.waiting = 1;  // the first synchronised backward learns the pattern, launching at the end
  }
  s.next = 0;
  s.armed = true;
  if (s.learned) s.launch_ready();  // buckets of parameters that never get a gradient
}

double GradientSync::finish() {
  State& s = *state_;
  const auto t0 = std::chrono::steady_clock::now();
  s.armed = false;
  while (s.next < s.buckets.size()) s.launch(s.buckets[s.next++]);
  // a bucket launched during backward whose parameter fired again after its expected count holds a stale sum
  std::vector<double> stale(s.buckets.size(), 0.0);
  if (s.learned)
    for (size_t b = 0; b < s.buckets.size(); ++b)
      for (size_t k : s.buckets[b].params)
        if (s.fired[k] > s.expected[k]) stale[b] = 1.0;
  s.world.all_reduce(stale, ReduceOp::kMax);
  for (State::Bucket& b : s.buckets) b.work->wait();
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    if (stale[b] > 0) {  // every rank agrees: reduce this bucket again from the final gradients
      s.launch(s.buckets[b]);
      s.buckets[b].work->wait();
    }
    s.write_back(s.buckets[b]);
    s.buckets[b].flat = at::Tensor();
    s.buckets[b].work.reset();
  }
  s.expected = s.fired;
  s.learned = true;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace r1::dist
