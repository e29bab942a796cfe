// The demo pipeline (r1/demo.h): stages run in order, each skipped when its output exists. Sizes are tuned so the
// whole run fits in minutes on 2 CPU cores (timings in README.md). The base model learns the task from a corpus in
// which careful_fraction of the worked solutions are careful and correct and the rest quick wrong guesses, so it
// solves a held-out problem only when it happens to start a careful solution; GRPO with the accuracy and format
// rewards then has to find and reinforce the careful behaviour on its own (no solution is shown to it during RL).
#include "r1/demo.h"

#include <fmt/format.h>
#include <torch/types.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/jsonl.h"
#include "pipeline/demo-stages.h"
#include "r1/chat-template.h"
#include "r1/data.h"
#include "r1/engine.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/recipe.h"
#include "r1/rewards.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "train/grpo-data.h"

namespace r1::demo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

nlohmann::json EvalSummary::to_json() const {
  return {{"problems", problems},
          {"samples", samples},
          {"pass_at_1", pass_at_1},
          {"format_rate", format_rate},
          {"mean_length", mean_length},
          {"language_consistency", language_consistency},
          {"language_consistency_zh",
           language_consistency_zh ? nlohmann::json(*language_consistency_zh) : nlohmann::json(nullptr)},
          {"seconds", seconds}};
}

EvalSummary EvalSummary::from_json(const nlohmann::json& j) {
  EvalSummary s;
  s.problems = j.at("problems").get<int64_t>();
  s.samples = j.at("samples").get<int64_t>();
  s.pass_at_1 = j.at("pass_at_1").get<double>();
  s.format_rate = j.at("format_rate").get<double>();
  s.mean_length = j.at("mean_length").get<double>();
  s.language_consistency = j.value("language_consistency", 0.0);  // absent in runs before the R1 demo
  if (auto zh = j.find("language_consistency_zh"); zh != j.end() && zh->is_number())
    s.language_consistency_zh = zh->get<double>();
  s.seconds = j.value("seconds", 0.0);
  return s;
}

namespace detail {

StageLog::StageLog(fs::path file) : file_(std::move(file)) {
  if (!fs::exists(file_)) return;
  const nlohmann::json recorded = parse_json(read_file(file_), file_.string());
  for (const auto& [name, s] : recorded.items())
    if (s.is_number()) recorded_[name] = s.get<double>();
}

void StageLog::run(const std::string& name, bool done, const std::function<void()>& fn) {
  if (done) {
    fmt::print("== {}: done earlier, skipped\n", name);
    times_.push_back({name, 0, true});
    return;
  }
  fmt::print("== {}\n", name);
  std::fflush(stdout);
  const auto t0 = Clock::now();
  fn();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print("== {}: {:.1f} s\n", name, s);
  times_.push_back({name, s, false});
  recorded_[name] = s;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, v] : recorded_) j[n] = v;
  write_file_atomic(file_, j.dump(2) + "\n");
}

double StageLog::seconds(const std::string& name) const {
  auto it = recorded_.find(name);
  return it == recorded_.end() ? 0.0 : it->second;
}

const nlohmann::json& accuracy_params() {
  static const nlohmann::json params = {{"preset", "math-verify"}};
  return params;
}

nlohmann::json problem_row(const data::TaskProblem& p) {
  return {{"problem", p.problem}, {"solution", p.answer}, {"language", p.language}};
}

void write_jsonl(const fs::path& path, const std::vector<nlohmann::json>& rows) {
  std::string text;
  for (const auto& r : rows) text += r.dump() + "\n";
  write_file_atomic(path, text);
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> rows;
  JsonlReader reader(path);
  nlohmann::json row;
  while (reader.next(row)) rows.push_back(row);
  return rows;
}

bool has_model(const fs::path& dir) { return fs::exists(dir / "model.safetensors") && fs::exists(dir / "config.json"); }

void resume_or_restart(train::TrainingArguments& args) {
  args.overwrite_output_dir = true;
  if (train::latest_checkpoint(args.output_dir)) args.resume_from_checkpoint = "true";
}

