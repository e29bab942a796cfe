// The launch side of data-parallel training (r1/distributed.h): torchrun's and Slurm's environment parsed into a
// LaunchEnv (values, precedence, each error naming its variable), the thread division, and r1::dist::launch run
// in-process on /bin/sh children (the variables they see, a failing or killed rank stopping the others, SIGTERM
// forwarded, --log-dir), then `r1 launch` through the CLI (help, usage errors, r1 subcommands run on every rank, no
// rank left behind by a SIGKILLed launcher).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/runtime.h"
#include "test-helpers.h"

namespace {

using r1::dist::LaunchEnv;
using r1::dist::LaunchOptions;
using r1::dist::parse_launch_env;
using r1::test::read_bytes;
using r1::test::run_r1;
using r1::test::TempDir;
using Env = std::map<std::string, std::string>;
namespace fs = std::filesystem;

// ---- parse_launch_env ---------------------------------------------------------------------------------------------

TEST(LaunchEnvTest, NoLauncherIsOneRank) {
  const LaunchEnv e = parse_launch_env({{"HOME", "/root"}});
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.local_rank, 0);
  EXPECT_EQ(e.local_world_size, 1);
  EXPECT_EQ(e.launcher, "");
  EXPECT_EQ(e.master_addr, "127.0.0.1");
  EXPECT_EQ(e.master_port, 29500);
}

TEST(LaunchEnvTest, TorchrunVariables) {
  const LaunchEnv e = parse_launch_env({{"RANK", "5"},
                                        {"WORLD_SIZE", "8"},
                                        {"LOCAL_RANK", "1"},
                                        {"LOCAL_WORLD_SIZE", "4"},
                                        {"MASTER_ADDR", "node0"},
                                        {"MASTER_PORT", "1234"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 4);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 1234);
}

TEST(LaunchEnvTest, TorchrunLocalVariablesDefault) {
  // No LOCAL_*: every rank on this machine; LOCAL_WORLD_SIZE alone: LOCAL_RANK = RANK % LOCAL_WORLD_SIZE.
  LaunchEnv e = parse_launch_env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "9"}});
  EXPECT_EQ(e.local_rank, 3);
  EXPECT_EQ(e.local_world_size, 4);
  e = parse_launch_env(
      {{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "9"}});
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  // WORLD_SIZE=1 needs neither RANK nor the master's address.
  e = parse_launch_env({{"WORLD_SIZE", "1"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.master_port, 29500);
}

TEST(LaunchEnvTest, SlurmVariables) {
  const Env base = {{"SLURM_PROCID", "5"},
                    {"SLURM_NTASKS", "6"},
                    {"SLURM_LOCALID", "1"},
                    {"MASTER_ADDR", "n1"},
                    {"MASTER_PORT", "29400"}};
  Env env = base;
  env["SLURM_STEP_TASKS_PER_NODE"] = "2(x3)";
  LaunchEnv e = parse_launch_env(env);
  EXPECT_EQ(e.launcher, "slurm");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 6);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "n1");
  EXPECT_EQ(e.master_port, 29400);
  env["SLURM_STEP_TASKS_PER_NODE"] = "3,2,1";
  EXPECT_EQ(parse_launch_env(env).local_world_size, 3);
  env["SLURM_NTASKS_PER_NODE"] = "2";  // preferred over the step's list
  EXPECT_EQ(parse_launch_env(env).local_world_size, 2);
}

