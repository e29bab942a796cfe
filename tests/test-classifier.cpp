// Sequence classifiers (LlamaForSequenceClassification / Qwen2ForSequenceClassification, the reward models of TRL's
// RewardTrainer): config.json as transformers writes and reads it (num_labels as id2label), the score head pooled on
// each row's last non-pad token with right and left padding (each row scored as if alone), save/load round trips in
// the HF layout (score.weight, no lm_head), a causal LM's trunk loaded under a fresh head, and the errors of calls
// that belong to the other kind of model.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "r1/engine.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/safetensors.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using r1::model::ModelConfig;
using r1::model::Transformer;

namespace {

const std::string kTrunk = R"("vocab_size": 50, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "initializer_range": 0.2)";

ModelConfig classifier_config(const std::string& extra = R"(, "pad_token_id": 0)") {
  return ModelConfig::parse(R"({"architectures": ["LlamaForSequenceClassification"], "model_type": "llama",
      "id2label": {"0": "LABEL_0"}, )" +
                                kTrunk + extra + "}",
                            "classifier");
}

Transformer random_model(const ModelConfig& c) {
  torch::manual_seed(11);
  Transformer m(c);
  m->init_weights();
  return m;
}

at::Tensor ids(std::initializer_list<int64_t> values, int64_t rows) {
  return torch::tensor(std::vector<int64_t>(values), torch::kLong).view({rows, -1});
}

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(ClassifierConfig, NumLabelsAsTransformersWritesAndReadsThem) {
  ModelConfig c = classifier_config();
  EXPECT_EQ(c.num_labels, 1);
  EXPECT_TRUE(c.is_classifier());
  EXPECT_EQ(c.architecture(), "LlamaForSequenceClassification");
  const nlohmann::json j = nlohmann::json::parse(c.to_json());
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"LlamaForSequenceClassification"}));
  EXPECT_EQ(j["id2label"], nlohmann::json({{"0", "LABEL_0"}}));
  EXPECT_EQ(j["label2id"], nlohmann::json({{"LABEL_0", 0}}));
  EXPECT_EQ(ModelConfig::parse(c.to_json(), "again").num_labels, 1);

  // num_labels alone, or nothing (transformers' default of 2); the type from the architecture
  ModelConfig q = ModelConfig::parse(
      R"({"architectures": ["Qwen2ForSequenceClassification"], "num_labels": 3, )" + kTrunk + "}", "qwen");
  EXPECT_EQ(q.model_type, "qwen2");
  EXPECT_EQ(q.num_labels, 3);
  EXPECT_EQ(q.architecture(), "Qwen2ForSequenceClassification");
  EXPECT_EQ(
      ModelConfig::parse(R"({"architectures": ["LlamaForSequenceClassification"], )" + kTrunk + "}", "two").num_labels,
      2);
  EXPECT_EQ(ModelConfig::parse(R"({"model_type": "llama", )" + kTrunk + "}", "lm").num_labels, 0);
  R1_EXPECT_THROW_WITH(
      ModelConfig::parse(R"({"architectures": ["MistralForSequenceClassification"], )" + kTrunk + "}", "m"), r1::Error,
      "LlamaForSequenceClassification");
  R1_EXPECT_THROW_WITH(
      ModelConfig::parse(R"({"architectures": ["LlamaForSequenceClassification"], "id2label": {}, )" + kTrunk + "}",
                         "empty"),
      r1::Error, "id2label");
}

// Each row is scored at its last non-pad token, and exactly as that row alone: right padding needs nothing more
// (causal attention never looks ahead), left padding the attention mask (positions count from the first token).
TEST(Classifier, PoolsTheLastNonPadTokenOfEachRow) {
  torch::NoGradGuard no_grad;
  Transformer m = random_model(classifier_config());
  const at::Tensor batch = ids({5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 11, 12}, 3);
  r1::model::ForwardArgs args;
  args.attention_mask = batch.ne(0).to(torch::kLong);
  const at::Tensor got = m->sequence_logits(batch, args);  // (3, 1)
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, 1}));
  const std::vector<at::Tensor> alone = {ids({5, 6, 7, 8}, 1), ids({9, 10}, 1), ids({11, 12}, 1)};
  for (int64_t r = 0; r < 3; ++r) {
    const at::Tensor want = m->score(m->hidden_states(alone[size_t(r)]).select(1, -1));  // (1, 1)
    EXPECT_LT(max_diff(got[r], want[0]), 1e-5) << "row " << r;
  }
  // The score head is the pooled row's only input: scoring every position and picking agrees.
  const at::Tensor all = m->score(m->hidden_states(batch, args));  // (3, T, 1)
  EXPECT_LT(max_diff(got[1], all[1][1]), 1e-6);
  EXPECT_LT(max_diff(got[2], all[2][3]), 1e-6);

  // Without a pad token only one row can be pooled: at its last token.
  Transformer unpadded = random_model(classifier_config(""));
  EXPECT_LT(max_diff(unpadded->sequence_logits(ids({1, 2, 3}, 1)),
                     unpadded->score(unpadded->hidden_states(ids({1, 2, 3}, 1)).select(1, -1))),
            1e-6);
  R1_EXPECT_THROW_WITH(unpadded->sequence_logits(ids({1, 2, 3, 4}, 2)), r1::Error, "pad_token_id");
}

