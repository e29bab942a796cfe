// GKD (`r1 distill`, src/train/gkd.cpp; the loss in src/model/lm-head-losses.cpp): the generalized JSD against a
// float64 reference written here from its definition (plain loops; gradients by central differences) for
// beta in {0, 0.25, 0.5, 1} with masked positions, the chunked LM-head version against the logits version (values,
// d hidden, d weight; vocabularies of different sizes), the objective at lmbda 0 (dataset completions, the loss
// equal to the reference on them) and lmbda 1 (the student's own samples, the loss equal to the reference on
// those), seq_kd (the teacher's samples), teacher == student giving loss 0, exact resumption of the draws, a
// vocabulary mismatch named with both directories, and the CLI end to end (checkpoint + exact resume).
// Tokenizer: tests/golden/tokenizer/r1-bpe; models: tiny random Llamas made here.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "test-helpers.h"
#include "train/gkd.h"

namespace r1 {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;
using train::detail::GkdSource;

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

// ---- the float64 reference, from the definitions ----------------------------------------------------------------

std::vector<double> log_softmax(const double* x, int64_t V) {
  double max = x[0];
  for (int64_t v = 1; v < V; ++v) max = std::max(max, x[v]);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - max);
  std::vector<double> out(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v) out[size_t(v)] = x[v] - max - std::log(sum);
  return out;
}

// GKD eq. 1 at one position: KL(teacher || student) at beta 0, KL(student || teacher) at 1, else
// beta KL(teacher || M) + (1 - beta) KL(student || M) with M = beta teacher + (1 - beta) student.
double reference_jsd(const double* student, const double* teacher, int64_t V, double beta) {
  const std::vector<double> s = log_softmax(student, V), t = log_softmax(teacher, V);
  double out = 0;
  for (size_t v = 0; v < size_t(V); ++v) {
    const double ps = std::exp(s[v]), pt = std::exp(t[v]);
    if (beta == 0) {
      out += pt * (t[v] - s[v]);
    } else if (beta == 1) {
      out += ps * (s[v] - t[v]);
    } else {
      const double m = std::log(beta * pt + (1 - beta) * ps);
      out += beta * pt * (t[v] - m) + (1 - beta) * ps * (s[v] - m);
    }
  }
  return out;
}

// The reference loss of sequences (ids, prompt tokens) under two models, each sequence forwarded alone: the
// positions that predict a completion token, summed (and counted).
std::pair<double, int64_t> reference_loss(model::TransformerImpl& student, model::TransformerImpl& teacher,
                                          const std::vector<std::pair<std::vector<int32_t>, size_t>>& sequences,
                                          double beta) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t count = 0;
  for (const auto& [ids, prompt] : sequences) {
    std::vector<int64_t> wide(ids.begin(), ids.end());
    const at::Tensor input = torch::tensor(wide, torch::kLong).unsqueeze(0);      // (1, T)
    const at::Tensor s = student.forward(input)[0].to(at::kDouble).contiguous();  // (T, V)
    const at::Tensor t = teacher.forward(input)[0].to(at::kDouble).contiguous();
    const int64_t V = s.size(1);
    for (size_t p = prompt - 1; p + 1 < ids.size(); ++p, ++count)
      sum += reference_jsd(s.data_ptr<double>() + int64_t(p) * V, t.data_ptr<double>() + int64_t(p) * V, V, beta);
  }
  return {sum, count};
}

// ---- the loss alone -----------------------------------------------------------------------------------------------

