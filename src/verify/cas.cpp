// The exact symbolic check through GiNaC: does a - b simplify to zero? GiNaC is not thread-safe even for
// separate expressions (its reference counts are plain integers and small numbers such as 0 and 1 are shared
// global objects; see ginac/ptr.h and ex.h), so every GiNaC object lives and dies inside one process-wide
// lock, taken with the caller's deadline. GiNaC calls cannot be interrupted, so the work is bounded before
// anything is built: tree size, exact power digits, symbolic exponents and factorials (beyond: Timeout), and the
// number of terms normal() can create when it expands products and powers of sums (expansion_terms; beyond
// kMaxCasTerms the pair is left to the numeric comparison, which already ran). That keeps every call, and so
// every wait for the lock, to milliseconds: (a+b+c+d)^64 (a+b+c-d)^64 took 68 s in GiNaC before the bound.
#include <ginac/ginac.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>

#include "verify/expr.h"

namespace r1::verify {

namespace {

constexpr long kDigits = 60;  // GiNaC::Digits (a global: set under the lock)
const double kZero = 1e-45;   // |a - b| <= kZero * (|a| + 1) at 60 digits counts as 0

std::timed_mutex& cas_mutex() {
  static std::timed_mutex m;
  return m;
}

class Converter {
 public:
  explicit Converter(const Deadline& deadline) : deadline_(deadline) {}

  GiNaC::ex convert(const Node& n) {
    if ((++steps_ & 31) == 0) deadline_.check();
    switch (n.kind) {
      case Kind::kNumber:
        return number(n.text);
      case Kind::kSymbol: {
        auto it = symbols_.find(n.text);
        if (it == symbols_.end()) it = symbols_.emplace(n.text, GiNaC::symbol(n.text)).first;
        return it->second;
      }
      case Kind::kConstant:
        if (n.text == "pi") return GiNaC::Pi;
        if (n.text == "e") return GiNaC::exp(GiNaC::ex(1));
        if (n.text == "i") return GiNaC::I;
        throw ParseError("infinity in an expression");
      case Kind::kAdd: {
        GiNaC::ex s = 0;
        for (const Node& a : n.args) s += convert(a);
        return s;
      }
      case Kind::kMul: {
        GiNaC::ex p = 1;
        for (const Node& a : n.args) p *= convert(a);
        return p;
      }
      case Kind::kNeg:
        return -convert(n.args[0]);
      case Kind::kDiv: {
        GiNaC::ex d = convert(n.args[1]);
        if (d.is_zero()) throw ParseError("division by zero");
        return convert(n.args[0]) / d;
      }
      case Kind::kPercent:
        return convert(n.args[0]) / 100;
      case Kind::kPow:
        return power(convert(n.args[0]), convert(n.args[1]));
      case Kind::kFactorial:
      case Kind::kBinomial: {
        std::vector<GiNaC::ex> args;
        for (const Node& a : n.args) {
          args.push_back(convert(a));
          if (GiNaC::is_a<GiNaC::numeric>(args.back()) &&
              GiNaC::abs(GiNaC::ex_to<GiNaC::numeric>(args.back())) > kMaxFactorial)
            throw Timeout("factorial argument beyond the evaluation limit");
        }
        if (n.kind == Kind::kFactorial) return GiNaC::factorial(args[0]);
        return GiNaC::binomial(args[0], args[1]);
      }
      case Kind::kFunction:
        return function(n);
      default:
        throw ParseError("not a scalar expression");
    }
  }

 private:
  static GiNaC::ex number(const std::string& text) {
    size_t dot = text.find('.');
    if (dot == std::string::npos) return GiNaC::numeric(text.c_str());
    std::string digits = text.substr(0, dot) + text.substr(dot + 1);
    size_t first = digits.find_first_not_of('0');
    digits = first == std::string::npos ? "0" : digits.substr(first);
    return GiNaC::numeric(digits.c_str()) / GiNaC::pow(GiNaC::numeric(10), int(text.size() - dot - 1));
  }

