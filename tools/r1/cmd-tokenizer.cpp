// `r1 tokenizer train | encode | decode | info`: train a byte-level BPE or WordPiece tokenizer into an HF
// directory (tokenizer.json + tokenizer_config.json), encode/decode text with any tokenizer.json, describe
// one. The work is in the library (r1/tokenizer.h); this file parses options and prints.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/tokenizer.h"

namespace r1::cli {
namespace fs = std::filesystem;
using tokenizer::Tokenizer;

namespace {

struct TokenizerOptions {
  tokenizer::TrainOptions train;
  std::vector<std::string> inputs;
  std::string out, path, text, ids, special_tokens, bos, eos, pad;
  bool overwrite = false, no_special = false, skip_special = false, show_tokens = false, json = false,
       no_byte_alphabet = false, stats = false;
  std::string input;
  size_t limit_alphabet = 0, max_token_length = 0;
  std::string base, chat_template, messages;
  bool add_generation_prompt = false;
  tokenizer::ExtendOptions extend;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int run_train(const Invocation& ctx, TokenizerOptions& o) {
  if (fs::exists(fs::path(o.out) / "tokenizer.json") && !o.overwrite)
    fail("{}: already holds a tokenizer; pass --overwrite to replace it", o.out);
  o.train.special_tokens = split_list(o.special_tokens);
  o.train.byte_alphabet = !o.no_byte_alphabet;
  if (o.limit_alphabet) o.train.limit_alphabet = o.limit_alphabet;
  if (o.max_token_length) o.train.max_token_length = o.max_token_length;
  o.train.threads = ctx.runtime.threads;
  std::vector<fs::path> inputs(o.inputs.begin(), o.inputs.end());
  auto start = std::chrono::steady_clock::now();
  Tokenizer tok = tokenizer::train_tokenizer(inputs, o.train);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tokenizer::TokenizerConfig cfg = tok.config();
  auto role = [&](const std::string& name, const char* option) -> std::optional<std::string> {
    if (name.empty()) return std::nullopt;
    if (!tok.token_to_id(name)) fail_usage("{}: '{}' is not among --special-tokens", option, name);
    return name;
  };
  if (auto b = role(o.bos, "--bos-token")) cfg.bos_token = b;
  if (auto e = role(o.eos, "--eos-token")) cfg.eos_token = e;
  if (auto p = role(o.pad, "--pad-token")) cfg.pad_token = p;
  tok.set_config(cfg);
  tok.save(o.out, o.overwrite);
  fmt::print("trained {} tokenizer: {} tokens ({} special) in {:.2f} s -> {}\n", tok.model_type(), tok.vocab_size(),
             tok.added_tokens().size(), seconds, o.out);
  return 0;
}

// Lines of text from --text, or stdin.
std::vector<std::string> input_lines(const std::string& text) {
  std::vector<std::string> lines;
  if (!text.empty()) {
    lines.push_back(text);
    return lines;
  }
  for (std::string line; std::getline(std::cin, line);) lines.push_back(line);
  return lines;
}

// --stats: encode every line of a file in parallel and report counts and throughput instead of ids.
int run_encode_stats(const Invocation& ctx, const TokenizerOptions& o) {
  Tokenizer tok = Tokenizer::load(o.path);
  std::vector<std::string> lines;
  if (o.input.empty()) {
    lines = input_lines(o.text);
  } else {
    require_regular_file(o.input);
    std::ifstream in(o.input);
    if (!in) fail("{}: cannot open", o.input);
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  }
  uint64_t bytes = 0, chars = 0;
  for (const auto& l : lines) {
    bytes += l.size();
    for (unsigned char c : l) chars += (c & 0xC0) != 0x80;
  }
  auto start = std::chrono::steady_clock::now();
  auto ids = tok.encode_batch(lines, !o.no_special, ctx.runtime.threads);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t tokens = 0;
  for (const auto& v : ids) tokens += v.size();
  fmt::print("lines {}  bytes {}  characters {}  tokens {}  tokens/char {:.4f}  bytes/token {:.3f}\n", lines.size(),
             bytes, chars, tokens, chars ? double(tokens) / chars : 0.0, tokens ? double(bytes) / tokens : 0.0);
  fmt::print("encoded in {:.3f} s: {:.2f} M tokens/s, {:.1f} MB/s\n", seconds, tokens / seconds / 1e6,
             bytes / seconds / 1e6);
  return 0;
}

int run_encode(const TokenizerOptions& o) {
  Tokenizer tok = Tokenizer::load(o.path);
  for (const std::string& line : input_lines(o.text)) {
    auto ids = tok.encode(line, !o.no_special);
    if (o.json) {
      nlohmann::json j = {{"ids", ids}};
      if (o.show_tokens) {
        std::vector<std::string> toks;
        for (int32_t id : ids) toks.push_back(tok.id_to_token(id).value_or("?"));
        j["tokens"] = toks;
      }
      fmt::print("{}\n", j.dump());
    } else if (o.show_tokens) {
      std::vector<std::string> toks;
      for (int32_t id : ids) toks.push_back(fmt::format("{}:{}", id, tok.id_to_token(id).value_or("?")));
      fmt::print("{}\n", fmt::join(toks, " "));
    } else {
      fmt::print("{}\n", fmt::join(ids, " "));
    }
  }
  return 0;
}

int run_decode(const TokenizerOptions& o) {
  Tokenizer tok = Tokenizer::load(o.path);
  for (const std::string& line : input_lines(o.ids)) {
    std::vector<int32_t> ids;
    std::stringstream in(line);
    for (std::string item; in >> item;) {
      try {
        ids.push_back(std::stoi(item));
      } catch (const std::exception&) {
        fail_usage("decode: '{}' is not a token id", item);
      }
      // Tokenizer::decode drops ids it lacks (a model's padded rows); ids typed here are checked one by one.
      if (!tok.id_to_token(ids.back()))
        fail("decode: token id {} is not in the vocabulary of {} ({} ids)", ids.back(), o.path, tok.vocab_size());
    }
    fmt::print("{}\n", tok.decode(ids, o.skip_special));
  }
  return 0;
}

int run_info(const TokenizerOptions& o) {
  Tokenizer tok = Tokenizer::load(o.path);
  auto j = nlohmann::json::parse(tok.to_json());
  auto type_of = [&](const char* key) {
    return j[key].is_null() ? std::string("none") : j[key].value("type", std::string("?"));
  };
  std::vector<std::string> special;
  for (const auto& t : tok.added_tokens())
    if (t.special) special.push_back(t.content);
  const auto& c = tok.config();
  fmt::print("tokenizer      {}\n", o.path);
  fmt::print("model          {} ({} tokens, {} added)\n", tok.model_type(), tok.vocab_size(),
             tok.added_tokens().size());
  fmt::print("pipeline       normalizer {}, pre-tokenizer {}, post-processor {}, decoder {}\n", type_of("normalizer"),
             type_of("pre_tokenizer"), type_of("post_processor"), type_of("decoder"));
  fmt::print("special        {}\n", special.empty() ? "none" : fmt::format("{}", fmt::join(special, " ")));
  fmt::print("roles          bos {}, eos {}, pad {}, unk {}\n", c.bos_token.value_or("-"), c.eos_token.value_or("-"),
             c.pad_token.value_or("-"), c.unk_token.value_or("-"));
  fmt::print("chat template  {}\n",
             c.chat_template.empty() ? "none" : fmt::format("{} characters", c.chat_template.size()));
  return 0;
}

int run_extend(const Invocation& ctx, TokenizerOptions& o) {
  if (fs::exists(fs::path(o.out) / "tokenizer.json") && !o.overwrite)
    fail("{}: already holds a tokenizer; pass --overwrite to replace it", o.out);
  Tokenizer base = Tokenizer::load(o.base);
  o.extend.threads = ctx.runtime.threads;
  tokenizer::ExtendReport r;
  std::vector<fs::path> inputs(o.inputs.begin(), o.inputs.end());
  Tokenizer extended = tokenizer::extend_tokenizer(base, inputs, o.extend, &r);
  extended.save(o.out, o.overwrite);
  double before = r.tokens_per_char_before(), after = r.tokens_per_char_after();
  fmt::print(
      "added {} tokens ({} -> {}); on the corpus ({} characters): {:.4f} -> {:.4f} tokens/char ({:+.1f}%) -> {}\n",
      r.added, base.vocab_size(), extended.vocab_size(), r.characters, before, after,
      before > 0 ? 100.0 * (after - before) / before : 0.0, o.out);
  return 0;
}

int run_render_chat(const TokenizerOptions& o) {
  Tokenizer tok = Tokenizer::load(o.path);
  std::optional<std::string> source =
      tokenizer::chat_template_source(o.chat_template, tok.config().chat_template, "--template");
  if (!source)
    fail_usage("{} has no chat_template; choose one with --template ({})", o.path,
               fmt::join(tokenizer::ChatTemplate::builtin_names(), ", "));
  auto tmpl = std::make_unique<tokenizer::ChatTemplate>(*source);
  std::string text =
      o.messages == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {}) : read_file(o.messages);
  // Accept a bare list of messages, or an object with "messages" (+ tools, documents, ...).
  nlohmann::ordered_json ctx = parse_ordered_json(text, o.messages);
  if (ctx.is_array()) ctx = nlohmann::ordered_json{{"messages", ctx}};
  auto enc = tokenizer::encode_chat(tok, *tmpl, ctx.dump(), o.add_generation_prompt);
  if (o.json) {
    fmt::print("{}\n",
               nlohmann::json{{"text", enc.text}, {"ids", enc.ids}, {"assistant_mask", enc.assistant_mask}}.dump());
    return 0;
  }
  fmt::print("{}", enc.text);
  if (o.show_tokens) {
    size_t assistant = std::count(enc.assistant_mask.begin(), enc.assistant_mask.end(), 1);
    fmt::print("\n-- {} tokens separated by |, {} in assistant turns (marked [[...]]):\n", enc.ids.size(), assistant);
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      std::vector<int32_t> one = {enc.ids[i]};
      std::string piece = tok.decode(one);
      fmt::print("{}{}", i ? "|" : "", enc.assistant_mask[i] ? "[[" + piece + "]]" : piece);
    }
    fmt::print("\n");
  }
  return 0;
}

}  // namespace