TEST(GkdLoss, MatchesTheFloat64ReferenceWithMaskedPositionsAndItsGradient) {
  const int64_t B = 2, T = 4, V = 9;
  torch::manual_seed(7);
  const at::Tensor student = (torch::randn({B, T, V}, torch::kDouble) * 2).contiguous();
  const at::Tensor teacher = (torch::randn({B, T, V}, torch::kDouble) * 2).contiguous();
  const at::Tensor labels = torch::tensor({3, -100, 5, 1, -100, -100, 8, 0}, torch::kLong).view({B, T});
  const double* sp = student.data_ptr<double>();
  const double* tp = teacher.data_ptr<double>();
  const int64_t* lp = labels.data_ptr<int64_t>();
  for (double beta : {0.0, 0.25, 0.5, 1.0}) {
    SCOPED_TRACE(beta);
    double expected = 0;
    for (int64_t r = 0; r < B * T; ++r)
      if (lp[r] != -100) expected += reference_jsd(sp + r * V, tp + r * V, V, beta);

    at::Tensor s64 = student.clone().requires_grad_(true);
    at::Tensor loss = model::generalized_jsd_sum(s64, teacher, beta, labels);
    EXPECT_EQ(loss.scalar_type(), at::kDouble);
    EXPECT_NEAR(loss.item<double>(), expected, 1e-12 * std::max(1.0, expected));
    loss.backward();
    const at::Tensor grad = s64.grad().contiguous();
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t v = 0; v < V; ++v) {
        double numeric = 0;
        if (lp[r] != -100) {  // central difference of the reference
          std::vector<double> row(sp + r * V, sp + (r + 1) * V);
          const double h = 1e-5;
          row[size_t(v)] += h;
          const double up = reference_jsd(row.data(), tp + r * V, V, beta);
          row[size_t(v)] -= 2 * h;
          numeric = (up - reference_jsd(row.data(), tp + r * V, V, beta)) / (2 * h);
        }
        EXPECT_NEAR(grad.data_ptr<double>()[r * V + v], numeric, 1e-8) << "row " << r << " id " << v;
      }

    // fp32 logits: computed in fp32, the same up to rounding
    at::Tensor s32 = student.to(at::kFloat).requires_grad_(true);
    at::Tensor loss32 = model::generalized_jsd_sum(s32, teacher.to(at::kFloat), beta, labels);
    EXPECT_EQ(loss32.scalar_type(), at::kFloat);
    EXPECT_NEAR(loss32.item<double>(), expected, 1e-5 * std::max(1.0, expected));
    loss32.backward();
    EXPECT_TRUE(at::allclose(s32.grad().to(at::kDouble), grad, 1e-4, 1e-6));
  }
  // identical distributions: 0 for every beta; the teacher never gets a gradient
  for (double beta : {0.0, 0.5, 1.0}) {
    at::Tensor t = teacher.clone().requires_grad_(true);
    at::Tensor loss = model::generalized_jsd_sum(teacher, t, beta);
    EXPECT_NEAR(loss.item<double>(), 0.0, 1e-14);
    EXPECT_FALSE(loss.requires_grad());
  }
  EXPECT_THROW(model::generalized_jsd_sum(student, teacher, 1.5), Error);
}

model::Transformer tiny_model(uint64_t seed, int64_t vocab = 1300, int64_t hidden = 32,
                              at::ScalarType dtype = at::kFloat) {
  auto c = model::ModelConfig::parse(json{{"model_type", "llama"},
                                          {"vocab_size", vocab},
                                          {"hidden_size", hidden},
                                          {"intermediate_size", 48},
                                          {"num_hidden_layers", 2},
                                          {"num_attention_heads", 4},
                                          {"num_key_value_heads", 2},
                                          {"max_position_embeddings", 256},
                                          {"initializer_range", 0.1},
                                          {"tie_word_embeddings", true}}
                                         .dump(),
                                     "tiny");
  torch::manual_seed(seed);
  model::Transformer m(c, torch::TensorOptions().dtype(dtype));
  m->init_weights();
  return m;
}

