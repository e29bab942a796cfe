// Data-parallel training (include/r1/distributed.h) end to end on loopback Gloo: 2-rank pretrain, SFT and GRPO runs
// equal 1-rank runs of the same global batch (per-step losses within 1e-5 relative, final weights within 1e-5), a
// 2-rank checkpoint resumes on 1 rank, and a killed rank makes the other exit with a line naming it. The ranks are
// started by `r1 launch` or, for torchrun's contract, by setting its variables by hand (Debian's torchrun does not
// run on Python 3.11).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "r1/safetensors.h"
#include "rl-fixture.h"
#include "test-helpers.h"

extern char** environ;

namespace r1 {
namespace {
namespace fs = std::filesystem;

// A port per call, apart from other test processes' (pid-based) and from the previous call's sockets.
int next_port() {
  static int offset = 0;
  return 20000 + int(getpid() % 2000) * 8 + (offset++ % 8);
}

struct Distributed : ::testing::Test {
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string corpus = std::string(R1_SOURCE_DIR) + "/tests/golden/tokenizer/corpus.txt";
    auto tok = test::run_r1("tokenizer train --input " + corpus + " --out " + (*dir_ / "tok").string() +
                            " --vocab-size 600 --special-tokens '<|endoftext|>' --eos-token '<|endoftext|>'");
    ASSERT_EQ(tok.status, 0) << tok.output;
    auto data = test::run_r1("data prepare --tokenizer " + (*dir_ / "tok").string() + " --input " + corpus + " --out " +
                             (*dir_ / "data").string());
    ASSERT_EQ(data.status, 0) << data.output;
    test::write_tiny_rl_fixture(dir_->path());
    std::ofstream sft(*dir_ / "sft.jsonl"), prefs(*dir_ / "prefs.jsonl");
    for (const nlohmann::json& row : test::read_jsonl(*dir_ / "prompts.jsonl")) {
      const std::string answer = row["solution"].get<std::string>();
      sft << nlohmann::json{{"prompt", row["problem"]}, {"completion", " " + answer}}.dump() << "\n";
      prefs << nlohmann::json{{"prompt", row["problem"]}, {"chosen", " " + answer}, {"rejected", " " + answer + "0"}}
                   .dump()
            << "\n";
    }
  }

  // A policy for GRPO whose completions differ: the tiny model after SFT on the answers (each ending with the eos id),
  // so some completions end early and the length rewards differ within a group.
  static std::string policy() {
    const fs::path out = *dir_ / "policy";
    if (!fs::exists(out / "model.safetensors")) {
      auto sft = run("sft --model_name_or_path " + (*dir_ / "model").string() + " --dataset_name " +
                         (*dir_ / "sft.jsonl").string() + " --chat_template none --output_dir " + out.string() +
                         " --max_steps 30 --per_device_train_batch_size 8 --learning_rate 1e-2 --logging_steps 10",
                     1);
      EXPECT_EQ(sft.status, 0) << sft.output;
    }
    return out.string();
  }

