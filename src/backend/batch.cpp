// The default batch relaxer: column after column through Backend::relax.
#include <algorithm>
#include <map>

#include "backend/backend.hpp"
#include "circuit/circuit.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

unsigned long long sub_seed(unsigned long long seed, unsigned long long index) {
  unsigned long long z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

// Sources rewritten and grounded capacitors' IC= set in place before each column's run.
class SequentialBatchRelaxer : public BatchRelaxer {
 public:
  SequentialBatchRelaxer(Backend& b, const circuit::Circuit& c) : backend_(b), c_(c), original_(c) {
    nodes_ = circuit::node_names(c_);
    cap_.assign(nodes_.size(), -1);
    for (size_t k = 0; k < c_.elements.size(); ++k) {
      const auto& e = c_.elements[k];
      if (e.kind != circuit::ElementKind::capacitor || !circuit::is_ground(e.n_minus)) continue;
      const auto it = std::lower_bound(nodes_.begin(), nodes_.end(), e.n_plus);
      if (it != nodes_.end() && *it == e.n_plus) cap_[it - nodes_.begin()] = static_cast<long>(k);
    }
  }

  BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt, const std::function<void(long)>& on_relaxed) override {
    check_batch_request(c_, nodes_, req);
    const Eigen::Index B = req.source_V.cols();
    BatchSummary out{nodes_, Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nodes_.size()), B), {}};
    for (Eigen::Index j = 0; j < B; ++j) {
      for (size_t s = 0; s < req.sources.size(); ++s) c_.elements[req.sources[s]].value = req.source_V(s, j);
      for (size_t k = 0; k < nodes_.size(); ++k) {
        if (cap_[k] < 0) continue;
        auto& ic = c_.elements[cap_[k]].ic_V;
        ic = req.start_V.size() ? std::optional(req.start_V(k, j)) : original_.elements[cap_[k]].ic_V;
        if (req.start_V.size() && c_.initial_V.count(nodes_[k])) c_.initial_V[nodes_[k]] = req.start_V(k, j);
      }
      RelaxOptions o = opt;
      o.seed = sub_seed(opt.seed, static_cast<unsigned long long>(j));
      out.runs.push_back(backend_.relax(c_, o));
      const auto& r = out.runs.back();
      for (size_t n = 0; n < r.nodes.size() && static_cast<Eigen::Index>(n) < r.final_V.size(); ++n) {
        const auto it = std::lower_bound(nodes_.begin(), nodes_.end(), r.nodes[n]);
        if (it != nodes_.end() && *it == r.nodes[n]) out.final_V(it - nodes_.begin(), j) = r.final_V(n);
      }
      if (on_relaxed) on_relaxed(1);
    }
    return out;
  }

 private:
  Backend& backend_;
  circuit::Circuit c_, original_;
  std::vector<std::string> nodes_;
  std::vector<long> cap_;  // per node: its grounded capacitor element, or -1
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
