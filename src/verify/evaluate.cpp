// Lock-free evaluation of expression trees: exact rationals (128-bit, overflow-checked) for the common case of
// integer / decimal / fraction answers, and complex long-double values at a point for the numeric screen
// (Math-Verify's evalf comparison). Neither touches GiNaC, so both run in parallel threads.
// Conventions: ln and log are the natural logarithm (as latex2sympy), percent is /100, i the imaginary unit.
#include <cmath>
#include <limits>

#include "verify/expr.h"

namespace r1::verify {

namespace {

using I128 = __int128;

I128 gcd(I128 a, I128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    I128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::optional<Rational> make(I128 num, I128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) num = -num, den = -den;
  I128 g = gcd(num, den);
  if (g > 1) num /= g, den /= g;
  return Rational{num, den};
}

std::optional<I128> mul(I128 a, I128 b) {
  I128 r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<Rational> add(const Rational& a, const Rational& b) {
  auto x = mul(a.num, b.den), y = mul(b.num, a.den), d = mul(a.den, b.den);
  if (!x || !y || !d) return std::nullopt;
  I128 s;
  if (__builtin_add_overflow(*x, *y, &s)) return std::nullopt;
  return make(s, *d);
}

std::optional<Rational> times(const Rational& a, const Rational& b) {
  auto n = mul(a.num, b.num), d = mul(a.den, b.den);
  if (!n || !d) return std::nullopt;
  return make(*n, *d);
}

std::optional<Rational> literal(const std::string& text) {
  I128 num = 0, den = 1;
  bool fraction = false;
  for (char c : text) {
    if (c == '.') {
      fraction = true;
      continue;
    }
    auto n = mul(num, 10);
    if (!n || __builtin_add_overflow(*n, I128(c - '0'), &num)) return std::nullopt;
    if (fraction) {
      auto d = mul(den, 10);
      if (!d) return std::nullopt;
      den = *d;
    }
  }
  return make(num, den);
}

long double literal_value(const std::string& text) { return std::strtold(text.c_str(), nullptr); }

Complex gamma_of(Complex x) {
  if (std::abs(x.imag()) > 0) return {std::numeric_limits<long double>::quiet_NaN(), 0};
  return std::tgamma(x.real());
}

}  // namespace

std::optional<Rational> evaluate_exact(const Node& n) {
  switch (n.kind) {
    case Kind::kNumber:
      return literal(n.text);
    case Kind::kNeg: {
      auto a = evaluate_exact(n.args[0]);
      if (!a) return std::nullopt;
      return Rational{-a->num, a->den};
    }
    case Kind::kAdd: {
      Rational sum;
      for (const Node& a : n.args) {
        auto v = evaluate_exact(a);
        if (!v) return std::nullopt;
        auto s = add(sum, *v);
        if (!s) return std::nullopt;
        sum = *s;
      }
      return sum;
    }
    case Kind::kMul: {
      Rational product{1, 1};
      for (const Node& a : n.args) {
        auto v = evaluate_exact(a);
        if (!v) return std::nullopt;
        auto p = times(product, *v);
        if (!p) return std::nullopt;
        product = *p;
      }
      return product;
    }
    case Kind::kDiv: {
      auto a = evaluate_exact(n.args[0]), b = evaluate_exact(n.args[1]);
      if (!a || !b || b->num == 0) return std::nullopt;
      return times(*a, Rational{b->den, b->num});  // times() reduces and fixes the sign
    }
    case Kind::kPercent: {
      auto a = evaluate_exact(n.args[0]);
      if (!a) return std::nullopt;
      return times(*a, Rational{1, 100});
    }
    case Kind::kPow: {
      auto base = evaluate_exact(n.args[0]), exponent = evaluate_exact(n.args[1]);
      if (!base || !exponent || exponent->den != 1 || exponent->num > 256 || exponent->num < -256) return std::nullopt;
      long e = long(exponent->num);
      if (e < 0 && base->num == 0) return std::nullopt;
      Rational b = e < 0 ? Rational{base->den, base->num} : *base;
      if (b.den < 0) b.num = -b.num, b.den = -b.den;
      Rational r{1, 1};
      for (long k = 0; k < (e < 0 ? -e : e); ++k) {
        auto p = times(r, b);
        if (!p) return std::nullopt;
        r = *p;
      }
      return r;
    }
    default:
      return std::nullopt;
  }
}

Complex evaluate(const Node& n, const Binding& binding) {
  constexpr long double kNaN = std::numeric_limits<long double>::quiet_NaN();
  switch (n.kind) {
    case Kind::kNumber:
      return literal_value(n.text);
    case Kind::kSymbol:
      for (size_t k = 0; k < binding.names.size(); ++k)
        if (binding.names[k] == n.text) return binding.values[k];
      return kNaN;
    case Kind::kConstant:
      if (n.text == "pi") return 3.141592653589793238462643383279502884L;
      if (n.text == "e") return 2.718281828459045235360287471352662498L;
      if (n.text == "i") return Complex(0, 1);
      return std::numeric_limits<long double>::infinity();
    case Kind::kAdd: {
      Complex s = 0;
      for (const Node& a : n.args) s += evaluate(a, binding);
      return s;
    }
    case Kind::kMul: {
      Complex p = 1;
      for (const Node& a : n.args) p *= evaluate(a, binding);
      return p;
    }
    case Kind::kNeg:
      return -evaluate(n.args[0], binding);
    case Kind::kDiv: {
      Complex d = evaluate(n.args[1], binding);
      if (d == Complex(0)) return kNaN;
      return evaluate(n.args[0], binding) / d;
    }
    case Kind::kPow: {
      Complex b = evaluate(n.args[0], binding), e = evaluate(n.args[1], binding);
      if (b.imag() == 0 && e.imag() == 0 && b.real() > 0) return std::pow(b.real(), e.real());
      if (e.imag() == 0 && e.real() == std::round(e.real()) && std::abs(e.real()) < 1e6) {
        if (b == Complex(0) && e.real() < 0) return kNaN;
        if (b.imag() == 0) return std::pow(b.real(), e.real());
        return std::pow(b, int(e.real()));
      }
      if (b.imag() == 0 && b.real() < 0 && e.imag() == 0) {  // real odd roots: (-8)^(1/3) = -2, as a student means
        long double inv = 1 / e.real();
        if (std::abs(inv - std::round(inv)) < 1e-12 && std::llround(inv) % 2 != 0)
          return -std::pow(-b.real(), e.real());
      }
      return std::pow(b, e);
    }
    case Kind::kFunction: {
      Complex x = evaluate(n.args[0], binding);
      const std::string& f = n.text;
      if (f == "sqrt") return x.imag() == 0 && x.real() >= 0 ? Complex(std::sqrt(x.real())) : std::sqrt(x);
      if (f == "root") {
        Complex k = evaluate(n.args[1], binding);
        if (x.imag() == 0 && k.imag() == 0 && x.real() < 0 && std::llround(k.real()) % 2 != 0)
          return -std::pow(-x.real(), 1 / k.real());
        return std::pow(x, Complex(1) / k);
      }
      if (f == "sin") return std::sin(x);
      if (f == "cos") return std::cos(x);
      if (f == "tan") return std::tan(x);
      if (f == "sec") return Complex(1) / std::cos(x);
      if (f == "csc") return Complex(1) / std::sin(x);
      if (f == "cot") return std::cos(x) / std::sin(x);
      if (f == "asin") return std::asin(x);
      if (f == "acos") return std::acos(x);
      if (f == "atan") return std::atan(x);
      if (f == "sinh") return std::sinh(x);
      if (f == "cosh") return std::cosh(x);
      if (f == "tanh") return std::tanh(x);
      if (f == "ln") return x == Complex(0) ? Complex(kNaN) : std::log(x);
      if (f == "exp") return std::exp(x);
      if (f == "abs") return std::abs(x);
      return kNaN;
    }
    case Kind::kFactorial: {
      Complex x = evaluate(n.args[0], binding);
      if (x.real() < 0) return kNaN;
      if (x.real() > kMaxFactorial) return std::numeric_limits<long double>::infinity();  // beyond 1000! anyway
      return gamma_of(x + Complex(1));
    }
    case Kind::kBinomial: {
      Complex a = evaluate(n.args[0], binding), b = evaluate(n.args[1], binding);
      // tgamma, not lgamma: lgamma writes the global signgam (a data race between threads).
      return std::tgamma(a.real() + 1) / (std::tgamma(b.real() + 1) * std::tgamma(a.real() - b.real() + 1));
    }
    case Kind::kPercent:
      return evaluate(n.args[0], binding) / Complex(100);
    default:
      return kNaN;
  }
}

}  // namespace r1::verify