  static double log10_size(const GiNaC::numeric& x) {
    GiNaC::numeric a = GiNaC::abs(x.numer()), b = GiNaC::abs(x.denom());
    GiNaC::numeric big = a > b ? a : b;
    return double(big.int_length()) * 0.30103;  // bits -> decimal digits
  }

  GiNaC::ex power(const GiNaC::ex& base, const GiNaC::ex& exponent) {
    if (GiNaC::is_a<GiNaC::numeric>(exponent)) {
      const GiNaC::numeric& e = GiNaC::ex_to<GiNaC::numeric>(exponent);
      if (!e.is_real()) return GiNaC::pow(base, exponent);
      double magnitude = std::abs(e.to_double());
      if (GiNaC::is_a<GiNaC::numeric>(base)) {
        const GiNaC::numeric& b = GiNaC::ex_to<GiNaC::numeric>(base);
        if (b.is_rational() && magnitude * std::max(1.0, log10_size(b)) > kMaxPowerDigits)
          throw Timeout("power beyond the evaluation limit");
      } else {
        bool symbolic = false;
        for (const auto& [name, s] : symbols_) symbolic = symbolic || base.has(s);
        if (magnitude > (symbolic ? kMaxSymbolicExponent : kMaxPowerDigits))
          throw Timeout("symbolic power beyond the evaluation limit");
      }
    }
    return GiNaC::pow(base, exponent);
  }

  GiNaC::ex function(const Node& n) {
    GiNaC::ex x = convert(n.args[0]);
    const std::string& f = n.text;
    if (f == "sqrt") return GiNaC::sqrt(x);
    if (f == "root") return power(x, 1 / convert(n.args[1]));
    if (f == "sin") return GiNaC::sin(x);
    if (f == "cos") return GiNaC::cos(x);
    if (f == "tan") return GiNaC::tan(x);
    if (f == "sec") return 1 / GiNaC::cos(x);
    if (f == "csc") return 1 / GiNaC::sin(x);
    if (f == "cot") return GiNaC::cos(x) / GiNaC::sin(x);
    if (f == "asin") return GiNaC::asin(x);
    if (f == "acos") return GiNaC::acos(x);
    if (f == "atan") return GiNaC::atan(x);
    if (f == "sinh") return GiNaC::sinh(x);
    if (f == "cosh") return GiNaC::cosh(x);
    if (f == "tanh") return GiNaC::tanh(x);
    if (f == "ln") return GiNaC::log(x);
    if (f == "exp") return GiNaC::exp(x);
    if (f == "abs") return GiNaC::abs(x);
    throw ParseError("unknown function " + f);
  }

