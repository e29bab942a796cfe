// Where this process sits in a launch (include/r1/distributed.h: LaunchEnv), read from the variables torchrun /
// `r1 launch` or Slurm's srun set, and the intra-op thread count that follows from it (default_threads). No process
// group here: src/dist/process-group*.cpp joins the one this describes. Rules beyond torchrun's own:
//   1. torchrun's variables win whenever WORLD_SIZE is set; Slurm's, without it, when SLURM_PROCID is set (srun
//      sets it per task; SLURM_NTASKS absent means one task). A batch script's own step has SLURM_PROCID=0 too, so
//      r1 started there without srun counts as rank 0 of SLURM_NTASKS: start the ranks with srun or r1 launch.
//   2. A hand-written torchrun environment may leave out the local variables: LOCAL_WORLD_SIZE defaults to
//      WORLD_SIZE (every rank on this machine: the thread division never oversubscribes the cores) and LOCAL_RANK
//      to RANK % LOCAL_WORLD_SIZE (torchrun numbers ranks node by node). Slurm's are defaulted the same way.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "r1/distributed.h"
#include "r1/error.h"

extern char** environ;

namespace r1::dist {

namespace {

using Env = std::map<std::string, std::string>;

std::optional<std::string> lookup(const Env& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

// A whole decimal integer (spaces around it allowed), else a UsageError naming the variable.
int parse_int(const std::string& name, const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  size_t end = text.find_last_not_of(" \t");
  const std::string trimmed = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  const size_t sign = !trimmed.empty() && (trimmed[0] == '-' || trimmed[0] == '+') ? 1 : 0;
  const bool digits = trimmed.size() > sign && std::all_of(trimmed.begin() + sign, trimmed.end(),
                                                           [](unsigned char c) { return std::isdigit(c); });
  if (!digits) fail_usage("environment variable {}='{}' is not an integer", name, text);
  errno = 0;
  const long long value = std::strtoll(trimmed.c_str(), nullptr, 10);
  if (errno == ERANGE || value < INT_MIN || value > INT_MAX)
    fail_usage("environment variable {}={} is out of range", name, text);
  return static_cast<int>(value);
}

std::optional<int> lookup_int(const Env& env, const std::string& name) {
  std::optional<std::string> text = lookup(env, name);
  if (!text) return std::nullopt;
  return parse_int(name, *text);
}

// The first count of a Slurm tasks-per-node list: "2(x3),1" -> 2 (the number before any '(' or ',').
int first_task_count(const std::string& name, const std::string& text) {
  return parse_int(name, text.substr(0, text.find_first_of("(,")));
}

// Checks the four numbers; `names` spells the variables they came from (rank, world, local rank, local world).
void check_ranks(const LaunchEnv& e, const char* const names[4]) {
  if (e.world_size < 1) fail_usage("{} must be >= 1, got {}", names[1], e.world_size);
  if (e.rank < 0 || e.rank >= e.world_size)
    fail_usage("{}={} is out of range: it must be >= 0 and < {}={}", names[0], e.rank, names[1], e.world_size);
  if (e.local_world_size < 1 || e.local_world_size > e.world_size)
    fail_usage("{}={} is out of range: it must be >= 1 and <= {}={}", names[3], e.local_world_size, names[1],
               e.world_size);
  if (e.local_rank < 0 || e.local_rank >= e.local_world_size)
    fail_usage("{}={} is out of range: it must be >= 0 and < {}={}", names[2], e.local_rank, names[3],
               e.local_world_size);
}

// MASTER_ADDR / MASTER_PORT: required with more than one rank (`hint` says where to set them), else optional.
void read_master(const Env& env, LaunchEnv& e, const std::string& hint) {
  std::optional<std::string> addr = lookup(env, "MASTER_ADDR");
  std::optional<std::string> port = lookup(env, "MASTER_PORT");
  if (e.world_size > 1) {
    for (const char* name : {"MASTER_ADDR", "MASTER_PORT"})
      if (!lookup(env, name))
        fail_usage("{} is not set: a run of {} ranks needs the address of rank 0's store{}", name, e.world_size, hint);
  }
  if (addr) {
    if (addr->empty()) fail_usage("environment variable MASTER_ADDR is empty (expected a host name or address)");
    e.master_addr = *addr;
  }
  if (port) {
    e.master_port = parse_int("MASTER_PORT", *port);
    if (e.master_port < 1 || e.master_port > 65535)
      fail_usage("MASTER_PORT={} is out of range: it must be in 1..65535", e.master_port);
  }
}

LaunchEnv parse_torchrun(const Env& env) {
  static const char* const kNames[4] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"};
  LaunchEnv e;
  e.launcher = "torchrun";
  e.world_size = parse_int("WORLD_SIZE", *lookup(env, "WORLD_SIZE"));
  if (e.world_size < 1) fail_usage("WORLD_SIZE must be >= 1, got {}", e.world_size);
  std::optional<int> rank = lookup_int(env, "RANK");
  if (!rank && e.world_size > 1) fail_usage("RANK is not set (WORLD_SIZE={} needs each process's RANK)", e.world_size);
  e.rank = rank.value_or(0);
  e.local_world_size = lookup_int(env, "LOCAL_WORLD_SIZE").value_or(e.world_size);
  if (e.local_world_size < 1) fail_usage("LOCAL_WORLD_SIZE must be >= 1, got {}", e.local_world_size);
  e.local_rank = lookup_int(env, "LOCAL_RANK").value_or(e.rank % e.local_world_size);
  check_ranks(e, kNames);
  read_master(env, e, " (r1 launch and torchrun set it; set it by hand when starting the ranks yourself)");
  return e;
}

LaunchEnv parse_slurm(const Env& env) {
  static const char* const kNames[4] = {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"};
  LaunchEnv e;
  e.launcher = "slurm";
  // A batch script without --ntasks has no SLURM_NTASKS: one task.
  e.world_size = lookup_int(env, "SLURM_NTASKS").value_or(1);
  if (e.world_size < 1) fail_usage("SLURM_NTASKS must be >= 1, got {}", e.world_size);
  e.rank = parse_int("SLURM_PROCID", *lookup(env, "SLURM_PROCID"));
  const char* names[4] = {kNames[0], kNames[1], kNames[2], kNames[3]};
  if (std::optional<int> per_node = lookup_int(env, "SLURM_NTASKS_PER_NODE")) {
    e.local_world_size = *per_node;
  } else if (std::optional<std::string> step = lookup(env, "SLURM_STEP_TASKS_PER_NODE")) {
    e.local_world_size = first_task_count("SLURM_STEP_TASKS_PER_NODE", *step);
    names[3] = "SLURM_STEP_TASKS_PER_NODE";
  } else {
    e.local_world_size = e.world_size;
  }
  if (e.local_world_size < 1) fail_usage("{} must be >= 1, got {}", names[3], e.local_world_size);
  e.local_rank = lookup_int(env, "SLURM_LOCALID").value_or(e.rank % e.local_world_size);
  check_ranks(e, names);
  read_master(env, e,
              "; export it in the batch script before srun, e.g. "
              "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) MASTER_PORT=29500");
  return e;
}

}  // namespace

LaunchEnv parse_launch_env(const Env& env) {
  if (env.count("WORLD_SIZE")) return parse_torchrun(env);
  if (env.count("SLURM_PROCID")) return parse_slurm(env);
  return LaunchEnv{};
}

LaunchEnv read_launch_env() {
  Env env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return parse_launch_env(env);
}

int default_threads(int physical_cores, const LaunchEnv& env) {
  return std::max(1, physical_cores / std::max(1, env.local_world_size));
}

}  // namespace r1::dist
