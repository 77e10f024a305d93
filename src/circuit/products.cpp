#include "circuit/products.hpp"

#include <algorithm>
#include <cmath>

#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

// An intra-module array from its strict upper triangle: (i, j) = (j, i) below, 0 on the diagonal.
void mirror_upper(Eigen::MatrixXd& m) {
  for (Eigen::Index j = 0; j < m.cols(); ++j)
    for (Eigen::Index i = j; i < m.rows(); ++i) m(i, j) = i == j ? 0 : m(j, i);
}

// One multiplier per entry: gain 1 + N(0, sigma_g), offsets N(0, sigma_o) (model units);
// an intra-module coupling's pair (i, j), i < j, shares its multiplier with (j, i), whose
// inputs are swapped; its diagonal has none.
void draw_multipliers(std::mt19937_64& rng, double sigma_g, double sigma_o, bool with_offsets, bool pairs,
                      Eigen::MatrixXd& gain, Eigen::MatrixXd& ox, Eigen::MatrixXd& oy) {
  std::normal_distribution<double> normal(0.0, 1.0);
  ox.setZero(gain.rows(), gain.cols()), oy.setZero(gain.rows(), gain.cols());
  for (Eigen::Index j = 0; j < gain.cols(); ++j)
    for (Eigen::Index i = 0; i < gain.rows(); ++i) {
      if (pairs && i >= j) continue;
      gain(i, j) = 1 + sigma_g * normal(rng);
      if (with_offsets) ox(i, j) = sigma_o * normal(rng), oy(i, j) = sigma_o * normal(rng);
    }
  if (!pairs) return;
  mirror_upper(gain);
  for (Eigen::Index j = 0; j < gain.cols(); ++j)
    for (Eigen::Index i = j; i < gain.rows(); ++i) ox(i, j) = i == j ? 0 : oy(j, i), oy(i, j) = i == j ? 0 : ox(j, i);
}

}  // namespace

AnalogProducts::AnalogProducts(const model::Network& net, const DeviceModel& dm, unsigned long long mismatch_seed,
                               ProductReadoutOptions opt)
    : net_(net), opt_(opt) {
  if (!(opt_.beta > 0) || opt_.repeats < 1 || opt_.adc_bits < 0 || opt_.adc_bits > 24 || !(opt_.headroom >= 1) ||
      opt_.temperature < 0)
    throw InputError("", "readout", "analog products need beta > 0, repeats >= 1, adc_bits 0..24, headroom >= 1, temperature >= 0");
  const double sigma_g = dm.pelgrom_gain_m / std::sqrt(dm.transconductor_area_m2);
  const double sigma_o = dm.pelgrom_offset_V_m / std::sqrt(dm.transconductor_area_m2) / dm.v_unit_V;
  opt_.temperature *= dm.noise_gamma;  // from here: each input's noise variance per product
  std::seed_seq seq{mismatch_seed, 0x50726f64756374ULL};  // "Product": a stream of its own
  std::mt19937_64 rng(seq);
  const auto& ps = net.params();
  gain_ = ps, offset_x_ = ps, offset_y_ = ps;
  std::vector<bool> pairs(ps.size(), false), offsets(ps.size(), false);
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c) {
    offsets[net.w_index(c)] = true;
    pairs[net.w_index(c)] = net.is_self(c);
    if (net.spec().couplings[c].kind == model::CouplingKind::bilinear) offsets[net.v_index(c)] = true;
  }
  for (size_t a = 0; a < ps.size(); ++a)
    draw_multipliers(rng, sigma_g, sigma_o, offsets[a], pairs[a], gain_[a], offset_x_[a], offset_y_[a]);
  std::seed_seq noise_seq{mismatch_seed, opt_.noise_seed, 0x4e6f697365ULL};
  noise_.seed(noise_seq);
}

