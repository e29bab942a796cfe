// Equivalence of a gold tree and an answer tree, following Math-Verify's grader (sympy_expr_eq) step by step:
//   1. assignments: a gold "x = 3" (left side only symbols) is answered by 3; an answer equation by its last
//      right-hand side when the gold is no equation; chains a = b = c are read as a = c;
//   2. a gold relation against an answer set or interval is compared as the set it describes (x > 2 and
//      (2, oo); 2x = 6 and {3}); with allow_set_relation_comp also the other way;
//   3. identical trees are equal (and, as sympy 1.11's Float.__eq__, a gold 0.0 equals the empty set);
//   4. relations: the same kind with equal L - R, the mirrored kind with L - R = R' - L', and equations in two
//      or more unknowns whose L - R differ by a constant factor (4x + 6y = 12 and 2x + 3y = 6; sympy's solve());
//   5. sets, tuples and intervals: a set is compared order-free, a tuple in order (an answer set given for a
//      gold tuple in the order written), intervals by their ends, an open interval (a, b) also as the pair;
//      a single value is the set of it;
//   6. symbols: by name (case-free unless one letter), a text symbol also against letters written side by
//      side ("Yes" reads as y*e*s);
//   7. numbers: when either side is a float (or a percentage of one), both rounded to float_rounding places;
//      when either is an exact number, exact equality (a float side evaluated in doubles: 13/5 = 13/5.0 but
//      9/7 != 9/7.0); otherwise the difference evaluated to numeric_precision digits, then exact
//      simplification (GiNaC), with a numeric screen at fixed pseudo-random points first.
// Matrices compare element by element; ± was expanded to a set by the parser.
// Departures from Math-Verify:
//   1. Equations in several unknowns compare by a constant factor between their L - R, where Math-Verify compares
//      sympy's solve() results: equations with the same solutions but no such factor differ here.
//   2. A relation's set is an interval of its one unknown, or an equation's real roots up to degree two; sympy's
//      as_set also handles more unknowns, higher degrees and unions of conditions.
//   3. Floats inside roots and functions: sympy's evalf cancels sqrt(3.0) - sqrt(3) but not sqrt(3) - sqrt(3.0)
//      (inexact sums in mpmath); here a gold exact root is never answered by a float's root, and a gold float
//      root is compared exactly (GiNaC reads 3.0 as 3).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "verify/expr.h"

