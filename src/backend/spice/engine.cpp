#include "backend/spice/engine.hpp"

#include <ngspice/sharedspice.h>

#include <cctype>
#include <clocale>

namespace eqsim::backend::spice {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The lower-case node name of an ngspice vector: ngspice names the vector of a
// node whose name reads as a number "V(1)" (a bare "1" would be the constant),
// every other node by its name.
std::string node_of_vector(const std::string& vector_name) {
  const std::string n = lower(vector_name);
  if (n.size() > 3 && n.rfind("v(", 0) == 0 && n.back() == ')') return n.substr(2, n.size() - 3);
  return n;
}

}  // namespace

Engine::Engine() {
  ngSpice_Init(&on_char, &on_status, &on_exit, nullptr, nullptr, nullptr, this);
  for (const auto& l : log_)
    if (const auto k = l.find("ngspice-"); k != std::string::npos && version_.empty())
      version_ = l.substr(k, l.find_first_of(" :", k) - k);
  if (version_.empty()) version_ = "ngspice";
}

Run Engine::run(const std::vector<std::string>& deck, const std::string& analysis, unsigned long long seed) {
  Run r;
  if (exited_) {
    r.engine_exited = true;
    r.errors = "ngspice asked to exit earlier in this process (" + exit_message_ + ")";
    return r;
  }
  const std::string old_locale = std::setlocale(LC_NUMERIC, nullptr);
  std::setlocale(LC_NUMERIC, "C");
  log_.clear();
  execute(deck, analysis, seed, r);
  command("destroy all");
  command("remcirc");
  std::setlocale(LC_NUMERIC, old_locale.c_str());
  r.engine_exited = exited_;
  return r;
}

int Engine::on_char(char* s, int, void* self) {
  static_cast<Engine*>(self)->log_.emplace_back(s ? s : "");
  return 0;
}

int Engine::on_status(char*, int, void*) { return 0; }

int Engine::on_exit(int status, bool, bool, int, void* self) {
  auto* e = static_cast<Engine*>(self);
  e->exited_ = true;
  e->exit_message_ = "exit status " + std::to_string(status);
  return 0;
}

int Engine::command(const std::string& c) { return ngSpice_Command(const_cast<char*>(c.c_str())); }

// Error lines ngspice wrote since `from` (stderr lines that are errors, not notes).
std::string Engine::errors_since(size_t from) const {
  std::string out;
  for (size_t i = from; i < log_.size(); ++i) {
    const std::string low = lower(log_[i]);
    const bool err = low.find("error") != std::string::npos || low.find("too small") != std::string::npos ||
                     low.find("singular") != std::string::npos || low.find("aborted") != std::string::npos;
    if (err && low.find("warning") == std::string::npos) out += (out.empty() ? "" : "; ") + log_[i].substr(log_[i].find(' ') + 1);
  }
  return out;
}

void Engine::execute(const std::vector<std::string>& deck, const std::string& analysis, unsigned long long seed, Run& r) {
  // trrandom draws from ngspice's Tausworthe generator, which `setseed` reseeds; checkseed() reseeds it
  // from `rndseed` (the process id at start-up) whenever that variable changes, so both are set.
  const std::string s = std::to_string(1 + seed % 2147483646ULL);
  command("set rndseed=" + s);
  command("setseed " + s);
  std::vector<char*> lines;
  for (const auto& l : deck) lines.push_back(const_cast<char*>(l.c_str()));
  lines.push_back(nullptr);
  const size_t mark = log_.size();
  if (ngSpice_Circ(lines.data()) != 0 || !errors_since(mark).empty() || exited_) {
    r.errors = "ngspice rejected the netlist: " + errors_since(mark) + (exited_ ? " (" + exit_message_ + ")" : "");
    return;
  }
  const size_t run_mark = log_.size();
  const int rc = command(analysis);
  r.errors = errors_since(run_mark);
  r.timestep_too_small = r.errors.find("too small") != std::string::npos;
  if (rc != 0 || exited_ || !r.errors.empty()) return;
  collect(r);
}

void Engine::collect(Run& r) {
  char* plot = ngSpice_CurPlot();
  char** names = ngSpice_AllVecs(plot);
  for (int i = 0; names && names[i]; ++i) {
    const pvector_info v = ngGet_Vec_Info(names[i]);
    if (!v || !v->v_realdata) continue;
    r.vectors[node_of_vector(names[i])].assign(v->v_realdata, v->v_realdata + v->v_length);
  }
  r.ok = !r.vectors.empty();
  if (!r.ok) r.errors = "ngspice returned no vectors";
}

}  // namespace eqsim::backend::spice