void add_tokenizer_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<TokenizerOptions>();
  CLI::App* cmd = app.add_subcommand("tokenizer", "train, run and inspect tokenizers (HF tokenizer.json)");
  cmd->require_subcommand(1);

  CLI::App* train = cmd->add_subcommand("train", "train a byte-level BPE or WordPiece tokenizer");
  train->add_option("--input", o->inputs, "text files (one sequence per line) or JSONL files")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--out", o->out, "output directory (tokenizer.json, tokenizer_config.json)")->required();
  train->add_option("--model", o->train.model, "bpe or wordpiece")->capture_default_str();
  train->add_option("--pre-tokenizer", o->train.pre_tokenizer, "bpe: gpt2, llama3, qwen2; wordpiece: bert")
      ->capture_default_str();
  train->add_option("--vocab-size", o->train.vocab_size, "target vocabulary size")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  train->add_option("--min-frequency", o->train.min_frequency, "minimum pair count to merge")->capture_default_str();
  train->add_option("--special-tokens", o->special_tokens, "comma-separated special tokens (ids 0..n-1)");
  train->add_option("--bos-token", o->bos, "special token used as BOS in tokenizer_config.json");
  train->add_option("--eos-token", o->eos, "special token used as EOS");
  train->add_option("--pad-token", o->pad, "special token used for padding");
  train->add_option("--field", o->train.text_field, "JSONL field holding the text")->capture_default_str();
  train->add_option("--limit-alphabet", o->limit_alphabet, "keep at most this many initial characters");
  train->add_option("--max-token-length", o->max_token_length, "longest token in characters");
  train->add_flag("--no-byte-alphabet", o->no_byte_alphabet, "bpe: start only from characters seen in the corpus");
  train->add_flag("--overwrite", o->overwrite, "replace a tokenizer already in --out");
  train->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_train(ctx, *o); }; });

  CLI::App* encode = cmd->add_subcommand("encode", "text -> token ids (--text, or one sequence per stdin line)");
  encode->add_option("--tokenizer", o->path, "tokenizer.json or a directory holding one")->required();
  encode->add_option("--text", o->text, "text to encode (default: read lines from stdin)");
  encode->add_flag("--no-special-tokens", o->no_special, "do not add the post-processor's special tokens");
  encode->add_flag("--tokens", o->show_tokens, "print id:token pairs");
  encode->add_flag("--json", o->json, "one JSON object per line");
  encode->add_flag("--stats", o->stats, "print counts (tokens, tokens/char) and throughput instead of ids");
  encode->add_option("--input", o->input, "with --stats: a text file, one sequence per line")->check(CLI::ExistingFile);
  encode->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return o->stats ? run_encode_stats(ctx, *o) : run_encode(*o); }; });

  CLI::App* decode =
      cmd->add_subcommand("decode", "token ids -> text (--ids, or whitespace-separated ids per stdin line)");
  decode->add_option("--tokenizer", o->path, "tokenizer.json or a directory holding one")->required();
  decode->add_option("--ids", o->ids, "ids to decode, e.g. \"15 27 3\"");
  decode->add_flag("--skip-special-tokens", o->skip_special, "drop special tokens");
  decode->callback([&ctx, o] { ctx.run = [o] { return run_decode(*o); }; });

  CLI::App* extend = cmd->add_subcommand("extend", "add tokens for a new corpus (continued BPE training), ids kept");
  extend->add_option("--base", o->base, "tokenizer to extend (tokenizer.json or its directory)")->required();
  extend->add_option("--corpus", o->inputs, "text or JSONL files in the new language/domain")
      ->required()
      ->check(CLI::ExistingFile);
  extend->add_option("--add", o->extend.add, "number of tokens to add")->capture_default_str();
  extend->add_option("--min-frequency", o->extend.min_frequency, "minimum pair count to merge")->capture_default_str();
  extend->add_option("--field", o->extend.text_field, "JSONL field holding the text")->capture_default_str();
  extend->add_option("--out", o->out, "output directory")->required();
  extend->add_flag("--overwrite", o->overwrite, "replace a tokenizer already in --out");
  extend->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_extend(ctx, *o); }; });

  CLI::App* chat =
      cmd->add_subcommand("render-chat", "render a conversation with a chat template, tokenize, mark assistant tokens");
  chat->add_option("--tokenizer", o->path, "tokenizer.json or a directory holding one")->required();
  chat->add_option("--messages", o->messages,
                   "JSON file: a list of {role, content} or {\"messages\": [...], \"tools\": ...}; - for stdin")
      ->required();
  chat->add_option("--template", o->chat_template,
                   "a built-in name (chatml, qwen2.5, llama3, deepseek-r1-distill, r1-zero, open-r1) or a Jinja file; "
                   "default: the tokenizer's chat_template");
  chat->add_flag("--add-generation-prompt", o->add_generation_prompt, "end with the assistant prompt");
  chat->add_flag("--tokens", o->show_tokens, "also print the tokens, assistant ones marked [[...]]");
  chat->add_flag("--json", o->json, "print {text, ids, assistant_mask}");
  chat->callback([&ctx, o] { ctx.run = [o] { return run_render_chat(*o); }; });

  CLI::App* info = cmd->add_subcommand("info", "describe a tokenizer");
  info->add_option("path", o->path, "tokenizer.json or a directory holding one")->required();
  info->callback([&ctx, o] { ctx.run = [o] { return run_info(*o); }; });
}

}  // namespace r1::cli