TEST(LaunchEnvTest, TorchrunTakesPrecedenceOverSlurm) {
  const LaunchEnv e = parse_launch_env({{"SLURM_PROCID", "3"},
                                        {"SLURM_NTASKS", "4"},
                                        {"RANK", "1"},
                                        {"WORLD_SIZE", "2"},
                                        {"MASTER_ADDR", "h"},
                                        {"MASTER_PORT", "5"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 2);
}

TEST(LaunchEnvTest, ErrorsNameTheVariable) {
  const Env ok = {{"RANK", "1"},        {"WORLD_SIZE", "2"},     {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                  {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  ASSERT_EQ(parse_launch_env(ok).rank, 1);
  auto with = [&](const std::string& name, const std::string& value) {
    Env env = ok;
    env[name] = value;
    return env;
  };
  auto without = [&](const std::string& name) {
    Env env = ok;
    env.erase(name);
    return env;
  };
  R1_EXPECT_THROW_WITH(parse_launch_env(with("RANK", "one")), r1::UsageError, "RANK", "one", "not an integer");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("WORLD_SIZE", "2x")), r1::UsageError, "WORLD_SIZE", "2x");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("WORLD_SIZE", "0")), r1::UsageError, "WORLD_SIZE", ">= 1");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("RANK", "2")), r1::UsageError, "RANK=2", "WORLD_SIZE=2");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("RANK", "-1")), r1::UsageError, "RANK=-1");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("LOCAL_RANK", "2")), r1::UsageError, "LOCAL_RANK=2", "LOCAL_WORLD_SIZE");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("LOCAL_WORLD_SIZE", "3")), r1::UsageError, "LOCAL_WORLD_SIZE=3");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("MASTER_PORT", "0")), r1::UsageError, "MASTER_PORT", "1..65535");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("MASTER_PORT", "65536")), r1::UsageError, "MASTER_PORT");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("MASTER_PORT", "http")), r1::UsageError, "MASTER_PORT", "http");
  R1_EXPECT_THROW_WITH(parse_launch_env(with("RANK", "99999999999")), r1::UsageError, "RANK", "out of range");
  R1_EXPECT_THROW_WITH(parse_launch_env(without("MASTER_ADDR")), r1::UsageError, "MASTER_ADDR is not set");
  R1_EXPECT_THROW_WITH(parse_launch_env(without("MASTER_PORT")), r1::UsageError, "MASTER_PORT is not set");
  R1_EXPECT_THROW_WITH(parse_launch_env(without("RANK")), r1::UsageError, "RANK is not set");

  const Env slurm = {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}};
  R1_EXPECT_THROW_WITH(parse_launch_env(slurm), r1::UsageError, "MASTER_ADDR is not set", "batch script",
                       "scontrol show hostnames");
  Env bad = slurm;
  bad.insert({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  bad["SLURM_PROCID"] = "2";
  R1_EXPECT_THROW_WITH(parse_launch_env(bad), r1::UsageError, "SLURM_PROCID=2", "SLURM_NTASKS=2");
  bad["SLURM_PROCID"] = "x";
  R1_EXPECT_THROW_WITH(parse_launch_env(bad), r1::UsageError, "SLURM_PROCID", "not an integer");
  bad["SLURM_PROCID"] = "1";
  bad["SLURM_STEP_TASKS_PER_NODE"] = "(x2)";
  R1_EXPECT_THROW_WITH(parse_launch_env(bad), r1::UsageError, "SLURM_STEP_TASKS_PER_NODE");
  // One Slurm task needs no master address.
  EXPECT_EQ(parse_launch_env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}).world_size, 1);
}

TEST(LaunchEnvTest, DefaultThreadsDividesTheCoresAmongLocalRanks) {
  LaunchEnv e;
  EXPECT_EQ(r1::dist::default_threads(8, e), 8);
  e.world_size = e.local_world_size = 2;
  EXPECT_EQ(r1::dist::default_threads(2, e), 1);
  EXPECT_EQ(r1::dist::default_threads(7, e), 3);
  e.world_size = e.local_world_size = 4;
  EXPECT_EQ(r1::dist::default_threads(2, e), 1);  // never 0
}

// ---- launch() in-process ------------------------------------------------------------------------------------------

LaunchOptions local(int nproc) {
  LaunchOptions o;
  o.nproc_per_node = nproc;
  o.kill_grace_seconds = 2;
  return o;
}

// Runs `script` under /bin/sh on every rank with $0 = dir.
int launch_sh(const LaunchOptions& o, const fs::path& dir, const std::string& script) {
  return r1::dist::launch(o, {"/bin/sh", "-c", script, dir.string()});
}