TEST(GkdLoss, ChunkedLmHeadsEqualTheLogitsVersion) {
  // 1100 rows: two chunks at V = 1300; the teacher's head has 1310 rows (padding) and a wider hidden state.
  model::Transformer student = tiny_model(1, 1300, 32, at::kDouble), teacher = tiny_model(2, 1310, 48, at::kDouble);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  torch::manual_seed(3);
  const at::Tensor hs = torch::randn({1100, 32}, torch::kDouble), ht = torch::randn({1100, 48}, torch::kDouble);
  for (double beta : {0.0, 0.5, 1.0}) {
    SCOPED_TRACE(beta);
    at::Tensor h1 = hs.clone().requires_grad_(true), h2 = hs.clone().requires_grad_(true);
    const at::Tensor weight = student->lm_head_weight();
    at::Tensor fused = model::generalized_jsd_sum(*student, h1, *teacher, ht, beta);
    fused.backward();
    const at::Tensor d_weight = weight.grad().clone();
    weight.mutable_grad().zero_();
    at::Tensor plain = model::generalized_jsd_sum(student->logits(h2), teacher->logits(ht), beta);  // 1300 of 1310
    plain.backward();
    EXPECT_NEAR(fused.item<double>(), plain.item<double>(), 1e-9 * plain.item<double>());
    EXPECT_TRUE(at::allclose(h1.grad(), h2.grad(), 1e-9, 1e-12));
    EXPECT_TRUE(at::allclose(d_weight, weight.grad(), 1e-9, 1e-12));
    weight.mutable_grad().zero_();
  }
}

TEST(GkdLoss, Bf16AutocastFormsTheLogitsAsModelLogitsDoes) {
  model::Transformer student = tiny_model(1), teacher = tiny_model(2, 1300, 48);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  torch::manual_seed(4);
  const at::Tensor hs = torch::randn({40, 32}), ht = torch::randn({40, 48});
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::Tensor h1 = hs.to(at::kBFloat16).requires_grad_(true), h2 = hs.to(at::kBFloat16).requires_grad_(true);
  at::Tensor fused = model::generalized_jsd_sum(*student, h1, *teacher, ht, 0.5);
  at::Tensor plain = model::generalized_jsd_sum(student->logits(h2), teacher->logits(ht), 0.5);  // bf16 logits
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_EQ(fused.scalar_type(), at::kFloat);
  EXPECT_NEAR(fused.item<double>(), plain.item<double>(), 1e-3 * plain.item<double>());
  fused.backward();
  plain.backward();
  EXPECT_EQ(h1.grad().scalar_type(), at::kBFloat16);
  EXPECT_EQ(student->lm_head_weight().grad().scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(h1.grad().to(at::kFloat), h2.grad().to(at::kFloat), 2e-2, 1e-4));
}

// ---- the objective on in-memory models ------------------------------------------------------------------------

text::ModelBundle bundle(model::Transformer m) {
  const text::BundleSource source{.tokenizer_dir = kTokenizer};
  text::ModelBundle b = text::open_tokenizer(source);
  text::attach_model(b, source, std::move(m));
  return b;
}

std::vector<std::pair<json, std::string>> rows() {
  std::vector<std::pair<json, std::string>> out;
  const char* questions[] = {"what is 2 + 3?",  "name a colour.", "what is the capital of France?",
                             "count to three.", "say hello.",     "what is 10 - 4?"};
  const char* answers[] = {" It is 5.", " Blue.", " Paris.", " One, two, three.", " Hello!", " Six."};
  for (size_t i = 0; i < 6; ++i)
    out.emplace_back(json{{"prompt", std::string("Question: ") + questions[i]}, {"completion", answers[i]}},
                     "rows:" + std::to_string(i + 1));
  return out;
}

train::GkdOptions options(double lmbda, double beta, bool seq_kd = false) {
  train::GkdOptions o;
  o.teacher_model_name_or_path = "teacher";
  o.lmbda = lmbda;
  o.beta = beta;
  o.seq_kd = seq_kd;
  o.max_new_tokens = 6;
  o.training.per_device_train_batch_size = 3;
  o.training.gradient_accumulation_steps = 2;
  return o;
}

