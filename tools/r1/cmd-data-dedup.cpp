// `r1 data dedup`: near-duplicate removal with MinHash-LSH (datasketch / text-dedup), candidate pairs verified
// by exact Jaccard, first document of each cluster kept. The work is in the library (r1/data.h, near_dedup);
// this file parses options and prints the summary.
#include <fmt/format.h>

#include "commands.h"
#include "r1/data.h"
#include "r1/error.h"

namespace r1::cli {

namespace {

struct DedupCommandOptions {
  data::NearDedupOptions dedup;
  std::vector<std::string> inputs;
  std::string output, report, separator = "line", shingle = "auto";
  bool quiet = false;
};

int run_dedup(const Invocation& ctx, DedupCommandOptions& o) {
  data::NearDedupOptions& d = o.dedup;
  d.inputs.assign(o.inputs.begin(), o.inputs.end());
  d.output = o.output;
  d.report = o.report;
  if (o.separator == "line")
    d.separator = data::DocumentSeparator::Line;
  else if (o.separator == "blank-line")
    d.separator = data::DocumentSeparator::BlankLine;
  else
    fail_usage("--document-separator: expected line or blank-line, got '{}'", o.separator);
  d.shingle = data::parse_shingle_kind(o.shingle);
  d.threads = ctx.runtime.threads;
  d.seed = ctx.runtime.seed < 0 ? 42 : uint64_t(ctx.runtime.seed);
  d.show_progress = !o.quiet;
  data::NearDedupSummary s = data::near_dedup(d);
  fmt::print("{}wrote {}{}\n", s.format(), o.output, o.report.empty() ? "" : fmt::format(" and {}", o.report));
  return 0;
}

}  // namespace

void add_data_dedup_command(CLI::App& data, Invocation& ctx) {
  auto o = std::make_shared<DedupCommandOptions>();
  CLI::App* cmd = data.add_subcommand(
      "dedup",
      "remove near-duplicate documents (MinHash-LSH, the Jaccard of candidate pairs verified exactly); the first "
      "document of each cluster is kept. Documents as in `data prepare`: .jsonl/.json one per row (--field), "
      "other files one per line (or per blank-line-separated block). Uses --threads and --seed.");
  cmd->footer(
      "\nText is NFKC-normalised and lower-cased; words are runs of letters, digits, combining marks and '_',\n"
      "everything else (punctuation, symbols, whitespace) separates them and is dropped. Shingles are n-grams\n"
      "of words (--shingle word), of characters (char), or auto: words, with every CJK ideograph and kana a word\n"
      "of its own, so Chinese and Japanese get character n-grams. A document with fewer than --ngram tokens is\n"
      "one shingle. Pairs that share a band (the bands and rows minimise the weighted false positive + false\n"
      "negative probability at --threshold, as datasketch does) are compared exactly; pairs at or above the\n"
      "threshold join clusters. Output: the kept documents in input order (JSONL rows unchanged). --report\n"
      "writes one JSON line per removed document: its place (file:line), the kept one of its cluster, the\n"
      "document that linked it and their Jaccard. Exact duplicates are removed by `data prepare` as well.");
  cmd->add_option("--input", o->inputs, "JSONL or text files, or directories of them")->required()->expected(1, -1);
  cmd->add_option("--output", o->output, "the kept documents (JSONL or text, as the input)")->required();
  cmd->add_option("--report", o->report, "JSONL: one line per removed document");
  cmd->add_option("--field", o->dedup.field, "JSONL field holding the text")->capture_default_str();
  cmd->add_option("--document-separator", o->separator, "plain text: line or blank-line")->capture_default_str();
  cmd->add_option("--shingle", o->shingle, "auto, word or char")->capture_default_str();
  cmd->add_option("--ngram", o->dedup.ngram, "tokens per shingle")->capture_default_str()->check(kPositive);
  cmd->add_option("--num-perm", o->dedup.num_perm, "MinHash permutations")
      ->capture_default_str()
      ->check(CLI::Range(2, 8192));
  cmd->add_option("--threshold", o->dedup.threshold, "Jaccard similarity that makes a duplicate")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  auto* bands = cmd->add_option("--bands", o->dedup.bands,
                                "LSH bands (with --rows; default: from --threshold, which still decides duplicates)")
                    ->check(kPositive);
  cmd->add_option("--rows", o->dedup.rows, "LSH rows per band (with --bands)")->check(kPositive)->needs(bands);
  bands->needs(cmd->get_option("--rows"));
  cmd->add_flag("--skip-invalid", o->dedup.skip_invalid, "skip and count malformed JSONL rows instead of failing");
  cmd->add_flag("--overwrite", o->dedup.overwrite, "replace an existing --output / --report");
  cmd->add_flag("--quiet", o->quiet, "no progress bar");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_dedup(ctx, *o); }; });
}

}  // namespace r1::cli