Env read_env_file(const fs::path& path) {
  Env env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (size_t eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  return env;
}

TEST(LaunchTest, ChildrenSeeTorchrunVariables) {
  TempDir dir;
  LaunchOptions o = local(2);
  o.nnodes = 2;
  o.node_rank = 1;
  o.master_addr = "10.1.2.3";
  o.master_port = 29611;
  o.run_id = "job7";
  setenv("RANK", "99", 1);  // an inherited value is replaced
  setenv("R1_TEST_INHERITED", "kept", 1);
  const int status = launch_sh(o, dir.path(), "env > \"$0/env-$RANK\"");
  unsetenv("RANK");
  unsetenv("R1_TEST_INHERITED");
  ASSERT_EQ(status, 0);
  for (int local_rank = 0; local_rank < 2; ++local_rank) {
    const int rank = 2 + local_rank;
    const Env env = read_env_file(dir / ("env-" + std::to_string(rank)));
    ASSERT_FALSE(env.empty()) << "rank " << rank << " wrote no environment";
    EXPECT_EQ(env.at("RANK"), std::to_string(rank));
    EXPECT_EQ(env.at("WORLD_SIZE"), "4");
    EXPECT_EQ(env.at("LOCAL_RANK"), std::to_string(local_rank));
    EXPECT_EQ(env.at("LOCAL_WORLD_SIZE"), "2");
    EXPECT_EQ(env.at("GROUP_RANK"), "1");
    EXPECT_EQ(env.at("ROLE_RANK"), std::to_string(rank));
    EXPECT_EQ(env.at("ROLE_WORLD_SIZE"), "4");
    EXPECT_EQ(env.at("MASTER_ADDR"), "10.1.2.3");
    EXPECT_EQ(env.at("MASTER_PORT"), "29611");
    EXPECT_EQ(env.at("TORCHELASTIC_RUN_ID"), "job7");
    EXPECT_EQ(env.at("R1_TEST_INHERITED"), "kept");
    const LaunchEnv parsed = parse_launch_env(env);  // what the child's r1 reads back
    EXPECT_EQ(parsed.rank, rank);
    EXPECT_EQ(parsed.world_size, 4);
    EXPECT_EQ(parsed.local_rank, local_rank);
    EXPECT_EQ(parsed.master_port, 29611);
  }
}

// True when the process is gone or a zombie (an orphan whose reaper has not run yet).
bool process_gone(const std::string& pid_text) {
  const std::string stat = read_bytes("/proc/" + pid_text + "/stat");
  if (stat.empty()) return true;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'Z';
}

TEST(LaunchTest, FailingRankStopsTheOthers) {
  TempDir dir;
  // Rank 0 waits on a grandchild (sleep): stopping rank 0's process group must end both.
  const std::string script =
      "if [ \"$RANK\" = 1 ]; then while [ ! -s \"$0/sleep.pid\" ]; do sleep 0.05; done; exit 3; fi; "
      "sleep 30 & echo $! > \"$0/sleep.pid\"; wait $!";
  testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  const int status = launch_sh(local(2), dir.path(), script);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 3);
  EXPECT_LT(seconds, 10);
  EXPECT_NE(err.find("r1 launch: rank 1 (local rank 1) exited with status 3; stopping the other ranks"),
            std::string::npos)
      << err;
  std::string sleep_pid = read_bytes(dir / "sleep.pid");
  ASSERT_FALSE(sleep_pid.empty());
  sleep_pid.erase(sleep_pid.find_last_not_of("\n") + 1);
  for (int i = 0; i < 50 && !process_gone(sleep_pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(process_gone(sleep_pid)) << "rank 0's sleep " << sleep_pid << " survived";
}

TEST(LaunchTest, RankThatIgnoresSigtermIsKilledAfterTheGrace) {
  TempDir dir;
  LaunchOptions o = local(2);
  o.kill_grace_seconds = 0.5;
  testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  // Rank 1 ignores SIGTERM (and so does its sleep); rank 0 fails once rank 1 is ready.
  const int status = launch_sh(o, dir.path(),
                               "trap '' TERM; if [ \"$RANK\" = 0 ]; then while [ ! -e \"$0/ready\" ]; do sleep 0.05; "
                               "done; exit 4; fi; echo > \"$0/ready\"; sleep 30");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 4);
  EXPECT_LT(seconds, 10);
  EXPECT_NE(err.find("rank 1 (local rank 1) did not stop within 0.5 s; killing it"), std::string::npos) << err;
}

TEST(LaunchTest, RankKilledBySignalGives128PlusSignal) {
  TempDir dir;
  testing::internal::CaptureStderr();
  const int status = launch_sh(local(2), dir.path(), "if [ \"$RANK\" = 1 ]; then kill -KILL $$; fi; sleep 30");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 128 + SIGKILL);
  EXPECT_NE(err.find("rank 1 (local rank 1) was killed by signal 9"), std::string::npos) << err;
}