namespace {

void write_task_files(const data::TaskSplits& task, const fs::path& task_dir, int64_t corpus_documents,
                      double careful_fraction, double chinese_cot_fraction, const std::string& system_prompt,
                      uint64_t seed) {
  fs::create_directories(task_dir);
  std::vector<nlohmann::json> train_rows, test_rows, corpus;
  for (const auto& p : task.train) train_rows.push_back(problem_row(p));
  for (const auto& p : task.test) test_rows.push_back(problem_row(p));
  tokenizer::ChatTemplate chatml = tokenizer::ChatTemplate::named("chatml");
  std::mt19937_64 rng(seed + 1);
  std::uniform_int_distribution<size_t> pick(0, task.train.size() - 1);
  std::bernoulli_distribution careful(careful_fraction), chinese_cot(chinese_cot_fraction);
  for (int64_t i = 0; i < corpus_documents; ++i) {
    const data::TaskProblem& p = task.train[pick(rng)];
    nlohmann::json messages = nlohmann::json::array(
        {{{"role", "system"}, {"content", system_prompt}}, {{"role", "user"}, {"content", p.problem}}});
    std::string prompt = chatml.render(nlohmann::json{{"messages", messages}, {"add_generation_prompt", true}}).text;
    const bool is_careful = careful(rng);
    // English problems draw nothing more: the R1-Zero demo's corpus is the one it always was.
    const std::string cot = p.language == "zh" && chinese_cot(rng) ? "zh" : "en";
    corpus.push_back({{"text", prompt + data::addition_solution(p, is_careful, rng, cot)}});
  }
  write_jsonl(task_dir / "train.jsonl", train_rows);
  write_jsonl(task_dir / "test.jsonl", test_rows);
  write_jsonl(task_dir / "corpus.jsonl", corpus);  // last: its presence marks the stage done
  int64_t chinese = 0;
  for (const auto& p : task.train) chinese += p.language == "zh";
  fmt::print("{} train ({} posed in Chinese) and {} held-out problems, {} pretraining documents ({:.0f}% careful)\n",
             task.train.size(), chinese, task.test.size(), corpus.size(), 100 * careful_fraction);
}

void train_demo_tokenizer(const fs::path& corpus, const fs::path& tok_dir, int64_t vocab_size) {
  tokenizer::TrainOptions t;
  t.pre_tokenizer = "qwen2";  // digits one by one: column arithmetic sees single digits
  t.vocab_size = size_t(vocab_size);
  t.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  t.show_progress = false;
  tokenizer::Tokenizer tok = tokenizer::train_tokenizer({corpus}, t);
  tokenizer::TokenizerConfig c = tok.config();
  c.eos_token = "<|im_end|>";
  c.pad_token = "<|endoftext|>";
  c.chat_template = tokenizer::ChatTemplate::named("chatml").source();
  tok.set_config(c);
  tok.save(tok_dir, /*overwrite=*/true);
  fmt::print("{} tokens\n", tok.vocab_size());
}

void write_demo_shards(const fs::path& tok_dir, const fs::path& corpus, const fs::path& shards) {
  data::PrepareOptions p;
  p.tokenizer = tok_dir;
  p.inputs = {corpus};
  p.out = shards;
  p.validation_fraction = 0.01;
  p.dedup = false;  // the corpus repeats problems on purpose
  p.max_repeated_line_ratio = 1.0;
  p.overwrite = true;
  data::PrepareSummary s = data::prepare_data(p);
  fmt::print("{}", s.format());
}

}  // namespace

data::TaskSplits prepare_task_data(const DemoOptions& o, StageLog& log) {
  for (const auto& [name, share] : {std::pair<const char*, double>{"--careful-fraction", o.careful_fraction},
                                    {"chinese_cot_fraction", o.chinese_cot_fraction}})
    if (!(share >= 0 && share <= 1)) fail_usage("demo: {} must be in [0, 1], got {}", name, share);
  const fs::path task_dir = o.out_dir / "task", tok_dir = o.out_dir / "tokenizer", shards = o.out_dir / "shards";
  data::AdditionTaskOptions task_options;
  task_options.seed = o.seed;
  task_options.min_operand = o.min_operand;
  task_options.max_operand = o.max_operand;
  task_options.test_problems = o.test_problems;
  task_options.chinese_fraction = o.chinese_fraction;
  data::TaskSplits task = data::make_addition_task(task_options);
  log.run("task data", fs::exists(task_dir / "corpus.jsonl"), [&] {
    write_task_files(task, task_dir, o.corpus_documents, o.careful_fraction, o.chinese_cot_fraction, o.system_prompt,
                     o.seed);
  });
  log.run("tokenizer", fs::exists(tok_dir / "tokenizer.json"),
          [&] { train_demo_tokenizer(task_dir / "corpus.jsonl", tok_dir, o.vocab_size); });
  log.run("token shards", fs::exists(shards / "manifest.json"),
          [&] { write_demo_shards(tok_dir, task_dir / "corpus.jsonl", shards); });
  return task;
}