namespace r1::verify {

namespace {

constexpr int kPoints = 5;
// Fixed pseudo-random points (no shared RNG state: the same verdicts on every thread and run).
constexpr long double kPointValues[] = {0.5377, 1.8339, 2.2588, 0.8622, 0.3188, 1.3077, 0.4336, 2.3426,
                                        0.7254, 1.0631, 1.7147, 0.2050, 1.1241, 1.4897, 1.4090, 1.4172};

bool is_set(const Node& n) { return n.kind == Kind::kSet || n.kind == Kind::kInterval || n.kind == Kind::kUnion; }
bool is_set_or_tuple(const Node& n) { return is_set(n) || n.kind == Kind::kTuple; }

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

bool same_tree(const Node& a, const Node& b) {
  if (a.kind != b.kind || a.text != b.text || a.ops != b.ops || a.is_float != b.is_float ||
      a.left_closed != b.left_closed || a.right_closed != b.right_closed || a.args.size() != b.args.size())
    return false;
  for (size_t i = 0; i < a.args.size(); ++i)
    if (!same_tree(a.args[i], b.args[i])) return false;
  return true;
}

// sympy Numbers: literals, their negations, and the rationals latex2sympy evaluates (\frac{1}{2}, 2\frac{1}{2}).
bool is_number(const Node& n) {
  if (n.kind == Kind::kNumber) return true;
  if (n.kind == Kind::kNeg) return is_number(n.args[0]);
  return (n.kind == Kind::kDiv || n.kind == Kind::kAdd) && n.rational_atom;
}
bool is_float_number(const Node& n) {
  if (n.kind == Kind::kNumber) return n.is_float;
  return n.kind == Kind::kNeg && is_float_number(n.args[0]);
}
// Math-Verify's is_atomic_or_pct_atomic: a number, or a percentage of one.
bool number_or_percent(const Node& n) { return is_number(n) || (n.kind == Kind::kPercent && is_number(n.args[0])); }
bool float_or_percent(const Node& n) {
  return is_float_number(n) || (n.kind == Kind::kPercent && is_float_number(n.args[0]));
}

// A float under a function, a root or a non-integer power: sympy evaluates it to a 53-bit float (sqrt(3.0) is
// 1.7320508075688772), which never cancels the exact irrational (sqrt(3)).
bool non_integer_power(const Node& n) {
  return n.kind == Kind::kPow && !(n.args[1].kind == Kind::kNumber && !n.args[1].is_float);
}
bool float_irrational(const Node& n) {
  if ((n.kind == Kind::kFunction || non_integer_power(n)) && has_float(n)) return true;
  return std::any_of(n.args.begin(), n.args.end(), [](const Node& a) { return float_irrational(a); });
}
bool exact_irrational(const Node& n) {
  if (n.kind == Kind::kConstant && (n.text == "pi" || n.text == "e")) return true;
  if ((n.kind == Kind::kFunction || non_integer_power(n)) && !has_float(n)) return true;
  return std::any_of(n.args.begin(), n.args.end(), [](const Node& a) { return exact_irrational(a); });
}

bool is_equation(const Node& n) {
  return n.kind == Kind::kRelation &&
         std::all_of(n.ops.begin(), n.ops.end(), [](const std::string& op) { return op == "="; });
}
bool is_assignment(const Node& n) { return is_equation(n) && only_symbols(n.args[0]); }

// The right-hand side of a relation chain's last relation.
Node last_rhs(const Node& rel) { return rel.args.back(); }

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A symbol's name without the complex mark (sympy compares symbols by name there).
std::string name_of(const Node& n) {
  std::string s = n.text;
  if (s.size() >= kComplexMark.size() &&
      s.compare(s.size() - kComplexMark.size(), kComplexMark.size(), kComplexMark) == 0)
    s.resize(s.size() - kComplexMark.size());
  return s;
}

class Comparer {
 public:
  Comparer(const CompareOptions& options, const Deadline& deadline, std::string& detail)
      : options_(options), deadline_(deadline), detail_(detail) {}

  // sympy_expr_eq
  bool equal(const Node& gold_in, const Node& answer_in) {
    deadline_.check();
    Node gold = gold_in, answer = answer_in;
    const bool gold_assignment = is_assignment(gold), answer_assignment = is_assignment(answer);
    const bool gold_equation = is_equation(gold), answer_equation = is_equation(answer);
    if (gold_assignment && gold.args.size() > 2) gold = chain_ends(gold);
    if (answer_assignment && answer.args.size() > 2) answer = chain_ends(answer);
    if (answer_equation && !gold_equation) {
      answer = last_rhs(answer);
    } else if (gold_assignment && !answer_equation) {
      gold = last_rhs(gold);
    }
    if (gold.kind == Kind::kRelation && is_set(answer))
      if (auto set = as_set(gold)) gold = *set;
    if (options_.allow_set_relation_comp && answer.kind == Kind::kRelation && is_set(gold))
      if (auto set = as_set(answer)) answer = *set;
    if (same_tree(gold, answer) || float_zero_and_empty_set(gold, answer)) {
      detail_ = "identical";
      return true;
    }
    if (gold.kind == Kind::kRelation && answer.kind == Kind::kRelation) return relations(gold, answer);
    if (gold.kind == Kind::kRelation || answer.kind == Kind::kRelation) {
      detail_ = "a relation against a non-relation";
      return false;
    }
    if (is_set_or_tuple(gold) || is_set_or_tuple(answer)) return sets(gold, answer);
    if (gold.kind == Kind::kSymbol || answer.kind == Kind::kSymbol) return symbols(gold, answer);
    if (gold.kind == Kind::kMatrix || answer.kind == Kind::kMatrix) {
      if (gold.kind != answer.kind || gold.args.size() != answer.args.size()) {
        detail_ = "matrices of different shapes";
        return false;
      }
      for (size_t r = 0; r < gold.args.size(); ++r) {
        if (gold.args[r].args.size() != answer.args[r].args.size()) return false;
        for (size_t c = 0; c < gold.args[r].args.size(); ++c)
          if (!scalar(gold.args[r].args[c], answer.args[r].args[c])) return false;
      }
      detail_ = "equal element by element";
      return true;
    }
    return scalar(gold, answer);
  }

