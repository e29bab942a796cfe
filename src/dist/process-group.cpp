// The process group behind r1::dist::world() (include/r1/distributed.h): c10d's TCPStore for the rendezvous (rank
// 0 hosts it at MASTER_ADDR:MASTER_PORT, as torch.distributed's env:// init) and ProcessGroupGloo for the
// collectives, with its devices chosen as Python's torch.distributed does (GLOO_SOCKET_IFNAME's interfaces, else
// the host name's address). Every rank also bumps a heartbeat counter in the store once a second from a thread of
// its own (a second store client), so that a rank whose collective fails can say which peers stopped answering.
// Departures from torch.distributed:
//   1. nccl is refused: r1's training commands run on the CPU (Debian's LibTorch has no NCCL either).
//   2. A failed collective throws r1::Error naming the silent ranks instead of c10d's transport error alone.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "r1/distributed.h"
#include "r1/error.h"

namespace r1::dist {
namespace {
using std::chrono::milliseconds;

constexpr const char* kHeartbeat = "r1/heartbeat/";
constexpr const char* kFailed = "r1/failed/";
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);

milliseconds to_ms(double seconds) { return milliseconds(int64_t(seconds * 1000.0)); }

// One rank: every collective returns its input.
class SoloWorld : public World {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const LaunchEnv& env() const override { return env_; }
  std::string backend() const override { return "none"; }
  void all_reduce(std::vector<double>&, ReduceOp) const override {}
  void all_reduce(at::Tensor&, ReduceOp) const override {}
  std::vector<std::string> all_gather(const std::string& bytes) const override { return {bytes}; }
  void broadcast(std::vector<at::Tensor>&, int) const override {}
  void barrier() const override {}
  class Done : public Pending {
   public:
    void wait() override {}
  };
  std::unique_ptr<Pending> all_reduce_async(at::Tensor&) const override { return std::make_unique<Done>(); }

