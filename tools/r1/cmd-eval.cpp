// `r1 eval ppl --model DIR --data FILE`: loss, perplexity and bits per byte of a model on a text file (one
// document per line) or JSONL (`--field`, default text), each document followed by EOS, scored in
// non-overlapping windows of --max-length tokens (src/eval/perplexity.cpp).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::cli {
namespace {

struct PplOptions {
  std::string model, data, tokenizer, field = "text", dtype = "float32";
  int64_t max_length = 0, batch_size = 8;
  bool json = false, skip_invalid = false;
};

int run_ppl(const Context& ctx, const PplOptions& o) {
  model::LoadOptions load;
  load.dtype = model::parse_dtype(o.dtype);
  load.device = at::Device(ctx.runtime.device);
  model::Transformer net = model::load_pretrained(o.model, load);
  const std::string tokenizer_dir = o.tokenizer.empty() ? o.model : o.tokenizer;
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(tokenizer_dir);
  data::TokenizedText text = data::tokenize_documents(tok, o.data, o.field, o.skip_invalid);
  const int64_t seq_len = o.max_length > 0 ? o.max_length : std::min<int64_t>(net->config().max_position_embeddings, 2048);
  eval::LikelihoodTotals t = eval::score_tokens(*net, text.tokens, seq_len, o.batch_size);
  if (t.predicted == 0) fail("{}: no tokens to score", o.data);
  const double bpb = t.bits_per_byte(double(text.text_bytes));
  if (o.json) {
    nlohmann::json j = {{"model", o.model},           {"data", o.data},           {"documents", text.documents},
                        {"tokens", text.tokens.size()}, {"bytes", text.text_bytes}, {"max_length", seq_len},
                        {"loss", t.loss()},            {"perplexity", t.perplexity()}, {"bits_per_byte", bpb}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}: {} documents, {} tokens, {} bytes, windows of {}\n", o.data, text.documents, text.tokens.size(),
               text.text_bytes, seq_len);
    fmt::print("loss {:.4f}  perplexity {:.3f}  bits/byte {:.4f}\n", t.loss(), t.perplexity(), bpb);
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Context& ctx) {
  CLI::App* eval = app.add_subcommand("eval", "evaluate a model");
  eval->require_subcommand(1);
  auto o = std::make_shared<PplOptions>();
  CLI::App* ppl = eval->add_subcommand("ppl", "loss, perplexity and bits per byte on a text or JSONL file");
  ppl->add_option("--model", o->model, "HF model directory")->required();
  ppl->add_option("--data", o->data, "text file (a document per line) or JSONL")->required();
  ppl->add_option("--tokenizer", o->tokenizer, "tokenizer directory (default: the model's)");
  ppl->add_option("--field", o->field, "JSONL field holding the text")->default_val("text");
  ppl->add_option("--max-length", o->max_length, "tokens per window (default: min(max_position_embeddings, 2048))");
  ppl->add_option("--batch-size", o->batch_size, "windows per forward")->default_val(8)->check(CLI::PositiveNumber);
  ppl->add_option("--dtype", o->dtype, "float32 | bfloat16")->default_val("float32");
  ppl->add_flag("--skip-invalid", o->skip_invalid, "skip malformed JSONL rows (counted) instead of failing");
  ppl->add_flag("--json", o->json, "print the result as JSON");
  ppl->callback([o, &ctx] { ctx.run = [o, &ctx] { return run_ppl(ctx, *o); }; });
}

}  // namespace r1::cli