 private:
  // sympy 1.11's Float.__eq__ (gold == answer): a zero float equals anything falsy, the empty set included (a gold
  // 0.0 is answered by \emptyset; not the other way round).
  static bool float_zero_and_empty_set(const Node& a, const Node& b) {
    return b.kind == Kind::kSet && b.args.empty() && is_float_number(a) &&
           std::strtod((a.kind == Kind::kNeg ? a.args[0] : a).text.c_str(), nullptr) == 0.0;
  }

  static Node chain_ends(const Node& rel) {
    Node eq = make_node(Kind::kRelation, {rel.args.front(), rel.args.back()});
    eq.ops = {"="};
    return eq;
  }

  // sympy_compare_relational
  bool relations(const Node& gold, const Node& answer) {
    if (gold.ops.size() > 1 || answer.ops.size() > 1) {  // And of relations: pairwise, in order
      if (gold.ops.size() != answer.ops.size()) {
        detail_ = "relation chains of different lengths";
        return false;
      }
      for (size_t k = 0; k < gold.ops.size(); ++k)
        if (!relations(single(gold, k), single(answer, k))) return false;
      return true;
    }
    const std::string &g = gold.ops[0], &a = answer.ops[0];
    Node dg = difference(gold.args[0], gold.args[1]), da = difference(answer.args[0], answer.args[1]);
    if (g == a && equal(dg, da)) return true;
    const std::string mirrored = g == "<" ? ">" : g == ">" ? "<" : g == "<=" ? ">=" : g == ">=" ? "<=" : g;
    if (g == "!=") {
      detail_ = "inequations differ";
      return false;
    }
    if (mirrored == a && equal(dg, difference(answer.args[1], answer.args[0]))) return true;
    if (g == "=" && a == "=" && proportional(dg, da)) {
      detail_ = "equations equal up to a constant factor";
      return true;
    }
    detail_ = "different relations";
    return false;
  }

  static Node single(const Node& rel, size_t k) {
    Node r = make_node(Kind::kRelation, {rel.args[k], rel.args[k + 1]});
    r.ops = {rel.ops[k]};
    return r;
  }

  // Whether a = c * b for a constant c != 0 (the same free symbols, checked at the sample points).
  bool proportional(const Node& a, const Node& b) {
    std::vector<std::string> na, nb;
    collect_symbols(a, na);
    collect_symbols(b, nb);
    std::sort(na.begin(), na.end());
    std::sort(nb.begin(), nb.end());
    // sympy's solve() answers one unknown with a list of values (which Math-Verify's comparison cannot read) and
    // several with the solved forms: only equations in two or more unknowns compare by their solutions.
    if (na.size() < 2 || na != nb) return false;
    std::optional<Complex> ratio;
    int valid = 0;
    for (int p = 0; p < kPoints; ++p) {
      Binding binding = point(na, p);
      Complex va = evaluate(a, binding), vb = evaluate(b, binding);
      if (!finite(va) || !finite(vb)) continue;
      if (std::abs(vb) < 1e-12L) {
        if (std::abs(va) > 1e-9L) return false;
        continue;
      }
      Complex r = va / vb;
      if (!ratio) {
        if (std::abs(r) < 1e-12L) return false;
        ratio = r;
      } else if (std::abs(r - *ratio) > 1e-9L * std::max<long double>(1, std::abs(*ratio))) {
        return false;
      }
      ++valid;
    }
    return valid >= 2;
  }

