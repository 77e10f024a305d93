// The default batch relaxer: column after column through Backend::relax.
#include <algorithm>
#include <map>

#include "backend/batch.hpp"
#include "circuit/circuit.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

unsigned long long sub_seed(unsigned long long seed, unsigned long long index) {
  unsigned long long z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

BatchColumns::BatchColumns(const circuit::Circuit& c) : c_(c), original_(c), nodes_(circuit::node_names(c)) {
  cap_.assign(nodes_.size(), -1);
  for (size_t k = 0; k < c_.elements.size(); ++k) {
    const auto& e = c_.elements[k];
    if (e.kind != circuit::ElementKind::capacitor || !circuit::is_ground(e.n_minus)) continue;
    const auto it = std::lower_bound(nodes_.begin(), nodes_.end(), e.n_plus);
    if (it != nodes_.end() && *it == e.n_plus) cap_[it - nodes_.begin()] = static_cast<long>(k);
  }
}

const circuit::Circuit& BatchColumns::column(const BatchRequest& req, Eigen::Index j) {
  for (size_t s = 0; s < req.sources.size(); ++s) c_.elements[req.sources[s]].value = req.source_V(s, j);
  for (size_t k = 0; k < nodes_.size(); ++k) {
    if (cap_[k] < 0) continue;
    auto& ic = c_.elements[cap_[k]].ic_V;
    ic = req.start_V.size() ? std::optional(req.start_V(k, j)) : original_.elements[cap_[k]].ic_V;
    if (req.start_V.size() && c_.initial_V.count(nodes_[k])) c_.initial_V[nodes_[k]] = req.start_V(k, j);
  }
  return c_;
}

void BatchColumns::gather(const RelaxSummary& run, Eigen::MatrixXd& final_V, Eigen::Index j) const {
  for (size_t n = 0; n < run.nodes.size() && static_cast<Eigen::Index>(n) < run.final_V.size(); ++n) {
    const auto it = std::lower_bound(nodes_.begin(), nodes_.end(), run.nodes[n]);
    if (it != nodes_.end() && *it == run.nodes[n]) final_V(it - nodes_.begin(), j) = run.final_V(n);
  }
}

namespace {

class SequentialBatchRelaxer : public BatchRelaxer {
 public:
  SequentialBatchRelaxer(Backend& b, const circuit::Circuit& c) : backend_(b), columns_(c) {}

  BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt, const std::function<void(long)>& on_relaxed) override {
    columns_.check(req);
    const auto& nodes = columns_.nodes();
    const Eigen::Index B = req.source_V.cols();
    BatchSummary out{nodes, Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nodes.size()), B), {}};
    for (Eigen::Index j = 0; j < B; ++j) {
      RelaxOptions o = opt;
      o.seed = sub_seed(opt.seed, static_cast<unsigned long long>(j));
      out.runs.push_back(backend_.relax(columns_.column(req, j), o));
      columns_.gather(out.runs.back(), out.final_V, j);
      if (on_relaxed) on_relaxed(1);
    }
    return out;
  }

 private:
  Backend& backend_;
  BatchColumns columns_;
};

}  // namespace

void check_batch_request(const circuit::Circuit& c, const std::vector<std::string>& nodes, const BatchRequest& req) {
  if (static_cast<size_t>(req.source_V.rows()) != req.sources.size())
    throw InputError(c.source, "sources", "source_V needs one row per listed source");
  if (req.start_V.size() && (req.start_V.rows() != static_cast<Eigen::Index>(nodes.size()) ||
                             req.start_V.cols() != req.source_V.cols()))
    throw InputError(c.source, "start_V", "needs one row per node and one column per relaxation");
  for (size_t k : req.sources)
    if (k >= c.elements.size() || c.elements[k].kind != circuit::ElementKind::vsource ||
        !circuit::is_ground(c.elements[k].n_minus))
      throw InputError(c.source, "sources", "element " + std::to_string(k) + " is not a voltage source to ground");
}

std::unique_ptr<BatchRelaxer> Backend::batch_relaxer(const circuit::Circuit& c) {
  return std::make_unique<SequentialBatchRelaxer>(*this, c);
}

}  // namespace eqsim::backend
