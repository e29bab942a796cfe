// Evaluation of language models, as lighteval / open-r1 evaluate them and the DeepSeek-R1 paper reports them:
//  - statistics: unbiased pass@k (Chen et al. 2021, eq. 1, as a stable product), means with their standard
//    error and a seeded percentile-bootstrap confidence interval over problems, majority vote over
//    verified-equivalent answers (maj@k / cons@k);
//  - tasks from JSONL with open-r1's prompt functions (math, AIME, GPQA, generic) and multiple-choice
//    questions (MMLU / C-Eval columns) with k-shot prompts from a dev split;
//  - generative evaluation (k samples per problem through a local engine or an OpenAI-compatible server),
//    log-likelihood multiple choice (next-token letter logits; full-continuation log-likelihood), perplexity
//    and bits per byte over token windows (shared by `r1 eval ppl` and the trainers' evaluation);
//  - LLM-as-judge through an OpenAI-compatible endpoint (pairwise in both orders; single-answer 1-10);
//  - results as JSON and a markdown table, and a side-by-side comparison of two result files.
// Text and JSON stay at the edges (task readers, result writers); the scoring functions take token ids.
//
// Usage:
//   r1::eval::GenerativeEvalOptions options;  // r1 eval gen
//   options.task_path = "math500.jsonl";
//   options.generation.model_dir = "runs/grpo"; options.generation.num_generations = 4;
//   std::vector<std::string> records;
//   r1::eval::Results results = r1::eval::evaluate_generative(options, &records);
//   r1::eval::write_results("runs/eval", results, records, "samples.jsonl", /*overwrite=*/false);
//   double p = r1::eval::pass_at_k(/*n=*/16, /*c=*/5, /*k=*/4);
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "r1/model.h"
#include "r1/text.h"
#include "r1/verify.h"

namespace r1::tokenizer {
class Tokenizer;
}

