// `r1 data filter`: text / JSONL documents -> the ones that pass datatrove's quality heuristics (Gopher
// repetition and quality, C4, FineWeb) and CLD2 language identification, with why each dropped one was dropped.
// Option names are datatrove's parameter names (dashes for underscores), defaults datatrove's. The work is in the
// library (r1/data.h, src/data/quality-filter.cpp); this file parses options and prints the summary.
#include <fmt/format.h>

#include "commands.h"
#include "r1/data.h"
#include "r1/error.h"

namespace r1::cli {
namespace fs = std::filesystem;

namespace {

struct FilterCommandOptions {
  data::FilterRunOptions run;
  std::vector<std::string> inputs, filters, languages, thresholds;
  std::string separator = "line", explain, top_n_grams = "2:0.2,3:0.18,4:0.16",
              dup_n_grams = "5:0.15,6:0.14,7:0.13,8:0.12,9:0.11,10:0.1";
  bool quiet = false;
};

double parse_number(const std::string& text, const std::string& option) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) fail_usage("{}: expected a number, got '{}'", option, text);
  return v;
}

// "2:0.2,3:0.18" -> {(2, 0.2), (3, 0.18)}; "" or "none" -> {} (the rules off).
std::vector<std::pair<int, double>> parse_n_grams(const std::string& text, const std::string& option) {
  std::vector<std::pair<int, double>> out;
  if (text.empty() || text == "none") return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t colon = item.find(':');
    if (colon == std::string::npos)
      fail_usage("{}: expected N:FRACTION pairs separated by commas (2:0.2,3:0.18), got '{}'", option, item);
    const double n = parse_number(item.substr(0, colon), option);
    if (n != double(int(n))) fail_usage("{}: an n-gram size must be a whole number, got '{}'", option, item);
    out.emplace_back(int(n), parse_number(item.substr(colon + 1), option));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int run_filter(const Invocation& ctx, FilterCommandOptions& o) {
  data::FilterRunOptions& r = o.run;
  data::QualityFilterOptions& q = r.filters;
  r.inputs.assign(o.inputs.begin(), o.inputs.end());
  if (o.separator == "line")
    r.separator = data::DocumentSeparator::Line;
  else if (o.separator == "blank-line")
    r.separator = data::DocumentSeparator::BlankLine;
  else
    fail_usage("--document-separator: expected line or blank-line, got '{}'", o.separator);
  if (!o.filters.empty()) q.filters = o.filters;
  if (q.filters.size() == 1 && q.filters[0] == "none") q.filters.clear();
  for (const std::string& l : o.languages) q.languages.push_back(data::canonical_language(l, "--languages"));
  for (const std::string& t : o.thresholds) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos) {
      q.language_threshold = parse_number(t, "--language-threshold");
    } else {
      q.language_thresholds[data::canonical_language(t.substr(0, eq), "--language-threshold")] =
          parse_number(t.substr(eq + 1), "--language-threshold");
    }
  }
  q.top_n_grams = parse_n_grams(o.top_n_grams, "--top-n-grams");
  q.dup_n_grams = parse_n_grams(o.dup_n_grams, "--dup-n-grams");
  r.threads = ctx.runtime.threads;
  r.show_progress = !o.quiet;
  data::FilterSummary s = data::filter_files(r);
  // The summary goes to stderr when the explanations take stdout.
  FILE* to = r.explain == "-" ? stderr : stdout;
  fmt::print(to, "{}wrote {}{}{}\n", s.format(), r.output.string(),
             r.rejected.empty() ? "" : ", rejected " + r.rejected.string(),
             r.explain.empty() || r.explain == "-" ? "" : ", explanations " + r.explain.string());
  return 0;
}

}  // namespace

