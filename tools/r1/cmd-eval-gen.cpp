// `r1 eval gen` (generative tasks: pass@1 over k samples, pass@k, maj@k, as the R1 paper and open-r1 with
// lighteval report them) and `r1 eval judge` (LLM-as-judge through an OpenAI-compatible endpoint: pairwise
// in both orders, or single-answer 1-10). Options follow lighteval / vLLM names; the work is in
// src/eval/generative.cpp and src/eval/judge.cpp.
#include <fmt/format.h>

#include <cstdlib>

#include "eval-output.h"
#include "r1/model.h"
#include "r1/verify.h"

namespace r1::cli {
namespace {

struct GenCommandOptions {
  eval::GenerativeEvalOptions job;
  std::string task, model, dtype, verify_preset = "math-verify";
  EvalOutputOptions out;
  bool quiet = false;
};

int run_gen(const Invocation& ctx, GenCommandOptions& o) {
  check_eval_output(o.out);
  text::DatasetGenerateOptions& g = o.job.generation;
  o.job.task_path = o.task;
  o.job.verify = verify::verify_preset(o.verify_preset);
  g.model_dir = o.model;
  g.device = ctx.runtime.device;
  g.seed = uint64_t(ctx.runtime.seed < 0 ? 42 : ctx.runtime.seed);
  if (!o.dtype.empty()) g.engine.dtype = model::parse_dtype(o.dtype);
  if (g.server_url.empty() == o.model.empty()) fail_usage("give exactly one of --model DIR or --server URL");
  if (!g.server_url.empty() && g.api_key.empty())
    if (const char* key = std::getenv("OPENAI_API_KEY")) g.api_key = key;
  o.job.bootstrap = o.out.bootstrap(ctx);
  std::vector<std::string> records;
  eval::Results r = eval::evaluate_generative(o.job, &records, [&](int64_t done, int64_t total) {
    if (!o.quiet) fmt::print(stderr, "\rproblems {}/{}{}", done, total, done == total ? "\n" : "");
  });
  return finish_eval(r, records, "samples.jsonl", o.out);
}

struct JudgeCommandOptions {
  eval::JudgeEndpoint endpoint;
  eval::JudgeOptions judge;
  std::string answers_a, answers_b, question_column = "prompt", answer_column = "generation";
  bool single = false;
  EvalOutputOptions out;
};

int run_judge(const Invocation& ctx, JudgeCommandOptions& o) {
  check_eval_output(o.out);
  if (o.single && !o.answers_b.empty()) fail_usage("--single grades one answer file: drop --answers-b");
  if (!o.single && o.answers_b.empty()) fail_usage("pairwise judging needs --answers-b (or --single)");
  if (o.endpoint.api_key.empty())
    if (const char* key = std::getenv("OPENAI_API_KEY")) o.endpoint.api_key = key;
  o.judge.bootstrap = o.out.bootstrap(ctx);
  const auto items = eval::load_judge_items(o.answers_a, o.answers_b, o.question_column, o.answer_column);
  const eval::JudgeFn judge = eval::make_openai_judge(o.endpoint);
  std::vector<std::string> records;
  eval::Results r = o.single ? eval::judge_single(items, judge, o.judge, &records)
                             : eval::judge_pairwise(items, judge, o.judge, &records);
  r.task = o.single ? o.answers_a : o.answers_a + " vs " + o.answers_b;
  r.model = o.endpoint.model.empty() ? o.endpoint.server_url : o.endpoint.model;
  r.config = {{"judge", o.endpoint.server_url}, {"judge_model", o.endpoint.model}};
  return finish_eval(r, records, "judgments.jsonl", o.out);
}

}  // namespace

void add_eval_gen_commands(CLI::App& eval, Invocation& ctx) {
  auto o = std::make_shared<GenCommandOptions>();
  text::DatasetGenerateOptions& g = o->job.generation;
  g.num_generations = 4;
  g.sampling.temperature = 0.6;
  g.sampling.top_p = 0.95;
  g.sampling.max_new_tokens = 4096;
  CLI::App* gen = eval.add_subcommand("gen", "generative task: pass@1 over k samples, pass@k, maj@k with uncertainty");
  gen->footer(
      "\nTask files are JSONL with open-r1's columns: problem/solution (math: gold extracted from the solution),\n"
      "problem/answer (AIME), GPQA's Question/Correct Answer/Incorrect Answer 1-3 (options shuffled by --seed,\n"
      "'Answer: $LETTER'), or prompt/answer (generic). Math answers are checked as `r1 verify` does; maj@k\n"
      "votes over answers that verify as equivalent. Every metric has a standard error over problems and a\n"
      "bootstrap interval (seeded by --seed).");
  gen->add_option("--task,--tasks", o->task, "task JSONL file")->required()->check(CLI::ExistingFile);
  gen->add_option("--task-type", o->job.task.type, "auto | math | aime | gpqa | generic")->capture_default_str();
  gen->add_option("--template", o->job.task.prompt_template,
                  "Jinja prompt over the row's columns, instead of open-r1's");
  gen->add_option("--limit", o->job.task.limit, "only the first N problems (0: all)")->check(kNonNegative);
  gen->add_option("--model", o->model, "local model directory");
  gen->add_option("--server", g.server_url, "OpenAI-compatible server, http://host:port[/v1], instead of --model");
  gen->add_option("--server-model", g.server_model, "the 'model' sent to the server");
  gen->add_option("--api-key", g.api_key, "server bearer token (default: $OPENAI_API_KEY)");
  gen->add_option("--concurrency", g.concurrency, "server: requests in flight")->capture_default_str();
  gen->add_option("--num-samples,-n", g.num_generations, "samples per problem (k)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  gen->add_option("--pass-at", o->job.ks, "k values for pass@k and maj@k (default: 1, 2, 4, ..., n)")->delimiter(',');
  gen->add_option("--temperature", g.sampling.temperature, "sampling temperature (0: greedy)")->capture_default_str();
  gen->add_option("--top-p", g.sampling.top_p, "nucleus mass")->capture_default_str();
  gen->add_option("--top-k", g.sampling.top_k, "0: off")->capture_default_str();
  gen->add_option("--max-new-tokens,--max-tokens", g.sampling.max_new_tokens, "completion length limit")
      ->capture_default_str();
  gen->add_option("--chat-template", g.chat_template,
                  "auto (the tokenizer's, if any), none (raw text), a built-in name (chatml, qwen2.5, llama3, ...), a "
                  "file or Jinja text")
      ->capture_default_str();
  gen->add_option("--system-prompt", g.system_prompt, "system message before each prompt (chat template only)");
  gen->add_option("--batch-size", g.engine.max_batch, "local: sequences decoded together")->capture_default_str();
  gen->add_option("--dtype", o->dtype, "local: compute dtype (float32, bfloat16)");
  gen->add_option("--verify-preset", o->verify_preset,
                  "how math answers are checked (r1 verify --preset): math-verify, Math-Verify's defaults as "
                  "lighteval's math metrics use them, or open-r1")
      ->capture_default_str()
      ->check(CLI::IsMember({"math-verify", "open-r1"}));
  gen->add_flag("--quiet", o->quiet, "no progress line");
  add_eval_output_options(gen, o->out);
  gen->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_gen(ctx, *o); }; });

  auto j = std::make_shared<JudgeCommandOptions>();
  CLI::App* judge = eval.add_subcommand("judge", "LLM-as-judge: pairwise win/tie/loss in both orders, or 1-10 grades");
  judge->footer(
      "\nThe answer files are JSONL (e.g. two `r1 generate` outputs) paired by row. Each pair is judged twice,\n"
      "with the answers in both orders; a pair whose two verdicts disagree counts as a tie and as order-\n"
      "inconsistent. win_rate counts a tie as half a win.");
  judge->add_option("--server", j->endpoint.server_url, "the judge: OpenAI-compatible server")->required();
  judge->add_option("--judge-model", j->endpoint.model, "the 'model' sent to the judge server");
  judge->add_option("--api-key", j->endpoint.api_key, "bearer token (default: $OPENAI_API_KEY)");
  judge->add_option("--answers-a", j->answers_a, "JSONL with the first model's answers")
      ->required()
      ->check(CLI::ExistingFile);
  judge->add_option("--answers-b", j->answers_b, "JSONL with the second model's answers")->check(CLI::ExistingFile);
  judge->add_flag("--single", j->single, "grade --answers-a alone from 1 to 10");
  judge->add_option("--question-column", j->question_column, "column with the question")->capture_default_str();
  judge->add_option("--answer-column", j->answer_column, "column with the answer")->capture_default_str();
  judge->add_option("--concurrency", j->judge.concurrency, "requests in flight")->capture_default_str();
  judge->add_option("--max-tokens", j->endpoint.max_tokens, "judge reply limit")->capture_default_str();
  judge->add_option("--timeout", j->endpoint.timeout_seconds, "seconds per request")->capture_default_str();
  judge->add_option("--retries", j->endpoint.retries, "retries on connection errors, 429 and 5xx")
      ->capture_default_str();
  add_eval_output_options(judge, j->out);
  judge->callback([&ctx, j] { ctx.run = [&ctx, j] { return run_judge(ctx, *j); }; });
}

}  // namespace r1::cli
