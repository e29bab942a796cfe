// The text layer's rules, each written once (src/text/model-bundle.h, tokenizer::chat_template_source): the
// stop ids every generating command uses (the union of config.json's, generation_config.json's and the
// tokenizer's eos, as transformers' generate), and the chat-template option every command reads
// (auto / none / a file / a built-in name / Jinja text, with an error listing the names otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "test-helpers.h"

namespace {

namespace fs = std::filesystem;
const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

TEST(StopIds, UnionOfConfigGenerationConfigAndTokenizer) {
  r1::test::TempDir dir;
  auto tok = r1::tokenizer::Tokenizer::load(kTokenizer);
  ASSERT_TRUE(tok.eos_id().has_value());
  const int32_t eos = *tok.eos_id();
  r1::model::ModelConfig config;
  config.eos_token_id = {7, eos};
  // No generation_config.json: config.json's ids and the tokenizer's eos, each once.
  EXPECT_EQ(r1::text::stop_token_ids(dir.path(), config, tok),
            (std::vector<int32_t>{std::min(7, eos), std::max(7, eos)}));
  // generation_config.json's list joins them (a chat model's end-of-turn token is often only there).
  r1::test::write_bytes(dir / "generation_config.json", R"({"eos_token_id": [9, 7], "max_new_tokens": 5})");
  std::vector<int32_t> expected = {7, 9, eos};
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  EXPECT_EQ(r1::text::stop_token_ids(dir.path(), config, tok), expected);
  r1::test::write_bytes(dir / "generation_config.json", R"({"eos_token_id": 11})");
  config.eos_token_id.clear();
  expected = {11, eos};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(r1::text::stop_token_ids(dir.path(), config, tok), expected);
  r1::test::write_bytes(dir / "generation_config.json", "{\"eos_token_id\": [1,");
  R1_EXPECT_THROW_WITH(r1::text::stop_token_ids(dir.path(), config, tok), r1::Error, "generation_config.json");
}

// The trainers' two stages (src/text/model-bundle.h): the tokenizer and template first, from a tokenizer
// directory of its own (TRL's tokenizer_name_or_path), GRPO's fallback template under "auto" only, then a model
// made in memory joins: refused when the tokenizer has ids it has no rows for (naming the tokenizer, as no model
// directory exists), else given the stop ids of its config and the tokenizer.
TEST(ModelBundle, TokenizerFirstThenTheModel) {
  using r1::text::BundleSource;
  const BundleSource auto_source{.tokenizer_dir = kTokenizer, .chat_template = "auto", .fallback_template = "r1-zero"};
  r1::text::ModelBundle bundle = r1::text::open_tokenizer(auto_source);
  EXPECT_FALSE(bundle.model);
  ASSERT_TRUE(bundle.chat_template);  // r1-bpe has no template of its own
  EXPECT_EQ(bundle.chat_template->source(), r1::tokenizer::ChatTemplate::named("r1-zero").source());
  EXPECT_FALSE(
      r1::text::open_tokenizer({.tokenizer_dir = kTokenizer, .chat_template = "none", .fallback_template = "r1-zero"})
          .chat_template);
  EXPECT_FALSE(r1::text::open_tokenizer({.tokenizer_dir = kTokenizer, .chat_template = "auto"}).chat_template);

  const int32_t eos = *bundle.tokenizer.eos_id();
  auto config_with_rows = [](size_t rows) {
    return r1::model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": )" + std::to_string(rows) +
                                             R"(, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 1, "eos_token_id": 3})",
                                         "tiny");
  };
  r1::text::ModelBundle small = r1::text::open_tokenizer(auto_source);
  R1_EXPECT_THROW_WITH(r1::text::attach_model(small, auto_source, r1::model::Transformer(config_with_rows(10))),
                       r1::UsageError, kTokenizer.string() + ": the tokenizer has");
  r1::text::attach_model(bundle, auto_source, r1::model::Transformer(config_with_rows(bundle.tokenizer.vocab_size())));
  ASSERT_TRUE(bundle.model);
  std::vector<int32_t> expected = {3, eos};
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  EXPECT_EQ(bundle.stop_ids, expected);
}

TEST(ChatTemplateOption, OneRuleForEveryCommand) {
  using r1::tokenizer::chat_template_source;
  using r1::tokenizer::ChatTemplate;
  const std::string own = "{{ messages[0]['content'] }}";
  EXPECT_EQ(chat_template_source("", own, "--chat-template"), own);
  EXPECT_EQ(chat_template_source("auto", own, "--chat-template"), own);
  EXPECT_EQ(chat_template_source("auto", "", "--chat-template"), std::nullopt);
  EXPECT_EQ(chat_template_source("none", own, "--chat-template"), std::nullopt);
  EXPECT_EQ(chat_template_source("chatml", own, "--chat-template"), ChatTemplate::named("chatml").source());
  EXPECT_EQ(chat_template_source("{% for m in messages %}{{ m.content }}{% endfor %}", "", "x"),
            "{% for m in messages %}{{ m.content }}{% endfor %}");
  r1::test::TempDir dir;
  r1::test::write_bytes(dir / "t.jinja", "{{ 'from a file' }}");
  EXPECT_EQ(chat_template_source((dir / "t.jinja").string(), own, "x"), "{{ 'from a file' }}");
  R1_EXPECT_THROW_WITH(chat_template_source("chatlm", own, "chat_template"), r1::UsageError,
                       "chat_template: 'chatlm' is not a file, a built-in template (", "chatml", "or a Jinja template");
}

}  // namespace
