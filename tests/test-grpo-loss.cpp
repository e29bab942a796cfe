// GRPO's loss variants (src/train/grpo-loss.h) and GDPO's advantages (src/train/grpo-advantages.h) against values
// computed here in float64 by hand: every loss_type x beta in {0, 0.04} x importance_sampling_level with
// epsilon_high != epsilon, and each aggregation; the gradients that carry the semantics (cispo's stop-gradient,
// GSPO's length-normalised sequence ratio, sapo's gate); delta, dual-clip, the top-entropy mask and its
// quantile; vespo's phi; the differentiable entropy of the chunked LM head (entropy_coef); normalize_then_sum with a
// reward that does not apply; option validation; and short GRPO runs with the new keys that log the new metrics.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "common/jsonl.h"
#include "model/lm-head-losses.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "rl-fixture.h"
#include "test-helpers.h"
#include "train/grpo-advantages.h"
#include "train/grpo-loss.h"

namespace fs = std::filesystem;
namespace rl = r1::train::rl;
using r1::train::GrpoOptions;

namespace {

using rl::LossType;

// Two sequences, three completion slots; the second sequence has two tokens.
struct Case {
  double logp[2][3] = {{-1.0, -2.0, -0.5}, {-0.3, -1.2, -0.7}};
  double old[2][3] = {{-1.5, -1.9, -0.2}, {-0.1, -1.6, 0.0}};
  double ref[2][3] = {{-1.1, -2.5, -0.4}, {-0.2, -1.0, 0.0}};
  double mask[2][3] = {{1, 1, 1}, {1, 1, 0}};
  double adv[2] = {0.7, -1.3};

  static at::Tensor t(const double (&v)[2][3]) {
    return torch::tensor(std::vector<double>{v[0][0], v[0][1], v[0][2], v[1][0], v[1][1], v[1][2]}, torch::kDouble)
        .view({2, 3});
  }
  at::Tensor advantages() const { return torch::tensor(std::vector<double>{adv[0], adv[1]}, torch::kDouble); }
  double tokens(int b) const { return mask[b][0] + mask[b][1] + mask[b][2]; }

  // The importance weight of token (b, i) at the config's level.
  double weight(const rl::LossConfig& c, int b, int i) const {
    if (c.level == rl::ImportanceSamplingLevel::kToken) return std::exp(logp[b][i] - old[b][i]);
    double s = 0;
    for (int j = 0; j < 3; ++j) s += mask[b][j] * (logp[b][j] - old[b][j]);
    return std::exp(s / tokens(b));
  }

  // vespo's phi(W) = exp(lambda + k log W - lambda W), W = exp(sum_t m (logp - old)) (no clamp reached here).
  double vespo_phi(const rl::LossConfig& c, int b) const {
    double log_w = 0;
    for (int j = 0; j < 3; ++j) log_w += mask[b][j] * (logp[b][j] - old[b][j]);
    const double k = adv[b] >= 0 ? c.vespo_k_pos : c.vespo_k_neg;
    const double lambda = adv[b] >= 0 ? c.vespo_lambda_pos : c.vespo_lambda_neg;
    return std::exp(lambda + k * log_w - lambda * std::exp(log_w));
  }

  // The per-token loss written out from TRL's formulas (grpo-loss.h), in double.
  double token(const rl::LossConfig& c, int b, int i, double entropy_mask = 1) const {
    const double w = weight(c, b, i), a = adv[b];
    double p = 0;
    if (c.type == LossType::kCispo) {
      p = -std::min(w, c.epsilon_high) * a * logp[b][i];
    } else if (c.type == LossType::kVespo) {
      p = -vespo_phi(c, b) * a * logp[b][i];
    } else if (c.type == LossType::kSapo) {
      const double tau = a > 0 ? c.sapo_temperature_pos : c.sapo_temperature_neg;
      p = -(1 / (1 + std::exp(-tau * (w - 1)))) * 4 / tau * a;
    } else {
      const double clipped = std::min(std::max(w, 1 - c.epsilon_low), 1 + c.epsilon_high);
      const double w1 = c.delta ? std::min(w, *c.delta) : w;
      p = -std::min(w1 * a, clipped * a);
      if (c.clip_ratio_c && a < 0) p = std::min(p, -a * *c.clip_ratio_c);
    }
    const double d = ref[b][i] - logp[b][i];
    return p * entropy_mask + c.beta * (std::exp(d) - d - 1);
  }