struct Harness {
  text::ModelBundle student, teacher;
  std::unique_ptr<train::detail::GkdObjective> objective;
  train::detail::GkdData data;
  Harness(const train::GkdOptions& o, model::Transformer teacher_model)
      : student(bundle(tiny_model(1))), teacher(bundle(std::move(teacher_model))) {
    data = train::detail::gkd_data(rows(), student.tokenizer, nullptr, o.max_length);
    objective = std::make_unique<train::detail::GkdObjective>(o, student, teacher, data, std::nullopt);
  }
  // The step's loss (sum of micro-batch sums / normaliser) and its sequences as (ids, prompt tokens).
  std::pair<double, std::vector<std::pair<std::vector<int32_t>, size_t>>> step(int64_t micro_batches) {
    const double normaliser = objective->prepare_step(micro_batches);
    double sum = 0;
    for (int64_t i = 0; i < micro_batches; ++i) sum += objective->micro_batch(i).loss_sum.item<double>();
    std::vector<std::pair<std::vector<int32_t>, size_t>> sequences;
    for (const auto& b : objective->micro_batches())
      for (const auto& s : b.sequences) sequences.emplace_back(s.ids, s.prompt_tokens);
    return {sum / normaliser, sequences};
  }
};

TEST(GkdObjective, LambdaZeroTrainsOnTheDatasetCompletions) {
  for (double beta : {0.0, 0.5, 1.0}) {
    SCOPED_TRACE(beta);
    Harness run(options(0.0, beta), tiny_model(2));
    auto [loss, sequences] = run.step(2);
    ASSERT_EQ(sequences.size(), 6u);
    for (const auto& b : run.objective->micro_batches()) EXPECT_EQ(b.source, GkdSource::kDataset);
    for (const auto& b : run.objective->micro_batches())
      for (const auto& s : b.sequences) {
        std::vector<int32_t> expected = run.data.examples[s.example].prompt;
        const auto& completion = run.data.examples[s.example].completion;
        expected.insert(expected.end(), completion.begin(), completion.end());
        EXPECT_EQ(s.ids, expected);
      }
    auto [sum, count] = reference_loss(*run.student.model, *run.teacher.model, sequences, beta);
    EXPECT_GT(sum, 0);
    EXPECT_NEAR(loss, sum / double(count), 1e-5 * sum / double(count));
    auto m = run.objective->end_step();
    EXPECT_EQ(m["on_policy"], 0.0);
    EXPECT_EQ(m["seq_kd"], 0.0);
    EXPECT_DOUBLE_EQ(m["completions/mean_length"], double(count) / 6);
  }
}

TEST(GkdObjective, LambdaOneTrainsOnTheStudentsOwnSamples) {
  for (double beta : {0.0, 0.5, 1.0}) {
    SCOPED_TRACE(beta);
    Harness run(options(1.0, beta), tiny_model(2));
    auto [loss, sequences] = run.step(2);
    ASSERT_EQ(sequences.size(), 6u);
    size_t differ = 0;
    for (const auto& b : run.objective->micro_batches()) {
      EXPECT_EQ(b.source, GkdSource::kStudent);
      for (const auto& s : b.sequences) {
        const auto& ex = run.data.examples[s.example];
        ASSERT_GT(s.ids.size(), ex.prompt.size());
        EXPECT_TRUE(std::equal(ex.prompt.begin(), ex.prompt.end(), s.ids.begin()));
        const std::vector<int32_t> completion(s.ids.begin() + long(ex.prompt.size()), s.ids.end());
        EXPECT_LE(completion.size(), 6u);
        const auto& stops = run.student.stop_ids;
        if (completion.size() < 6) {  // ended early: on a stop id
          EXPECT_NE(std::find(stops.begin(), stops.end(), completion.back()), stops.end());
        }
        differ += completion != ex.completion ? 1 : 0;
      }
    }
    EXPECT_GT(differ, 0u);
    auto [sum, count] = reference_loss(*run.student.model, *run.teacher.model, sequences, beta);
    EXPECT_NEAR(loss, sum / double(count), 1e-5 * sum / double(count));
    EXPECT_EQ(run.objective->end_step()["on_policy"], 1.0);
  }
}

TEST(GkdObjective, SeqKdTrainsOnTheTeachersSamples) {
  Harness run(options(0.0, 0.5, /*seq_kd=*/true), tiny_model(2));
  auto [loss, sequences] = run.step(2);
  for (const auto& b : run.objective->micro_batches()) EXPECT_EQ(b.source, GkdSource::kTeacher);
  auto [sum, count] = reference_loss(*run.student.model, *run.teacher.model, sequences, 0.5);
  EXPECT_NEAR(loss, sum / double(count), 1e-5 * sum / double(count));
  auto m = run.objective->end_step();
  EXPECT_EQ(m["seq_kd"], 1.0);
  EXPECT_EQ(m["on_policy"], 0.0);
}