 private:
  LaunchEnv env_;
};

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return c10d::ReduceOp::SUM;
    case ReduceOp::kMax:
      return c10d::ReduceOp::MAX;
    case ReduceOp::kMin:
      return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

class GlooWorld : public World {
 public:
  GlooWorld(const LaunchEnv& env, const Options& options) : env_(env), timeout_(to_ms(options.timeout_seconds)) {
    const std::string where = fmt::format("{}:{}", env.master_addr, env.master_port);
    try {
      c10d::TCPStoreOptions so;
      so.port = uint16_t(env.master_port);
      so.isServer = env.rank == 0;
      so.numWorkers = size_t(env.world_size);
      so.waitWorkers = true;
      so.timeout = timeout_;
      store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
      so.isServer = false;
      so.waitWorkers = false;
      heartbeat_store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    } catch (const std::exception& e) {
      fail("distributed rendezvous at MASTER_ADDR:MASTER_PORT {} failed for rank {} of {} (timeout {} s): {}", where,
           env.rank, env.world_size, options.timeout_seconds, first_line(e.what()));
    }
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout_);
    try {
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != 0) {
        for (const std::string& name : split_commas(ifname))
          gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      } else {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      gloo_options->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("r1/pg", store_),
                                                           env.rank, env.world_size, gloo_options);
    } catch (const std::exception& e) {
      fail("rank {}: creating the Gloo process group (store {}) failed: {}", env.rank, where, first_line(e.what()));
    }
    heartbeat_ = std::thread([this] { beat(); });
  }

  ~GlooWorld() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
  }

  int rank() const override { return env_.rank; }
  int size() const override { return env_.world_size; }
  const LaunchEnv& env() const override { return env_; }
  std::string backend() const override { return "gloo"; }

  void all_reduce(std::vector<double>& values, ReduceOp op) const override {
    if (values.empty()) return;
    at::Tensor t = torch::tensor(values, torch::kDouble);
    all_reduce(t, op);
    std::memcpy(values.data(), t.data_ptr<double>(), values.size() * sizeof(double));
  }

  void all_reduce(at::Tensor& tensor, ReduceOp op) const override {
    std::vector<at::Tensor> tensors = {tensor};
    c10d::AllreduceOptions o;
    o.reduceOp = to_c10d(op);
    run("all_reduce", [&] { return group_->allreduce(tensors, o); });
  }

  std::vector<std::string> all_gather(const std::string& bytes) const override {
    std::vector<std::vector<at::Tensor>> sizes_out(1);
    for (int r = 0; r < size(); ++r) sizes_out[0].push_back(torch::empty({1}, torch::kLong));
    std::vector<at::Tensor> sizes_in = {torch::full({1}, int64_t(bytes.size()), torch::kLong)};
    run("all_gather", [&] { return group_->allgather(sizes_out, sizes_in); });
    int64_t longest = 1;
    for (const at::Tensor& s : sizes_out[0]) longest = std::max(longest, s.item<int64_t>());
    at::Tensor mine = torch::zeros({longest}, torch::kByte);
    std::memcpy(mine.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < size(); ++r) out[0].push_back(torch::empty({longest}, torch::kByte));
    std::vector<at::Tensor> in = {mine};
    run("all_gather", [&] { return group_->allgather(out, in); });
    std::vector<std::string> result;
    for (int r = 0; r < size(); ++r)
      result.emplace_back(reinterpret_cast<const char*>(out[0][size_t(r)].data_ptr<uint8_t>()),
                          size_t(sizes_out[0][size_t(r)].item<int64_t>()));
    return result;
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) const override {
    for (at::Tensor& t : tensors) {
      std::vector<at::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      run("broadcast", [&] { return group_->broadcast(one, o); });
      if (!t.is_same(one[0])) t.copy_(one[0]);
    }
  }

  void barrier() const override {
    run("barrier", [&] { return group_->barrier(); });
  }

  class GlooPending : public Pending {
   public:
    GlooPending(const GlooWorld& world, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep)
        : world_(world), work_(std::move(work)), keep_(std::move(keep)) {}
    void wait() override {
      world_.run("all_reduce (gradients)", [&] { return work_; });
    }

   private:
    const GlooWorld& world_;
    c10::intrusive_ptr<c10d::Work> work_;
    std::vector<at::Tensor> keep_;
  };

  std::unique_ptr<Pending> all_reduce_async(at::Tensor& flat) const override {
    std::vector<at::Tensor> tensors = {flat};
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = group_->allreduce(tensors);
    } catch (const std::exception& e) {
      fail_collective("all_reduce (gradients)", e.what());
    }
    return std::make_unique<GlooPending>(*this, std::move(work), std::move(tensors));
  }

  // Issues and waits for one collective; a failure becomes an r1::Error naming the ranks that stopped answering.
  template <typename Issue>
  void run(const char* what, Issue&& issue) const {
    try {
      c10::intrusive_ptr<c10d::Work> work = issue();
      work->wait(timeout_);
    } catch (const std::exception& e) {
      fail_collective(what, e.what());
    }
  }

  [[noreturn]] void fail_collective(const char* what, const std::string& cause) const {
    fail("{} failed ({}): {}", what, first_line(cause), diagnose());
  }

  // Which peers stopped answering: a rank that recorded its failure, or whose heartbeat did not move within a few
  // intervals; the store itself unreachable means rank 0 (its host) is gone.
  std::string diagnose() const {
    try {
      c10d::TCPStoreOptions so;
      so.port = uint16_t(env_.master_port);
      so.waitWorkers = false;
      so.timeout = milliseconds(3000);
      auto probe = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
      auto read_beats = [&] {
        std::vector<int64_t> beats(size_t(size()), -1);
        for (int r = 0; r < size(); ++r)
          if (probe->check({kHeartbeat + std::to_string(r)}))
            beats[size_t(r)] = probe->add(kHeartbeat + std::to_string(r), 0);
        return beats;
      };
      std::vector<std::string> failed;
      for (int r = 0; r < size(); ++r)
        if (r != env_.rank && probe->check({kFailed + std::to_string(r)})) {
          std::vector<uint8_t> v = probe->get(kFailed + std::to_string(r));
          failed.push_back(fmt::format("rank {} failed: {}", r, std::string(v.begin(), v.end())));
        }
      if (!failed.empty()) return fmt::format("{}", fmt::join(failed, "; "));
      const std::vector<int64_t> before = read_beats();
      std::this_thread::sleep_for(3 * kHeartbeatInterval);
      const std::vector<int64_t> after = read_beats();
      std::vector<int> silent;
      for (int r = 0; r < size(); ++r)
        if (r != env_.rank && (after[size_t(r)] < 0 || after[size_t(r)] == before[size_t(r)])) silent.push_back(r);
      if (silent.empty()) return "every rank still has a heartbeat (a rank is hung or the network failed)";
      return fmt::format("rank {} stopped answering (it exited, was killed or hangs: no heartbeat for 3 s)",
                         fmt::join(silent, ", "));
    } catch (const std::exception&) {
      return fmt::format("rank 0 stopped answering (its store at {}:{} is unreachable)", env_.master_addr,
                         env_.master_port);
    }
  }

  // Records this rank's failure in the store so that the others can name it (best effort).
  void record_failure(const std::string& message) const {
    try {
      const std::string m = first_line(message);
      heartbeat_store_->set(kFailed + std::to_string(env_.rank), std::vector<uint8_t>(m.begin(), m.end()));
    } catch (const std::exception&) {
    }
  }

 private:
  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  void beat() {
    const std::string key = kHeartbeat + std::to_string(env_.rank);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      try {
        heartbeat_store_->add(key, 1);
      } catch (const std::exception&) {  // the store's host is gone: the next collective says so
      }
      lock.lock();
      wake_.wait_for(lock, kHeartbeatInterval, [this] { return stopping_; });
    }
  }

  LaunchEnv env_;
  milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_, heartbeat_store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::thread heartbeat_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

std::mutex g_mutex;
std::unique_ptr<World> g_world;
const SoloWorld g_solo;

}  // namespace

const World& init_from_environment(const Options& options) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world) return *g_world;
  if (options.backend != "auto" && options.backend != "gloo" && options.backend != "nccl")
    fail_usage("ddp_backend: expected auto, gloo or nccl, got '{}'", options.backend);
  if (!(options.timeout_seconds > 0)) fail_usage("ddp_timeout: must be > 0 seconds, got {}", options.timeout_seconds);
  const LaunchEnv env = read_launch_env();
  if (env.world_size <= 1) return g_solo;
  if (options.backend == "nccl")
    fail_usage(
        "ddp_backend nccl: r1's training commands run on the CPU and this LibTorch build has no NCCL; use gloo "
        "(or auto)");
  g_world = std::make_unique<GlooWorld>(env, options);
  return *g_world;
}

const World& world() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_world ? *g_world : static_cast<const World&>(g_solo);
}

void record_failure(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (auto* gloo = dynamic_cast<GlooWorld*>(g_world.get())) gloo->record_failure(message);
}

void shutdown() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_world.reset();
}

}  // namespace r1::dist
