#include "circuit/expression.hpp"

#include "circuit/circuit.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace eqsim::circuit {

namespace {

double scale_of(const std::string& suffix_raw) {
  const std::string s = lower_case(suffix_raw);
  if (s.empty()) return 1;
  if (s.rfind("meg", 0) == 0) return 1e6;
  if (s.rfind("mil", 0) == 0) return 25.4e-6;
  switch (s[0]) {
    case 'f': return 1e-15;
    case 'p': return 1e-12;
    case 'n': return 1e-9;
    case 'u': return 1e-6;
    case 'm': return 1e-3;
    case 'k': return 1e3;
    case 'g': return 1e9;
    case 't': return 1e12;
    default: return 1;  // unit letters only ("V", "A", "F", "s")
  }
}

// Length of the numeric prefix of s starting at i (digits, '.', exponent).
size_t number_length(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
      while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
      j = k;
    }
  }
  return j - i;
}

class Parser {
 public:
  explicit Parser(const std::string& t) : s_(t) {}

  Expr parse() {
    Expr e = sum();
    skip();
    if (i_ != s_.size()) fail("unexpected '" + std::string(1, s_[i_]) + "'");
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("expression '" + s_ + "' at character " + std::to_string(i_ + 1) + ": " + what);
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  static Expr binary(Expr::Op op, Expr a, Expr b) {
    Expr e;
    e.op = op;
    e.args.push_back(std::move(a));
    e.args.push_back(std::move(b));
    return e;
  }
  Expr sum() {
    Expr e = product();
    for (;;) {
      if (eat('+')) e = binary(Expr::Op::add, std::move(e), product());
      else if (eat('-')) e = binary(Expr::Op::sub, std::move(e), product());
      else return e;
    }
  }
  Expr product() {
    Expr e = unary();
    for (;;) {
      if (eat('*')) e = binary(Expr::Op::mul, std::move(e), unary());
      else if (eat('/')) e = binary(Expr::Op::div, std::move(e), unary());
      else return e;
    }
  }
  // Nesting (parentheses, signs, calls) deeper than this would overflow the stack of
  // this recursive-descent parser (found by fuzz_netlist: a few thousand '(').
  static constexpr int kMaxDepth = 256;
  int depth_ = 0;
  Expr unary() {
    if (depth_ == kMaxDepth) fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    ++depth_;
    Expr e = signed_primary();
    --depth_;
    return e;
  }
  Expr signed_primary() {
    if (eat('+')) return unary();
    if (eat('-')) {
      Expr e;
      e.op = Expr::Op::neg;
      e.args.push_back(unary());
      return e;
    }
    return primary();
  }
  std::string identifier() {
    skip();
    const size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                              s_[i_] == '.' || s_[i_] == '#' || s_[i_] == ':' || s_[i_] == '[' || s_[i_] == ']'))
      ++i_;
    if (i_ == start) fail("expected a name");
    return lower_case(s_.substr(start, i_ - start));
  }
  Expr voltage() {
    Expr e;
    e.op = Expr::Op::voltage;
    expect('(');
    e.node_a = identifier();
    if (eat(',')) e.node_b = identifier();
    expect(')');
    return e;
  }
  Expr primary() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    if (eat('(')) {
      Expr e = sum();
      expect(')');
      return e;
    }
    const char c = s_[i_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    const std::string name = identifier();
    if (name == "v") return voltage();
    if (name == "tanh") {
      Expr e;
      e.op = Expr::Op::tanh;
      expect('(');
      e.args.push_back(sum());
      expect(')');
      return e;
    }
    fail("unsupported name '" + name + "' (supported: numbers, V(node), V(a,b), tanh)");
  }
  Expr number() {
    const size_t n = number_length(s_, i_);
    size_t j = i_ + n;
    while (j < s_.size() && std::isalpha(static_cast<unsigned char>(s_[j]))) ++j;
    Expr e;
    e.value = parse_spice_number(s_.substr(i_, j - i_));
    i_ = j;
    return e;
  }

  const std::string& s_;
  size_t i_ = 0;
};

bool is_const(const Expr& e, double& v) {
  if (e.op == Expr::Op::constant) {
    v = e.value;
    return true;
  }
  if (e.op == Expr::Op::neg && is_const(e.args[0], v)) {
    v = -v;
    return true;
  }
  return false;
}

// V(n) or V(n) - o: the input of a transconductor.
bool match_input(const Expr& e, Transconductance& t) {
  if (e.op == Expr::Op::voltage && e.node_b.empty()) {
    t.input = e.node_a;
    t.offset_V = 0;
    return true;
  }
  double o = 0;
  if (e.op == Expr::Op::sub && e.args[0].op == Expr::Op::voltage && e.args[0].node_b.empty() &&
      is_const(e.args[1], o)) {
    t.input = e.args[0].node_a;
    t.offset_V = o;
    return true;
  }
  return false;
}

// tanh(input/s) or input.
bool match_shape(const Expr& e, Transconductance& t) {
  double s = 0;
  if (e.op == Expr::Op::tanh && e.args[0].op == Expr::Op::div && is_const(e.args[0].args[1], s) && s > 0 &&
      match_input(e.args[0].args[0], t)) {
    t.tanh_input = true;
    t.scale_V = s;
    return true;
  }
  t.tanh_input = false;
  t.scale_V = 1;
  return match_input(e, t);
}

}  // namespace

double parse_spice_number(const std::string& text) {
  if (text.empty()) throw std::invalid_argument("empty number");
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t n = number_length(text, i);
  double v = 0;
  const auto r = std::from_chars(text.data() + (text[0] == '+' ? 1 : 0), text.data() + i + n, v);
  if (n == 0 || r.ec != std::errc() || r.ptr != text.data() + i + n)
    throw std::invalid_argument("not a number: '" + text + "'");
  const std::string suffix = text.substr(i + n);
  for (char c : suffix)
    if (!std::isalpha(static_cast<unsigned char>(c))) throw std::invalid_argument("not a number: '" + text + "'");
  return v * scale_of(suffix);
}

Expr parse_expression(const std::string& text) { return Parser(text).parse(); }

bool match_transconductance(const Expr& e, Transconductance& out) {
  Transconductance t;
  double k = 0;
  bool ok = false;
  if (e.op == Expr::Op::mul && is_const(e.args[0], k)) ok = match_shape(e.args[1], t);
  else if (e.op == Expr::Op::mul && is_const(e.args[1], k)) ok = match_shape(e.args[0], t);
  else if (e.op == Expr::Op::neg) ok = (k = -1, match_shape(e.args[0], t));
  else ok = (k = 1, match_shape(e, t));
  if (!ok) return false;
  t.gain = k;
  out = t;
  return true;
}

void collect_nodes(const Expr& e, std::vector<std::string>& out) {
  if (e.op == Expr::Op::voltage) {
    out.push_back(e.node_a);
    if (!e.node_b.empty()) out.push_back(e.node_b);
  }
  for (const auto& a : e.args) collect_nodes(a, out);
}

}  // namespace eqsim::circuit