  // sympy's as_set of a relation in one unknown: an interval for inequalities (as_interval), the real roots for
  // an equation of degree one or two with rational coefficients (x - 3 = 0 and 2x = 6 are {3}, x^2 = 4 is
  // {-2, 2}); nullopt otherwise.
  std::optional<Node> as_set(const Node& rel) {
    if (auto interval = as_interval(rel)) return interval;
    if (rel.ops.size() != 1 || rel.ops[0] != "=") return std::nullopt;
    std::vector<std::string> names;
    collect_symbols(rel, names);
    if (names.size() != 1) return std::nullopt;
    const Node f = difference(rel.args[0], rel.args[1]);
    long double v[4];
    for (int x = 0; x < 4; ++x) {
      Complex c = evaluate(f, Binding{names, {Complex(x, 0)}});
      if (!finite(c) || std::abs(c.imag()) > 1e-12L) return std::nullopt;
      v[x] = c.real();
    }
    // Finite differences: a polynomial of degree at most two has a constant second difference.
    const long double d2 = v[2] - 2 * v[1] + v[0], d2b = v[3] - 2 * v[2] + v[1];
    if (std::abs(d2 - d2b) > 1e-9L * std::max<long double>(1, std::abs(d2))) return std::nullopt;
    auto a = rational(d2 / 2), b = rational(v[1] - v[0] - d2 / 2), c = rational(v[0]);
    if (!a || !b || !c) return std::nullopt;
    // Check the fit at a fifth point, where a higher degree would show.
    const Complex at5 = evaluate(f, Binding{names, {Complex(5, 0)}});
    const long double fit5 = 25 * to_double(*a) + 5 * to_double(*b) + to_double(*c);
    if (!finite(at5) || std::abs(at5.real() - fit5) > 1e-9L * std::max<long double>(1, std::abs(fit5)))
      return std::nullopt;
    Node set = make_node(Kind::kSet);
    if (a->num == 0) {
      if (b->num == 0) return std::nullopt;
      set.args.push_back(rational_node(-c->num * b->den, c->den * b->num));
      return set;
    }
    // Real roots of a x^2 + b x + c: (-b +- sqrt(b^2 - 4ac)) / 2a.
    const long double disc = to_double(*b) * to_double(*b) - 4 * to_double(*a) * to_double(*c);
    if (disc < -1e-12L) return set;  // no real roots: the empty set
    auto root_disc = rational(std::sqrt(std::max<long double>(0, disc)));
    const long double r1v = (-to_double(*b) - std::sqrt(std::max<long double>(0, disc))) / (2 * to_double(*a));
    const long double r2v = (-to_double(*b) + std::sqrt(std::max<long double>(0, disc))) / (2 * to_double(*a));
    for (long double r : {std::min(r1v, r2v), std::max(r1v, r2v)}) {
      if (root_disc && std::abs(to_double(*root_disc) * to_double(*root_disc) - disc) < 1e-9L) {
        auto q = rational(r);
        if (!q) return std::nullopt;
        set.args.push_back(rational_node(q->num, q->den));
      } else {
        Node n = make_node(Kind::kNumber, {}, fmt::format("{:.17f}", double(r)));
        n.is_float = true;  // an irrational root: compared as a float (rounded)
        set.args.push_back(std::move(n));
      }
      if (std::abs(disc) <= 1e-12L) break;  // a double root once
    }
    return set;
  }