  // aggregate_loss's value for this type, from the hand per-token losses.
  double aggregate(const rl::LossConfig& c, int64_t max_completion_length) const {
    double seq[2] = {0, 0}, all = 0, n = 0;
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i) seq[b] += mask[b][i] * token(c, b, i), n += mask[b][i];
    all = seq[0] + seq[1];
    switch (c.type) {
      case LossType::kGrpo:
      case LossType::kSapo:
        return seq[0] / tokens(0) + seq[1] / tokens(1);
      case LossType::kBnpo:
        return all / n;
      case LossType::kDrGrpo:
        return all / double(max_completion_length);
      default:
        return all;  // dapo, cispo, luspo
    }
  }
};

rl::LossConfig config(LossType type, rl::ImportanceSamplingLevel level, double beta) {
  rl::LossConfig c;
  c.type = type;
  c.level = level;
  c.beta = beta;
  c.epsilon_low = 0.2;
  c.epsilon_high = type == LossType::kCispo ? 1.3 : 0.28;  // cispo's is an absolute cap (TRL recommends 5)
  return c;
}

double at_(const at::Tensor& t, int b, int i) { return t[b][i].item<double>(); }

}  // namespace

TEST(GrpoLossVariants, EveryLossTypeBetaAndLevelByHand) {
  const Case h;
  const at::Tensor logp = Case::t(h.logp), old = Case::t(h.old), ref = Case::t(h.ref), mask = Case::t(h.mask);
  for (LossType type : {LossType::kGrpo, LossType::kBnpo, LossType::kDrGrpo, LossType::kDapo, LossType::kCispo,
                        LossType::kSapo, LossType::kLuspo, LossType::kVespo})
    for (auto level : {rl::ImportanceSamplingLevel::kToken, rl::ImportanceSamplingLevel::kSequence})
      for (double beta : {0.0, 0.04}) {
        const rl::LossConfig c = config(type, level, beta);
        const std::string where = "type " + std::to_string(int(type)) + " level " + std::to_string(int(level)) +
                                  " beta " + std::to_string(beta);
        at::Tensor loss = rl::per_token_loss(c, logp, old, beta != 0 ? ref : at::Tensor(), h.advantages(), mask);
        ASSERT_EQ(loss.sizes(), logp.sizes()) << where;
        for (int b = 0; b < 2; ++b)
          for (int i = 0; i < 3; ++i)
            if (h.mask[b][i] > 0) {
              EXPECT_NEAR(at_(loss, b, i), h.token(c, b, i), 1e-12) << where << " " << b << i;
            }
        EXPECT_NEAR(rl::aggregate_loss(loss, mask, type, 8).item<double>(), h.aggregate(c, 8), 1e-12) << where;
      }
  // The sequence weight is the masked mean log-ratio: sequence 1's third slot does not count.
  at::Tensor lw = rl::log_importance_weights(logp, old, mask, rl::ImportanceSamplingLevel::kSequence);
  ASSERT_EQ(lw.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_NEAR(lw[1][0].item<double>(), (-0.2 + 0.4) / 2, 1e-12);
  // luspo at sequence level without KL: TRL's mean_i(|o_i| l_i) over the micro-batch of 2 = aggregate / 2.
  const rl::LossConfig lu = config(LossType::kLuspo, rl::ImportanceSamplingLevel::kSequence, 0);
  const double trl = (3 * h.token(lu, 0, 0) + 2 * h.token(lu, 1, 0)) / 2;
  EXPECT_NEAR(rl::aggregate_loss(rl::per_token_loss(lu, logp, old, {}, h.advantages(), mask), mask, LossType::kLuspo, 8)
                      .item<double>() /
                  2,
              trl, 1e-12);
}

TEST(GrpoLossVariants, NormalisersAndNames) {
  // A step of 4 micro-batches, 32 sequences, 500 completion tokens.
  EXPECT_EQ(rl::loss_normaliser(LossType::kCispo, 32, 4, 500), 500);
  EXPECT_EQ(rl::loss_normaliser(LossType::kSapo, 32, 4, 500), 32);
  EXPECT_EQ(rl::loss_normaliser(LossType::kLuspo, 32, 4, 500), 32);
  EXPECT_TRUE(rl::normalises_by_tokens(LossType::kCispo));
  EXPECT_TRUE(rl::normalises_by_tokens(LossType::kDapo));
  EXPECT_FALSE(rl::normalises_by_tokens(LossType::kSapo));
  EXPECT_EQ(rl::parse_loss_type("cispo"), LossType::kCispo);
  EXPECT_EQ(rl::parse_loss_type("sapo"), LossType::kSapo);
  EXPECT_EQ(rl::parse_loss_type("luspo"), LossType::kLuspo);
  EXPECT_EQ(rl::parse_loss_type("vespo"), LossType::kVespo);
  EXPECT_EQ(rl::loss_normaliser(LossType::kVespo, 32, 4, 500), 500);
  R1_EXPECT_THROW_WITH(rl::parse_loss_type("gspo"), r1::UsageError, "loss_type");
  EXPECT_EQ(rl::parse_importance_sampling_level("sequence"), rl::ImportanceSamplingLevel::kSequence);
  R1_EXPECT_THROW_WITH(rl::parse_importance_sampling_level("sequence_token"), r1::UsageError,
                       "importance_sampling_level");
  R1_EXPECT_THROW_WITH(rl::parse_multi_objective_aggregation("sum"), r1::UsageError, "multi_objective_aggregation");
}

TEST(GrpoLossVariants, GradientsCarryTheSemantics) {
  const Case h;
  const at::Tensor old = Case::t(h.old), mask = Case::t(h.mask);
  {  // cispo: d/dlogp = -sg(min(w, eps_high)) A m (dapo's token sum): the weight is not differentiated
    const rl::LossConfig c = config(LossType::kCispo, rl::ImportanceSamplingLevel::kToken, 0);
    at::Tensor logp = Case::t(h.logp).requires_grad_(true);
    rl::aggregate_loss(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), mask, c.type, 8).backward();
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i)
        EXPECT_NEAR(at_(logp.grad(), b, i), -std::min(h.weight(c, b, i), 1.3) * h.adv[b] * h.mask[b][i], 1e-12);
  }
  {  // vespo: d/dlogp = -sg(phi_i) A m; phi(1) = 1 (W = 1 at old = logp)
    const rl::LossConfig c = config(LossType::kVespo, rl::ImportanceSamplingLevel::kToken, 0);
    at::Tensor logp = Case::t(h.logp).requires_grad_(true);
    rl::aggregate_loss(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), mask, c.type, 8).backward();
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i)
        EXPECT_NEAR(at_(logp.grad(), b, i), -h.vespo_phi(c, b) * h.adv[b] * h.mask[b][i], 1e-12);
    EXPECT_NEAR(rl::vespo_weights(c, logp, logp.detach(), h.advantages(), mask)[1][0].item<double>(), 1.0, 1e-12);
  }
  {  // GSPO inside the clip range: l_i = -w_i A_i on every token; grpo's mean -> d/dlogp_t = -w_i A_i m_t / |o_i|
    rl::LossConfig c = config(LossType::kGrpo, rl::ImportanceSamplingLevel::kSequence, 0);
    at::Tensor logp = (old + 0.01 * Case::t(h.mask)).requires_grad_(true);
    rl::aggregate_loss(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), mask, c.type, 8).backward();
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i)
        EXPECT_NEAR(at_(logp.grad(), b, i), -std::exp(0.01) * h.adv[b] * h.mask[b][i] / h.tokens(b), 1e-12);
  }
  {  // sapo: d l / d logp = -A 4 s (1 - s) w, s = sigmoid(tau (w - 1)), per-sequence mean
    const rl::LossConfig c = config(LossType::kSapo, rl::ImportanceSamplingLevel::kToken, 0);
    at::Tensor logp = Case::t(h.logp).requires_grad_(true);
    rl::aggregate_loss(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), mask, c.type, 8).backward();
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i) {
        const double w = h.weight(c, b, i), tau = h.adv[b] > 0 ? 1.0 : 1.05;
        const double s = 1 / (1 + std::exp(-tau * (w - 1)));
        EXPECT_NEAR(at_(logp.grad(), b, i), -h.adv[b] * 4 * s * (1 - s) * w * h.mask[b][i] / h.tokens(b), 1e-12);
      }
  }
}

