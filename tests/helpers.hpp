#pragma once
// Small networks for tests: a chain with a dense and a bilinear coupling.
#include "model/network.hpp"

namespace eqsim::testing {

inline model::NetworkSpec small_spec(bool bilinear = true) {
  model::NetworkSpec s;
  s.modules = {{"x", 6, model::Activation::identity},
               {"h1", 7, model::Activation::tanh},
               {"h2", 5, model::Activation::tanh}};
  s.couplings = {{"x_h1", 0, 1, model::CouplingKind::dense, 0},
                 {"h1_h2", 1, 2, bilinear ? model::CouplingKind::bilinear : model::CouplingKind::dense, 3}};
  return s;
}

inline model::Network small_network(unsigned long long seed, bool bilinear = true) {
  model::Network net(small_spec(bilinear));
  net.init_xavier(1.0, seed);
  for (int m = 0; m < net.module_count(); ++m) net.params()[m].setRandom() *= 0.3;
  return net;
}

}  // namespace eqsim::testing
