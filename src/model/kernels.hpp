#pragma once
// Internal to model/: the network's parameters and coupling currents in a chosen
// precision, shared by the relaxation sweeps (relax.cpp) and the adjoint solve
// (implicit.cpp).
#include <Eigen/Core>
#include <type_traits>
#include <vector>

#include "model/network.hpp"

namespace eqsim::model::kernels {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Mats = std::vector<Mat<T>>;

// The parameters in precision T: the network's own doubles, or a float copy.
template <class T>
class Params {
 public:
  explicit Params(const Network& net) {
    if constexpr (std::is_same_v<T, double>) {
      p_ = &net.params();
    } else {
      for (const auto& x : net.params()) copy_.push_back(x.cast<T>());
      p_ = &copy_;
    }
  }
  const Mat<T>& operator[](int i) const { return (*p_)[i]; }

 private:
  const Mats<T>* p_ = nullptr;
  Mats<T> copy_;
};

// in = coupling currents into module m from outputs x (in is resized and overwritten).
// Reads x only at the modules coupled to m.
template <class T>
void coupling_input_into(const Network& net, const Params<T>& P, const Mats<T>& x, int m, Mat<T>& in) {
  in.setZero(net.size(m), x[m].cols());
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& cp = cs[c];
    if (cp.p != m && cp.q != m) continue;
    const Mat<T>& w = P[net.w_index(c)];
    if (cp.p == cp.q) {  // intra-module, W symmetric
      in.noalias() += w * x[m];
    } else if (cp.kind == CouplingKind::dense) {
      if (cp.p == m) in.noalias() += w * x[cp.q];
      else in.noalias() += w.transpose() * x[cp.p];
    } else {  // bilinear: U V^T a_q into p, V U^T a_p into q, through r projections
      const Mat<T>& v = P[net.v_index(c)];
      if (cp.p == m) in.noalias() += w * (v.transpose() * x[cp.q]);
      else in.noalias() += v * (w.transpose() * x[cp.p]);
    }
  }
}

}  // namespace eqsim::model::kernels