TEST(LaunchTest, SigtermToTheLauncherIsForwarded) {
  TempDir dir;
  const std::string script =
      "trap 'echo term > \"$0/term-$RANK\"; exit 0' TERM; echo > \"$0/started-$RANK\"; "
      "i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
  std::thread killer([&] {
    for (int i = 0; i < 500 && !(fs::exists(dir / "started-0") && fs::exists(dir / "started-1")); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(::getpid(), SIGTERM);
  });
  const int status = launch_sh(local(2), dir.path(), script);
  killer.join();
  EXPECT_EQ(status, 128 + SIGTERM);  // the run was stopped, though the ranks exited 0
  EXPECT_EQ(read_bytes(dir / "term-0"), "term\n");
  EXPECT_EQ(read_bytes(dir / "term-1"), "term\n");
}

TEST(LaunchTest, LogDirHoldsEachRanksOutputAndKeepsExistingText) {
  TempDir dir;
  LaunchOptions o = local(2);
  o.log_dir = (dir / "logs").string();
  fs::create_directories(dir / "logs");
  r1::test::write_bytes(dir / "logs" / "rank-1.log", "earlier run\n");
  testing::internal::CaptureStderr();
  ASSERT_EQ(launch_sh(o, dir.path(), "echo \"out $RANK\"; echo \"err $RANK\" >&2"), 0);
  testing::internal::GetCapturedStderr();
  const std::string log0 = read_bytes(dir / "logs" / "rank-0.log");
  const std::string log1 = read_bytes(dir / "logs" / "rank-1.log");
  EXPECT_NE(log0.find("out 0\n"), std::string::npos) << log0;
  EXPECT_NE(log0.find("err 0\n"), std::string::npos) << log0;
  EXPECT_EQ(log0.find("out 1"), std::string::npos) << log0;
  EXPECT_EQ(log1.rfind("earlier run\n", 0), 0u) << log1;
  EXPECT_NE(log1.find("out 1\n"), std::string::npos) << log1;
  EXPECT_NE(log1.find("err 1\n"), std::string::npos) << log1;
}

TEST(LaunchTest, ProgramThatCannotRunExits127) {
  TempDir dir;
  const fs::path junk = dir / "junk";
  r1::test::write_bytes(junk, std::string("\x7f"
                                          "ELFjunk",
                                          8));
  fs::permissions(junk, fs::perms::owner_all);
  testing::internal::CaptureStderr();
  const int status = r1::dist::launch(local(1), {junk.string()});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 127);
  EXPECT_NE(err.find("cannot run " + junk.string()), std::string::npos) << err;
}

TEST(LaunchTest, OptionErrorsNameTheOption) {
  auto with = [](auto change) {
    LaunchOptions o;
    change(o);
    return o;
  };
  const std::vector<std::string> argv = {"/bin/true"};
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.nproc_per_node = 0; }), argv), r1::UsageError,
                       "--nproc-per-node must be >= 1, got 0");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.nnodes = 0; }), argv), r1::UsageError, "--nnodes");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) {
                                          o.nnodes = 2;
                                          o.node_rank = 2;
                                        }),
                                        argv),
                       r1::UsageError, "--node-rank", "got 2");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.node_rank = -1; }), argv), r1::UsageError, "--node-rank");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.master_port = 0; }), argv), r1::UsageError,
                       "--master-port", "got 0");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.master_port = 65536; }), argv), r1::UsageError,
                       "--master-port");
  R1_EXPECT_THROW_WITH(r1::dist::launch(with([](auto& o) { o.kill_grace_seconds = -1; }), argv), r1::UsageError,
                       "--kill-grace");
  R1_EXPECT_THROW_WITH(r1::dist::launch(LaunchOptions{}, {}), r1::UsageError, "no program to run");
  R1_EXPECT_THROW_WITH(r1::dist::launch(LaunchOptions{}, {"/nonexistent/program"}), r1::UsageError,
                       "'/nonexistent/program' is not an executable file");
  // This test binary is not r1: a name found nowhere is no subcommand.
  R1_EXPECT_THROW_WITH(r1::dist::launch(LaunchOptions{}, {"no-such-program-r1-test"}), r1::UsageError,
                       "'no-such-program-r1-test' is not a program on PATH");
}

// ---- r1 launch through the CLI ------------------------------------------------------------------------------------