TEST(Classifier, SavesAndLoadsTheHuggingFaceLayout) {
  torch::NoGradGuard no_grad;
  r1::test::TempDir dir;
  Transformer m = random_model(classifier_config());
  r1::model::save_pretrained(*m, dir / "rm");
  r1::safetensors::File weights(dir / "rm" / "model.safetensors");
  ASSERT_NE(weights.find("score.weight"), nullptr);
  EXPECT_EQ(weights.find("score.weight")->shape, (std::vector<int64_t>{1, 32}));
  EXPECT_EQ(weights.find("lm_head.weight"), nullptr);
  const nlohmann::json config = nlohmann::json::parse(r1::test::read_bytes(dir / "rm" / "config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForSequenceClassification");
  EXPECT_EQ(config["pad_token_id"], 0);
  Transformer back = r1::model::load_pretrained(dir / "rm");
  const at::Tensor batch = ids({3, 4, 5, 6, 0, 0}, 2);
  EXPECT_TRUE(back->sequence_logits(batch).equal(m->sequence_logits(batch)));
  // Loading with the number of labels it has is fine; another number is a usage error.
  EXPECT_TRUE(r1::model::load_pretrained(dir / "rm", {.num_labels = 1})
                  ->sequence_logits(batch)
                  .equal(m->sequence_logits(batch)));
  R1_EXPECT_THROW_WITH(r1::model::load_pretrained(dir / "rm", {.num_labels = 2}), r1::UsageError, "1 labels");
}

// AutoModelForSequenceClassification.from_pretrained(causal_lm, num_labels=1): the trunk is the LM's, its LM head is
// dropped, the score head starts as N(0, initializer_range).
TEST(Classifier, ACausalLmTrunkUnderAFreshHead) {
  torch::NoGradGuard no_grad;
  r1::test::TempDir dir;
  for (bool tied : {false, true}) {
    const std::string name = tied ? "tied" : "untied";
    ModelConfig lm_config = ModelConfig::parse(R"({"model_type": "llama", "pad_token_id": 0, "tie_word_embeddings": )" +
                                                   std::string(tied ? "true" : "false") + ", " + kTrunk + "}",
                                               name);
    Transformer lm = random_model(lm_config);
    r1::model::save_pretrained(*lm, dir / name);
    torch::manual_seed(3);
    Transformer rm = r1::model::load_pretrained(dir / name, {.num_labels = 1});
    EXPECT_EQ(rm->config().architecture(), "LlamaForSequenceClassification") << name;
    const at::Tensor batch = ids({7, 8, 9}, 1);
    EXPECT_TRUE(rm->hidden_states(batch).equal(lm->hidden_states(batch))) << name;
    at::Tensor head;
    for (const auto& [tensor_name, t] : r1::model::named_tensors(*rm)) {
      EXPECT_NE(tensor_name, "lm_head.weight") << name;
      if (tensor_name == "score.weight") head = t;
    }
    ASSERT_TRUE(head.defined()) << name;
    EXPECT_NEAR(head.std().item<double>(), 0.2, 0.08) << name;  // 32 draws of N(0, 0.2)
    torch::manual_seed(3);
    EXPECT_TRUE(r1::model::load_pretrained(dir / name, {.num_labels = 1})
                    ->sequence_logits(batch)
                    .equal(rm->sequence_logits(batch)))
        << name << ": the fresh head follows the seeded generator";
  }
}

TEST(Classifier, CallsOfTheOtherKindOfModelAreErrors) {
  Transformer rm = random_model(classifier_config());
  R1_EXPECT_THROW_WITH(rm->forward(ids({1, 2}, 1)), r1::Error, "no LM head");
  R1_EXPECT_THROW_WITH(rm->lm_head_weight(), r1::Error, "sequence_logits");
  EXPECT_FALSE(rm->weights().lm_head.defined());
  R1_EXPECT_THROW_WITH(r1::engine::Engine(rm, {}), r1::UsageError, "has no LM head to generate with");
  ModelConfig lm_config = ModelConfig::parse(R"({"model_type": "llama", )" + kTrunk + "}", "lm");
  Transformer lm = random_model(lm_config);
  R1_EXPECT_THROW_WITH(lm->sequence_logits(ids({1, 2}, 1)), r1::Error, "not a sequence classifier");
  R1_EXPECT_THROW_WITH(lm->score(torch::zeros({1, 32})), r1::Error, "no score head");
}

}  // namespace