  // Runs `command(out, accumulation)` on 1 rank with accumulation 4 and on 2 ranks with 2, and expects the same
  // losses, gradient norms and final weights.
  template <class Command>
  static void expect_two_ranks_equal_one(const std::string& name, Command command) {
    auto one = run(command(*dir_ / (name + "-1"), 4), 1);
    ASSERT_EQ(one.status, 0) << one.output;
    auto two = run(command(*dir_ / (name + "-2"), 2), 2);
    ASSERT_EQ(two.status, 0) << two.output;
    EXPECT_NE(two.output.find("on each of 2 ranks"), std::string::npos) << two.output;
    expect_same_losses(*dir_ / (name + "-1"), *dir_ / (name + "-2"));
    expect_same_weights(*dir_ / (name + "-1"), *dir_ / (name + "-2"));
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string pretrain(const fs::path& out, int accumulation) {  // also used by stop_rank_one
    return "pretrain --model_config '{model_type: llama, hidden_size: 32, intermediate_size: 64, num_hidden_layers: "
           "2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true}' --tokenizer_name_or_path " +
           (*dir_ / "tok").string() + " --dataset_name " + (*dir_ / "data").string() + " --output_dir " + out.string() +
           " --max_length 32 --per_device_train_batch_size 4 --learning_rate 3e-3 --lr_scheduler_type cosine "
           "--warmup_steps 2 --logging_steps 1 --max_steps 6 --ddp_timeout 60 --ddp_bucket_cap_mb 0.01 "
           "--gradient_accumulation_steps " +
           std::to_string(accumulation);
  }

  // `r1 launch` of `args` on `ranks` processes (a plain run for 1).
  static test::CommandResult run(const std::string& args, int ranks) {
    if (ranks == 1) return test::run_r1(args + " --threads 1");
    return test::run_r1("launch --nproc-per-node " + std::to_string(ranks) + " --master-port " +
                        std::to_string(next_port()) + " -- " + args);
  }

  // Per-step losses equal within 1e-5 relative, the same steps logged; the runs must have learned something (a
  // gradient that is zero everywhere would make any two runs agree).
  static void expect_same_losses(const fs::path& a, const fs::path& b) {
    const auto one = test::read_jsonl(a / "metrics.jsonl"), two = test::read_jsonl(b / "metrics.jsonl");
    ASSERT_EQ(one.size(), two.size());
    ASSERT_FALSE(one.empty());
    double largest_norm = 0;
    for (const nlohmann::json& line : one) largest_norm = std::max(largest_norm, line["grad_norm"].get<double>());
    EXPECT_GT(largest_norm, 1e-3) << a;
    for (size_t i = 0; i < one.size(); ++i) {
      std::cout << a.filename().string() << " step " << one[i]["step"] << ": loss " << one[i]["loss"] << " / "
                << two[i]["loss"] << ", grad_norm " << one[i]["grad_norm"] << " / " << two[i]["grad_norm"] << "\n";
      ASSERT_EQ(one[i]["step"], two[i]["step"]);
      for (const char* key : {"loss", "grad_norm"}) {
        // relative, but not below 1e-2: GRPO's loss is a sum of terms that nearly cancel (a group's advantages sum to
        // zero), ~1e-3 while its terms are ~1, so its rounding is ~1e-8 absolute whatever the order of the sums
        const double x = one[i][key].get<double>(), y = two[i][key].get<double>();
        EXPECT_LE(std::abs(x - y), 1e-5 * std::max(std::abs(x), 1e-2))
            << key << " at step " << one[i]["step"] << ": " << x << " vs " << y;
      }
    }
  }

  // Every tensor of the two model.safetensors within 1e-5.
  static void expect_same_weights(const fs::path& a, const fs::path& b) {
    safetensors::File x(a / "model.safetensors"), y(b / "model.safetensors");
    ASSERT_EQ(x.tensors().size(), y.tensors().size());
    for (const auto& info : x.tensors()) {
      const double diff =
          (x.get(info.name).to(at::kDouble) - y.get(info.name).to(at::kDouble)).abs().max().item<double>();
      EXPECT_LE(diff, 1e-5) << info.name;
    }
  }

  static test::TempDir* dir_;
};
test::TempDir* Distributed::dir_ = nullptr;

TEST_F(Distributed, PretrainOnTwoRanksEqualsOneRankWithTheSameGlobalBatch) {
  auto one = run(pretrain(*dir_ / "pt-1", 4), 1);
  ASSERT_EQ(one.status, 0) << one.output;
  auto two = run(pretrain(*dir_ / "pt-2", 2), 2);
  ASSERT_EQ(two.status, 0) << two.output;
  // 10 kB buckets (a larger parameter has one of its own): 11 of them start their all-reduce during the backward, in
  // order
  EXPECT_NE(two.output.find("data parallel: 2 ranks (gloo), 11 gradient buckets"), std::string::npos) << two.output;
  EXPECT_EQ(two.output.find("model: "), two.output.rfind("model: ")) << "rank 1 printed its start-up lines";
  expect_same_losses(*dir_ / "pt-1", *dir_ / "pt-2");
  expect_same_weights(*dir_ / "pt-1", *dir_ / "pt-2");
  // the epoch counts the global batch
  EXPECT_EQ(test::read_jsonl(*dir_ / "pt-1/metrics.jsonl").back()["epoch"],
            test::read_jsonl(*dir_ / "pt-2/metrics.jsonl").back()["epoch"]);
}

// Two "machines" on loopback: two `r1 launch --nnodes 2 --node-rank I --nproc-per-node 1` started side by side,
// as a multi-node job runs the same command on each node; the run equals one process's.
TEST_F(Distributed, TwoNodesOfOneRankEachEqualOneRank) {
  auto one = run(pretrain(*dir_ / "nodes-1", 4), 1);
  ASSERT_EQ(one.status, 0) << one.output;
  const std::string port = std::to_string(next_port());
  auto node = [&](int rank) {
    return std::string(R1_CLI) + " launch --nnodes 2 --node-rank " + std::to_string(rank) +
           " --nproc-per-node 1 --master-addr 127.0.0.1 --master-port " + port + " -- " +
           pretrain(*dir_ / "nodes-2", 2);
  };
  const std::string log1 = (*dir_ / "node1.log").string();
  const int status =
      std::system(("(" + node(1) + " > " + log1 + " 2>&1 &) ; " + node(0) + " > /dev/null 2>&1").c_str());
  ASSERT_EQ(status, 0) << test::read_bytes(log1);
  // the second node's launcher may still be on its way out
  for (int i = 0; i < 100 && !fs::exists(*dir_ / "nodes-2/model.safetensors"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect_same_losses(*dir_ / "nodes-1", *dir_ / "nodes-2");
  expect_same_weights(*dir_ / "nodes-1", *dir_ / "nodes-2");
}

TEST_F(Distributed, TwoRankCheckpointResumesOnOneRank) {
  auto two = run(pretrain(*dir_ / "resume-2", 2) + " --save_steps 3", 2);
  ASSERT_EQ(two.status, 0) << two.output;
  // a copy of the run as it stood at step 3, continued by one process with the same global batch
  const fs::path cut = *dir_ / "resume-1";
  fs::create_directories(cut);
  fs::copy(*dir_ / "resume-2/checkpoint-3", cut / "checkpoint-3", fs::copy_options::recursive);
  fs::copy(*dir_ / "resume-2/metrics.jsonl", cut / "metrics.jsonl");
  auto one = run(pretrain(cut, 4) + " --resume_from_checkpoint true", 1);
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("resumed from"), std::string::npos) << one.output;
  expect_same_losses(*dir_ / "resume-2", cut);
  expect_same_weights(*dir_ / "resume-2", cut);
}

TEST_F(Distributed, SftOnTwoRanksEqualsOneRank) {
  expect_two_ranks_equal_one("sft", [&](const fs::path& out, int accumulation) {
    return "sft --model_name_or_path " + (*dir_ / "model").string() + " --dataset_name " +
           (*dir_ / "sft.jsonl").string() + " --chat_template none --output_dir " + out.string() +
           " --max_steps 4 --per_device_train_batch_size 3 --learning_rate 1e-3 --logging_steps 1 "
           "--ddp_bucket_cap_mb 0.02 --gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
}

TEST_F(Distributed, DpoAndRewardModelOnTwoRanksEqualOneRank) {
  expect_two_ranks_equal_one("dpo", [&](const fs::path& out, int accumulation) {
    return "dpo --model_name_or_path " + (*dir_ / "model").string() + " --dataset_name " +
           (*dir_ / "prefs.jsonl").string() + " --chat_template none --output_dir " + out.string() +
           " --max_steps 3 --per_device_train_batch_size 2 --learning_rate 1e-3 --logging_steps 1 "
           "--ddp_bucket_cap_mb 0.02 --gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
  expect_two_ranks_equal_one("reward", [&](const fs::path& out, int accumulation) {
    return "reward --model_name_or_path " + (*dir_ / "model").string() + " --dataset_name " +
           (*dir_ / "prefs.jsonl").string() + " --chat_template none --output_dir " + out.string() +
           " --max_steps 3 --per_device_train_batch_size 2 --learning_rate 1e-3 --logging_steps 1 "
           "--gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
}

TEST_F(Distributed, DistillationOnTwoRanksEqualsOneRank) {
  // a teacher that differs from the student: the student after a few SFT steps
  auto teacher = run("sft --model_name_or_path " + (*dir_ / "model").string() + " --dataset_name " +
                         (*dir_ / "sft.jsonl").string() + " --chat_template none --output_dir " +
                         (*dir_ / "teacher").string() + " --max_steps 4 --learning_rate 3e-3",
                     1);
  ASSERT_EQ(teacher.status, 0) << teacher.output;
  // lmbda 0.5: on-policy micro-batches sampled by the student with per-sequence seeds, the others from the data
  expect_two_ranks_equal_one("gkd", [&](const fs::path& out, int accumulation) {
    return "distill --model_name_or_path " + (*dir_ / "model").string() + " --teacher_model_name_or_path " +
           (*dir_ / "teacher").string() + " --dataset_name " + (*dir_ / "sft.jsonl").string() +
           " --chat_template none --output_dir " + out.string() +
           " --max_steps 3 --per_device_train_batch_size 2 --learning_rate 1e-3 --logging_steps 1 --lmbda 0.5 "
           "--max_new_tokens 6 --gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
}

TEST_F(Distributed, GrpoOnTwoRanksEqualsOneRank) {
  // DAPO's soft overlong punishment: the SFT'd policy's completions differ in length, so the advantages are not zero.
  // 3 prompts x 4 completions per step: rank 0 samples the first prompt's 4 and 2 of the second's, rank 1 the rest
  // (each rank's 6 is no multiple of the group: only the global batch must be); beta > 0 (reference log-probs by
  // shares) and batch scaling of rewards (the global batch's statistics)
  expect_two_ranks_equal_one("grpo", [&](const fs::path& out, int accumulation) {
    return "grpo --model_name_or_path " + policy() + " --dataset_name " + (*dir_ / "prompts.jsonl").string() +
           " --chat_template none --output_dir " + out.string() +
           " --max_steps 3 --per_device_train_batch_size 3 --num_generations 4 --max_completion_length 12 "
           "--max_prompt_length 32 --learning_rate 1e-3 --beta 0.04 --scale_rewards batch --logging_steps 1 "
           "--reward_funcs '[soft_overlong_punishment, accuracy]' --reward_kwargs '{soft_overlong_punishment: "
           "{max_completion_len: 12, soft_punish_cache: 10}}' --log_completions true --gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
  const auto a = test::read_jsonl(*dir_ / "grpo-1/metrics.jsonl"), b = test::read_jsonl(*dir_ / "grpo-2/metrics.jsonl");
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* key : {"reward", "reward_std", "completions/mean_length", "completions/max_length", "kl"})
      EXPECT_NEAR(a[i][key].get<double>(), b[i][key].get<double>(), 1e-6 * (1 + std::abs(a[i][key].get<double>())))
          << key << " at step " << i + 1;
  // rank 0 logs every completion of the global batch, the same ones
  const auto ca = test::read_jsonl(*dir_ / "grpo-1/completions.jsonl"),
             cb = test::read_jsonl(*dir_ / "grpo-2/completions.jsonl");
  ASSERT_EQ(ca.size(), cb.size());
  for (size_t i = 0; i < ca.size(); ++i) EXPECT_EQ(ca[i]["completion"], cb[i]["completion"]) << i;
}

TEST_F(Distributed, GrpoWithSeveralStepsPerGenerationOnTwoRanksEqualsOneRank) {
  // one generation serves 2 optimizer steps, twice (num_iterations 2): its slices and the learner's old log-probs at
  // generation time (the sampler correction), computed by shares, are the global batch's
  expect_two_ranks_equal_one("grpo-slices", [&](const fs::path& out, int accumulation) {
    return "grpo --model_name_or_path " + policy() + " --dataset_name " + (*dir_ / "prompts.jsonl").string() +
           " --chat_template none --output_dir " + out.string() +
           " --max_steps 4 --per_device_train_batch_size 2 --num_generations 4 --max_completion_length 10 "
           "--max_prompt_length 32 --learning_rate 1e-3 --beta 0 --num_iterations 2 --logging_steps 1 "
           "--vllm_importance_sampling_correction true --loss_type dapo --ddp_bucket_cap_mb 0.02 "
           "--reward_funcs '[soft_overlong_punishment]' --reward_kwargs '{soft_overlong_punishment: "
           "{max_completion_len: 10, soft_punish_cache: 8}}' "
           "--gradient_accumulation_steps " +
           std::to_string(accumulation) + " --steps_per_generation " + std::to_string(2 * accumulation);
  });
}

TEST_F(Distributed, PpoOnTwoRanksEqualsOneRank) {
  // each rank samples and scores half of the rollout's prompts; GAE and the whitening see the whole rollout; the value
  // model (extra parameters) is all-reduced with the policy
  expect_two_ranks_equal_one("ppo", [&](const fs::path& out, int accumulation) {
    return "ppo --model_name_or_path " + policy() + " --dataset_name " + (*dir_ / "prompts.jsonl").string() +
           " --chat_template none --output_dir " + out.string() +
           " --max_steps 4 --per_device_train_batch_size 2 --num_mini_batches 2 --num_ppo_epochs 1 "
           "--response_length 10 --max_prompt_length 32 --learning_rate 1e-3 --kl_coef 0.05 --logging_steps 1 "
           "--reward_funcs '[soft_overlong_punishment]' --reward_kwargs '{soft_overlong_punishment: "
           "{max_completion_len: 10, soft_punish_cache: 8}}' --ddp_bucket_cap_mb 0.05 --gradient_accumulation_steps " +
           std::to_string(accumulation);
  });
}

// torchrun's contract by hand: two processes with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT. Mid-run rank 1 gets `signal` (SIGKILL: it dies; SIGSTOP: it hangs). Rank 0 must exit 1 within
// `limit` seconds with a line naming rank 1, and write no model. Returns rank 0's output.
std::string stop_rank_one(const fs::path& out, int signal, double timeout, double limit) {
  const int port = next_port();
  const std::string log0 = (out.string() + "-rank0.log");
  pid_t pids[2];
  for (int rank = 0; rank < 2; ++rank) {
    const std::string env =
        "RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) +
        " WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
    std::string cmd = "exec env " + env + " " + std::string(R1_CLI) + " " + Distributed::pretrain(out, 1) +
                      " --max_steps 100000 --save_strategy no --logging_steps 1000 --ddp_timeout " +
                      std::to_string(timeout) + " > " + (rank == 0 ? log0 : std::string("/dev/null")) + " 2>&1";
    pids[rank] = fork();
    if (pids[rank] == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  // wait until training runs (rank 0 printed its data-parallel line), then stop rank 1
  const auto start = std::chrono::steady_clock::now();
  while (test::read_bytes(log0).find("data parallel") == std::string::npos &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(pids[1], signal);
  const auto stopped = std::chrono::steady_clock::now();
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pids[0], &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - stopped < std::chrono::seconds(int(limit) + 30))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pids[1], SIGKILL);
  waitpid(pids[1], nullptr, 0);
  if (done == 0) {
    kill(pids[0], SIGKILL);
    waitpid(pids[0], &status, 0);
    ADD_FAILURE() << "rank 0 did not exit: " << test::read_bytes(log0);
    return {};
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  std::cout << "rank 0 exited " << seconds << " s after rank 1 got signal " << signal << "\n";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_LT(seconds, limit);
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  const std::string log = test::read_bytes(log0);
  EXPECT_NE(log.find("rank 1 stopped answering"), std::string::npos) << log;
  if (const size_t error = log.rfind("r1: error"); error != std::string::npos) std::cout << log.substr(error);
  return log;
}

TEST_F(Distributed, AKilledRankStopsTheOtherWithALineNamingIt) {
  stop_rank_one(*dir_ / "killed", SIGKILL, 60, 30);  // its sockets close: at once, not after the timeout
}

TEST_F(Distributed, AHungRankStopsTheOtherAfterTheTimeout) {
  stop_rank_one(*dir_ / "hung", SIGSTOP, 4, 4 + 15);  // the collective's timeout, then 3 s of heartbeat watching
}

TEST_F(Distributed, UsageErrorsNameTheKey) {
  auto nccl = test::run_r1("launch --nproc-per-node 2 --master-port " + std::to_string(next_port()) + " -- " +
                           pretrain(*dir_ / "nccl", 1) + " --ddp_backend nccl");
  EXPECT_NE(nccl.status, 0);
  EXPECT_NE(nccl.output.find("ddp_backend nccl"), std::string::npos) << nccl.output;
  // r1 pipeline's generation and evaluation stages would run once per rank: it refuses more than one
  test::write_bytes(*dir_ / "pipeline.yaml", "output_dir: " + (*dir_ / "pipeline").string() +
                                                 "\nstages:\n  - {name: base, run: sft, with: {max_steps: 1}}\n");
  auto pipeline = test::run_r1("launch --nproc-per-node 2 --master-port " + std::to_string(next_port()) +
                               " -- pipeline " + (*dir_ / "pipeline.yaml").string());
  EXPECT_EQ(pipeline.status, 2) << pipeline.output;
  EXPECT_NE(pipeline.output.find("not on 2 ranks"), std::string::npos) << pipeline.output;
  auto timeout = test::run_r1(pretrain(*dir_ / "timeout", 1) + " --ddp_timeout 0");
  EXPECT_EQ(timeout.status, 2);
  EXPECT_NE(timeout.output.find("ddp_timeout"), std::string::npos) << timeout.output;
  // torch.distributed's spellings are aliases
  auto alias = test::run_r1(pretrain(*dir_ / "alias", 1) + " --dist-backend gloo --dist-timeout 30 --dump-config");
  EXPECT_EQ(alias.status, 0) << alias.output;
  EXPECT_NE(alias.output.find("ddp_timeout: 30"), std::string::npos) << alias.output;
  EXPECT_NE(alias.output.find("ddp_backend: gloo"), std::string::npos) << alias.output;
}

}  // namespace
}  // namespace r1
