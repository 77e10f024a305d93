#pragma once
// Small networks for tests: a chain with a dense and a bilinear coupling.
#include <random>

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

// A small diffusion network as the diffusion config's (identity encoder x with an
// intra-module coupling, tanh decoder d with one, a bilinear skip) with a bias table of
// three levels whose columns differ by O(1), so a wrong level changes what depends on it.
inline model::Network small_diffusion_network() {
  model::NetworkSpec spec;
  spec.modules = {{"x", 6, model::Activation::identity, 0}, {"d", 7, model::Activation::tanh, 3}};
  spec.couplings = {{"x_d", 0, 1, model::CouplingKind::bilinear, 2},
                    {"d_d", 1, 1, model::CouplingKind::dense, 0},
                    {"x_x", 0, 0, model::CouplingKind::dense, 0}};
  spec.spring_lambda = 1;
  spec.alpha = 1;
  model::Network net(spec);
  net.init_xavier(0.8, 11);
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> uniform(-1.5, 1.5);
  auto& table = net.params()[net.table_index(1)];
  for (Eigen::Index k = 0; k < table.size(); ++k) table.data()[k] = uniform(rng);
  return net;
}

}  // namespace eqsim::testing