  // The nearest fraction with a denominator up to 10^6 within 1e-9, else nullopt.
  static std::optional<Rational> rational(long double x) {
    if (!std::isfinite(x) || std::abs(x) > 1e12L) return std::nullopt;
    for (long long den = 1; den <= 1000000; den *= 10)
      for (long long d : {den, den * 2, den * 3, den * 7}) {  // a few common denominators first
        const long double num = std::nearbyint(x * d);
        if (std::abs(num / d - x) < 1e-9L) {
          Rational r{__int128(num), __int128(d)};
          return r;
        }
      }
    // Continued fraction for the rest.
    long double y = x;
    long long h0 = 1, h1 = 0, k0 = 0, k1 = 1;
    for (int i = 0; i < 40; ++i) {
      const long long a = (long long)std::floor(y);
      const long long h = a * h0 + h1, k = a * k0 + k1;
      if (k > 1000000) break;
      h1 = h0, h0 = h, k1 = k0, k0 = k;
      if (std::abs((long double)h / k - x) < 1e-9L) return Rational{__int128(h), __int128(k)};
      if (y == a) break;
      y = 1 / (y - a);
    }
    return std::nullopt;
  }
  static long double to_double(const Rational& r) { return (long double)r.num / (long double)r.den; }
  static Node rational_node(__int128 num, __int128 den) {
    if (den < 0) num = -num, den = -den;
    const bool negative = num < 0;
    if (negative) num = -num;
    auto text = [](__int128 v) { return std::to_string((long long)v); };
    Node n;
    if (den == 1) {
      n = make_node(Kind::kNumber, {}, text(num));
    } else {
      n = make_node(Kind::kDiv, {make_node(Kind::kNumber, {}, text(num)), make_node(Kind::kNumber, {}, text(den))});
      n.rational_atom = true;
    }
    return negative ? make_node(Kind::kNeg, {std::move(n)}) : n;
  }

  // "a < x <= b", "x > 2", "2 < x": the interval of the one variable x, when the other operands hold none.
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

  // sympy_compare_sets
  bool sets(const Node& gold_in, const Node& answer_in) {
    const Node gold = is_set_or_tuple(gold_in) ? gold_in : make_node(Kind::kSet, {gold_in});
    const Node answer = is_set_or_tuple(answer_in) ? answer_in : make_node(Kind::kSet, {answer_in});
    if (gold.kind == Kind::kInterval && answer.kind == Kind::kInterval) {
      detail_ = "intervals";
      return gold.left_closed == answer.left_closed && gold.right_closed == answer.right_closed &&
             equal(gold.args[0], answer.args[0]) && equal(gold.args[1], answer.args[1]);
    }
    if (same_tree(gold, answer)) return true;
    if ((gold.kind == Kind::kUnion || answer.kind == Kind::kUnion) && is_set(gold) && is_set(answer)) {
      std::vector<Node> a = gold.kind == Kind::kUnion ? gold.args : std::vector<Node>{gold};
      std::vector<Node> b = answer.kind == Kind::kUnion ? answer.args : std::vector<Node>{answer};
      detail_ = "unions piece by piece";
      return same_elements(a, b);
    }
    const bool gold_finite = gold.kind == Kind::kSet || gold.kind == Kind::kTuple;
    const bool answer_finite = answer.kind == Kind::kSet || answer.kind == Kind::kTuple;
    if (gold_finite && answer_finite) return finite(gold, answer);
    // An open interval (a, b) is also the pair a, b.
    if (gold.kind == Kind::kInterval && answer_finite && !gold.left_closed && !gold.right_closed &&
        answer.args.size() == 2)
      return finite(make_node(Kind::kTuple, gold.args), answer);
    if (answer.kind == Kind::kInterval && gold_finite && !answer.left_closed && !answer.right_closed &&
        gold.args.size() == 2)
      return finite(gold, make_node(Kind::kTuple, answer.args));
    detail_ = "different kinds of sets";
    return false;
  }

