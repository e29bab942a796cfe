// Equivalence of a gold tree and an answer tree, following Math-Verify's grader: numbers exactly (rationals)
// or, when either side has a decimal point, rounded to float_rounding places; expressions by a numeric screen at
// fixed pseudo-random points (lock-free; any mismatch is "wrong") and then GiNaC's exact simplification of the
// difference; sets order-free, tuples and matrices element-wise, intervals with their open/closed ends, unions
// piece by piece, equations as L-R = ±(L'-R'), inequalities by direction and difference. A gold inequality in
// one variable also matches the equivalent interval, never the reverse; a gold "x = 3" matches "3" and a gold
// number matches "x = 3" (the last right-hand side); a gold percentage 28% matches 28 and 0.28.
// Departures from Math-Verify:
//   1. Equations equal only up to sign (x+y=3 vs 2x+2y=6 is wrong); Math-Verify also only allows sign changes.
//   2. A tuple (a, b) equals the open interval (a, b) both ways (Math-Verify guesses which one it parsed).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "verify/expr.h"

namespace r1::verify {

namespace {

constexpr int kPoints = 5;
// Fixed pseudo-random points (no shared RNG state: the same verdicts on every thread and run).
constexpr long double kPointValues[] = {0.5377, 1.8339, 2.2588, 0.8622, 0.3188, 1.3077, 0.4336, 2.3426,
                                        0.7254, 1.0631, 1.7147, 0.2050, 1.1241, 1.4897, 1.4090, 1.4172};

bool is_scalar(const Node& n) {
  switch (n.kind) {
    case Kind::kTuple:
    case Kind::kSet:
    case Kind::kInterval:
    case Kind::kUnion:
    case Kind::kMatrix:
    case Kind::kRelation:
    case Kind::kPlusMinus:
      return false;
    default:
      return true;
  }
}

// +1 / -1 for (signed) infinity, 0 otherwise.
int infinity_sign(const Node& n) {
  if (n.kind == Kind::kConstant && n.text == "inf") return 1;
  if (n.kind == Kind::kNeg) return -infinity_sign(n.args[0]);
  if (n.kind == Kind::kAdd && n.args.size() == 1) return infinity_sign(n.args[0]);
  return 0;
}

bool contains_infinity(const Node& n) {
  if (n.kind == Kind::kConstant && n.text == "inf") return true;
  for (const Node& a : n.args)
    if (contains_infinity(a)) return true;
  return false;
}

Node negated(const Node& n) { return make_node(Kind::kNeg, {n}); }
Node difference(const Node& a, const Node& b) { return make_node(Kind::kAdd, {a, negated(b)}); }

class Comparer {
 public:
  Comparer(const CompareOptions& options, const Deadline& deadline, std::string& detail)
      : options_(options), deadline_(deadline), detail_(detail) {}

  bool equal(const Node& gold, const Node& answer) {
    deadline_.check();
    if (gold.kind == Kind::kRelation) return gold_relation(gold, answer);
    if (answer.kind == Kind::kRelation) {
      bool all_equalities = true;
      for (const std::string& op : answer.ops) all_equalities = all_equalities && op == "=";
      if (all_equalities) return equal(gold, answer.args.back());  // "x = 3" answers 3
      detail_ = "an inequality does not answer a non-inequality";
      return false;
    }
    switch (gold.kind) {
      case Kind::kSet:
        if (answer.kind == Kind::kSet) return same_elements(gold.args, answer.args);
        if (gold.args.size() == 1) return equal(gold.args[0], answer);
        return false;
      case Kind::kTuple:
        if (answer.kind == Kind::kTuple) return pairwise(gold.args, answer.args);
        if (answer.kind == Kind::kInterval && gold.args.size() == 2 && !answer.left_closed && !answer.right_closed)
          return pairwise(gold.args, answer.args);
        return false;
      case Kind::kInterval:
        if (answer.kind == Kind::kInterval)
          return gold.left_closed == answer.left_closed && gold.right_closed == answer.right_closed &&
                 pairwise(gold.args, answer.args);
        if (answer.kind == Kind::kTuple && answer.args.size() == 2 && !gold.left_closed && !gold.right_closed)
          return pairwise(gold.args, answer.args);
        return false;
      case Kind::kUnion:
        return answer.kind == Kind::kUnion && same_elements(gold.args, answer.args);
      case Kind::kMatrix:
        return answer.kind == Kind::kMatrix && gold.args.size() == answer.args.size() &&
               pairwise(gold.args, answer.args);
      default:
        break;
    }
    if (answer.kind == Kind::kSet && answer.args.size() == 1) return equal(gold, answer.args[0]);
    if (!is_scalar(answer)) return false;
    if (gold.kind == Kind::kPercent && scalar(gold.args[0], answer)) return true;  // 28% is answered by 28
    return scalar(gold, answer);
  }