  const Deadline& deadline_;
  std::map<std::string, GiNaC::symbol> symbols_;
  size_t steps_ = 0;
};

// An upper bound on the terms normal() builds for `n`: it brings sums over a common denominator and expands
// products and integer powers of sums, so a product costs the product of its factors' terms and p^k at most
// C(k+t-1, t-1) for t terms in p (the number of monomials of degree k in t unknowns). The arguments of functions
// and of symbolic powers are normalised on their own (then stand as one symbol), so their bounds count too.
// Doubles, so a bound that overflows is infinity, never a wrapped count.
struct Terms {
  double numerator = 1, denominator = 1;
  double inner = 0;  // the largest bound met inside function arguments and symbolic powers
};

double multinomial_terms(double terms, double k) {  // C(k + t - 1, t - 1), via lgamma
  if (terms <= 1 || k <= 0) return 1;
  if (!std::isfinite(terms)) return terms;
  return std::exp(std::lgamma(k + terms) - std::lgamma(k + 1) - std::lgamma(terms)) + 0.5;
}

Terms expansion_terms(const Node& n) {
  Terms t;
  switch (n.kind) {
    case Kind::kAdd: {
      t.numerator = 0;
      for (const Node& a : n.args) {  // a/b + c/d = (a d + c b) / (b d)
        Terms x = expansion_terms(a);
        t.numerator = t.numerator * x.denominator + x.numerator * t.denominator;
        t.denominator *= x.denominator;
        t.inner = std::max(t.inner, x.inner);
      }
      return t;
    }
    case Kind::kMul:
    case Kind::kDiv: {
      for (size_t i = 0; i < n.args.size(); ++i) {
        Terms x = expansion_terms(n.args[i]);
        const bool divisor = n.kind == Kind::kDiv && i == 1;
        t.numerator *= divisor ? x.denominator : x.numerator;
        t.denominator *= divisor ? x.numerator : x.denominator;
        t.inner = std::max(t.inner, x.inner);
      }
      return t;
    }
    case Kind::kNeg:
    case Kind::kPercent:
      return expansion_terms(n.args[0]);
    case Kind::kPow: {
      Terms base = expansion_terms(n.args[0]), exponent = expansion_terms(n.args[1]);
      std::optional<Rational> k = evaluate_exact(n.args[1]);
      if (k && k->den == 1) {  // an integer power is expanded
        const double magnitude = std::abs(double(k->num));
        t.numerator = multinomial_terms(k->num < 0 ? base.denominator : base.numerator, magnitude);
        t.denominator = multinomial_terms(k->num < 0 ? base.numerator : base.denominator, magnitude);
        t.inner = std::max(base.inner, exponent.inner);
        return t;
      }
      t.inner = std::max(
          {base.inner, exponent.inner, base.numerator * base.denominator, exponent.numerator * exponent.denominator});
      return t;
    }
    default: {  // numbers, symbols, constants; functions and the rest: their arguments on their own
      for (const Node& a : n.args) {
        Terms x = expansion_terms(a);
        t.inner = std::max({t.inner, x.inner, x.numerator * x.denominator});
      }
      return t;
    }
  }
}

double expansion_bound(const Node& n) {
  Terms t = expansion_terms(n);
  return std::max(t.inner, t.numerator * t.denominator);
}

}  // namespace

std::optional<bool> cas_difference_is_zero(const Node& a, const Node& b, bool negate_b, const Deadline& deadline) {
  if (node_count(a) + node_count(b) > kMaxCasNodes) return std::nullopt;
  if (expansion_bound(a) + expansion_bound(b) > kMaxCasTerms) return std::nullopt;
  std::unique_lock<std::timed_mutex> lock(cas_mutex(), std::defer_lock);
  // Wait against the system clock: libstdc++ implements a steady_clock wait with pthread_mutex_clocklock,
  // which ThreadSanitizer (GCC 12) does not intercept, so it would miss this lock and report every GiNaC
  // access as a race; pthread_mutex_timedlock (system clock) is intercepted. The deadline stays steady_clock.
  auto wait =
      std::chrono::duration_cast<std::chrono::system_clock::duration>(deadline.at() - std::chrono::steady_clock::now());
  if (!lock.try_lock_until(std::chrono::system_clock::now() + wait))
    throw Timeout("deadline passed waiting for the CAS");
  try {
    Converter converter(deadline);
    GiNaC::ex x = converter.convert(a), y = converter.convert(b);
    GiNaC::ex difference = negate_b ? x + y : x - y;
    deadline.check();
    GiNaC::ex simplified = difference.normal();
    deadline.check();
    if (simplified.is_zero()) return true;
    if (GiNaC::is_a<GiNaC::numeric>(simplified) && GiNaC::ex_to<GiNaC::numeric>(simplified).is_rational()) return false;
    if (!has_symbols(a) && !has_symbols(b)) {  // a closed form (radicals, pi): decide at 60 significant digits
      GiNaC::Digits = kDigits;
      GiNaC::ex value = simplified.evalf(), scale = x.evalf();
      deadline.check();
      if (GiNaC::is_a<GiNaC::numeric>(value) && GiNaC::is_a<GiNaC::numeric>(scale)) {
        GiNaC::numeric tolerance = GiNaC::numeric(kZero) * (GiNaC::abs(GiNaC::ex_to<GiNaC::numeric>(scale)) + 1);
        return GiNaC::abs(GiNaC::ex_to<GiNaC::numeric>(value)) < tolerance;
      }
    }
    return std::nullopt;
  } catch (const ParseError&) {
    return std::nullopt;
  } catch (const Timeout&) {
    throw;
  } catch (const std::exception&) {  // GiNaC's own (pole_error, division by zero in normal())
    return std::nullopt;
  }
}

}  // namespace r1::verify