  // sympy_deep_compare_set_and_tuple: the same number of elements (a set's duplicates dropped), then a gold set
  // order-free, else in order (an answer set in the order it was written).
  bool finite(const Node& gold, const Node& answer) {
    std::vector<Node> g = distinct(gold), a = distinct(answer);
    if (g.size() != a.size()) {
      detail_ = "different numbers of elements";
      return false;
    }
    if (gold.kind == Kind::kSet) {
      detail_ = "sets compared element by element";
      return same_elements(g, a);
    }
    detail_ = "compared in order";
    for (size_t i = 0; i < g.size(); ++i)
      if (!equal(g[i], a[i])) return false;
    return true;
  }

  // A set's elements without repeats: sympy's FiniteSet drops equal elements, and latex2sympy's numbers are
  // evaluated (\frac{4}{8} and \frac{3}{6} are both 1/2), so equal numbers count once.
  static std::vector<Node> distinct(const Node& n) {
    if (n.kind != Kind::kSet) return n.args;
    std::vector<Node> out;
    for (const Node& e : n.args)
      if (std::none_of(out.begin(), out.end(), [&](const Node& o) { return same_tree(o, e) || same_number(o, e); }))
        out.push_back(e);
    return out;
  }

  static bool same_number(const Node& a, const Node& b) {
    if (!is_number(a) || !is_number(b) || is_float_number(a) != is_float_number(b)) return false;
    if (is_float_number(a)) {
      auto va = double_value(a), vb = double_value(b);
      return va && vb && *va == *vb;
    }
    auto ra = evaluate_exact(a), rb = evaluate_exact(b);
    return ra && rb && ra->num == rb->num && ra->den == rb->den;
  }

  // Order-free: every gold element matches a distinct answer element.
  bool same_elements(const std::vector<Node>& gold, const std::vector<Node>& answer) {
    if (gold.size() != answer.size()) return false;
    std::vector<bool> used(answer.size(), false);
    for (const Node& g : gold) {
      bool found = false;
      for (size_t j = 0; j < answer.size() && !found; ++j)
        if (!used[j] && equal(g, answer[j])) used[j] = found = true;
      if (!found) return false;
    }
    return true;
  }

  // sympy_compare_symbols: e against Euler's number, a text symbol against letters side by side, names.
  bool symbols(const Node& gold, const Node& answer) {
    auto is_e_symbol = [](const Node& n) { return n.kind == Kind::kSymbol && lower(name_of(n)) == "e"; };
    auto is_euler = [](const Node& n) { return n.kind == Kind::kConstant && n.text == "e"; };
    if ((is_e_symbol(gold) && is_euler(answer)) || (is_e_symbol(answer) && is_euler(gold))) return true;
    auto letters = [](const Node& n) -> std::optional<std::string> {
      if (n.kind != Kind::kMul) return std::nullopt;
      std::string out;
      for (const Node& a : n.args) {
        if (a.kind == Kind::kSymbol) {
          out += name_of(a);
        } else if (a.kind == Kind::kConstant && a.text == "e") {
          out += "e";
        } else {
          return std::nullopt;
        }
      }
      return out;
    };
    detail_ = "symbols by name";
    if (gold.kind == Kind::kSymbol && answer.kind != Kind::kSymbol) {
      auto word = letters(answer);
      return word && lower(name_of(gold)) == lower(*word);
    }
    if (answer.kind == Kind::kSymbol && gold.kind != Kind::kSymbol) {
      auto word = letters(gold);
      return word && lower(name_of(answer)) == lower(*word);
    }
    std::string g = name_of(gold), a = name_of(answer);
    if (g.size() > 1) g = lower(g);
    if (a.size() > 1) a = lower(a);
    return g == a;
  }

  static bool finite(Complex v) { return std::isfinite(v.real()) && std::isfinite(v.imag()); }
  static bool nan(Complex v) { return std::isnan(v.real()) || std::isnan(v.imag()); }

  static Binding point(const std::vector<std::string>& names, int p) {
    Binding binding{names, {}};
    for (size_t k = 0; k < names.size(); ++k)
      binding.values.push_back(kPointValues[(p * 7 + k * 3) % 16] * (p == 4 ? -1 : 1));
    return binding;
  }