 private:
  bool pairwise(const std::vector<Node>& a, const std::vector<Node>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!equal(a[i], b[i])) return false;
    return true;
  }

  // Order-free: every gold element matches a distinct answer element and no answer element is left over.
  bool same_elements(const std::vector<Node>& gold, const std::vector<Node>& answer) {
    std::vector<bool> used(answer.size(), false);
    size_t matched = 0;
    for (const Node& g : gold) {
      bool found = false;
      for (size_t j = 0; j < answer.size() && !found; ++j)
        if (!used[j] && equal(g, answer[j])) used[j] = found = true;
      if (!found) {
        bool duplicate = false;  // {1, 1, 2} is {1, 2}
        for (size_t j = 0; j < answer.size() && !duplicate; ++j) duplicate = used[j] && equal(g, answer[j]);
        if (!duplicate) return false;
      } else {
        ++matched;
      }
    }
    for (size_t j = 0; j < answer.size(); ++j) {
      if (used[j]) continue;
      bool duplicate = false;
      for (const Node& g : gold) duplicate = duplicate || equal(g, answer[j]);
      if (!duplicate) return false;
    }
    return matched > 0 || (gold.empty() && answer.empty());
  }

  bool gold_relation(const Node& gold, const Node& answer) {
    if (answer.kind == Kind::kRelation) return relations(gold, answer);
    if (gold.ops.size() == 1 && gold.ops[0] == "=" && gold.args[0].kind == Kind::kSymbol)
      return equal(gold.args[1], answer);                                     // gold "x = 3" is answered by 3
    bool open_pair = answer.kind == Kind::kTuple && answer.args.size() == 2;  // (2, \infty) reads as a tuple
    if (answer.kind == Kind::kInterval || answer.kind == Kind::kUnion || open_pair) {
      auto interval = as_interval(gold);
      if (interval) return equal(*interval, answer);
    }
    detail_ = "the gold answer is a relation, the answer is not";
    return false;
  }

  // "a < x <= b", "x > 2", "2 < x": the interval of the one variable x, when the other operands are numbers.
  std::optional<Node> as_interval(const Node& rel) {
    int var = -1;
    for (size_t i = 0; i < rel.args.size(); ++i) {
      if (rel.args[i].kind == Kind::kSymbol) {
        if (var >= 0) return std::nullopt;
        var = int(i);
      } else if (has_symbols(rel.args[i])) {
        return std::nullopt;
      }
    }
    if (var < 0) return std::nullopt;
    Node lo = negated(make_node(Kind::kConstant, {}, "inf")), hi = make_node(Kind::kConstant, {}, "inf");
    bool lo_closed = false, hi_closed = false;
    for (size_t k = 0; k < rel.ops.size(); ++k) {
      const std::string& op = rel.ops[k];
      if (op == "=" || op == "!=") return std::nullopt;
      bool less = op[0] == '<', closed = op.size() == 2;
      if (int(k) + 1 == var) {  // bound op x
        (less ? lo : hi) = rel.args[k];
        (less ? lo_closed : hi_closed) = closed;
      } else if (int(k) == var) {  // x op bound
        (less ? hi : lo) = rel.args[k + 1];
        (less ? hi_closed : lo_closed) = closed;
      } else {
        return std::nullopt;
      }
    }
    Node interval = make_node(Kind::kInterval, {lo, hi});
    interval.left_closed = lo_closed;
    interval.right_closed = hi_closed;
    return interval;
  }

  bool relations(const Node& gold, const Node& answer) {
    if (gold.ops.size() != answer.ops.size()) {
      auto a = as_interval(gold), b = as_interval(answer);
      return a && b && equal(*a, *b);
    }
    if (gold.ops.size() == 1 && gold.ops[0] == "=" && answer.ops[0] == "=") {
      Node dg = difference(gold.args[0], gold.args[1]), da = difference(answer.args[0], answer.args[1]);
      return scalar(dg, da) || scalar(dg, negated(da));
    }
    if (gold.ops.size() == 1 && gold.ops[0] == "!=" && answer.ops[0] == "!=") {
      Node dg = difference(gold.args[0], gold.args[1]), da = difference(answer.args[0], answer.args[1]);
      return scalar(dg, da) || scalar(dg, negated(da));
    }
    bool gold_eq = gold.ops[0] == "=" || gold.ops[0] == "!=", answer_eq = answer.ops[0] == "=" || answer.ops[0] == "!=";
    if (gold.ops.size() == 1 && (gold_eq || answer_eq)) return false;
    if (gold.ops.size() == 1) {  // one inequality: same strictness, same "greater minus smaller"
      auto oriented = [](const Node& r) {
        bool less = r.ops[0][0] == '<';
        return std::make_pair(difference(less ? r.args[1] : r.args[0], less ? r.args[0] : r.args[1]),
                              r.ops[0].size() == 1);
      };
      auto [dg, strict_g] = oriented(gold);
      auto [da, strict_a] = oriented(answer);
      if (strict_g != strict_a) return false;
      return scalar(dg, da);
    }
    auto a = as_interval(gold), b = as_interval(answer);
    if (a && b) return equal(*a, *b);
    if (gold.ops != answer.ops) return false;
    return pairwise(gold.args, answer.args);
  }

