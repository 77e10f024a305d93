#include "energy/counts.hpp"

namespace eqsim::energy {

namespace {

double coupling_FLOP(const model::Network& net, int c) {
  const auto& spec = net.spec().couplings[c];
  const double np = net.size(spec.p), nq = net.size(spec.q);
  if (spec.kind == model::CouplingKind::bilinear) return 4.0 * spec.rank * (np + nq);
  return spec.p == spec.q ? 2.0 * np * np : 4.0 * np * nq;
}

}  // namespace

NetworkCounts count_network(const model::Network& net) {
  NetworkCounts n;
  n.parameters = net.parameter_count();
  n.visible = net.size(net.spec().visible);
  for (int m = 0; m < net.module_count(); ++m) n.units += net.size(m);
  double flop = unit_update_FLOP * static_cast<double>(n.units) + 4.0 * static_cast<double>(n.visible);
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c) {
    const auto& spec = net.spec().couplings[c];
    n.coupling_parameters += net.w(c).size();
    if (spec.kind == model::CouplingKind::bilinear) {
      n.coupling_parameters += net.v(c).size();
      n.projection_nodes += 2L * spec.rank;
    }
    flop += coupling_FLOP(net, c);
    n.layers += spec.kind == model::CouplingKind::bilinear ? 2 : 1;
    n.relax_step_kernels += spec.kind == model::CouplingKind::bilinear ? 4 : (spec.p == spec.q ? 1 : 2);
  }
  n.relax_step_FLOP = flop;
  n.modules = net.module_count();
  n.parameter_arrays = static_cast<long>(net.params().size());
  n.relax_step_kernels += module_update_kernels * static_cast<double>(n.modules) + clamp_kernels;
  return n;
}

}  // namespace eqsim::energy