void add_data_filter_command(CLI::App& data, Invocation& ctx) {
  auto o = std::make_shared<FilterCommandOptions>();
  data::FilterRunOptions& r = o->run;
  data::QualityFilterOptions& q = r.filters;
  CLI::App* cmd = data.add_subcommand(
      "filter",
      "keep the text/JSONL documents that pass datatrove's quality heuristics (Gopher repetition and quality, C4, "
      "FineWeb) and language identification (CLD2); say why each dropped one was dropped");
  cmd->footer(
      "\nFilters run in this order, a document dropped by the first rule that fires: language, gopher-repetition,\n"
      "gopher-quality, c4 (which also drops lines: the kept text is its kept lines), fineweb. Options are\n"
      "datatrove's parameters; 0 turns a Gopher rule off, -1 a C4 count. The defaults are datatrove's, tuned for\n"
      "English web text: for Chinese or Japanese (a Han or kana character is one word) choose the filters and\n"
      "thresholds, e.g. --filters language,gopher-repetition. Language scores are CLD2's share of the text's letters\n"
      "in the language (0 when CLD2 calls the text unreliable); a document is kept when one of --languages scores\n"
      "above its threshold (without --languages: when its best language does).\n"
      "Output: .jsonl/.json files get JSONL (input rows as read; text documents as {FIELD: text}); other names\n"
      "plain text, one document per line (or per blank-line-separated block).");
  cmd->add_option("--input", o->inputs, "text or JSONL files, or directories of them")->required()->expected(1, -1);
  cmd->add_option("--output", r.output, "the kept documents")->required();
  cmd->add_option("--rejected", r.rejected, "also write the dropped documents here");
  cmd->add_option("--explain", r.explain,
                  "say why each dropped document was dropped (rule, measured value, threshold): on stdout, or into "
                  "FILE (.jsonl: one JSON object per document)")
      ->expected(0, 1)
      ->type_name("[FILE]");
  cmd->add_option("--field", r.field, "JSONL field holding the text")->capture_default_str();
  cmd->add_option("--document-separator", o->separator, "plain text: line or blank-line")->capture_default_str();
  cmd->add_flag("--skip-invalid", r.skip_invalid, "skip and count malformed JSONL rows instead of failing");
  cmd->add_flag("--overwrite", r.overwrite, "replace existing output files");
  cmd->add_flag("--quiet", o->quiet, "no progress bar");
  cmd->add_option("--filters", o->filters,
                  "which filters run: language, gopher-repetition, gopher-quality, c4, fineweb (default: all), or none")
      ->delimiter(',');

  const std::string lang = "language (LanguageFilter, CLD2)";
  cmd->add_option("--languages", o->languages, "languages to keep (en,zh,...; default: any)")
      ->delimiter(',')
      ->group(lang);
  cmd->add_option("--language-threshold", o->thresholds,
                  "score a document's language must exceed (default 0.65); LANG=T sets one language's (repeatable)")
      ->group(lang);

  const std::string rep = "gopher-repetition (GopherRepetitionFilter)";
  cmd->add_option("--dup-line-frac", q.dup_line_frac, "max duplicate lines / lines")->capture_default_str()->group(rep);
  cmd->add_option("--dup-para-frac", q.dup_para_frac, "max duplicate paragraphs / paragraphs")
      ->capture_default_str()
      ->group(rep);
  cmd->add_option("--dup-line-char-frac", q.dup_line_char_frac, "max characters in duplicate lines / characters")
      ->capture_default_str()
      ->group(rep);
  cmd->add_option("--dup-para-char-frac", q.dup_para_char_frac, "max characters in duplicate paragraphs / characters")
      ->capture_default_str()
      ->group(rep);
  cmd->add_option("--top-n-grams", o->top_n_grams,
                  "N:MAX pairs: max characters of the most frequent N-gram x its count / characters (none: off)")
      ->capture_default_str()
      ->group(rep);
  cmd->add_option("--dup-n-grams", o->dup_n_grams,
                  "N:MAX pairs: max characters in repeated N-grams / characters (none: off)")
      ->capture_default_str()
      ->group(rep);

  const std::string gq = "gopher-quality (GopherQualityFilter)";
  cmd->add_option("--min-doc-words", q.min_doc_words, "min words (punctuation-only words not counted)")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-doc-words", q.max_doc_words, "max words")->capture_default_str()->group(gq);
  cmd->add_option("--min-avg-word-length", q.min_avg_word_length, "min mean word length (characters)")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-avg-word-length", q.max_avg_word_length, "max mean word length")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-symbol-word-ratio", q.max_symbol_word_ratio, "max '#' per word, and max ellipses per word")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-bullet-lines-ratio", q.max_bullet_lines_ratio, "max lines starting with a bullet / lines")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-ellipsis-lines-ratio", q.max_ellipsis_lines_ratio, "max lines ending in an ellipsis / lines")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--max-non-alpha-words-ratio", q.max_non_alpha_words_ratio,
                  "MIN words holding a letter / words (datatrove's name)")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--min-stop-words", q.min_stop_words, "min distinct stop words present")
      ->capture_default_str()
      ->group(gq);
  cmd->add_option("--stop-words", q.stop_words, "the stop words (case-sensitive)")
      ->delimiter(',')
      ->capture_default_str()
      ->group(gq);

  const std::string c4 = "c4 (C4QualityFilter)";
  cmd->add_option("--split-paragraph", q.split_paragraph, "true: filter lines; false: filter sentences")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--remove-citations", q.remove_citations, "remove [1], [edit], [citation needed]")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--filter-no-terminal-punct", q.filter_no_terminal_punct,
                  "drop lines not ending in . ? ! \" ' (or ending in ...)")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--min-num-sentences", q.min_num_sentences, "min sentences in the kept lines (-1: off)")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--min-words-per-line", q.min_words_per_line, "drop lines with fewer words (-1: off)")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--max-word-length", q.max_word_length, "drop lines with a longer word (-1: off)")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--filter-lorem-ipsum", q.filter_lorem_ipsum, "drop documents containing 'lorem ipsum'")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--filter-javascript", q.filter_javascript, "drop lines mentioning javascript")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--filter-curly-bracket", q.filter_curly_bracket, "drop documents containing '{'")
      ->capture_default_str()
      ->group(c4);
  cmd->add_option("--filter-policy", q.filter_policy, "drop lines with terms-of-use / cookie phrases")
      ->capture_default_str()
      ->group(c4);

  const std::string fw = "fineweb (FineWebQualityFilter)";
  cmd->add_option("--line-punct-thr", q.line_punct_thr, "min lines ending in terminal punctuation / lines")
      ->capture_default_str()
      ->group(fw);
  cmd->add_option("--line-punct-exclude-zero", q.line_punct_exclude_zero, "keep documents where no line does")
      ->capture_default_str()
      ->group(fw);
  cmd->add_option("--short-line-thr", q.short_line_thr, "max short lines / lines")->capture_default_str()->group(fw);
  cmd->add_option("--short-line-length", q.short_line_length, "a short line has at most this many characters")
      ->capture_default_str()
      ->group(fw);
  cmd->add_option("--char-duplicates-ratio", q.char_duplicates_ratio, "max characters in duplicate lines / characters")
      ->capture_default_str()
      ->group(fw);
  cmd->add_option("--new-line-ratio", q.new_line_ratio, "max line breaks / words")->capture_default_str()->group(fw);
  cmd->callback([&ctx, o, cmd] {
    ctx.run = [&ctx, o, cmd] {
      if (cmd->count("--explain") && o->run.explain.empty()) o->run.explain = "-";  // no FILE: stdout
      return run_filter(ctx, *o);
    };
  });
}

}  // namespace r1::cli