TEST(GkdObjective, TeacherEqualToStudentGivesZeroLoss) {
  for (double lmbda : {0.0, 1.0})
    for (double beta : {0.0, 0.5, 1.0}) {
      Harness run(options(lmbda, beta), tiny_model(1));  // the student's weights
      EXPECT_NEAR(run.step(2).first, 0.0, 1e-7) << "lmbda " << lmbda << " beta " << beta;
    }
}

TEST(GkdObjective, TheDrawsAndSamplesResumeFromTheDataState) {
  // lmbda 0.5 over 16 micro-batches: both sources occur; a second objective restored from the state after the
  // first step makes the same second step.
  train::GkdOptions o = options(0.5, 0.5);
  Harness a(o, tiny_model(2)), b(o, tiny_model(2));
  a.objective->prepare_step(16);
  const auto first = a.objective->micro_batches();
  const json state = a.objective->data_state();
  size_t student = 0;
  for (const auto& m : first) student += m.source == GkdSource::kStudent ? 1 : 0;
  EXPECT_GT(student, 2u);
  EXPECT_LT(student, 14u);
  a.objective->prepare_step(16);
  b.objective->load_data_state(json::parse(state.dump()));
  b.objective->prepare_step(16);
  ASSERT_EQ(a.objective->micro_batches().size(), b.objective->micro_batches().size());
  for (size_t i = 0; i < 16; ++i) {
    const auto &x = a.objective->micro_batches()[i], &y = b.objective->micro_batches()[i];
    EXPECT_EQ(x.source, y.source);
    ASSERT_EQ(x.sequences.size(), y.sequences.size());
    for (size_t j = 0; j < x.sequences.size(); ++j) EXPECT_EQ(x.sequences[j].ids, y.sequences[j].ids);
  }
}

TEST(GkdData, MessagesTruncationAndRowsWithoutAPrompt) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(kTokenizer);
  auto chatml = tokenizer::ChatTemplate::named("chatml");
  const json messages = json::array(
      {{{"role", "user"}, {"content", "What is 2 + 3?"}}, {{"role", "assistant"}, {"content", "It is 5."}}});
  train::detail::GkdData d = train::detail::gkd_data({{json{{"messages", messages}}, "m:1"}}, tok, &chatml, 1024);
  ASSERT_EQ(d.examples.size(), 1u);
  // the prompt is the user turn with the generation prompt; the completion the assistant's turn
  EXPECT_EQ(tok.decode(d.examples[0].prompt), "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(tok.decode(d.examples[0].completion), "It is 5.<|im_end|>\n");
  // longer than max_length: the first tokens go (TRL's collator keeps the last max_length)
  const size_t total = d.examples[0].prompt.size() + d.examples[0].completion.size();
  train::detail::GkdData cut =
      train::detail::gkd_data({{json{{"messages", messages}}, "m:1"}}, tok, &chatml, int64_t(total) - 3);
  EXPECT_EQ(cut.truncated, 1u);
  EXPECT_EQ(cut.examples[0].completion, d.examples[0].completion);
  EXPECT_TRUE(
      std::equal(cut.examples[0].prompt.begin(), cut.examples[0].prompt.end(), d.examples[0].prompt.begin() + 3));
  R1_EXPECT_THROW_WITH(train::detail::gkd_data({{json{{"messages", messages}}, "m:1"}}, tok, &chatml, 4), Error, "m:1",
                       "max_length");
  R1_EXPECT_THROW_WITH(train::detail::gkd_data({{json{{"text", "plain"}}, "t:1"}}, tok, nullptr, 64), Error, "t:1",
                       "prompt");
  const json ends_with_user = json::array({{{"role", "assistant"}, {"content", "Hi."}}, messages[0]});
  R1_EXPECT_THROW_WITH(train::detail::gkd_data({{json{{"messages", ends_with_user}}, "u:1"}}, tok, &chatml, 64), Error,
                       "u:1", "assistant");
}

