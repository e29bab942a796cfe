// Self-instruct (r1/self-instruct.h): Alpaca's generate_instruction.py and BELLE's Chinese version, native —
// prompts from seed tasks, replies from the text layer's local or remote back-end (text/text-backends.h, as
// `r1 generate`), Alpaca's parsing and filters, ROUGE-L against the pool, and a resumable output.
// Reference behaviour: tatsu-lab/stanford_alpaca generate_instruction.py (encode_prompt, post_process_gpt3_response,
// the rouge_score filter) and LianjiaTech/BELLE data/1.5M/generate_instruction.py. The prompts are r1's own wording
// of theirs.
// Departures:
//  1. A piece's three markers must share one number, any number (Alpaca requires the number it expects next, so a
//     model that restarts its numbering loses every task).
//  2. Requests stop at "\n<num_tasks>." (Alpaca: "\n20" and "20.", which also stop at "$20." in an output).
//  3. The run stops at exactly num_instructions kept rows (Alpaca keeps the whole last batch); BELLE's BM25
//     similarity is replaced by ROUGE-L with character tokens for Chinese; BELLE's example-dependent length limit
//     (100 or 150 characters) is the one max_instruction_length.
//  4. Seed tasks are drawn by a counter-based stream of (seed, request number), so a resumed run sends the prompts
//     an uninterrupted one would have.
#include "r1/self-instruct.h"

#include <fmt/format.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/jsonl.h"
#include "data/hash.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "text/text-backends.h"

namespace r1::pipeline {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// ---- UTF-8 ------------------------------------------------------------------------------------------------------

// The code point at s[i] (advancing i); U+FFFD for an invalid byte.
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += len;
  return cp;
}

