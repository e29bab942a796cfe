// `r1 data prepare | info`: text / JSONL -> cleaned, deduplicated, tokenized train/validation shards with a
// manifest; describe prepared data. The work is in the library (r1/data.h); this file parses options and
// prints. Document rules: .jsonl/.json one document per row (--field), other files one per line, or one per
// blank-line-separated block with --document-separator blank-line.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"

namespace r1::cli {
namespace fs = std::filesystem;

namespace {

struct DataOptions {
  data::PrepareOptions prepare;
  std::string tokenizer, out, separator = "line", shard_tokens = "100M", path;
  std::vector<std::string> inputs;
  uint64_t validation_documents = 0;
  bool no_dedup = false, quiet = false;
};

int run_prepare(const Invocation& ctx, DataOptions& o, const CLI::App& cmd) {
  data::PrepareOptions& p = o.prepare;
  p.tokenizer = o.tokenizer;
  p.out = o.out;
  p.inputs.assign(o.inputs.begin(), o.inputs.end());
  if (o.separator == "line")
    p.separator = data::DocumentSeparator::Line;
  else if (o.separator == "blank-line")
    p.separator = data::DocumentSeparator::BlankLine;
  else
    fail_usage("--document-separator: expected line or blank-line, got '{}'", o.separator);
  if (cmd.count("--validation-documents")) {
    if (cmd.count("--validation-fraction")) fail_usage("--validation-fraction and --validation-documents: choose one");
    p.validation_documents = o.validation_documents;
  }
  p.shard_tokens = data::parse_count(o.shard_tokens, "--shard-tokens");
  p.dedup = !o.no_dedup;
  p.threads = ctx.runtime.threads;
  p.seed = ctx.runtime.seed < 0 ? 42 : uint64_t(ctx.runtime.seed);
  p.show_progress = !o.quiet;
  data::PrepareSummary s = data::prepare_data(p);
  fmt::print("{}wrote {}\n", s.format(), (fs::path(o.out) / "manifest.json").string());
  return 0;
}

int run_info(const DataOptions& o) {
  for (const char* split : {"train", "validation"}) {
    std::vector<fs::path> shards;
    try {
      shards = data::list_shards(o.path, split);
    } catch (const Error&) {
      fmt::print("{:<10} none\n", split);
      continue;
    }
    uint64_t tokens = 0, docs = 0, bytes = 0;
    std::string hash;
    int width = 0;
    for (const fs::path& p : shards) {
      auto shard = data::TokenShard::open(p);
      tokens += shard.size(), docs += shard.info().documents, bytes += shard.info().text_bytes;
      hash = shard.info().tokenizer_hash, width = shard.info().bytes_per_token;
    }
    fmt::print("{:<10} {} shard(s), {} documents, {} tokens, {} text ({:.3f} bytes/token), uint{}, tokenizer {}\n",
               split, shards.size(), docs, tokens, format_bytes(bytes), tokens ? double(bytes) / tokens : 0.0,
               width * 8, hash);
  }
  return 0;
}

}  // namespace

void add_data_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<DataOptions>();
  CLI::App* cmd =
      app.add_subcommand("data", "curate text (filter, dedup, decontaminate, self-instruct) and prepare token shards");
  cmd->require_subcommand(1);

  CLI::App* prep = cmd->add_subcommand(
      "prepare",
      "clean, deduplicate, split and tokenize text/JSONL into token shards (OUT/manifest.json, "
      "OUT/train-00000.bin, OUT/validation-00000.bin, ...). Documents: .jsonl/.json one per row (--field), other "
      "files one per line (or per blank-line-separated block). EOS follows every document. Uses --threads and --seed.");
  prep->add_option("--tokenizer", o->tokenizer, "tokenizer.json or a directory holding one (needs an EOS token)")
      ->required();
  prep->add_option("--input", o->inputs, "text or JSONL files, or directories of them")->required()->expected(1, -1);
  prep->add_option("--out", o->out, "output directory")->required();
  prep->add_option("--field", o->prepare.field, "JSONL field holding the text")->capture_default_str();
  prep->add_option("--document-separator", o->separator, "plain text: line or blank-line")->capture_default_str();
  prep->add_option("--validation-fraction", o->prepare.validation_fraction,
                   "fraction of documents for validation (by a seeded hash of the text)")
      ->capture_default_str();
  prep->add_option("--validation-documents", o->validation_documents, "exactly N validation documents instead");
  prep->add_option("--min-chars", o->prepare.min_chars, "drop documents shorter than this (characters)");
  prep->add_option("--max-chars", o->prepare.max_chars, "drop documents longer than this (0: no limit)");
  prep->add_option("--max-repeated-line-ratio", o->prepare.max_repeated_line_ratio,
                   "drop documents whose repeated non-blank lines exceed this fraction")
      ->capture_default_str();
  prep->add_option("--max-non-printable-ratio", o->prepare.max_non_printable_ratio,
                   "drop documents whose control characters / invalid UTF-8 exceed this fraction")
      ->capture_default_str();
  prep->add_flag("--no-dedup", o->no_dedup, "keep exact duplicate documents");
  prep->add_flag("--skip-invalid", o->prepare.skip_invalid, "skip and count malformed JSONL rows instead of failing");
  prep->add_option("--shard-tokens", o->shard_tokens, "tokens per shard (100M, 1B, ...)")->capture_default_str();
  prep->add_flag("--overwrite", o->prepare.overwrite, "replace prepared data already in --out");
  prep->add_flag("--quiet", o->quiet, "no progress bar");
  prep->callback([&ctx, o, prep] { ctx.run = [&ctx, o, prep] { return run_prepare(ctx, *o, *prep); }; });

  CLI::App* info = cmd->add_subcommand("info", "describe prepared data (a directory or one .bin shard)");
  info->add_option("path", o->path, "OUT of r1 data prepare, or a shard")->required();
  info->callback([&ctx, o] { ctx.run = [o] { return run_info(*o); }; });

  add_data_filter_command(*cmd, ctx);         // cmd-data-filter.cpp
  add_data_self_instruct_command(*cmd, ctx);  // cmd-data-self-instruct.cpp
  add_data_dedup_command(*cmd, ctx);
  add_data_decontaminate_command(*cmd, ctx);
}

}  // namespace r1::cli
