#include "backend/spice/spice_backend.hpp"

#include <fmt/format.h>
#include <ngspice/sharedspice.h>

#include <algorithm>
#include <cctype>
#include <clocale>
#include <cmath>
#include <mutex>
#include <sstream>

#include "backend/analysis.hpp"
#include "circuit/netlist.hpp"
#include "circuit/topology.hpp"

namespace eqsim::backend::spice {

namespace {

// What one ngspice transient produced: time, every vector by name, and the
// engine's error lines.
struct Run {
  bool ok = false;
  bool timestep_too_small = false;
  std::string errors;
  std::vector<double> t_s;
  std::map<std::string, std::vector<double>> vectors;
};

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

// The single owner of libngspice's process-wide state. All calls go through
// run() under one mutex; the C numeric locale is enforced around each run.
class Engine {
 public:
  static Engine& instance() {
    static Engine e;
    return e;
  }
  const std::string& version() const { return version_; }

  Run run(const std::vector<std::string>& deck, const std::string& tran, unsigned long long seed) {
    std::lock_guard<std::mutex> lock(mutex_);
    Run r;
    if (exited_) {
      r.errors = "ngspice asked to exit earlier in this process (" + exit_message_ + "); run it in a new process";
      return r;
    }
    const std::string old_locale = std::setlocale(LC_NUMERIC, nullptr);
    std::setlocale(LC_NUMERIC, "C");
    log_.clear();
    execute(deck, tran, seed, r);
    command("destroy all");
    command("remcirc");
    std::setlocale(LC_NUMERIC, old_locale.c_str());
    return r;
  }

 private:
  Engine() {
    ngSpice_Init(&on_char, &on_status, &on_exit, nullptr, nullptr, nullptr, this);
    for (const auto& l : log_)
      if (const auto k = l.find("ngspice-"); k != std::string::npos && version_.empty())
        version_ = l.substr(k, l.find_first_of(" :", k) - k);
    if (version_.empty()) version_ = "ngspice";
  }

  static int on_char(char* s, int, void* self) {
    static_cast<Engine*>(self)->log_.emplace_back(s ? s : "");
    return 0;
  }
  static int on_status(char*, int, void*) { return 0; }
  static int on_exit(int status, NG_BOOL, NG_BOOL, int, void* self) {
    auto* e = static_cast<Engine*>(self);
    e->exited_ = true;
    e->exit_message_ = "exit status " + std::to_string(status);
    return 0;
  }

  int command(const std::string& c) { return ngSpice_Command(const_cast<char*>(c.c_str())); }

  // Error lines ngspice wrote since `from` (stderr lines that are errors, not notes).
  std::string errors_since(size_t from) const {
    std::string out;
    for (size_t i = from; i < log_.size(); ++i) {
      const std::string low = lower(log_[i]);
      const bool err = low.find("error") != std::string::npos || low.find("too small") != std::string::npos ||
                       low.find("singular") != std::string::npos || low.find("aborted") != std::string::npos;
      if (err && low.find("warning") == std::string::npos) out += (out.empty() ? "" : "; ") + log_[i].substr(log_[i].find(' ') + 1);
    }
    return out;
  }

  void execute(const std::vector<std::string>& deck, const std::string& tran, unsigned long long seed, Run& r) {
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
    const int rc = command(tran);
    r.errors = errors_since(run_mark);
    r.timestep_too_small = r.errors.find("too small") != std::string::npos;
    if (rc != 0 || exited_ || !r.errors.empty()) return;
    collect(r);
  }

  void collect(Run& r) {
    char* plot = ngSpice_CurPlot();
    char** names = ngSpice_AllVecs(plot);
    for (int i = 0; names && names[i]; ++i) {
      const pvector_info v = ngGet_Vec_Info(names[i]);
      if (!v || !v->v_realdata) continue;
      r.vectors[node_of_vector(names[i])].assign(v->v_realdata, v->v_realdata + v->v_length);
    }
    if (const auto it = r.vectors.find("time"); it != r.vectors.end()) r.t_s = it->second;
    r.ok = !r.vectors.empty();
    if (!r.ok) r.errors = "ngspice returned no vectors";
  }