bool is_cjk_token(char32_t c) {
  if (c < 0x1100) return false;
  UErrorCode err = U_ZERO_ERROR;
  const UScriptCode s = uscript_getScript(UChar32(c), &err);
  return U_SUCCESS(err) && (s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA || s == USCRIPT_HANGUL);
}

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string_view::npos) return "";
  const size_t b = s.find_last_not_of(ws);
  return std::string(s.substr(a, b - a + 1));
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Alpaca's re.search(r"\b(word)\b", s, re.IGNORECASE) for ASCII words; a term with non-ASCII characters (BELLE's)
// matches anywhere.
bool contains_keyword(const std::string& lower_text, const std::string& keyword) {
  const std::string k = ascii_lower(keyword);
  if (k.empty()) return false;
  const bool ascii = std::all_of(k.begin(), k.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  for (size_t at = lower_text.find(k); at != std::string::npos; at = lower_text.find(k, at + 1)) {
    if (!ascii) return true;
    const bool left = at == 0 || !is_word_byte(static_cast<unsigned char>(lower_text[at - 1])) ||
                      !is_word_byte(static_cast<unsigned char>(k.front()));
    const size_t end = at + k.size();
    const bool right = end == lower_text.size() || !is_word_byte(static_cast<unsigned char>(lower_text[end])) ||
                       !is_word_byte(static_cast<unsigned char>(k.back()));
    if (left && right) return true;
  }
  return false;
}

// ---- Prompts ----------------------------------------------------------------------------------------------------

const char* kHeaderEn =
    "You are asked to come up with a set of {num_tasks} diverse task instructions. These instructions will be "
    "given to a language model, and we will evaluate how well it completes them.\n"
    "\n"
    "Here are the requirements:\n"
    "1. Try not to repeat the verb across instructions, to make them as diverse as possible.\n"
    "2. Vary the wording as well: combine questions with imperative instructions.\n"
    "3. Vary the type of task: open-ended generation, classification, editing, rewriting, extraction, "
    "brainstorming, open and closed question answering, summarization, and so on.\n"
    "4. A language model must be able to complete each instruction with text alone. Do not ask for visual or audio "
    "output, and do not ask it to act in the world (set an alarm, send an email, open a website).\n"
    "5. Write the instructions in English, one or two sentences each: an imperative sentence or a question.\n"
    "6. Give an appropriate input when the instruction needs one: a specific, realistic example (no simple "
    "placeholders), substantial enough to make the task challenging, ideally under 100 words. When the instruction "
    "needs no input (\"what is the highest mountain in the world?\"), write \"<noinput>\" as the input.\n"
    "7. The output must be an appropriate response to the instruction and the input, in under 100 words.\n"
    "\n"
    "List of {num_tasks} tasks:";

const char* kHeaderZh =
    "请你提出{num_tasks}条多样化的任务指令。这些指令将交给一个语言模型去完成，我们会评估它完成指令的能力。\n"
    "\n"
    "要求如下：\n"
    "1. 尽量不要在不同的指令中重复使用同一个动词，使指令尽可能多样。\n"
    "2. 指令的语气也要多样，例如把疑问句和祈使句结合起来。\n"
    "3. 任务类型要多样，例如：开放式生成、分类、改写、信息抽取、头脑风暴、开放式问答、封闭式问答、摘要、对话等。\n"
    "4. 语言模型必须只用文字就能完成每条指令：不要要求它生成图像、音频或视频，也不要要求它在现实中执行操作"
    "（例如设置提醒、发送邮件、打开网页）。\n"
    "5. 指令用中文书写，每条一到两句话，可以是祈使句或疑问句。\n"
    "6. 指令需要输入时，给出恰当的输入：具体、真实的示例（不要使用简单的占位符），内容充实，使任务具有挑战性，"
    "最好不超过200字。指令不需要输入时（例如“世界上最高的山峰是哪座？”），在输入处写“<无输入>”。\n"
    "7. 输出应是对指令和输入的恰当回答，不超过200字。\n"
    "\n"
    "下面是{num_tasks}个任务的列表：";

struct Labels {
  const char *instruction, *input, *output, *no_input;
};
const Labels kLabelsEn = {"Instruction", "Input", "Output", "<noinput>"};
const Labels kLabelsZh = {"指令", "输入", "输出", "<无输入>"};
const Labels& labels_for(const std::string& language) { return language == "zh" ? kLabelsZh : kLabelsEn; }

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// ---- Parsing ----------------------------------------------------------------------------------------------------

struct Marker {
  size_t begin, end;  // the marker's bytes
  int number;
  int kind;  // 0 instruction, 1 input, 2 output
};

// "N. Instruction:" / "N. Input:" / "N. Output:" (any white space after the dot, ':' or '：'), English or Chinese.
std::vector<Marker> find_markers(const std::string& piece) {
  static const std::regex re(
      "(\\d+)\\.\\s*(Instruction|Input|Output|\xE6\x8C\x87\xE4\xBB\xA4|\xE8\xBE\x93\xE5\x85\xA5|"
      "\xE8\xBE\x93\xE5\x87\xBA)\\s*(:|\xEF\xBC\x9A)");
  std::vector<Marker> out;
  for (auto it = std::sregex_iterator(piece.begin(), piece.end(), re); it != std::sregex_iterator(); ++it) {
    const std::string label = (*it)[2].str();
    const int kind = label == "Instruction" || label == "指令" ? 0 : label == "Input" || label == "输入" ? 1 : 2;
    out.push_back({size_t(it->position()), size_t(it->position() + it->length()), std::stoi((*it)[1].str()), kind});
  }
  return out;
}

bool starts_with_instruction_marker(const std::string& reply) {
  static const std::regex re("^\\s*(###\\s*)?\\d+\\.\\s*(Instruction|\xE6\x8C\x87\xE4\xBB\xA4)\\s*(:|\xEF\xBC\x9A)");
  return std::regex_search(reply, re);
}

bool is_ascii_punctuation(unsigned char c) { return c < 0x80 && std::ispunct(c); }

bool is_punctuation(char32_t c) {
  if (c < 0x80) return is_ascii_punctuation(static_cast<unsigned char>(c));
  const int8_t t = u_charType(UChar32(c));
  return t == U_CONNECTOR_PUNCTUATION || t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION ||
         t == U_END_PUNCTUATION || t == U_INITIAL_PUNCTUATION || t == U_FINAL_PUNCTUATION || t == U_OTHER_PUNCTUATION;
}

// An output that is not text: no letter or digit, a lone <tag> (<nooutput>, <image>), or a bare URL.
bool is_non_text(const std::string& output) {
  bool has_alnum = false;
  for (size_t i = 0; i < output.size() && !has_alnum;) {
    const char32_t c = next_code_point(output, i);
    has_alnum = u_isalnum(UChar32(c));
  }
  if (!has_alnum) return true;
  static const std::regex tag("^<[^<>\\n]*>$"), url("^(https?|ftp)://\\S+$", std::regex::icase);
  return std::regex_match(output, tag) || std::regex_match(output, url);
}

void apply_filters(ParsedTask& t, const SelfInstructFilters& f) {
  const std::string& inst = t.task.instruction;
  if (inst.empty() || t.task.output.empty()) {
    t.reason = "empty";
    t.detail = inst.empty() ? "instruction" : "output";
    return;
  }
  int64_t length = 0;
  if (f.language == "zh") {
    for (size_t i = 0; i < inst.size();) length += !u_isUWhiteSpace(UChar32(next_code_point(inst, i)));
  } else {
    std::string_view rest = inst;
    while (!rest.empty()) {
      const size_t a = rest.find_first_not_of(" \t\r\n\v\f");
      if (a == std::string_view::npos) break;
      const size_t b = rest.find_first_of(" \t\r\n\v\f", a);
      ++length;
      rest = b == std::string_view::npos ? std::string_view() : rest.substr(b);
    }
  }
  if (length < f.min_instruction_length || length > f.max_instruction_length) {
    t.reason = "instruction_length";
    t.detail = fmt::format("{} {} (kept: {}..{})", length, f.language == "zh" ? "characters" : "words",
                           f.min_instruction_length, f.max_instruction_length);
    return;
  }
  const std::string lower = ascii_lower(inst);
  for (const std::string& k : f.blocked_keywords)
    if (contains_keyword(lower, k)) {
      t.reason = "blocked_keyword";
      t.detail = k;
      return;
    }
  if (inst.rfind("Write a program", 0) == 0) {
    t.reason = "write_a_program";
    return;
  }
  size_t i = 0;
  const char32_t first = next_code_point(inst, i);
  if (is_punctuation(first)) {
    t.reason = "starts_with_punctuation";
    return;
  }
  if (f.language != "zh" && first >= 0x80) {
    t.reason = "non_ascii_start";
    return;
  }
  if (is_non_text(t.task.output)) {
    t.reason = "non_text_output";
    return;
  }
}

// ---- The run's files --------------------------------------------------------------------------------------------

fs::path state_path(const fs::path& output) { return fs::path(output.string() + ".state.json"); }

// The rows of an output being resumed; a torn last line (a run killed while writing) is cut off the file.
std::vector<InstructionTriple> load_output(const fs::path& path) {
  std::string bytes = read_file(path);
  const size_t complete = bytes.rfind('\n') == std::string::npos ? 0 : bytes.rfind('\n') + 1;
  if (complete < bytes.size()) {
    bytes.resize(complete);
    fs::resize_file(path, complete);
  }
  std::vector<InstructionTriple> rows;
  size_t line = 0;
  for (size_t start = 0; start < bytes.size();) {
    const size_t nl = bytes.find('\n', start);
    const std::string_view text(bytes.data() + start, nl - start);
    start = nl + 1;
    ++line;
    if (trim(text).empty()) continue;
    const nlohmann::json row = parse_jsonl_line(text, path.string(), line);
    auto field = [&](const char* key) {
      if (!row.is_object() || !row.contains(key) || !row[key].is_string())
        fail("{}:{}: no string column '{}' (not a self-instruct output?)", path.string(), line, key);
      return row[key].get<std::string>();
    };
    rows.push_back({field("instruction"), field("input"), field("output")});
  }
  return rows;
}

void append(const fs::path& path, const std::string& bytes) {
  if (bytes.empty()) return;
  std::ofstream out(path, std::ios::app | std::ios::binary);
  if (!out) fail("{}: cannot open for writing", path.string());
  out << bytes;
  out.flush();
  if (!out) fail("{}: write failed", path.string());
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

// ---- ROUGE-L ----------------------------------------------------------------------------------------------------

std::vector<std::string> rouge_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word)), word.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const size_t at = i;
    const char32_t c = next_code_point(text, i);
    if (c < 0x80 && std::isalnum(int(c))) {
      word.push_back(char(std::tolower(int(c))));
    } else if (is_cjk_token(c)) {
      flush();
      tokens.emplace_back(text.substr(at, i - at));
    } else {
      flush();
    }
  }
  flush();
  return tokens;
}