  bool close(Complex a, Complex b, bool floats) const {
    long double scale = std::max<long double>({1.0L, std::abs(a), std::abs(b)});
    long double tol = floats ? std::pow(10.0L, -options_.float_rounding) * scale : options_.numeric_rel_tol * scale;
    return std::abs(a - b) <= tol;
  }

  // Math-Verify's float rule: both rounded to float_rounding decimal places must be equal.
  bool rounded_equal(long double a, long double b) const {
    long double scale = std::pow(10.0L, options_.float_rounding);
    if (std::abs(a) * scale < 1e17L && std::abs(b) * scale < 1e17L)
      return std::nearbyint(a * scale) == std::nearbyint(b * scale);
    return std::abs(a - b) <= 1e-15L * std::max(std::abs(a), std::abs(b));
  }

  bool scalar(const Node& gold, const Node& answer) {
    deadline_.check();
    int gi = infinity_sign(gold), ai = infinity_sign(answer);
    if (gi != 0 || ai != 0) return gi == ai;
    if (contains_infinity(gold) || contains_infinity(answer)) return false;
    bool floats = has_float(gold) || has_float(answer);
    if (!floats) {
      auto eg = evaluate_exact(gold);
      if (eg) {
        auto ea = evaluate_exact(answer);
        if (ea) {
          detail_ = "exact rational comparison";
          return eg->num == ea->num && eg->den == ea->den;
        }
      }
    }
    std::vector<std::string> names;
    collect_symbols(gold, names);
    collect_symbols(answer, names);
    if (floats && names.empty()) {
      Complex g = evaluate(gold, {}), a = evaluate(answer, {});
      if (!std::isfinite(std::abs(g)) || !std::isfinite(std::abs(a))) return false;
      detail_ = fmt::format("rounded to {} decimal places", options_.float_rounding);
      return rounded_equal(g.real(), a.real()) && rounded_equal(g.imag(), a.imag());
    }
    int valid = 0;
    for (int p = 0; p < kPoints; ++p) {
      Binding binding{names, {}};
      for (size_t k = 0; k < names.size(); ++k)
        binding.values.push_back(kPointValues[(p * 7 + k * 3) % 16] * (p == 4 ? -1 : 1));
      Complex g = evaluate(gold, binding), a = evaluate(answer, binding);
      bool g_finite = std::isfinite(g.real()) && std::isfinite(g.imag()),
           a_finite = std::isfinite(a.real()) && std::isfinite(a.imag());
      bool g_nan = std::isnan(g.real()) || std::isnan(g.imag()), a_nan = std::isnan(a.real()) || std::isnan(a.imag());
      if (g_finite != a_finite && !g_nan && !a_nan) {  // one overflows (10^(10^10)), the other is a number
        detail_ = "different values (one side overflows)";
        return false;
      }
      if (!g_finite || !a_finite) continue;
      ++valid;
      if (!close(g, a, floats)) {
        detail_ = names.empty() ? "different values" : "different values at a sample point";
        return false;
      }
    }
    if (floats) return valid > 0;
    std::optional<bool> exact = cas_difference_is_zero(gold, answer, false, deadline_);
    if (exact) {
      detail_ = *exact ? "GiNaC: the difference is 0 (exactly, or to 60 digits for a closed form)"
                       : "GiNaC: the difference is not 0";
      return *exact;
    }
    detail_ = valid > 0 ? "numerically equal at every sample point" : "could not be evaluated";
    return valid > 0;
  }

  const CompareOptions& options_;
  const Deadline& deadline_;
  std::string& detail_;
};

}  // namespace

bool equivalent(const Node& gold, const Node& answer, const CompareOptions& options, const Deadline& deadline,
                std::string& detail) {
  Comparer comparer(options, deadline, detail);
  return comparer.equal(gold, answer);
}

}  // namespace r1::verify