PretrainSettings pretrain_settings(const DemoOptions& o) {
  return {
      o.model_config, o.pretrain_steps, o.pretrain_batch, o.pretrain_length, o.pretrain_learning_rate, o.pretrain_bf16,
      o.seed};
}

bool pretrain_demo_model(const PretrainSettings& s, const fs::path& out_dir, const fs::path& out,
                         const std::atomic<bool>* stop) {
  const fs::path tok_dir = out_dir / "tokenizer", shards = out_dir / "shards";
  train::PretrainOptions p;
  p.model_config = s.model_config;
  p.tokenizer_name_or_path = tok_dir.string();
  p.dataset_name = shards.string();
  p.max_length = s.length;
  train::TrainingArguments& a = p.training;
  a.output_dir = out.string();
  a.max_steps = s.steps;
  a.per_device_train_batch_size = s.batch;
  a.learning_rate = s.learning_rate;
  a.lr_scheduler_type = "cosine";
  a.warmup_ratio = 0.05;
  a.weight_decay = 0.01;
  a.bf16 = s.bf16;
  a.logging_steps = 50;
  a.save_steps = 100;
  a.save_total_limit = 1;
  a.seed = int64_t(s.seed);
  resume_or_restart(a);
  return train::pretrain(p, stop).interrupted;
}

train::GrpoOptions demo_grpo_options(const DemoOptions& o, const fs::path& model, const fs::path& dataset,
                                     const fs::path& out) {
  train::GrpoOptions g;
  g.system_prompt = o.system_prompt;
  g.chat_template = "auto";
  g.model_name_or_path = model.string();
  g.tokenizer_name_or_path = model.string();
  g.dataset_name = dataset.string();
  g.num_generations = o.num_generations;
  g.max_completion_length = o.max_completion_length;
  g.max_prompt_length = 128;
  g.beta = o.beta;
  g.log_completions = true;
  train::TrainingArguments& a = g.training;
  a.output_dir = out.string();
  a.max_steps = o.grpo_steps;
  a.per_device_train_batch_size = o.grpo_batch;
  a.gradient_accumulation_steps = o.grpo_accumulation;
  a.learning_rate = o.grpo_learning_rate;
  // Decaying to 0 (transformers' default): with a constant 5e-4 the training accuracy swung between 0.72 and 0.96
  // after step 10 and the last step's model scored 0.830; linear decay gave 0.969 / 0.968 / 0.980 at 20 / 30 / 40
  // steps (cosine 0.963), so the result no longer depends on where the swing stops.
  a.lr_scheduler_type = "linear";
  a.logging_steps = 1;
  a.save_steps = 10;
  a.save_total_limit = 1;
  a.seed = int64_t(o.seed);
  resume_or_restart(a);
  return g;
}

std::vector<nlohmann::json> grpo_metrics(const fs::path& run_dir) {
  std::vector<nlohmann::json> metrics;
  if (fs::exists(run_dir / "metrics.jsonl"))
    for (nlohmann::json& row : read_jsonl(run_dir / "metrics.jsonl"))
      if (row.contains("reward")) metrics.push_back(std::move(row));
  return metrics;
}

}  // namespace detail

using namespace detail;