double rouge_l(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return 0;
  std::vector<int> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  const double lcs = prev[b.size()];
  const double precision = lcs / double(b.size()), recall = lcs / double(a.size());
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

double rouge_l(std::string_view a, std::string_view b) { return rouge_l(rouge_tokens(a), rouge_tokens(b)); }

// ---- Seeds, prompts, replies ------------------------------------------------------------------------------------

std::vector<SeedTask> load_seed_tasks(const fs::path& path) {
  std::vector<SeedTask> seeds;
  for_each_jsonl_row(
      path,
      [&](const nlohmann::json& row, size_t line) {
        const std::string where = fmt::format("{}:{}", path.string(), line);
        if (!row.is_object()) fail("{}: expected a JSON object", where);
        auto string_at = [&](const nlohmann::json& obj, const char* key, bool required) -> std::string {
          auto it = obj.find(key);
          if (it == obj.end() || it->is_null()) {
            if (required) fail("{}: no string '{}'", where, key);
            return "";
          }
          if (!it->is_string()) fail("{}: '{}' must be a string, got {}", where, key, it->type_name());
          return it->get<std::string>();
        };
        SeedTask s;
        s.task.instruction = string_at(row, "instruction", true);
        if (row.contains("instances")) {
          const nlohmann::json& inst = row["instances"];
          if (!inst.is_array() || inst.empty() || !inst[0].is_object())
            fail("{}: 'instances' must be a list of {{input, output}} objects", where);
          s.task.input = string_at(inst[0], "input", false);
          s.task.output = string_at(inst[0], "output", true);
        } else {
          s.task.input = string_at(row, "input", false);
          s.task.output = string_at(row, "output", true);
        }
        s.language = string_at(row, "language", false);
        seeds.push_back(std::move(s));
      },
      false);
  if (seeds.empty()) fail("{}: no seed tasks", path.string());
  return seeds;
}

std::string self_instruct_prompt(const std::vector<InstructionTriple>& examples, const std::string& language,
                                 int num_tasks, const std::string& header) {
  const Labels& l = labels_for(language);
  std::string prompt = replace_all(header.empty() ? (language == "zh" ? kHeaderZh : kHeaderEn) : header, "{num_tasks}",
                                   std::to_string(num_tasks)) +
                       "\n";
  static const std::regex spaces("\\s+");
  for (size_t i = 0; i < examples.size(); ++i) {
    std::string instruction = trim(std::regex_replace(examples[i].instruction, spaces, " "));
    while (!instruction.empty() && instruction.back() == ':') instruction.pop_back();
    const std::string input = examples[i].input.empty() ? l.no_input : examples[i].input;
    prompt += fmt::format("###\n{0}. {1}: {2}\n{0}. {3}:\n{4}\n{0}. {5}:\n{6}\n", i + 1, l.instruction, instruction,
                          l.input, input, l.output, examples[i].output);
  }
  prompt += fmt::format("###\n{}. {}:", examples.size() + 1, l.instruction);
  return prompt;
}

std::vector<ParsedTask> parse_self_instruct_reply(const std::string& reply, const std::string& finish_reason,
                                                  int num_examples, const SelfInstructFilters& filters) {
  const Labels& l = labels_for(filters.language);
  std::string text = reply;
  if (!starts_with_instruction_marker(text)) text = fmt::format("{}. {}:", num_examples + 1, l.instruction) + text;
  std::vector<std::string> pieces;
  for (size_t start = 0;;) {
    const size_t at = text.find("###", start);
    pieces.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 3;
  }
  std::vector<ParsedTask> tasks;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const std::string& piece = pieces[k];
    if (trim(piece).empty()) continue;
    ParsedTask t;
    t.raw = trim(piece);
    if (k + 1 == pieces.size() && finish_reason == "length") {  // cut by max_tokens: likely incomplete
      t.reason = "truncated";
      tasks.push_back(std::move(t));
      continue;
    }
    const std::vector<Marker> m = find_markers(piece);
    if (m.size() != 3 || m[0].kind != 0 || m[1].kind != 1 || m[2].kind != 2 || m[0].number != m[1].number ||
        m[1].number != m[2].number) {
      t.reason = "malformed";
      t.detail =
          m.size() == 3 ? "markers out of order or numbered differently" : fmt::format("{} of the 3 markers", m.size());
      tasks.push_back(std::move(t));
      continue;
    }
    auto between = [&](size_t a, size_t b) { return trim(std::string_view(piece).substr(a, b - a)); };
    t.task.instruction = between(m[0].end, m[1].begin);
    t.task.input = between(m[1].end, m[2].begin);
    t.task.output = between(m[2].end, piece.size());
    const std::string lower_input = ascii_lower(t.task.input);
    if (lower_input == "<noinput>" || lower_input == "<no input>" || t.task.input == "<无输入>" ||
        t.task.input == "无输入")
      t.task.input.clear();
    apply_filters(t, filters);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::string SelfInstructReport::format() const {
  std::string dropped_text;
  int64_t dropped_total = 0;
  for (const auto& [reason, n] : dropped) {
    dropped_text += fmt::format("{}{} {}", dropped_text.empty() ? "" : ", ", reason, n);
    dropped_total += n;
  }
  std::string out = fmt::format("{} requests, {} tasks parsed, {} dropped{}{}{}\n", requests, parsed, dropped_total,
                                dropped_text.empty() ? "" : " (", dropped_text, dropped_text.empty() ? "" : ")");
  out +=
      fmt::format("output holds {} instructions ({} from before), pool {}, {:.2f} s\n", kept, resumed, pool, seconds);
  return out;
}

// ---- The run ----------------------------------------------------------------------------------------------------

SelfInstructReport self_instruct(const SelfInstructOptions& o_in,
                                 const std::function<void(const SelfInstructReport&)>& on_round) {
  const auto start = std::chrono::steady_clock::now();
  SelfInstructOptions o = o_in;
  const SelfInstructFilters& f = o.filters;
  if (f.language != "en" && f.language != "zh") fail_usage("--language: expected en or zh, got '{}'", f.language);
  if (o.num_instructions < 1) fail_usage("--num-instructions must be >= 1, got {}", o.num_instructions);
  if (o.num_prompt_instructions < 1)
    fail_usage("--num-prompt-instructions must be >= 1, got {}", o.num_prompt_instructions);
  if (o.request_batch_size < 1) fail_usage("--request-batch-size must be >= 1, got {}", o.request_batch_size);
  if (o.num_tasks <= o.num_prompt_instructions + 1)
    fail_usage("--num-tasks {} leaves no room for new tasks after {} examples", o.num_tasks, o.num_prompt_instructions);
  if (!(o.rouge_threshold >= 0 && o.rouge_threshold <= 1))
    fail_usage("--rouge-threshold: expected a value in [0, 1], got {}", o.rouge_threshold);
  if (o.resume && o.overwrite) fail_usage("--resume and --overwrite exclude each other");
  if (o.generation.server_url.empty() == o.generation.model_dir.empty())
    fail_usage("give exactly one of --model DIR or --server URL");

  // Seeds of the language (a seed without a language column serves any).
  std::vector<InstructionTriple> seeds;
  for (const SeedTask& s : load_seed_tasks(o.seed_tasks))
    if (s.language.empty() || s.language == f.language) seeds.push_back(s.task);
  if (seeds.size() < size_t(o.num_prompt_instructions))
    fail_usage("{}: {} seed task(s) in language '{}', fewer than --num-prompt-instructions {}", o.seed_tasks.string(),
               seeds.size(), f.language, o.num_prompt_instructions);

  // The output: new, resumed or replaced; the pool is the seeds and every kept instruction.
  SelfInstructReport report;
  int64_t requests_before = 0;
  std::vector<InstructionTriple> kept;
  if (fs::exists(o.output) && !fs::is_regular_file(o.output))
    fail_usage("--output {}: exists and is not a regular file", o.output.string());
  if (fs::exists(o.output)) {
    if (o.overwrite) {
      fs::remove(o.output);
      fs::remove(state_path(o.output));
      if (!o.rejected.empty()) fs::remove(o.rejected);
    } else if (o.resume) {
      kept = load_output(o.output);
      if (fs::exists(state_path(o.output))) {
        const nlohmann::json state = parse_json(read_file(state_path(o.output)), state_path(o.output).string());
        requests_before = json_integer(state, "requests", 0, INT64_MAX, state_path(o.output).string());
      }
    } else {
      fail_usage("{} exists: pass --resume to continue it or --overwrite to replace it", o.output.string());
    }
  } else {  // a fresh start: a stale state goes; a rejected file of another run is kept unless replaced
    fs::remove(state_path(o.output));
    if (!o.rejected.empty() && fs::exists(o.rejected) && !o.resume) {
      if (!o.overwrite)
        fail_usage("{} exists: pass --overwrite to replace it (or --resume to add to it)", o.rejected.string());
      fs::remove(o.rejected);
    }
  }
  report.resumed = int64_t(kept.size());
  std::vector<std::string> pool;
  std::vector<std::vector<std::string>> pool_tokens;
  auto add_to_pool = [&](const std::string& instruction) {
    pool.push_back(instruction);
    pool_tokens.push_back(rouge_tokens(instruction));
  };
  for (const InstructionTriple& s : seeds) add_to_pool(s.instruction);
  for (const InstructionTriple& k : kept) add_to_pool(k.instruction);

  // The model.
  text::DatasetGenerateOptions& g = o.generation;
  g.num_generations = 1;
  g.sampling.stop = {fmt::format("\n{}.", o.num_tasks)};
  std::unique_ptr<text::LocalTextBackend> local;
  std::unique_ptr<text::RemoteTextBackend> remote;
  if (int64_t(kept.size()) < o.num_instructions) {
    if (g.server_url.empty())
      local = std::make_unique<text::LocalTextBackend>(g);
    else
      remote = std::make_unique<text::RemoteTextBackend>(g);
  }
  const bool chat = local ? local->chat() : remote ? remote->chat() : false;

  int64_t request = requests_before, idle_rounds = 0;
  const uint64_t stream = data::fnv1a64("self-instruct");
  while (int64_t(kept.size()) < o.num_instructions) {
    int64_t batch = o.request_batch_size;
    if (o.max_requests > 0) batch = std::min<int64_t>(batch, o.max_requests - request);
    if (batch <= 0) break;
    // Prompts: request r shows seeds drawn by a counter-based stream of (seed, r), partial Fisher-Yates.
    const size_t n = size_t(batch);
    std::vector<text::TextPrompt> prompts(n);
    std::vector<uint64_t> sample_seeds(n);
    for (int64_t b = 0; b < batch; ++b) {
      const uint64_t r = uint64_t(request + b);
      std::vector<size_t> order(seeds.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::vector<InstructionTriple> examples;
      for (size_t i = 0; i < size_t(o.num_prompt_instructions); ++i) {
        const size_t j = i + size_t(data::mix64(o.seed, stream ^ r, i) % (order.size() - i));
        std::swap(order[i], order[j]);
        examples.push_back(seeds[order[i]]);
      }
      const std::string prompt = self_instruct_prompt(examples, f.language, o.num_tasks, o.prompt_header);
      if (chat)
        prompts[size_t(b)].messages = Json::array({{{"role", "user"}, {"content", prompt}}});
      else
        prompts[size_t(b)].text = prompt;
      sample_seeds[size_t(b)] = data::mix64(o.seed, stream + 1, r);
    }
    std::vector<text::TextCompletion> replies(n);
    if (local) {
      std::vector<std::vector<int32_t>> ids;
      for (int64_t b = 0; b < batch; ++b)
        ids.push_back(local->encode(prompts[size_t(b)], fmt::format("self-instruct request {}", request + b)));
      local->run(ids, sample_seeds, [&](size_t i, text::TextCompletion c) { replies[i] = std::move(c); });
    } else {
      parallel_for(n, std::max(1, g.concurrency),
                   [&](size_t i) { replies[i] = remote->complete(prompts[i], sample_seeds[i]); });
    }
    report.requests += batch;

    // Replies in request order: parse, filter, compare with the pool, keep.
    std::string kept_bytes, rejected_bytes;
    int64_t parsed_this_round = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const text::TextCompletion& c = replies[size_t(b)];
      if (c.texts.empty()) continue;
      for (ParsedTask& t : parse_self_instruct_reply(c.texts[0], c.reasons.empty() ? "stop" : c.reasons[0],
                                                     o.num_prompt_instructions, f)) {
        if (int64_t(kept.size()) >= o.num_instructions) break;
        ++report.parsed;
        if (t.reason != "truncated" && t.reason != "malformed") ++parsed_this_round;
        if (t.reason.empty()) {
          const std::vector<std::string> tokens = rouge_tokens(t.task.instruction);
          std::vector<double> scores(pool_tokens.size());
          parallel_for(pool_tokens.size(), pool_tokens.size() > 2000 ? 0 : 1,
                       [&](size_t i) { scores[i] = rouge_l(tokens, pool_tokens[i]); });
          const auto best = std::max_element(scores.begin(), scores.end());
          if (best != scores.end() && *best > o.rouge_threshold) {
            t.reason = "similar";
            t.detail = fmt::format("ROUGE-L {:.3f} with \"{}\"", *best, pool[size_t(best - scores.begin())]);
          }
        }
        if (!t.reason.empty()) {
          ++report.dropped[t.reason];
          if (!o.rejected.empty()) {
            Json row = Json::object();
            if (t.reason == "truncated" || t.reason == "malformed")
              row["text"] = t.raw;
            else
              row = {{"instruction", t.task.instruction}, {"input", t.task.input}, {"output", t.task.output}};
            row["reason"] = t.reason;
            if (!t.detail.empty()) row["detail"] = t.detail;
            row["request"] = request + b;
            rejected_bytes += dump(row) + "\n";
          }
          continue;
        }
        kept_bytes +=
            dump(Json{{"instruction", t.task.instruction}, {"input", t.task.input}, {"output", t.task.output}}) + "\n";
        add_to_pool(t.task.instruction);
        kept.push_back(std::move(t.task));
      }
    }
    request += batch;
    append(o.output, kept_bytes);
    if (!o.rejected.empty()) append(o.rejected, rejected_bytes);
    write_file_atomic(state_path(o.output), dump(Json{{"requests", request}, {"seed", o.seed}}) + "\n");
    report.kept = int64_t(kept.size());
    report.pool = int64_t(pool.size());
    if (on_round) on_round(report);
    idle_rounds = parsed_this_round > 0 ? 0 : idle_rounds + 1;
    if (idle_rounds >= 10)
      fail(
          "the model's replies held no parseable task in 10 rounds ({} requests): check the model, --chat-template and "
          "--max-new-tokens{}",
          report.requests, o.rejected.empty() ? " (--rejected FILE shows the replies)" : "");
  }
  if (!fs::exists(o.output)) std::ofstream(o.output, std::ios::app);  // a run that kept nothing still leaves the file
  report.kept = int64_t(kept.size());
  report.pool = int64_t(pool.size());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace r1::pipeline
