// `r1 eval`: the evaluation subcommands. Here: `ppl` (loss, perplexity, bits per byte and per character of a model on a
// text file, one document per line, or JSONL `--field`, each document followed by EOS, in non-overlapping windows of
// --max-length tokens; src/eval/perplexity.cpp), `mc` (log-likelihood multiple choice, k-shot; src/eval/
// multiple-choice.cpp) and `compare` (two results files side by side). `gen` and `judge`: cmd-eval-gen.cpp.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eval-output.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/io.h"
#include "r1/model.h"
#include "r1/text.h"
#include "r1/tokenizer.h"

namespace r1::cli {
namespace {

struct PplOptions {
  std::string model, data, tokenizer, field = "text", dtype = "float32";
  int64_t max_length = 0, batch_size = 8;
  bool json = false, skip_invalid = false;
};

int run_ppl(const Invocation& ctx, const PplOptions& o) {
  model::LoadOptions load;
  load.dtype = model::parse_dtype(o.dtype);
  load.device = at::Device(ctx.runtime.device);
  text::ModelBundle bundle =
      text::load_model_bundle({.model_dir = o.model, .tokenizer_dir = o.tokenizer, .chat_template = "none"}, load);
  model::Transformer& net = bundle.model;
  const tokenizer::Tokenizer& tok = bundle.tokenizer;
  data::TokenizedText text = data::tokenize_documents(tok, o.data, o.field, o.skip_invalid);
  const int64_t seq_len =
      o.max_length > 0 ? o.max_length : std::min<int64_t>(net->config().max_position_embeddings, 2048);
  eval::LikelihoodTotals t = eval::score_tokens(*net, text.tokens, seq_len, o.batch_size);
  if (t.predicted == 0) fail("{}: no tokens to score", o.data);
  const double bpb = t.bits_per_byte(double(text.text_bytes));
  const double bpc = t.bits_per_character(double(text.text_characters));
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"data", o.data},
                        {"documents", text.documents},
                        {"tokens", text.tokens.size()},
                        {"bytes", text.text_bytes},
                        {"characters", text.text_characters},
                        {"max_length", seq_len},
                        {"loss", t.loss()},
                        {"perplexity", t.perplexity()},
                        {"bits_per_byte", bpb},
                        {"bits_per_character", bpc}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}: {} documents, {} tokens, {} bytes, {} characters, windows of {}\n", o.data, text.documents,
               text.tokens.size(), text.text_bytes, text.text_characters, seq_len);
    fmt::print("loss {:.4f}  perplexity {:.3f}  bits/byte {:.4f}  bits/character {:.4f}\n", t.loss(), t.perplexity(),
               bpb, bpc);
  }
  return 0;
}

struct McOptions {
  std::string model, tokenizer, task, dev, dtype = "float32";
  eval::ChoiceEvalOptions choice;
  int64_t limit = 0;
  EvalOutputOptions out;
};

int run_mc(const Invocation& ctx, McOptions& o) {
  check_eval_output(o.out);
  const auto questions = eval::load_choice_questions(o.task, o.limit);
  const auto dev = o.dev.empty() ? std::vector<eval::ChoiceQuestion>{} : eval::load_choice_questions(o.dev);
  if (o.choice.num_fewshot < 0) o.choice.num_fewshot = o.dev.empty() ? 0 : 5;
  if (o.choice.num_fewshot > 0 && o.dev.empty()) fail_usage("--num-fewshot {} needs --dev FILE", o.choice.num_fewshot);
  text::ModelBundle bundle =
      text::load_model_bundle({.model_dir = o.model, .tokenizer_dir = o.tokenizer, .chat_template = "none"},
                              {model::parse_dtype(o.dtype), at::Device(ctx.runtime.device)});
  model::Transformer& net = bundle.model;
  const tokenizer::Tokenizer& tok = bundle.tokenizer;
  o.choice.bootstrap = o.out.bootstrap(ctx);
  std::vector<eval::ChoiceRecord> recs;
  eval::Results r = eval::evaluate_choices(*net, tok, questions, dev, o.choice, &recs);
  r.task = o.task;
  r.model = o.model;
  r.config = {{"dev", o.dev}, {"dtype", o.dtype}};
  std::vector<std::string> lines;
  for (const auto& c : recs)
    lines.push_back(nlohmann::json{{"line", c.line},
                                   {"answer", c.answer},
                                   {"letter_logprobs", c.letter_logprobs},
                                   {"continuation_logprobs", c.continuation_logprobs},
                                   {"continuation_bytes", c.continuation_bytes}}
                        .dump());
  return finish_eval(r, lines, "questions.jsonl", o.out);
}