  // Math-Verify's float rule: both rounded to float_rounding decimal places must be equal.
  bool rounded_equal(long double a, long double b) const {
    long double scale = std::pow(10.0L, options_.float_rounding);
    if (std::abs(a) * scale < 1e17L && std::abs(b) * scale < 1e17L)
      return std::nearbyint(a * scale) == std::nearbyint(b * scale);
    return std::abs(a - b) <= 1e-15L * std::max(std::abs(a), std::abs(b));
  }

  // sympy_numeric_eq, then sympy_symbolic_eq.
  bool scalar(const Node& gold, const Node& answer) {
    deadline_.check();
    int gi = infinity_sign(gold), ai = infinity_sign(answer);
    if (gi != 0 || ai != 0) return gi == ai;
    if (contains_infinity(gold) || contains_infinity(answer)) return false;
    std::vector<std::string> names;
    collect_symbols(gold, names);
    collect_symbols(answer, names);
    if (float_or_percent(gold) || float_or_percent(answer)) {  // a float: rounded values
      if (names.empty()) {
        Complex g = evaluate(gold, {}), a = evaluate(answer, {});
        if (finite(g) && finite(a) && rounded_equal(g.real(), a.real()) && rounded_equal(g.imag(), a.imag())) {
          detail_ = fmt::format("rounded to {} decimal places", options_.float_rounding);
          return true;
        }
      }
      return symbolic(gold, answer, names);
    }
    if (number_or_percent(gold) || number_or_percent(answer)) {  // an exact number: exact values
      auto eg = evaluate_exact(gold), ea = evaluate_exact(answer);
      if (eg && ea && !has_float(gold) && !has_float(answer)) {
        detail_ = "exact rational comparison";
        return eg->num == ea->num && eg->den == ea->den;
      }
      if (has_float(gold) || has_float(answer)) return float_equals_rational(gold, answer, names);
      return symbolic(gold, answer, names);
    }
    // sympy's evalf of gold - answer: an exact irrational minus a float's root (sqrt(3) - sqrt(3.0)) keeps the
    // float's rounding, the other way round it cancels (measured; mpmath's sum of inexact terms).
    if (float_irrational(answer) && !float_irrational(gold) && exact_irrational(gold)) {
      detail_ = "a float under a root or function (a 53-bit value in sympy) against an exact irrational";
      return false;
    }
    if (names.empty()) {  // evalf of the difference to numeric_precision digits
      Complex g = evaluate(gold, {}), a = evaluate(answer, {});
      if (finite(g) && finite(a) &&
          std::abs(g - a) <= std::max(std::pow(10.0L, -options_.numeric_precision), 1e-18L) *
                                 std::max<long double>(1, std::max(std::abs(g), std::abs(a)))) {
        detail_ = fmt::format("equal to {} digits", options_.numeric_precision);
        return true;
      }
    }
    return symbolic(gold, answer, names);
  }

  // An exact number against an expression with floats: sympy evaluates the float side in 53-bit floats
  // (a / b as a * (1/b)) and compares with the rational rounded to one, so 13/5 = 13/5.0 but 9/7 != 9/7.0.
  bool float_equals_rational(const Node& gold, const Node& answer, const std::vector<std::string>& names) {
    if (!names.empty()) return symbolic(gold, answer, names);
    auto eg = has_float(gold) ? std::nullopt : evaluate_exact(gold);
    auto ea = has_float(answer) ? std::nullopt : evaluate_exact(answer);
    const auto& exact = eg ? eg : ea;
    if (!exact) return symbolic(gold, answer, names);
    const std::optional<double> f = double_value(eg ? answer : gold);
    if (!f) return symbolic(gold, answer, names);
    detail_ = "a float against an exact number (53-bit floats)";
    return double(exact->num) / double(exact->den) == *f;
  }