TEST(GrpoLossVariants, DeltaAndDualClipByHand) {
  const Case h;
  const at::Tensor logp = Case::t(h.logp), old = Case::t(h.old), mask = Case::t(h.mask);
  // Token (1, 1): w = e^0.4 = 1.492 with A = -1.3: the clipped loss is -min(-1.94, -1.66) = 1.939.
  rl::LossConfig c = config(LossType::kDapo, rl::ImportanceSamplingLevel::kToken, 0);
  EXPECT_NEAR(at_(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), 1, 1), 1.3 * std::exp(0.4), 1e-12);
  c.delta = 1.35;  // caps the unclipped term: -min(1.35 A, 1.28 A) = 1.35 * 1.3
  EXPECT_NEAR(at_(rl::per_token_loss(c, logp, old, {}, h.advantages(), mask), 1, 1), 1.35 * 1.3, 1e-12);
  c.delta.reset();
  c.clip_ratio_c = 1.4;  // dual-clip: min(1.939, -A c = 1.82)
  at::Tensor loss = rl::per_token_loss(c, logp, old, {}, h.advantages(), mask);
  EXPECT_NEAR(at_(loss, 1, 1), 1.4 * 1.3, 1e-12);
  EXPECT_NEAR(at_(loss, 0, 0), h.token(c, 0, 0), 1e-12);  // A > 0: untouched
  // The counts: (0, 0) w = e^0.5 > 1.28 with A > 0 is high-clipped; (1, 1) is dual-clipped.
  rl::ClipCounts n = rl::clip_counts(c, logp, old, h.advantages(), mask);
  EXPECT_EQ(n.high, 1);
  EXPECT_EQ(n.low, 0);
  EXPECT_EQ(n.dual_clip, 1);
  // cispo: w > 1.3 with A > 0: (0, 0) only.
  EXPECT_EQ(
      rl::clip_counts(config(LossType::kCispo, rl::ImportanceSamplingLevel::kToken, 0), logp, old, h.advantages(), mask)
          .cispo,
      1);
  // At sequence level every token of a sequence shares its weight: sequence 0's mean log-ratio 0.1 / 3 -> w 1.034.
  rl::LossConfig s = config(LossType::kGrpo, rl::ImportanceSamplingLevel::kSequence, 0);
  s.epsilon_high = 0.03;
  EXPECT_EQ(rl::clip_counts(s, logp, old, h.advantages(), mask).high, 3);
}

