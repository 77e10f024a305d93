#include "learn/adam.hpp"

#include <cmath>

namespace eqsim::learn {

double adam_update(const AdamOptions& opt, AdamState& st, model::ParamList& grad, model::ParamList& params) {
  const double gnorm = model::norm(grad);
  if (opt.clip_norm > 0 && gnorm > opt.clip_norm)
    for (auto& g : grad) g *= opt.clip_norm / gnorm;
  if (st.m.empty()) {
    for (const auto& p : params) {
      st.m.push_back(Eigen::MatrixXd::Zero(p.rows(), p.cols()));
      st.v.push_back(Eigen::MatrixXd::Zero(p.rows(), p.cols()));
    }
  }
  ++st.step;
  const double c1 = 1.0 - std::pow(opt.beta1, static_cast<double>(st.step));
  const double c2 = 1.0 - std::pow(opt.beta2, static_cast<double>(st.step));
  for (size_t i = 0; i < params.size(); ++i) {
    st.m[i] = opt.beta1 * st.m[i] + (1 - opt.beta1) * grad[i];
    st.v[i] = opt.beta2 * st.v[i] + (1 - opt.beta2) * grad[i].cwiseAbs2();
    params[i].array() -= opt.lr * (st.m[i].array() / c1) / ((st.v[i].array() / c2).sqrt() + opt.eps);
  }
  return gnorm;
}

}  // namespace eqsim::learn