EvalSummary evaluate_pass_at_1(const fs::path& model_dir, const std::vector<data::TaskProblem>& problems,
                               const std::string& system_prompt, int64_t k, double temperature, int64_t max_new_tokens,
                               uint64_t seed) {
  const auto t0 = Clock::now();
  train::GrpoOptions po;  // prompts as GRPO renders them
  po.system_prompt = system_prompt;
  po.chat_template = "auto";
  po.model_name_or_path = model_dir.string();
  po.tokenizer_name_or_path = model_dir.string();
  const text::ModelBundle bundle = text::load_model_bundle(train::rl::policy_source(po));
  const model::Transformer& net = bundle.model;
  std::vector<nlohmann::json> rows;
  for (const auto& p : problems) rows.push_back(problem_row(p));
  train::rl::PromptDataset prompts =
      train::rl::PromptDataset::from_rows(rows, po, bundle.tokenizer, bundle.chat_template.get(), "held-out problems");
  engine::EngineOptions eo;
  eo.max_batch = 256;
  eo.max_seq_len = net->config().max_position_embeddings;
  eo.eos_token_ids = bundle.stop_ids;  // as serve, eval and grpo
  engine::Engine engine(net, eo);
  std::vector<engine::Request> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    engine::Request r;
    r.prompt = prompts.prompt_ids(i);
    r.n = int32_t(k);
    r.params.temperature = temperature;
    r.params.max_new_tokens = max_new_tokens;
    r.params.seed = seed * 7919 + i;
    requests.push_back(std::move(r));
  }
  std::vector<engine::Result> results = engine.generate(requests);
  std::vector<std::string> texts;
  std::vector<nlohmann::json> examples;
  double tokens = 0;
  for (size_t i = 0; i < results.size(); ++i)
    for (const auto& s : results[i].samples) {
      texts.push_back(bundle.tokenizer.decode(s.tokens, /*skip_special_tokens=*/true));
      examples.push_back(rows[i]);
      tokens += double(s.tokens.size());
    }
  auto accuracy = rewards::make_reward("accuracy", accuracy_params())(texts, examples);
  auto format = rewards::make_reward("format")(texts, examples);
  auto language = rewards::make_reward("language_consistency")(texts, examples);  // each problem's language
  EvalSummary e;
  e.problems = int64_t(problems.size());
  e.samples = int64_t(texts.size());
  double zh_sum = 0;
  int64_t zh_samples = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    e.pass_at_1 += accuracy[i].value_or(0.0);
    e.format_rate += format[i].value_or(0.0);
    e.language_consistency += language[i].value_or(0.0);
    if (examples[i]["language"] == "zh") zh_sum += language[i].value_or(0.0), ++zh_samples;
  }
  const double n = double(std::max<size_t>(1, texts.size()));
  e.pass_at_1 /= n;
  e.format_rate /= n;
  e.language_consistency /= n;
  if (zh_samples > 0) e.language_consistency_zh = zh_sum / double(zh_samples);
  e.mean_length = tokens / n;
  e.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return e;
}

DemoResult run_demo(const DemoOptions& o, const std::atomic<bool>* stop) {
  DemoResult result;
  const fs::path out = o.out_dir, task_dir = out / "task", base = out / "base", rl = out / "grpo";
  fs::create_directories(out);
  StageLog log(out / "stage-seconds.json");
  auto finish = [&] {
    result.stages = log.times();
    return result;
  };
  const data::TaskSplits task = prepare_task_data(o, log);
  log.run("pretraining", has_model(base),
          [&] { result.interrupted = pretrain_demo_model(pretrain_settings(o), out, base, stop); });
  if (result.interrupted) return finish();

  const fs::path before_json = out / "eval-base.json", after_json = out / "eval-grpo.json";
  log.run("evaluate base model", fs::exists(before_json), [&] {
    EvalSummary e = evaluate_pass_at_1(base, task.test, o.system_prompt, o.eval_samples, o.eval_temperature,
                                       o.max_completion_length, o.seed);
    write_file_atomic(before_json, e.to_json().dump(2));
  });
  result.before = EvalSummary::from_json(parse_json(read_file(before_json), before_json.string()));
  fmt::print("base model: pass@1 {:.3f}, format {:.3f}, {:.1f} tokens\n", result.before.pass_at_1,
             result.before.format_rate, result.before.mean_length);

  log.run("GRPO", has_model(rl), [&] {
    train::GrpoOptions g = demo_grpo_options(o, base, task_dir / "train.jsonl", rl);
    g.reward_funcs = {"accuracy", "format"};
    g.reward_kwargs = {{"accuracy", accuracy_params()}};
    result.interrupted = train::grpo(g, stop).interrupted;
  });
  if (result.interrupted) return finish();

  log.run("evaluate GRPO model", fs::exists(after_json), [&] {
    EvalSummary e = evaluate_pass_at_1(rl, task.test, o.system_prompt, o.eval_samples, o.eval_temperature,
                                       o.max_completion_length, o.seed);
    write_file_atomic(after_json, e.to_json().dump(2));
  });
  result.after = EvalSummary::from_json(parse_json(read_file(after_json), after_json.string()));

  result.stages = log.times();
  result.report = out / "report.html";
  write_file_atomic(result.report, demo_report_html(result, grpo_metrics(rl), o));
  return result;
}

}  // namespace r1::demo