TEST(GrpoLossVariants, TopEntropyQuantileMask) {
  // Masked entropies sorted: 0.1 0.5 1.0 2.0 3.0; the padded slot (1, 2) holds 9 and never counts.
  at::Tensor entropy = torch::tensor(std::vector<double>{0.5, 2.0, 1.0, 3.0, 0.1, 9.0}, torch::kDouble).view({2, 3});
  const at::Tensor mask = Case::t(Case().mask);
  auto kept = [&](double rho) { return rl::high_entropy_mask(entropy, mask, rho); };
  // rho 0.4: the 0.6 quantile is 1.0 + 0.4 (2.0 - 1.0) = 1.4 (linear, as torch.quantile) -> 2.0 and 3.0.
  EXPECT_TRUE(at::equal(kept(0.4), torch::tensor(std::vector<double>{0, 1, 0, 1, 0, 0}, torch::kDouble).view({2, 3})));
  EXPECT_EQ(kept(1.0).sum().item<double>(), 5);  // every masked token
  EXPECT_TRUE(at::equal(kept(0.0), torch::tensor(std::vector<double>{0, 0, 0, 1, 0, 0}, torch::kDouble).view({2, 3})));
  EXPECT_EQ(rl::high_entropy_mask(entropy, at::zeros_like(mask), 0.5).sum().item<double>(), 0);
  // The mask multiplies the policy term only; the KL stays on every token.
  const Case h;
  const rl::LossConfig c = config(LossType::kGrpo, rl::ImportanceSamplingLevel::kToken, 0.04);
  at::Tensor loss =
      rl::per_token_loss(c, Case::t(h.logp), Case::t(h.old), Case::t(h.ref), h.advantages(), mask, kept(0.4));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(at_(loss, b, i), h.token(c, b, i, at_(kept(0.4), b, i)), 1e-12);
}

