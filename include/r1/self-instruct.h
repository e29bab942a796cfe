// Self-instruct (`r1 data self-instruct`): instruction data made by a model from a few human-written seed tasks, as
// Stanford Alpaca's generate_instruction.py (Taori et al. 2023, after Wang et al. 2022) and BELLE's Chinese version
// do it. Each request shows the model `num_prompt_instructions` seed tasks drawn at random, numbered as
// "1. Instruction: … 1. Input: … 1. Output: …" and separated by "###", and asks it to continue the list up to
// `num_tasks`; the reply is cut into triples, filtered (length, blocked keywords, punctuation or non-ASCII start,
// outputs that are not text) and kept only when its instruction's ROUGE-L F against every instruction in the pool
// (the seeds and everything kept so far) is at most `rouge_threshold`. Kept triples are appended to the output in
// Alpaca's columns (instruction, input, output: what `r1 sft` reads); a killed run resumes from the file.
//
// Usage:
//   r1::pipeline::SelfInstructOptions o;
//   o.seed_tasks = "recipes/self-instruct/seed_tasks.jsonl"; o.output = "runs/alpaca.jsonl";
//   o.generation.server_url = "http://127.0.0.1:8000"; o.num_instructions = 1000; o.language = "en";
//   r1::pipeline::SelfInstructReport report = r1::pipeline::self_instruct(o);
//   double f = r1::pipeline::rouge_l("Give three tips for staying healthy.", "Give three tips for a healthy life.");
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "r1/text.h"