int run_compare(const std::string& a, const std::string& b) {
  const eval::Results ra = eval::results_from_json(read_file(a), a), rb = eval::results_from_json(read_file(b), b);
  fmt::print("{}", eval::compare_markdown(ra, rb, a, b));
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Invocation& ctx) {
  CLI::App* eval = app.add_subcommand("eval", "evaluate a model");
  eval->require_subcommand(1);
  auto o = std::make_shared<PplOptions>();
  CLI::App* ppl = eval->add_subcommand("ppl", "loss, perplexity and bits per byte on a text or JSONL file");
  ppl->add_option("--model", o->model, "HF model directory")->required();
  ppl->add_option("--data", o->data, "text file (a document per line) or JSONL")->required();
  ppl->add_option("--tokenizer", o->tokenizer, "tokenizer directory (default: the model's)");
  ppl->add_option("--field", o->field, "JSONL field holding the text")->default_val("text");
  ppl->add_option("--max-length", o->max_length, "tokens per window (default: min(max_position_embeddings, 2048))");
  ppl->add_option("--batch-size", o->batch_size, "windows per forward")->default_val(8)->check(kPositive);
  ppl->add_option("--dtype", o->dtype, "float32 | bfloat16")->default_val("float32");
  ppl->add_flag("--skip-invalid", o->skip_invalid, "skip malformed JSONL rows (counted) instead of failing");
  ppl->add_flag("--json", o->json, "print the result as JSON");
  ppl->callback([o, &ctx] { ctx.run = [o, &ctx] { return run_ppl(ctx, *o); }; });

  auto m = std::make_shared<McOptions>();
  m->choice.num_fewshot = -1;
  CLI::App* mc =
      eval->add_subcommand("mc", "multiple choice by log-likelihood: letter logits and continuations, k-shot");
  mc->footer(
      "\nQuestions are JSONL in MMLU columns (question, choices, answer index) or C-Eval columns (question, A, B,\n"
      "C, D, answer letter), optional subject. The prompt is MMLU's; shots are the first --num-fewshot rows of\n"
      "--dev. acc: the letter with the highest next-token log-probability; acc_ll / acc_ll_norm: the choice text\n"
      "with the highest log-likelihood (total / per byte) as a continuation.");
  mc->add_option("--model", m->model, "HF model directory")->required();
  mc->add_option("--tokenizer", m->tokenizer, "tokenizer directory (default: the model's)");
  mc->add_option("--task,--tasks", m->task, "questions JSONL")->required()->check(CLI::ExistingFile);
  mc->add_option("--dev", m->dev, "dev-split JSONL for the few-shot examples")->check(CLI::ExistingFile);
  mc->add_option("--num-fewshot", m->choice.num_fewshot, "shots (default: 5 with --dev, else 0)");
  mc->add_option("--limit", m->limit, "only the first N questions (0: all)")->check(kNonNegative);
  mc->add_option("--batch-size", m->choice.batch_size, "sequences per forward")
      ->capture_default_str()
      ->check(kPositive);
  mc->add_option("--dtype", m->dtype, "float32 | bfloat16")->capture_default_str();
  add_eval_output_options(mc, m->out);
  mc->callback([m, &ctx] { ctx.run = [m, &ctx] { return run_mc(ctx, *m); }; });

  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* compare = eval->add_subcommand("compare", "two results.json files side by side, with the differences");
  compare->add_option("results", *files, "A.json B.json")->required()->expected(2)->check(CLI::ExistingFile);
  compare->callback([files, &ctx] { ctx.run = [files] { return run_compare((*files)[0], (*files)[1]); }; });

  add_eval_gen_commands(*eval, ctx);
  add_eval_reward_command(*eval, ctx);
}

}  // namespace r1::cli
