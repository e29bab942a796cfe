// Data-parallel training on torch.distributed's c10d (the engine torchrun, accelerate and DDP use): the launch
// contract (torchrun's and Slurm's environment variables), the process group (Gloo on CPU; NCCL where LibTorch
// was built with it), the few collectives the trainers need, and `r1 launch` (torchrun without Python).
// One process group per process, like torch.distributed's default group: the trainers ask dist::world() for it,
// and every collective is a no-op returning its input when the world has one rank (a plain `r1 pretrain`).
// Bucketed gradient all-reduce (DDP's Reducer) lives in src/dist/gradient-sync.h, behind the trainer.
//
// Usage:
//   r1::dist::init_from_environment({.backend = "auto", .timeout_seconds = 1800});  // WORLD_SIZE=1: one rank
//   const r1::dist::World& w = r1::dist::world();
//   std::vector<double> sums = {loss, tokens};
//   w.all_reduce(sums, r1::dist::ReduceOp::kSum);  // the same values on every rank afterwards
//   if (w.is_main()) write_checkpoint();
//   w.barrier();
//
// Failures: a collective that fails (a peer died: its sockets closed) or runs past the timeout throws
// r1::Error whose message names the ranks that stopped answering (each rank keeps a heartbeat in the store).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace r1::dist {

// Where this process sits, read from the environment the launcher set:
//   torchrun / r1 launch: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Slurm (srun), when WORLD_SIZE is absent: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
//     SLURM_NTASKS_PER_NODE (or SLURM_STEP_TASKS_PER_NODE's first number); MASTER_ADDR and MASTER_PORT must
//     be exported by the batch script (the README's example takes the first host of SLURM_JOB_NODELIST)
// Neither: one rank. UsageError naming the variable for a value that is not a number or out of range.
struct LaunchEnv {
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher;  // "torchrun", "slurm" or "" (one process)
};
LaunchEnv read_launch_env();
// Parses from a given environment (tests): name -> value.
LaunchEnv parse_launch_env(const std::map<std::string, std::string>& env);

struct Options {
  std::string backend = "auto";   // auto (gloo on CPU, nccl on CUDA) | gloo | nccl; transformers' ddp_backend
  double timeout_seconds = 1800;  // every collective and the rendezvous; transformers' ddp_timeout
};

enum class ReduceOp { kSum, kMax, kMin };

class World {
 public:
  virtual ~World() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_main() const { return rank() == 0; }
  bool distributed() const { return size() > 1; }
  virtual const LaunchEnv& env() const = 0;
  virtual std::string backend() const = 0;  // "gloo", "nccl", or "none" (one rank)

  // Element-wise over ranks, in place; the same result on every rank.
  virtual void all_reduce(std::vector<double>& values, ReduceOp op) const = 0;
  virtual void all_reduce(at::Tensor& tensor, ReduceOp op) const = 0;
  // Every rank's bytes, in rank order (sizes may differ), as torch.distributed.all_gather_object.
  virtual std::vector<std::string> all_gather(const std::string& bytes) const = 0;
  // Copies root's tensors into every rank's (same shapes and dtypes on every rank).
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root = 0) const = 0;
  virtual void barrier() const = 0;

  // Asynchronous sum all-reduce of one flat tensor (the gradient buckets); wait() may throw as the collectives.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  virtual std::unique_ptr<Pending> all_reduce_async(at::Tensor& flat) const = 0;
};

// Joins the process group the environment describes (a no-op world of one rank when WORLD_SIZE is 1 or unset).
// Call once, before training; a second call with the group already joined returns it. Rank 0 hosts the
// TCPStore at MASTER_ADDR:MASTER_PORT; the others connect within the timeout. UsageError for an unknown
// backend or nccl without a NCCL build; r1::Error naming MASTER_ADDR:MASTER_PORT when the rendezvous fails.
const World& init_from_environment(const Options& options = {});
// The joined group, or a world of one rank when init_from_environment was not called.
const World& world();
// Leaves the group (destroys the store and Gloo contexts); world() is one rank again.
void shutdown();
// Records why this rank is about to exit with an error, so that the ranks whose next collective fails name it and
// its reason (the CLI calls it from its error handler; best effort, nothing happens with one rank).
void record_failure(const std::string& message);

// Intra-op threads for a process of this launch: the physical cores / LOCAL_WORLD_SIZE (at least 1), so that
// `r1 launch --nproc-per-node 2` on a 2-core machine runs 2 x 1 thread, as torchrun sets OMP_NUM_THREADS=1.
int default_threads(int physical_cores, const LaunchEnv& env);

// ---- r1 launch: torchrun's process launcher without Python
// ----------------------------------------------------------- Starts nproc_per_node copies of `argv` (the first element
// a program path or name on PATH) with torchrun's variables set (RANK = node_rank * nproc_per_node + local rank,
// WORLD_SIZE = nnodes * nproc_per_node, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, ROLE_RANK, ROLE_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID; the OMP_* variables are left alone: r1 divides the cores by
// LOCAL_WORLD_SIZE itself, default_threads), forwards SIGINT/SIGTERM/SIGHUP to every child, and when one child fails
// (non-zero exit or killed by a signal) sends SIGTERM to the rest, then SIGKILL after kill_grace_seconds. Returns the
// exit status to exit with: 0 when every child exited 0, else the first failure's status (128 + signal for a signal),
// after printing one line naming the failed local and global rank.
struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string run_id = "none";
  double kill_grace_seconds = 10;
  std::optional<std::string> log_dir;  // when set: each rank's stdout+stderr to LOG_DIR/rank-<RANK>.log (and not
                                       // to the terminal), as torchrun's --log-dir/--redirects 3
};
int launch(const LaunchOptions& options, const std::vector<std::string>& argv);

}  // namespace r1::dist