TEST(GkdOptions, DefaultsValidationAndKeys) {
  const Recipe recipe =
      Recipe::parse("model_name_or_path: s\nteacher_model_name_or_path: t\ndataset_name: d\noutput_dir: o\n", "r");
  train::GkdOptions o = train::GkdOptions::from_recipe(recipe);
  EXPECT_EQ(o.lmbda, 0.5);
  EXPECT_EQ(o.beta, 0.5);
  EXPECT_EQ(o.temperature, 0.9);
  EXPECT_EQ(o.max_new_tokens, 128);
  EXPECT_FALSE(o.seq_kd);
  EXPECT_EQ(o.training.learning_rate, 2e-5);
  const json j = o.to_json();
  for (const char* key : {"teacher_model_name_or_path", "lmbda", "beta", "temperature", "max_new_tokens", "seq_kd",
                          "max_length", "use_peft", "learning_rate", "gradient_accumulation_steps"})
    EXPECT_TRUE(j.contains(key)) << key;
  auto bad = [](const std::string& extra) {
    return Recipe::parse(
        "model_name_or_path: s\nteacher_model_name_or_path: t\ndataset_name: d\noutput_dir: o\n" + extra, "r");
  };
  R1_EXPECT_THROW_WITH(train::GkdOptions::from_recipe(bad("lmbda: 1.5\n")), UsageError, "lmbda");
  R1_EXPECT_THROW_WITH(train::GkdOptions::from_recipe(bad("beta: -0.1\n")), UsageError, "beta");
  R1_EXPECT_THROW_WITH(train::GkdOptions::from_recipe(bad("temperature: 0\n")), UsageError, "temperature");
  R1_EXPECT_THROW_WITH(train::GkdOptions::from_recipe(bad("max_new_tokens: 0\n")), UsageError, "max_new_tokens");
  R1_EXPECT_THROW_WITH(train::GkdOptions::from_recipe(bad("lambda: 0.5\n")), UsageError, "lambda");
  R1_EXPECT_THROW_WITH(
      train::GkdOptions::from_recipe(Recipe::parse("model_name_or_path: s\ndataset_name: d\noutput_dir: o\n", "r")),
      UsageError, "teacher_model_name_or_path");
}

// ---- runs from directories --------------------------------------------------------------------------------------

class GkdRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    save(*dir_ / "student", tiny_model(1), kTokenizer);
    save(*dir_ / "teacher", tiny_model(2, 1300, 48), kTokenizer);
    save(*dir_ / "other-teacher", tiny_model(2), fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe-qwen2");
    // the same tokens with two ids swapped
    save(*dir_ / "swapped-teacher", tiny_model(2), kTokenizer);
    json tj = json::parse(test::read_bytes(kTokenizer / "tokenizer.json"));
    std::string a, b;
    for (auto& [token, id] : tj["model"]["vocab"].items()) {
      if (id == 100) a = token;
      if (id == 101) b = token;
    }
    tj["model"]["vocab"][a] = 101;
    tj["model"]["vocab"][b] = 100;
    test::write_bytes(*dir_ / "swapped-teacher" / "tokenizer.json", tj.dump());
    fs::create_directories(*dir_ / "data");
    std::ofstream train(*dir_ / "data" / "train.jsonl"), eval(*dir_ / "data" / "test.jsonl");
    for (const auto& [row, where] : rows()) train << row.dump() << "\n";
    eval << rows()[0].first.dump() << "\n" << rows()[1].first.dump() << "\n";
  }
  static void TearDownTestSuite() { delete dir_; }

  static void save(const fs::path& dir, model::Transformer m, const fs::path& tokenizer) {
    model::save_pretrained(*m, dir);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(tokenizer / f, dir / f);
  }
  static std::string args(const std::string& teacher, const std::string& out) {
    return "--model_name_or_path " + (*dir_ / "student").string() + " --teacher_model_name_or_path " +
           (*dir_ / teacher).string() + " --dataset_name " + (*dir_ / "data").string() + " --output_dir " +
           (*dir_ / out).string();
  }
  static std::vector<json> metrics(const std::string& out) {
    std::vector<json> lines;
    JsonlReader reader(*dir_ / out / "metrics.jsonl");
    json row;
    while (reader.next(row)) lines.push_back(row);
    return lines;
  }
  static TempDir* dir_;
};
TempDir* GkdRun::dir_ = nullptr;

