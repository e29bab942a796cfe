// `r1 launch [--nproc-per-node N] [--nnodes N] [--node-rank N] [--master-addr A] [--master-port P] -- PROGRAM ...`:
// torchrun without Python (r1::dist::launch, src/dist/launch.cpp): one process per local rank with torchrun's
// variables, signals forwarded, every rank stopped when one fails. torchrun's underscore spellings are accepted
// too, and its --no-python is accepted and ignored (r1 never runs Python). This file only parses the options; its
// exit status is launch()'s (0, or the first failed rank's status, 128 + signal for a signal).
#include "commands.h"
#include "r1/distributed.h"

namespace r1::cli {

void add_launch_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<dist::LaunchOptions>();
  auto command = std::make_shared<std::vector<std::string>>();
  auto log_dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "start one process per rank for data-parallel training, as torchrun (no Python needed)");
  cmd->footer(
      "After --: a program and its arguments, or an r1 subcommand. A first word with a '/' is run as given;\n"
      "'r1' is this r1 binary; another word is looked up on PATH, and if no program has that name it is an r1\n"
      "subcommand (r1 launch -- pretrain ... runs this binary's `r1 pretrain ...` on every rank). r1's global\n"
      "options for the ranks go after -- too (r1 launch -- --threads 1 --seed 7 pretrain ...).\n"
      "Each process gets torchrun's variables: RANK (= node_rank * nproc_per_node + LOCAL_RANK), WORLD_SIZE,\n"
      "LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, ROLE_RANK, ROLE_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,\n"
      "TORCHELASTIC_RUN_ID; r1 divides the physical cores among the local ranks unless --threads is given.\n"
      "SIGINT, SIGTERM and SIGHUP are forwarded to every rank. When a rank fails, the others get SIGTERM, then\n"
      "SIGKILL after --kill-grace seconds, and r1 launch exits with the failed rank's status (128 + signal).\n"
      "--no-python / --no_python are accepted and ignored: r1 never runs Python.\n"
      "Example (2 machines, 2 ranks each; run on each with its --node-rank):\n"
      "  r1 launch --nnodes 2 --node-rank 0 --nproc-per-node 2 --master-addr node0 -- pretrain --config c.yaml");
  cmd->add_option("--nproc-per-node,--nproc_per_node", o->nproc_per_node, "processes (ranks) on this machine")
      ->capture_default_str();
  cmd->add_option("--nnodes", o->nnodes, "machines in the run")->capture_default_str();
  cmd->add_option("--node-rank,--node_rank", o->node_rank, "this machine's index, 0 .. nnodes-1")
      ->capture_default_str();
  cmd->add_option("--master-addr,--master_addr", o->master_addr, "host of rank 0 (its store listens there)")
      ->capture_default_str();
  cmd->add_option("--master-port,--master_port", o->master_port, "TCP port of rank 0's store")->capture_default_str();
  cmd->add_option("--rdzv-id,--rdzv_id,--run-id,--run_id", o->run_id, "run id, in TORCHELASTIC_RUN_ID")
      ->capture_default_str();
  cmd->add_option("--log-dir,--log_dir", *log_dir,
                  "write each rank's stdout and stderr to DIR/rank-<RANK>.log (appended, never truncated) "
                  "instead of the terminal");
  cmd->add_option("--kill-grace,--kill_grace", o->kill_grace_seconds,
                  "seconds between SIGTERM and SIGKILL when stopping the ranks")
      ->capture_default_str();
  cmd->add_flag("--no-python,--no_python")->description("ignored (torchrun's flag; r1 launch never runs Python)");
  // COMMAND takes the first word; the words after it pass through untouched as the prefix command's remainder (a
  // list option of CLI11 would split an argument such as "[a, b]")
  cmd->add_option("COMMAND", *command, "program or r1 subcommand, and its arguments (after --)")
      ->required()
      ->allow_extra_args(false);
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->callback([cmd, &ctx, o, command, log_dir] {
    std::vector<std::string> rest = cmd->remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());  // CLI11 keeps the separator before them
    command->insert(command->end(), rest.begin(), rest.end());
    ctx.run = [o, command, log_dir] {
      if (!log_dir->empty()) o->log_dir = *log_dir;
      return dist::launch(*o, *command);
    };
  });
}

}  // namespace r1::cli