TEST(GrpoLossVariants, EntropyOfTheChunkedHeadIsDifferentiable) {
  r1::model::ModelConfig c;
  c.vocab_size = 600;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  torch::manual_seed(3);
  r1::model::Transformer m(c);
  m->init_weights();
  {
    torch::NoGradGuard no_grad;
    m->lm_head_weight().mul_(20.0);
  }
  at::Tensor hidden = torch::randn({40, c.hidden_size}).requires_grad_(true);
  at::Tensor targets = torch::randint(0, c.vocab_size, {40}, torch::kLong);
  at::Tensor wl = torch::randn({40}), we = torch::randn({40});  // d loss / d logp, d loss / d entropy
  for (double temperature : {1.0, 0.7}) {
    r1::model::TokenLogprobs t = r1::model::token_logprobs_with_entropy_grad(*m, hidden, targets, temperature);
    ASSERT_TRUE(t.entropy.requires_grad());
    ((t.logp * wl).sum() + (t.entropy * we).sum()).backward();
    at::Tensor h64 = hidden.detach().to(at::kDouble).requires_grad_(true);
    at::Tensor w64 = m->lm_head_weight().detach().to(at::kDouble);
    at::Tensor logp_all = at::log_softmax(at::matmul(h64, w64.t()) / temperature, -1);
    at::Tensor ent = -(logp_all.exp() * logp_all).sum(-1);
    ((logp_all.gather(1, targets.unsqueeze(1)).squeeze(1) * wl.to(at::kDouble)).sum() +
     (ent * we.to(at::kDouble)).sum())
        .backward();
    const double scale = h64.grad().abs().max().item<double>();
    EXPECT_LT((hidden.grad().to(at::kDouble) - h64.grad()).abs().max().item<double>(), 1e-4 * scale) << temperature;
    hidden.grad().zero_();
    m->zero_grad();
  }
}