TEST_F(GkdRun, AVocabularyMismatchNamesBothDirectories) {
  for (const char* teacher : {"other-teacher", "swapped-teacher"}) {
    SCOPED_TRACE(teacher);
    const Recipe recipe = Recipe::parse("model_name_or_path: " + (*dir_ / "student").string() +
                                            "\nteacher_model_name_or_path: " + (*dir_ / teacher).string() +
                                            "\ndataset_name: " + (*dir_ / "data").string() +
                                            "\noutput_dir: " + (*dir_ / "mismatch").string() + "\nmax_steps: 1\n",
                                        "r");
    R1_EXPECT_THROW_WITH(train::gkd(train::GkdOptions::from_recipe(recipe)), UsageError, (*dir_ / teacher).string(),
                         (*dir_ / "student").string(), "vocabulary");
  }
  auto cli = test::run_r1("distill " + args("other-teacher", "mismatch-cli") + " --max_steps 1");
  EXPECT_EQ(cli.status, 2) << cli.output;
  EXPECT_NE(cli.output.find((*dir_ / "other-teacher").string()), std::string::npos) << cli.output;
}

TEST_F(GkdRun, LambdaZeroRunLogsTheReferenceLossOfTheDatasetCompletions) {
  // one step over the whole dataset: the logged loss is the float64 reference over every completion token
  const Recipe recipe = Recipe::parse("model_name_or_path: " + (*dir_ / "student").string() +
                                          "\nteacher_model_name_or_path: " + (*dir_ / "teacher").string() +
                                          "\ndataset_name: " + (*dir_ / "data").string() +
                                          "\noutput_dir: " + (*dir_ / "lambda0").string() +
                                          "\nlmbda: 0\nbeta: 0.5\nmax_steps: 1\nper_device_train_batch_size: 3\n"
                                          "gradient_accumulation_steps: 2\nlogging_steps: 1\nsave_strategy: no\n",
                                      "r");
  train::gkd(train::GkdOptions::from_recipe(recipe));
  const auto lines = metrics("lambda0");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["on_policy"], 0.0);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(kTokenizer);
  std::vector<std::pair<std::vector<int32_t>, size_t>> sequences;
  for (const auto& ex : train::detail::gkd_data(rows(), tok, nullptr, 1024).examples) {
    std::vector<int32_t> ids = ex.prompt;
    ids.insert(ids.end(), ex.completion.begin(), ex.completion.end());
    sequences.emplace_back(ids, ex.prompt.size());
  }
  auto student = model::load_pretrained(*dir_ / "student"), teacher = model::load_pretrained(*dir_ / "teacher");
  auto [sum, count] = reference_loss(*student, *teacher, sequences, 0.5);
  EXPECT_NEAR(lines[0]["loss"].get<double>(), sum / double(count), 1e-5 * sum / double(count));
}