namespace r1::pipeline {

// ---- ROUGE-L ----------------------------------------------------------------------------------------------------
// The tokens rouge_score compares (its default tokenizer, no stemmer, as Alpaca scores): the text lower-cased, runs
// of [a-z0-9] are tokens and everything else separates them; and, since that tokenizer drops every non-ASCII
// character, each Han, kana or Hangul character is a token of its own (character-level ROUGE for Chinese).
std::vector<std::string> rouge_tokens(std::string_view text);
// ROUGE-L F-measure of two token sequences: LCS / length as precision and recall, F = 2PR / (P + R); 0 when either
// is empty (rouge_score's _score_lcs).
double rouge_l(const std::vector<std::string>& a, const std::vector<std::string>& b);
double rouge_l(std::string_view a, std::string_view b);

// ---- Seed tasks, prompts and replies --------------------------------------------------------------------------------
struct InstructionTriple {
  std::string instruction, input, output;
};

// A seed task: Alpaca's seed_tasks.jsonl rows ({"instruction", "instances": [{"input", "output"}, ...]}, the first
// instance used, as Alpaca) or flat {"instruction", "input", "output"} rows; an optional "language" column (en, zh)
// says which prompts it may appear in (absent: any).
struct SeedTask {
  InstructionTriple task;
  std::string language;
};
// r1::Error naming file:line for a row without a string instruction / instance output.
std::vector<SeedTask> load_seed_tasks(const std::filesystem::path& path);

// The prompt for one request: the instructions (in `language`: "en", Alpaca's; "zh", BELLE's; or `header` when
// non-empty, with {num_tasks} replaced), then the examples numbered from 1, then "N. Instruction:" for the model to
// continue (N = examples + 1).
std::string self_instruct_prompt(const std::vector<InstructionTriple>& examples, const std::string& language,
                                 int num_tasks, const std::string& header = "");

// What the filters check, and what they drop (reason names as counted in the report).
struct SelfInstructFilters {
  std::string language = "en";  // en: Alpaca's rules (the instruction must start with an ASCII character); zh: BELLE's
  // Instruction length, in white-space-separated words for en and in characters for zh: kept if within [min, max].
  int64_t min_instruction_length = 4, max_instruction_length = 150;
  // Alpaca's words (whole words, any case) and BELLE's Chinese terms (anywhere) a model cannot act on; checked in
  // the instruction.
  std::vector<std::string> blocked_keywords = {
      "image", "images", "graph", "graphs", "picture", "pictures",  "file",    "files", "map",  "maps", "draw",
      "plot",  "go to",  "video", "audio",  "music",   "flowchart", "diagram", "图像",  "图片", "照片", "图表",
      "地图",  "文件",   "视频",  "音频",   "音乐",    "流程图",    "示意图",  "绘制",  "链接", "http"};
};

// One triple cut from a reply, with why it was dropped (empty: it passed the per-triple filters).
//   truncated        the last piece of a reply that stopped at max_tokens (finish_reason "length")
//   malformed        no "N. Instruction:", "N. Input:", "N. Output:" in that order (Chinese 指令 / 输入 / 输出 too)
//   empty            no instruction or no output
//   instruction_length, blocked_keyword, write_a_program (Alpaca: "Write a program" ...),
//   starts_with_punctuation, non_ascii_start (en), non_text_output (no letter or digit, a lone <tag>, a bare URL)
struct ParsedTask {
  InstructionTriple task;
  std::string reason, detail;  // reason empty: kept so far
  std::string raw;             // the piece of the reply it came from
};
// Cuts a reply to a prompt with `num_examples` examples into tasks (the reply continues after
// "<num_examples + 1>. Instruction:", or restates it) and applies the filters. Blank pieces are skipped.
std::vector<ParsedTask> parse_self_instruct_reply(const std::string& reply, const std::string& finish_reason,
                                                  int num_examples, const SelfInstructFilters& filters);

// ---- The run
// ----------------------------------------------------------------------------------------------------------
struct SelfInstructOptions {
  // The model: generation.model_dir (local engine; device, engine options) or generation.server_url (OpenAI-compatible;
  // server_model, api_key, concurrency, timeout_seconds, retries); sampling (temperature, top_p, max_new_tokens; stop
  // strings are set from num_tasks); chat_template: "none" sends the prompt as text (to /v1/completions, or to the
  // local model as is) as Alpaca does — the CLI's default — anything else as a user message (the chat endpoint, or
  // the local model's chat template).
  text::DatasetGenerateOptions generation;
  std::filesystem::path seed_tasks, output;
  std::filesystem::path rejected;       // non-empty: every dropped triple (and malformed piece) with its reason, JSONL
  SelfInstructFilters filters;          // filters.language also picks the prompt and the seed tasks shown
  int64_t num_instructions = 100;       // kept triples the output should hold (resumed rows count)
  int32_t num_prompt_instructions = 3;  // seed tasks shown per request
  int32_t request_batch_size = 5;       // requests per round (sent together)
  int32_t num_tasks = 20;               // the list length the prompt asks for
  double rouge_threshold = 0.7;         // drop when ROUGE-L F with a pool instruction exceeds it
  std::string prompt_header;            // non-empty: replaces the built-in instructions ({num_tasks} is replaced)
  uint64_t seed = 42;                   // request r draws its examples and sampling seed from (seed, r)
  bool resume = false;                  // continue an existing output (its rows join the pool)
  bool overwrite = false;               // replace an existing output
  int64_t max_requests = 0;             // stop after this many requests in all (0: no limit)
};

struct SelfInstructReport {
  int64_t resumed = 0;                     // rows already in the output
  int64_t kept = 0;                        // rows the output holds at the end
  int64_t requests = 0;                    // requests sent by this run
  int64_t parsed = 0;                      // tasks cut from the replies and looked at (this run): kept + dropped
  std::map<std::string, int64_t> dropped;  // reason -> triples (this run), "similar" included
  int64_t pool = 0;                        // instructions ROUGE compares against at the end (seeds + kept)
  double seconds = 0;
  std::string format() const;
};

// Runs until the output holds num_instructions rows (or max_requests is reached). After every round the rows
// and <output>.state.json (requests made so far) are written, so a killed run resumes with --resume where it
// stopped, with the same prompts and seeds an uninterrupted run would have used. r1::UsageError for bad options
// (fewer seed tasks in the language than num_prompt_instructions, an existing output without resume / overwrite),
// r1::Error naming the seed file's line or the server.
SelfInstructReport self_instruct(const SelfInstructOptions& options,
                                 const std::function<void(const SelfInstructReport&)>& on_round = {});

}  // namespace r1::pipeline