TEST(LaunchCliTest, HelpAndUsageErrors) {
  const auto help = run_r1("launch --help");
  EXPECT_EQ(help.status, 0) << help.output;
  for (const char* text : {"--nproc-per-node", "--nproc_per_node", "--master-port", "--log-dir", "--no-python",
                           "never runs Python", "runs this binary's"})
    EXPECT_NE(help.output.find(text), std::string::npos) << text << " missing from:\n" << help.output;

  auto r = run_r1("launch --nproc-per-node 0 -- /bin/true");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--nproc-per-node must be >= 1, got 0"), std::string::npos) << r.output;
  r = run_r1("launch --nnodes 2 --node_rank 5 -- /bin/true");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--node-rank"), std::string::npos) << r.output;
  r = run_r1("launch --nproc-per-node 2");
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(LaunchCliTest, ExitStatusIsTheFailedRanks) {
  const auto r = run_r1(
      "launch --nproc_per_node 2 --no_python --kill-grace 1 -- sh -c '[ \"$RANK\" = 1 ] && exit 5; "
      "sleep 30'");
  EXPECT_EQ(r.status, 5) << r.output;
  EXPECT_NE(r.output.find("rank 1 (local rank 1) exited with status 5"), std::string::npos) << r.output;
}

TEST(LaunchCliTest, SubcommandRunsThisR1OnEveryRank) {
  TempDir dir;
  const std::string logs = (dir / "logs").string();
  auto r = run_r1("launch --nproc-per-node 2 --log-dir " + logs + " -- --version");
  ASSERT_EQ(r.status, 0) << r.output;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string log = read_bytes(dir / "logs" / ("rank-" + std::to_string(rank) + ".log"));
    EXPECT_NE(log.find("\nr1 "), std::string::npos) << "rank " << rank << ":\n" << log;
    EXPECT_NE(log.find("intra-op thread"), std::string::npos) << log;
  }
  // A subcommand's usage error is the rank's status.
  r = run_r1("launch -- no-such-subcommand");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("rank 0 (local rank 0) exited with status 2"), std::string::npos) << r.output;
}

TEST(LaunchCliTest, RanksDivideThePhysicalCores) {
  // `r1 verify` prints its worker count: without --threads, the physical cores / LOCAL_WORLD_SIZE on each rank
  // ("r1" is this binary, whatever PATH holds).
  TempDir dir;
  std::string rows;
  for (int i = 1; i <= 4; ++i)
    rows += "{\"solution\": \"" + std::to_string(i) + "\", \"completion\": \"\\\\boxed{" + std::to_string(i) + "}\"}\n";
  r1::test::write_bytes(dir / "rows.jsonl", rows);
  const std::string logs = (dir / "logs").string();
  const auto r =
      run_r1("launch --nproc-per-node 2 --log-dir " + logs + " -- r1 verify --input " + (dir / "rows.jsonl").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string expected = fmt::format("s, {} threads)", std::max(1, r1::physical_core_count() / 2));
  for (int rank = 0; rank < 2; ++rank) {
    const std::string log = read_bytes(dir / "logs" / ("rank-" + std::to_string(rank) + ".log"));
    EXPECT_NE(log.find("correct 4,"), std::string::npos) << log;
    EXPECT_NE(log.find(expected), std::string::npos) << "expected '" << expected << "' in:\n" << log;
  }
}

TEST(LaunchCliTest, KilledLauncherLeavesNoRanksBehind) {
  TempDir dir;
  const std::string script =
      "trap 'echo > \"$0/gone-$RANK\"; exit 0' TERM; echo > \"$0/started-$RANK\"; "
      "i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
  std::vector<std::string> args = {R1_CLI, "launch", "--nproc-per-node", "2", "--", "sh",
                                   "-c",   script,   dir.path().string()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t launcher = 0;
  ASSERT_EQ(posix_spawn(&launcher, R1_CLI, nullptr, nullptr, argv.data(), environ), 0);
  auto wait_for = [&](const std::string& a, const std::string& b) {
    for (int i = 0; i < 1000 && !(fs::exists(dir / a) && fs::exists(dir / b)); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return fs::exists(dir / a) && fs::exists(dir / b);
  };
  ASSERT_TRUE(wait_for("started-0", "started-1"));
  ::kill(launcher, SIGKILL);  // no chance to forward anything: the ranks learn it from PR_SET_PDEATHSIG
  int status = 0;
  ::waitpid(launcher, &status, 0);
  EXPECT_TRUE(wait_for("gone-0", "gone-1")) << "a rank outlived its SIGKILLed launcher";
}

}  // namespace