void AnalogProducts::read(model::ParamList& grad, const model::State& free_state, const std::vector<int>& levels) {
  const model::ParamList digital = grad;
  const double B = free_state.batch(), s2 = opt_.temperature, r = opt_.repeats;
  const double per_product = 1.0 / ((opt_.symmetric ? 2 : 1) * opt_.beta * B);  // accumulator -> gradient units
  std::normal_distribution<double> normal(0.0, 1.0);
  auto mean_square = [B](const Eigen::MatrixXd& a) { return Eigen::VectorXd(a.rowwise().squaredNorm() / B); };
  auto bias_gradient = [&](int m) { return Eigen::VectorXd(digital[net_.bias_index(m)].col(0)); };
  // An array of products of X (rows) and Y (columns): gain, offsets against the other
  // input's phase difference (gx, gy: its bias-like gradient), noise from <X^2>, <Y^2>.
  auto products = [&](int a, double c, const Eigen::VectorXd& gx, const Eigen::VectorXd& gy, const Eigen::VectorXd& x2,
                      const Eigen::VectorXd& y2, bool pairs) {
    Eigen::MatrixXd g = digital[a];
    g += c * offset_y_[a].cwiseProduct(gx.replicate(1, g.cols())) + c * offset_x_[a].cwiseProduct(gy.transpose().replicate(g.rows(), 1));
    g = gain_[a].cwiseProduct(g);
    for (Eigen::Index j = 0; j < g.cols(); ++j)
      for (Eigen::Index i = 0; i < g.rows(); ++i) {
        if (pairs && i >= j) continue;
        const double var = 2 * B * s2 * (x2(i) + y2(j) + s2) / r;
        g(i, j) += c * per_product * std::abs(gain_[a](i, j)) * std::sqrt(var) * normal(noise_);
      }
    if (pairs) mirror_upper(g);
    grad[a] = g;
  };
  // A product of X and a noiseless reference (a bias) or level switch (a table entry):
  // the gain alone, noise from the products accumulated.
  auto references = [&](int a, const Eigen::VectorXd& count) {
    grad[a] = gain_[a].cwiseProduct(digital[a]);
    for (Eigen::Index j = 0; j < grad[a].cols(); ++j)
      for (Eigen::Index i = 0; i < grad[a].rows(); ++i)
        grad[a](i, j) += per_product * std::abs(gain_[a](i, j)) * std::sqrt(2 * count(j) * s2 / r) * normal(noise_);
  };
  for (int m = 0; m < net_.module_count(); ++m) {
    references(net_.bias_index(m), Eigen::VectorXd::Constant(1, B));
    if (const int t = net_.table_index(m); t >= 0) {
      Eigen::VectorXd count = Eigen::VectorXd::Zero(net_.params()[t].cols());
      for (int l : levels) count(l) += 1;
      references(t, count);
    }
  }
  const auto& cs = net_.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& ap = free_state.a[cs[c].p];
    const auto& aq = free_state.a[cs[c].q];
    if (cs[c].kind == model::CouplingKind::bilinear) {
      products(net_.w_index(c), 1, bias_gradient(cs[c].p), net_.v(c).transpose() * bias_gradient(cs[c].q), mean_square(ap),
               mean_square(net_.v(c).transpose() * aq), false);
      products(net_.v_index(c), 1, bias_gradient(cs[c].q), net_.w(c).transpose() * bias_gradient(cs[c].p), mean_square(aq),
               mean_square(net_.w(c).transpose() * ap), false);
    } else {
      products(net_.w_index(c), net_.is_self(c) ? 0.5 : 1, bias_gradient(cs[c].p), bias_gradient(cs[c].q), mean_square(ap),
               mean_square(aq), net_.is_self(c));
    }
  }
  if (opt_.adc_bits == 0) return;
  const double top = std::ldexp(1.0, opt_.adc_bits - 1) - 1;
  if (lsb_.empty())
    for (const auto& g : grad) lsb_.push_back(std::max(opt_.headroom * g.cwiseAbs().maxCoeff(), 1e-300) / top);
  for (size_t a = 0; a < grad.size(); ++a)
    grad[a] = (grad[a] / lsb_[a]).array().round().max(-top).min(top).matrix() * lsb_[a];
}

}  // namespace eqsim::circuit