namespace r1::eval {

// ---- Perplexity and bits per byte (r1 eval ppl, the trainers' evaluation; perplexity.cpp) ---------------------------

struct LikelihoodTotals {
  double nll_sum = 0;     // natural-log negative log-likelihood summed over predicted tokens
  int64_t predicted = 0;  // tokens predicted (each window of n tokens predicts n - 1)
  double loss() const { return predicted ? nll_sum / double(predicted) : 0.0; }
  double perplexity() const;
  double bits_per_byte(double text_bytes) const;  // nll in bits / bytes
  // nll in bits / Unicode characters (bits per character, the seed course's measure for base models)
  double bits_per_character(double text_characters) const { return bits_per_byte(text_characters); }
};

// Scores `count` windows (window(i) returns up to seq_len + 1 token ids; tokens 1.. are predicted from the
// ones before), batching windows of equal length `batch_size` at a time, without gradients.
LikelihoodTotals score_windows(model::TransformerImpl& model, size_t count,
                               const std::function<std::vector<int64_t>(size_t)>& window, int64_t batch_size);

// Non-overlapping windows of seq_len + 1 tokens over `tokens` (consecutive windows share one token, so every
// token but the first is predicted exactly once), scored with score_windows.
LikelihoodTotals score_tokens(model::TransformerImpl& model, const std::vector<int64_t>& tokens, int64_t seq_len,
                              int64_t batch_size);

// ---- Statistics: pass@k, means with their uncertainty, majority vote (metrics.cpp) ----------------------------------

// Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k), computed as
// 1 - prod_{i=n-c+1..n} (1 - k/i) (no factorials, no overflow). Exactly 1 when n - c < k.
// r1::UsageError unless 1 <= k <= n and 0 <= c <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

struct BootstrapOptions {
  int64_t resamples = 1000;  // 0: no bootstrap (ci_low = ci_high = NaN)
  double confidence = 0.95;
  uint64_t seed = 42;  // the same seed and values give the same interval, on every platform
};

// A mean over items (problems, pairs) with its uncertainty.
struct Estimate {
  double value = 0;      // the mean
  double std_error = 0;  // sample standard deviation (n - 1) / sqrt(n); 0 when n < 2
  double ci_low = 0;     // percentile bootstrap interval of the mean (items resampled with replacement)
  double ci_high = 0;
  int64_t count = 0;  // items
};
Estimate estimate_mean(const std::vector<double>& values, const BootstrapOptions& bootstrap = {});

// Majority vote over answers: answers are grouped by `equivalent` (each answer joins the first group whose
// first member it is equivalent to; empty answers do not vote). The largest group wins; a tie goes to the
// group whose first member came first (so the earlier sample breaks ties, deterministically).
struct MajorityVote {
  int64_t winner = -1;            // index of the winning group's first answer; -1 when no answer voted
  int64_t votes = 0;              // size of the winning group
  std::vector<int64_t> group_of;  // per answer: index of its group's first answer, -1 for an empty answer
};
MajorityVote majority_vote(const std::vector<std::string>& answers,
                           const std::function<bool(const std::string&, const std::string&)>& equivalent);

// ---- Results files (every r1 eval command, r1 eval compare; report.cpp) ---------------------------------------------

struct Metric {
  std::string name;  // "pass@1", "maj@8", "acc", "win_rate", ...
  Estimate estimate;
};

struct Results {
  std::string kind;  // "generative" | "multiple_choice" | "judge_pairwise" | "judge_single"
  std::string task;  // the task file (or the answer files, for the judge)
  std::string model;
  std::vector<std::pair<std::string, std::string>> config;  // settings, in the order given (as text)
  std::vector<std::pair<std::string, int64_t>> counts;      // e.g. problems, samples, wins, ties, losses
  std::vector<Metric> metrics;
  BootstrapOptions bootstrap;
  const Metric* find(const std::string& name) const;
};

std::string results_to_json(const Results& results);  // pretty-printed JSON object (see README)
Results results_from_json(const std::string& text, const std::string& source);  // r1::Error naming source
std::string results_markdown(const Results& results);                           // | metric | value | stderr | 95% CI |
// Metrics of both files side by side (each with its stderr) and their difference; metrics present in only
// one file are listed with "-" for the other.
std::string compare_markdown(const Results& a, const Results& b, const std::string& name_a, const std::string& name_b);

// Writes <dir>/results.json, <dir>/results.md and, when records is non-empty, <dir>/<records_name> (one
// JSON object per line), each atomically. r1::UsageError if results.json exists and !overwrite.
void write_results(const std::filesystem::path& dir, const Results& results, const std::vector<std::string>& records,
                   const std::string& records_name, bool overwrite);

// ---- Tasks: problems and multiple-choice questions from JSONL (tasks.cpp) -------------------------------------------

enum class TaskType {
  kMath,     // problem/solution: gold = the answer extracted from the solution (MATH-500)
  kAime,     // problem/answer (AIME 2024/2025)
  kGpqa,     // Question, Correct Answer, Incorrect Answer 1..3: shuffled by seed, "Answer: $LETTER"
  kGeneric,  // prompt/answer: the prompt as written, the answer verified as math
};
TaskType parse_task_type(const std::string& name);  // math | aime | gpqa | generic; UsageError otherwise
const char* task_type_name(TaskType type);

struct Problem {
  std::string prompt;                // the query (open-r1's template applied)
  std::string problem;               // the problem as the file gives it (problem / Question / prompt column)
  std::string gold;                  // gold answer text (math: the whole solution) or the gold letter (GPQA)
  std::vector<std::string> choices;  // GPQA: the shuffled options
  size_t line = 0;                   // 1-based line in the task file
};

struct TaskOptions {
  std::string type = "auto";    // auto: Correct Answer -> gpqa; answer -> aime; solution -> math; prompt -> generic
  std::string prompt_template;  // non-empty: a Jinja template over the row's columns replaces open-r1's
  uint64_t seed = 42;           // GPQA shuffle: row i's gold position comes from (seed, i)
  int64_t limit = 0;            // the first `limit` rows only (0: all)
};

struct Task {
  TaskType type = TaskType::kMath;
  std::filesystem::path path;
  std::vector<Problem> problems;
};
// r1::Error naming file:line for a malformed row or a missing column.
Task load_task(const std::filesystem::path& path, const TaskOptions& options);

// open-r1's query templates (src/open_r1/evaluate.py, after simple-evals), {Question} etc. filled in.
std::string math_query(const std::string& problem);
std::string gpqa_query(const std::string& question, const std::vector<std::string>& choices);

// A multiple-choice question for log-likelihood scoring: MMLU columns (question, choices list, answer as an
// index or a letter) or C-Eval columns (question, A, B, C, D, answer letter); `subject` optional.
struct ChoiceQuestion {
  std::string question, subject;
  std::vector<std::string> choices;
  int64_t answer = 0;  // index into choices
  size_t line = 0;
};
std::vector<ChoiceQuestion> load_choice_questions(const std::filesystem::path& path, int64_t limit = 0);

// The MMLU prompt (lm-evaluation-harness / HELM format): an optional header "The following are multiple
// choice questions (with answers) about <subject>.\n\n", each shot "<question>\nA. <c0>\nB. <c1>...\nAnswer: <L>\n\n",
// then the question itself ending in "Answer:". Letters are scored as the continuation " <L>".
std::string choice_prompt(const std::vector<ChoiceQuestion>& shots, const ChoiceQuestion& question);

// ---- Generative evaluation (r1 eval gen; generative.cpp) ------------------------------------------------------------

// One sample's outcome: whether it is correct and the answer it votes with (empty: no answer, no vote).
struct SampleOutcome {
  bool correct = false;
  std::string answer;
};

// Per-problem outcomes (problems x n samples, n equal for all) -> pass@1 (mean of c/n), pass@k for each k in
// ks (k <= n), maj@k (majority over the first k samples' answers grouped by `equivalent`; correct when the
// winning group's first answer is), each an Estimate over problems.
std::vector<Metric> generative_metrics(const std::vector<std::vector<SampleOutcome>>& outcomes,
                                       const std::vector<int64_t>& ks,
                                       const std::function<bool(const std::string&, const std::string&)>& equivalent,
                                       const BootstrapOptions& bootstrap);

// A task file -> k samples per problem through the local
// engine or an OpenAI-compatible server (text/text-backends.h) -> verdicts (math verification or the GPQA
// letter) -> pass@1 over the k samples, pass@k, maj@k with their uncertainty, and per-sample records.
struct GenerativeEvalOptions {
  std::filesystem::path task_path;
  TaskOptions task;
  // Generation: model_dir or server_url (+ server_model, api_key, concurrency, timeout, retries),
  // chat_template, system_prompt, sampling (defaults set by the CLI: T 0.6, top-p 0.95), num_generations = k,
  // seed (problem i samples with mix_seed(seed, i)), engine, device.
  text::DatasetGenerateOptions generation;
  std::vector<int64_t> ks;  // pass@k / maj@k; empty: 1, 2, 4, ... up to k, and k itself
  BootstrapOptions bootstrap;
  // Math answers: Math-Verify's defaults (the "math-verify" preset), as lighteval's math metrics, which call
  // Math-Verify with float_rounding = precision = 6, the library's own default.
  verify::VerifyOptions verify;
  int threads = 0;  // verification threads (0: one per hardware thread)
};

// Runs the evaluation; records (when given) receive one JSON line per sample: line, problem, sample,
// completion, finish_reason, gold, answer, verdict, correct. on_progress(done, total) counts problems.
Results evaluate_generative(const GenerativeEvalOptions& options, std::vector<std::string>* records = nullptr,
                            const std::function<void(int64_t, int64_t)>& on_progress = {});

// ---- Log-likelihood multiple choice (r1 eval mc; multiple-choice.cpp) -----------------------------------------------

// log p(candidate | context) of the next token for each candidate id: (contexts x candidates), one forward
// per batch of right-padded contexts (causal attention: padding after a row never changes its logits).
std::vector<std::vector<double>> next_token_logprobs(model::TransformerImpl& model,
                                                     const std::vector<std::vector<int64_t>>& contexts,
                                                     const std::vector<int64_t>& candidates, int64_t batch_size);
// sum_t log p(continuation_t | context, continuation_<t) for each (context, continuation) pair.
std::vector<double> continuation_logprobs(
    model::TransformerImpl& model, const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>& pairs,
    int64_t batch_size);

struct ChoiceEvalOptions {
  int64_t num_fewshot = 0;  // shots from `dev` (its first rows; a dev row equal to the question is skipped)
  int64_t batch_size = 8;
  BootstrapOptions bootstrap;
};
struct ChoiceRecord {
  size_t line = 0;
  int64_t answer = 0;
  std::vector<double> letter_logprobs;        // log p(" A"), log p(" B"), ... after the prompt
  std::vector<double> continuation_logprobs;  // log p(" <choice text>") summed over its tokens
  std::vector<int64_t> continuation_bytes;    // UTF-8 bytes of each " <choice text>"
};
// Metrics: acc (argmax of the letter log-probs), acc_ll (argmax of the continuation log-likelihood), acc_ll_norm
// (of the log-likelihood per byte, lm-evaluation-harness's acc_norm); ties go to the first choice.
Results evaluate_choices(model::TransformerImpl& model, const tokenizer::Tokenizer& tokenizer,
                         const std::vector<ChoiceQuestion>& questions, const std::vector<ChoiceQuestion>& dev,
                         const ChoiceEvalOptions& options, std::vector<ChoiceRecord>* records = nullptr);

// ---- LLM-as-judge (r1 eval judge; judge.cpp) ------------------------------------------------------------------------

enum class PairVerdict { kFirst, kSecond, kTie, kInvalid };  // in the order the judge saw the answers
// "[[A]]" -> kFirst, "[[B]]" -> kSecond, "[[C]]" -> kTie (MT-bench's format; the last one in the text wins).
PairVerdict parse_pair_verdict(const std::string& judge_output);
// "[[7]]" or "Rating: 7" (the last one), 1..10; nullopt otherwise.
std::optional<double> parse_rating(const std::string& judge_output);

// The judge: a chat function (system, user) -> reply text. judge.cpp builds one over an OpenAI-compatible
// server (make_openai_judge); tests may pass any function. Called from `concurrency` threads at once.
using JudgeFn = std::function<std::string(const std::string& system, const std::string& user)>;
struct JudgeEndpoint {
  std::string server_url, model, api_key;
  int64_t max_tokens = 1024;
  double timeout_seconds = 600;
  int32_t retries = 3;
};
JudgeFn make_openai_judge(const JudgeEndpoint& endpoint);  // temperature 0; r1::UsageError for a bad URL

struct JudgeItem {
  std::string question, answer_a, answer_b;  // answer_b unused by single grading
  size_t line = 0;
};
// Rows i of `path_a` and `path_b` (JSONL, e.g. two `r1 generate` outputs) paired by position; the question
// from question_column (of path_a), the answers from answer_column. path_b empty: single-answer items.
std::vector<JudgeItem> load_judge_items(const std::filesystem::path& path_a, const std::filesystem::path& path_b,
                                        const std::string& question_column, const std::string& answer_column);

struct JudgeOptions {
  int32_t concurrency = 4;
  BootstrapOptions bootstrap;
};
// Pairwise: every item judged twice, (A, B) and (B, A). Per item, with verdicts mapped to A's side: both
// agree -> that outcome; they disagree -> tie and counted order-inconsistent (MT-bench); an invalid verdict
// in either order -> excluded from the rates and counted. Metrics: win_rate (win 1, tie 0.5, loss 0),
// win, tie, loss (rates), order_inconsistency. records: one JSON object per item.
Results judge_pairwise(const std::vector<JudgeItem>& items, const JudgeFn& judge, const JudgeOptions& options,
                       std::vector<std::string>* records = nullptr);
// Single-answer grading: the judge rates answer_a from 1 to 10; metric `score` over items with a valid rating.
Results judge_single(const std::vector<JudgeItem>& items, const JudgeFn& judge, const JudgeOptions& options,
                     std::vector<std::string>* records = nullptr);

}  // namespace r1::eval