TEST_F(GkdRun, LoraStudentTrainsOnItsOwnSamples) {
  const Recipe recipe =
      Recipe::parse("model_name_or_path: " + (*dir_ / "student").string() +
                        "\nteacher_model_name_or_path: " + (*dir_ / "teacher").string() +
                        "\ndataset_name: " + (*dir_ / "data").string() + "\noutput_dir: " + (*dir_ / "lora").string() +
                        "\nlmbda: 1\nmax_new_tokens: 6\nmax_steps: 2\nlogging_steps: 1\n"
                        "per_device_train_batch_size: 2\nlearning_rate: 0.01\nsave_strategy: no\n"
                        "use_peft: true\nlora_r: 4\nlora_target_modules: all-linear\n",
                    "r");
  train::gkd(train::GkdOptions::from_recipe(recipe));
  EXPECT_TRUE(fs::exists(*dir_ / "lora/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(*dir_ / "lora/model.safetensors"));
  // disable_dropout (default true): the adapters train without dropout
  EXPECT_EQ(json::parse(test::read_bytes(*dir_ / "lora/adapter_config.json"))["lora_dropout"].get<double>(), 0.0);
  const auto lines = metrics("lora");
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    EXPECT_EQ(l["on_policy"], 1.0);
    EXPECT_GT(l["loss"].get<double>(), 0);
  }
}

TEST_F(GkdRun, CliTrainsSavesAndResumesExactly) {
  const std::string common =
      " --lmbda 0.5 --seq_kd true --max_new_tokens 6 --per_device_train_batch_size 2 --gradient_accumulation_steps 2"
      " --learning_rate 1e-3 --logging_steps 1 --save_steps 2 --eval_steps 2 --threads 1";
  auto whole = test::run_r1("distill " + args("teacher", "whole") + common + " --max_steps 4");
  ASSERT_EQ(whole.status, 0) << whole.output;
  EXPECT_NE(whole.output.find("gkd data: 6 examples"), std::string::npos) << whole.output;
  EXPECT_TRUE(fs::exists(*dir_ / "whole/checkpoint-2/manifest.json"));
  EXPECT_TRUE(fs::exists(*dir_ / "whole/model.safetensors"));
  EXPECT_TRUE(fs::exists(*dir_ / "whole/tokenizer.json"));
  const auto lines = metrics("whole");
  size_t train_lines = 0, eval_lines = 0;
  double on_policy = 0, teacher = 0;
  for (const auto& l : lines) {
    if (l.contains("eval_loss")) {
      ++eval_lines;
      EXPECT_GT(l["eval_loss"].get<double>(), 0);
      continue;
    }
    ++train_lines;
    for (const char* key : {"loss", "on_policy", "seq_kd", "completions/mean_length", "time/generation"})
      ASSERT_TRUE(l.contains(key)) << key << " in " << l.dump();
    EXPECT_GT(l["loss"].get<double>(), 0);
    // each micro-batch is on-policy or (seq_kd) the teacher's
    EXPECT_DOUBLE_EQ(l["on_policy"].get<double>() + l["seq_kd"].get<double>(), 1.0);
    on_policy += l["on_policy"].get<double>();
    teacher += l["seq_kd"].get<double>();
  }
  EXPECT_EQ(train_lines, 4u);
  EXPECT_EQ(eval_lines, 2u);
  EXPECT_GT(on_policy, 0);
  EXPECT_GT(teacher, 0);

  // resume from checkpoint-2 in another directory: the same steps 3 and 4, the same final weights
  fs::create_directories(*dir_ / "split");
  fs::copy(*dir_ / "whole/checkpoint-2", *dir_ / "split/checkpoint-2", fs::copy_options::recursive);
  auto resumed =
      test::run_r1("distill " + args("teacher", "split") + common + " --max_steps 4 --resume_from_checkpoint true");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
  EXPECT_EQ(test::read_bytes(*dir_ / "whole/model.safetensors"), test::read_bytes(*dir_ / "split/model.safetensors"));
  const auto again = metrics("split");
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.back()["step"], lines.back()["step"]);
  const auto last_train = [](const std::vector<json>& l) {
    for (auto it = l.rbegin(); it != l.rend(); ++it)
      if (it->contains("loss")) return *it;
    return json();
  };
  EXPECT_EQ(last_train(again)["loss"], last_train(lines)["loss"]);
  EXPECT_EQ(last_train(again)["on_policy"], last_train(lines)["on_policy"]);

  auto help = test::run_r1("distill --help");
  for (const char* key : {"teacher_model_name_or_path", "lmbda", "seq_kd", "max_new_tokens"})
    EXPECT_NE(help.output.find(key), std::string::npos) << key;
  auto dump = test::run_r1("distill " + args("teacher", "dump") + " --dump-config");
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("lmbda: 0.5"), std::string::npos) << dump.output;
  auto bad = test::run_r1("distill " + args("teacher", "bad") + " --beta 2");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("beta"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace r1
