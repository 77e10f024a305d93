#include "backend/spice/spice_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <mutex>
#include <thread>

#include "backend/analysis.hpp"
#include "backend/batch.hpp"
#include "circuit/topology.hpp"

namespace eqsim::backend::spice {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The trace of a transient, or the names of the vectors ngspice did not return in `missing`.
Trace trace_of(const Run& r, const std::vector<double>& t_s, const circuit::Circuit& c, const std::vector<std::string>& nodes,
               std::string& missing) {
  auto vector = [&](const std::string& name) -> const std::vector<double>* {
    const auto it = r.vectors.find(name);
    if (it != r.vectors.end() && it->second.size() == t_s.size()) return &it->second;
    missing += (missing.empty() ? "" : ", ") + name;
    return nullptr;
  };
  std::vector<const std::vector<double>*> v, branch;
  for (const auto& n : nodes) v.push_back(vector(n));
  for (const auto& src : voltage_sources(c)) branch.push_back(vector(lower(src.name) + "#branch"));
  Trace tr;
  if (!missing.empty()) return tr;
  tr.t_s = t_s;
  for (size_t k = 0; k < t_s.size(); ++k) {
    Eigen::VectorXd vk(static_cast<Eigen::Index>(nodes.size())), ik(static_cast<Eigen::Index>(branch.size()));
    for (size_t i = 0; i < nodes.size(); ++i) vk(static_cast<Eigen::Index>(i)) = (*v[i])[k];
    // ngspice's branch current flows into the + terminal, through the source.
    for (size_t j = 0; j < branch.size(); ++j) ik(static_cast<Eigen::Index>(j)) = -(*branch[j])[k];
    tr.v_V.push_back(std::move(vk));
    tr.source_A.push_back(std::move(ik));
  }
  return tr;
}

// Relaxes batches as the default batch relaxer's columns, all of a batch at once on the workers.
class SpiceBatchRelaxer : public BatchRelaxer {
 public:
  SpiceBatchRelaxer(SpiceBackend& b, const circuit::Circuit& c) : backend_(b), columns_(c) {}

  BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt, const std::function<void(long)>& on_relaxed) override {
    columns_.check(req);
    const Eigen::Index B = req.source_V.cols();
    std::vector<circuit::Circuit> circuits;
    std::vector<RelaxOptions> options(static_cast<size_t>(B), opt);
    for (Eigen::Index j = 0; j < B; ++j) {
      circuits.push_back(columns_.column(req, j));
      options[static_cast<size_t>(j)].seed = sub_seed(opt.seed, static_cast<unsigned long long>(j));
    }
    const auto& nodes = columns_.nodes();
    BatchSummary out{nodes, Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nodes.size()), B), {}};
    out.runs = backend_.relax_all(circuits, options, on_relaxed);
    for (Eigen::Index j = 0; j < B; ++j) columns_.gather(out.runs[static_cast<size_t>(j)], out.final_V, j);
    return out;
  }

 private:
  SpiceBackend& backend_;
  BatchColumns columns_;
};

}  // namespace

SpiceBackend::SpiceBackend(PoolOptions opt, DeckForm form)
    : pool_(std::make_unique<WorkerPool>(std::move(opt))), form_(form) {}

SpiceBackend::~SpiceBackend() = default;

std::string SpiceBackend::name() const { return "spice"; }

std::string SpiceBackend::version() const {
  const std::string v = pool_->version();
  return v.empty() ? "ngspice (no worker could start)" : v;
}

int SpiceBackend::worker_count() const { return pool_->size(); }

RelaxSummary SpiceBackend::relax(const circuit::Circuit& c, const RelaxOptions& opt) {
  bool worker_failed = false;
  return attempt(c, opt, worker_failed);
}

RelaxSummary SpiceBackend::attempt(const circuit::Circuit& c, const RelaxOptions& opt, bool& worker_failed) {
  circuit::check_topology(c);
  const Plan plan = make_plan(c, opt);
  const bool noisy = opt.temperature_K > 0;
  const double max_step = noisy ? plan.noise_dt_s : plan.sample_dt_s;
  Request q;
  q.deck = spice_deck(c, opt, form_);
  q.command = fmt::format("tran {:.17g} {:.17g} 0 {:.17g} uic", plan.sample_dt_s, plan.t_stop_s, max_step);
  q.seed = opt.seed;
  PoolReply reply = pool_->run(q);
  worker_failed = reply.worker_failed;
  Run& r = reply.run;
  const auto time = r.vectors.find("time");
  if (r.ok && time == r.vectors.end()) r.ok = false, r.errors = "ngspice returned no time vector";
  RelaxSummary s;
  s.backend = "spice (" + version() + ")";
  s.nodes = circuit::node_names(c);
  const std::string where = c.source.empty() ? std::string() : c.source + ": ";
  if (!r.ok) {
    s.status = r.timestep_too_small && !reply.worker_failed ? Status::numerical_failure : Status::backend_error;
    s.message = where + r.errors;
    return s;
  }
  s.sources = voltage_sources(c);
  std::string missing;
  const Trace tr = trace_of(r, time->second, c, s.nodes, missing);
  if (!missing.empty()) {
    s.message = where + "ngspice returned no vector for " + missing;
    return s;
  }
  analyse(tr, plan, opt, noisy, s);
  return s;
}

std::vector<RelaxSummary> SpiceBackend::relax_all(const std::vector<circuit::Circuit>& circuits,
                                                  const std::vector<RelaxOptions>& options,
                                                  const std::function<void(long)>& on_relaxed) {
  std::vector<RelaxSummary> out(circuits.size());
  std::atomic<size_t> next{0};
  std::mutex progress;
  std::vector<std::exception_ptr> errors(circuits.size());  // bad input: the first one is rethrown
  auto drain = [&] {
    for (size_t i = next++; i < circuits.size(); i = next++) {
      try {
        bool worker_failed = false;
        out[i] = attempt(circuits[i], options[i], worker_failed);
        if (worker_failed) {  // a crashed, exited or hung worker: once more on a fresh one
          const std::string lost = out[i].message;
          out[i] = attempt(circuits[i], options[i], worker_failed);
          out[i].lost_attempt = lost;
        }
      } catch (...) {
        errors[i] = std::current_exception();
      }
      if (on_relaxed) {
        std::lock_guard<std::mutex> lock(progress);
        on_relaxed(1);
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t helpers = std::min<size_t>(static_cast<size_t>(pool_->size()), circuits.size());
  for (size_t t = 1; t < helpers; ++t) threads.emplace_back(drain);
  drain();
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

std::unique_ptr<BatchRelaxer> SpiceBackend::batch_relaxer(const circuit::Circuit& c) {
  return std::make_unique<SpiceBatchRelaxer>(*this, c);
}

AnalysisResult SpiceBackend::analysis(const std::vector<std::string>& deck, const std::string& command) {
  Request q;
  q.deck = deck;
  q.command = command;
  const PoolReply reply = pool_->run(q);
  return {reply.run.ok, reply.run.errors, reply.run.vectors};
}

AnalysisResult run_analysis(const std::vector<std::string>& deck, const std::string& command) {
  static SpiceBackend shared;
  return shared.analysis(deck, command);
}

}  // namespace eqsim::backend::spice