TEST(GrpoAdvantages, NormalizeThenSumByHand) {
  // Groups of 3. Reward a applies everywhere; reward b (weight 0.5) not to completions 1 and 5; completion 5 has
  // no reward at all (b missing, a given as nullopt too) -> advantage 0 and out of the batch statistics.
  const std::vector<std::vector<std::optional<double>>> per_reward = {
      {1.0, 0.0, 1.0, 0.0, 2.0, std::nullopt},
      {0.5, std::nullopt, 1.0, 2.0, 1.0, std::nullopt},
  };
  const std::vector<double> totals = {1.25, 0.0, 1.5, 1.0, 2.5, 0.0};
  rl::Advantages a = rl::normalize_then_sum_advantages(per_reward, {1.0, 0.5}, 3, totals);
  // Group 0, reward a: mean 2/3, std sqrt(1/3); reward b over {0.5, 1.0}: mean 0.75, std sqrt(0.125).
  const double sa0 = std::sqrt(1.0 / 3) + 1e-4, sb0 = std::sqrt(0.125) + 1e-4;
  // Group 1, reward a over {0, 2}: mean 1, std sqrt(2); reward b over {2, 1}: mean 1.5, std sqrt(0.5).
  const double sa1 = std::sqrt(2.0) + 1e-4, sb1 = std::sqrt(0.5) + 1e-4;
  const std::vector<double> s = {
      (1 - 2.0 / 3) / sa0 + 0.5 * (0.5 - 0.75) / sb0, (0 - 2.0 / 3) / sa0,
      (1 - 2.0 / 3) / sa0 + 0.5 * (1.0 - 0.75) / sb0, (0 - 1.0) / sa1 + 0.5 * (2 - 1.5) / sb1,
      (2 - 1.0) / sa1 + 0.5 * (1 - 1.5) / sb1,
  };
  double mean = 0, ss = 0;
  for (double x : s) mean += x / 5;
  for (double x : s) ss += (x - mean) * (x - mean);
  const double std = std::sqrt(ss / 4);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(a.advantages[i], (s[i] - mean) / (std + 1e-4), 1e-12) << i;
  EXPECT_EQ(a.advantages[5], 0.0);
  // The logged statistics are the totals' (as the other estimators).
  EXPECT_NEAR(a.group_std[0], rl::group_advantages(totals, 3, rl::ScaleRewards::kGroup).group_std[0], 1e-15);
  // One reward: the same as group normalisation, then batch whitening.
  rl::Advantages one = rl::normalize_then_sum_advantages({{1.0, 0.0, 3.0, 1.0}}, {}, 2, {1.0, 0.0, 3.0, 1.0});
  const double g0 = 0.5 / (std::sqrt(0.5) + 1e-4), g1 = 1.0 / (std::sqrt(2.0) + 1e-4);
  const double sd = std::sqrt((2 * g0 * g0 + 2 * g1 * g1) / 3);
  EXPECT_NEAR(one.advantages[0], g0 / (sd + 1e-4), 1e-12);
  EXPECT_NEAR(one.advantages[3], -g1 / (sd + 1e-4), 1e-12);
  EXPECT_THROW(rl::normalize_then_sum_advantages({{1.0, 2.0}}, {1.0, 2.0}, 2, {1.0, 2.0}), r1::Error);
}

// ---- options and short runs on the tiny model -------------------------------------------------------------------

class GrpoLossRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    r1::test::write_tiny_rl_fixture(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  static GrpoOptions options(const std::string& out, const std::string& extra = "") {
    r1::Recipe recipe = r1::Recipe::parse(
        "model_name_or_path: " + (*dir_ / "model").string() + "\ndataset_name: " + (*dir_ / "prompts.jsonl").string() +
            "\noutput_dir: " + (*dir_ / out).string() +
            "\nchat_template: none\nnum_generations: 8\nper_device_train_batch_size: 16\n"
            "gradient_accumulation_steps: 2\nmax_completion_length: 16\nmax_prompt_length: 32\n"
            "learning_rate: 0.01\nlr_scheduler_type: constant\nlogging_steps: 1\nsave_steps: 1000\n"
            "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 12}}\n" +
            (extra.find("reward_funcs:") == std::string::npos ? "reward_funcs: [soft_overlong_punishment]\n" : "") +
            extra + (extra.find("beta:") == std::string::npos ? "beta: 0.0\n" : ""),
        "test");
    return GrpoOptions::from_recipe(recipe);
  }

  static std::vector<nlohmann::json> metrics(const std::string& out) {
    std::vector<nlohmann::json> rows;
    r1::JsonlReader reader(*dir_ / out / "metrics.jsonl");
    nlohmann::json row;
    while (reader.next(row)) rows.push_back(row);
    return rows;
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* GrpoLossRun::dir_ = nullptr;

TEST_F(GrpoLossRun, OptionsAreValidatedByName) {
  R1_EXPECT_THROW_WITH(options("x", "loss_type: gspo\n"), r1::UsageError, "loss_type");
  R1_EXPECT_THROW_WITH(options("x", "loss_type: vespo\nvespo_k_pos: .nan\n"), r1::UsageError, "vespo_k_pos");
  R1_EXPECT_THROW_WITH(options("x", "importance_sampling_level: tokens\n"), r1::UsageError,
                       "importance_sampling_level");
  R1_EXPECT_THROW_WITH(options("x", "delta: 0.9\n"), r1::UsageError, "delta");
  R1_EXPECT_THROW_WITH(options("x", "clip_ratio_c: 1.0\n"), r1::UsageError, "clip_ratio_c");
  R1_EXPECT_THROW_WITH(options("x", "loss_type: cispo\nclip_ratio_c: 3\n"), r1::UsageError, "clip_ratio_c");
  R1_EXPECT_THROW_WITH(options("x", "sapo_temperature_neg: 0\n"), r1::UsageError, "sapo_temperature_neg");
  R1_EXPECT_THROW_WITH(options("x", "top_entropy_quantile: 1.5\n"), r1::UsageError, "top_entropy_quantile");
  R1_EXPECT_THROW_WITH(options("x", "multi_objective_aggregation: mean\n"), r1::UsageError,
                       "multi_objective_aggregation");
  R1_EXPECT_THROW_WITH(options("x", "multi_objective_aggregation: normalize_then_sum\nadvantage_estimator: rloo\n"),
                       r1::UsageError, "normalize_then_sum");
  GrpoOptions o = options("x", "loss_type: sapo\nimportance_sampling_level: sequence\nsapo_temperature_neg: 2\n");
  EXPECT_EQ(o.to_json()["importance_sampling_level"], "sequence");
  EXPECT_EQ(o.to_json()["sapo_temperature_neg"], 2.0);
  EXPECT_EQ(options("x", "delta: 4\n").to_json()["delta"], 4.0);
  bool documented = false;
  for (const auto& [key, help] : GrpoOptions::help())
    if (key == "clip_ratio_c") documented = help.find("verl") != std::string::npos;
  EXPECT_TRUE(documented);
}

TEST_F(GrpoLossRun, CispoAtSequenceLevelWithTheEntropyTermsRunsAndLogs) {
  r1::train::grpo(options("cispo",
                          "max_steps: 2\nnum_iterations: 2\nloss_type: cispo\nepsilon_high: 5.0\n"
                          "importance_sampling_level: sequence\ntop_entropy_quantile: 0.5\nentropy_coef: 0.01\n"));
  auto rows = metrics("cispo");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r["loss"].get<double>()));
    ASSERT_TRUE(r.contains("cispo_clip_ratio") && r.contains("entropy_mask_fraction"));
    EXPECT_FALSE(r.contains("clip_ratio/region_mean"));  // TRL logs no clip ratios for cispo
    const double kept = r["entropy_mask_fraction"].get<double>();
    EXPECT_GT(kept, 0.3);
    EXPECT_LT(kept, 0.7);
  }
}

TEST_F(GrpoLossRun, DualClipDeltaAndNormalizeThenSumRunAndLog) {
  r1::train::grpo(options("gdpo",
                          "max_steps: 2\nnum_iterations: 2\nloss_type: luspo\nimportance_sampling_level: sequence\n"
                          "delta: 2\nclip_ratio_c: 3\nmulti_objective_aggregation: normalize_then_sum\n"
                          "reward_funcs: [soft_overlong_punishment, tag_count]\n"));
  auto rows = metrics("gdpo");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r["loss"].get<double>()));
    EXPECT_TRUE(r.contains("pg_clipfrac_lower") && r.contains("clip_ratio/region_mean"));
  }
}

TEST_F(GrpoLossRun, SapoAndVespoRunAndLog) {
  r1::train::grpo(options("sapo", "max_steps: 2\nnum_iterations: 2\nloss_type: sapo\nbeta: 0.04\n"));
  r1::train::grpo(options("vespo", "max_steps: 2\nnum_iterations: 2\nloss_type: vespo\n"));
  for (const char* run : {"sapo", "vespo"}) {
    auto rows = metrics(run);
    ASSERT_EQ(rows.size(), 2u) << run;
    for (const auto& r : rows) {
      EXPECT_TRUE(std::isfinite(r["loss"].get<double>())) << run;
      EXPECT_FALSE(r.contains("clip_ratio/region_mean")) << run;
    }
  }
  // The first step is on policy (W = 1 up to the logged logprob_max_abs_diff): phi(1) = 1.
  EXPECT_NEAR(metrics("vespo")[0]["vespo/phi_seq_mean"].get<double>(), 1.0, 1e-3);  // exact in fp32 on AVX-512
}