  std::mutex mutex_;
  std::vector<std::string> log_;
  bool exited_ = false;
  std::string exit_message_, version_;
};

// The trace of a run, or the names of the vectors ngspice did not return in `missing`.
Trace trace_of(const Run& r, const circuit::Circuit& c, const std::vector<std::string>& nodes, std::string& missing) {
  auto vector = [&](const std::string& name) -> const std::vector<double>* {
    const auto it = r.vectors.find(name);
    if (it != r.vectors.end() && it->second.size() == r.t_s.size()) return &it->second;
    missing += (missing.empty() ? "" : ", ") + name;
    return nullptr;
  };
  std::vector<const std::vector<double>*> v, branch;
  for (const auto& n : nodes) v.push_back(vector(n));
  for (const auto& src : voltage_sources(c)) branch.push_back(vector(lower(src.name) + "#branch"));
  Trace tr;
  if (!missing.empty()) return tr;
  tr.t_s = r.t_s;
  for (size_t k = 0; k < r.t_s.size(); ++k) {
    Eigen::VectorXd vk(static_cast<Eigen::Index>(nodes.size())), ik(static_cast<Eigen::Index>(branch.size()));
    for (size_t i = 0; i < nodes.size(); ++i) vk(static_cast<Eigen::Index>(i)) = (*v[i])[k];
    // ngspice's branch current flows into the + terminal, through the source.
    for (size_t j = 0; j < branch.size(); ++j) ik(static_cast<Eigen::Index>(j)) = -(*branch[j])[k];
    tr.v_V.push_back(std::move(vk));
    tr.source_A.push_back(std::move(ik));
  }
  return tr;
}

}  // namespace

std::vector<std::string> spice_deck(const circuit::Circuit& c, const RelaxOptions& opt) {
  const Plan plan = make_plan(c, opt);
  std::vector<std::string> deck{"* " + c.title};
  deck.push_back(fmt::format(".options reltol={:g} vntol={:g} abstol=1e-15", std::max(opt.rel_tol, 1e-6),
                             std::max(opt.abs_tol_V, 1e-9)));
  for (const auto& o : c.options) deck.push_back(o);
  for (const auto& l : c.library) deck.push_back(l);
  for (const auto& e : c.elements) deck.push_back(circuit::element_line(e));
  if (opt.temperature_K > 0) {
    int k = 0;
    for (const auto& n : thermal_noise(c, opt.temperature_K))
      deck.push_back(fmt::format("Inoise{} {} {} DC 0 trrandom(2 {:.17g} 0 {:.17g} 0)", k++, n.a, n.b, plan.noise_dt_s,
                                 std::sqrt(n.psd_A2_per_Hz / (2 * plan.noise_dt_s))));
  }
  std::string ic;
  for (const auto& [node, v] : c.initial_V) ic += " V(" + node + ")=" + circuit::format_number(v);
  if (!ic.empty()) deck.push_back(".ic" + ic);
  deck.push_back(".end");
  return deck;
}

std::string SpiceBackend::name() const { return "spice"; }

std::string SpiceBackend::version() const { return Engine::instance().version(); }

RelaxSummary SpiceBackend::relax(const circuit::Circuit& c, const RelaxOptions& opt) {
  circuit::check_topology(c);
  const Plan plan = make_plan(c, opt);
  const bool noisy = opt.temperature_K > 0;
  const double max_step = noisy ? plan.noise_dt_s : plan.sample_dt_s;
  const std::string tran = fmt::format("tran {:.17g} {:.17g} 0 {:.17g} uic", plan.sample_dt_s, plan.t_stop_s, max_step);
  Engine& engine = Engine::instance();
  Run r = engine.run(spice_deck(c, opt), tran, opt.seed);
  if (r.ok && r.t_s.empty()) r.ok = false, r.errors = "ngspice returned no time vector";
  RelaxSummary s;
  s.backend = "spice (" + engine.version() + ")";
  s.nodes = circuit::node_names(c);
  if (!r.ok) {
    s.status = r.timestep_too_small ? Status::numerical_failure : Status::backend_error;
    s.message = (c.source.empty() ? std::string() : c.source + ": ") + r.errors;
    return s;
  }
  s.sources = voltage_sources(c);
  std::string missing;
  const Trace tr = trace_of(r, c, s.nodes, missing);
  if (!missing.empty()) {
    s.message = (c.source.empty() ? std::string() : c.source + ": ") + "ngspice returned no vector for " + missing;
    return s;
  }
  analyse(tr, plan, opt, noisy, s);
  return s;
}

AnalysisResult run_analysis(const std::vector<std::string>& deck, const std::string& command) {
  const Run r = Engine::instance().run(deck, command, 1);
  return {r.ok, r.errors, r.vectors};
}

}  // namespace eqsim::backend::spice