  // The value in doubles, evaluated as sympy does with Floats; nullopt for anything but arithmetic.
  static std::optional<double> double_value(const Node& n) {
    switch (n.kind) {
      case Kind::kNumber:
        return std::strtod(n.text.c_str(), nullptr);
      case Kind::kNeg: {
        auto v = double_value(n.args[0]);
        return v ? std::optional<double>(-*v) : std::nullopt;
      }
      case Kind::kPercent: {
        auto v = double_value(n.args[0]);
        return v ? std::optional<double>(*v * 0.01) : std::nullopt;
      }
      case Kind::kAdd:
      case Kind::kMul: {
        double acc = n.kind == Kind::kAdd ? 0.0 : 1.0;
        for (const Node& a : n.args) {
          auto v = double_value(a);
          if (!v) return std::nullopt;
          acc = n.kind == Kind::kAdd ? acc + *v : acc * *v;
        }
        return acc;
      }
      case Kind::kDiv: {
        auto a = double_value(n.args[0]), b = double_value(n.args[1]);
        if (!a || !b) return std::nullopt;
        return *a * (1.0 / *b);
      }
      case Kind::kPow: {
        auto a = double_value(n.args[0]), b = double_value(n.args[1]);
        if (!a || !b) return std::nullopt;
        return std::pow(*a, *b);
      }
      default:
        return std::nullopt;
    }
  }

  // sympy_symbolic_eq: a numeric screen at the sample points (any clear mismatch is "different"), then GiNaC.
  bool symbolic(const Node& gold, const Node& answer, const std::vector<std::string>& names) {
    const bool floats = has_float(gold) || has_float(answer);
    int valid = 0;
    for (int p = 0; p < kPoints; ++p) {
      Binding binding = point(names, p);
      Complex g = evaluate(gold, binding), a = evaluate(answer, binding);
      if (finite(g) != finite(a) && !nan(g) && !nan(a)) {  // one overflows (10^(10^10)), the other is a number
        detail_ = "different values (one side overflows)";
        return false;
      }
      if (!finite(g) || !finite(a)) continue;
      ++valid;
      long double scale = std::max<long double>({1.0L, std::abs(g), std::abs(a)});
      if (std::abs(g - a) > 1e-9L * scale) {
        detail_ = names.empty() ? "different values" : "different values at a sample point";
        return false;
      }
    }
    std::optional<bool> exact = cas_difference_is_zero(gold, answer, false, deadline_);
    if (exact) {
      detail_ = *exact ? "GiNaC: the difference is 0 (exactly, or to 60 digits for a closed form)"
                       : "GiNaC: the difference is not 0";
      return *exact;
    }
    if (floats) {
      detail_ = "could not be decided exactly";
      return false;
    }
    detail_ = valid > 0 ? "numerically equal at every sample point" : "could not be evaluated";
    return valid > 0;
  }

  const CompareOptions& options_;
  const Deadline& deadline_;
  std::string& detail_;
};

// Non-strict comparison: the answer's free symbols renamed to the gold's (sorted, when as many), so f(x) = f(y).
void rename_symbols(Node& n, const std::vector<std::string>& from, const std::vector<std::string>& to) {
  if (n.kind == Kind::kSymbol)
    for (size_t i = 0; i < from.size(); ++i)
      if (n.text == from[i]) {
        n.text = to[i];
        break;
      }
  for (Node& a : n.args) rename_symbols(a, from, to);
}

}  // namespace

bool equivalent(const Node& gold, const Node& answer, const CompareOptions& options, const Deadline& deadline,
                std::string& detail) {
  Comparer comparer(options, deadline, detail);
  if (!options.strict) {
    std::vector<std::string> g, a;
    collect_symbols(gold, g);
    collect_symbols(answer, a);
    if (g.size() == a.size() && !g.empty()) {
      std::sort(g.begin(), g.end());
      std::sort(a.begin(), a.end());
      Node renamed = answer;
      rename_symbols(renamed, a, g);
      return comparer.equal(gold, renamed);
    }
  }
  return comparer.equal(gold, answer);
}

}  // namespace r1::verify
