// Evaluation statistics: unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on
// Code", eq. 1, in the numerically stable product form of its reference code), means with standard errors,
// percentile-bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13) and majority voting.
// Departures:
//  1. The bootstrap draws indices from SplitMix64 with Lemire's multiply-shift (not std::uniform_int_distribution,
//     whose output differs between standard libraries), so an interval is reproducible everywhere.
//  2. Percentiles of the bootstrap means use linear interpolation between order statistics (numpy's default).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/sampler.h"
#include "r1/error.h"
#include "r1/eval.h"

namespace r1::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 1 || k < 1 || k > n) fail_usage("pass@k needs 1 <= k <= n, got k = {}, n = {}", k, n);
  if (c < 0 || c > n) fail_usage("pass@k needs 0 <= c <= n, got c = {}, n = {}", c, n);
  if (n - c < k) return 1.0;
  double miss = 1.0;  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
  for (int64_t i = n - c + 1; i <= n; ++i) miss *= 1.0 - double(k) / double(i);
  return 1.0 - miss;
}

namespace {

double percentile(std::vector<double>& sorted, double q) {
  const double pos = q * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(sorted.size() - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

}  // namespace

Estimate estimate_mean(const std::vector<double>& values, const BootstrapOptions& bootstrap) {
  Estimate e;
  e.count = int64_t(values.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (values.empty()) {
    e.value = e.ci_low = e.ci_high = nan;
    return e;
  }
  const double n = double(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  e.value = sum / n;
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - e.value) * (v - e.value);
    e.std_error = std::sqrt(ss / (n - 1)) / std::sqrt(n);
  }
  if (bootstrap.resamples <= 0) {
    e.ci_low = e.ci_high = nan;
    return e;
  }
  if (!(bootstrap.confidence > 0 && bootstrap.confidence < 1))
    fail_usage("bootstrap confidence must be in (0, 1), got {}", bootstrap.confidence);
  engine::SplitMix64 rng{engine::mix_seed(bootstrap.seed, 0xb007)};
  std::vector<double> means(size_t(bootstrap.resamples));
  const uint64_t count = values.size();
  for (double& m : means) {
    double s = 0;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t pick = uint64_t((static_cast<unsigned __int128>(rng.next()) * count) >> 64);
      s += values[pick];
    }
    m = s / n;
  }
  std::sort(means.begin(), means.end());
  const double tail = (1 - bootstrap.confidence) / 2;
  e.ci_low = percentile(means, tail);
  e.ci_high = percentile(means, 1 - tail);
  return e;
}

MajorityVote majority_vote(const std::vector<std::string>& answers,
                           const std::function<bool(const std::string&, const std::string&)>& equivalent) {
  MajorityVote vote;
  vote.group_of.assign(answers.size(), -1);
  std::vector<int64_t> leaders, sizes;  // groups in order of their first member
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].empty()) continue;
    size_t g = 0;
    while (g < leaders.size() && !equivalent(answers[size_t(leaders[g])], answers[i])) ++g;
    if (g == leaders.size()) {
      leaders.push_back(int64_t(i));
      sizes.push_back(0);
    }
    ++sizes[g];
    vote.group_of[i] = leaders[g];
  }
  for (size_t g = 0; g < leaders.size(); ++g)
    if (sizes[g] > vote.votes) {  // strict: an equal later group does not displace an earlier one
      vote.votes = sizes[g];
      vote.winner = leaders[g];
    }
  return vote;
}

std::vector<Metric> generative_metrics(const std::vector<std::vector<SampleOutcome>>& outcomes,
                                       const std::vector<int64_t>& ks,
                                       const std::function<bool(const std::string&, const std::string&)>& equivalent,
                                       const BootstrapOptions& bootstrap) {
  if (outcomes.empty()) fail("no problems to score");
  const int64_t n = int64_t(outcomes[0].size());
  for (const auto& o : outcomes)
    if (int64_t(o.size()) != n) fail("every problem needs the same number of samples ({} vs {})", o.size(), n);
  for (int64_t k : ks)
    if (k < 1 || k > n) fail_usage("k = {} is outside 1..{} (the samples per problem)", k, n);
  std::vector<Metric> metrics;
  auto add = [&](const std::string& name, const std::function<double(const std::vector<SampleOutcome>&)>& per) {
    std::vector<double> values;
    values.reserve(outcomes.size());
    for (const auto& o : outcomes) values.push_back(per(o));
    metrics.push_back({name, estimate_mean(values, bootstrap)});
  };
  auto correct = [](const std::vector<SampleOutcome>& o) {
    return int64_t(std::count_if(o.begin(), o.end(), [](const SampleOutcome& s) { return s.correct; }));
  };
  add("pass@1", [&](const auto& o) { return double(correct(o)) / double(n); });
  for (int64_t k : ks)
    if (k > 1) add("pass@" + std::to_string(k), [&](const auto& o) { return pass_at_k(n, correct(o), k); });
  for (int64_t k : ks)
    if (k > 1)
      add("maj@" + std::to_string(k), [&](const auto& o) {
        std::vector<std::string> answers;
        for (int64_t i = 0; i < k; ++i) answers.push_back(o[size_t(i)].answer);
        const MajorityVote vote = majority_vote(answers, equivalent);
        return vote.winner >= 0 && o[size_t(vote.winner)].correct ? 1.0 : 0.0;
      });
  return metrics;
}

}  // namespace r1::eval
