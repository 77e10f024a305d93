#include "study/jobs.hpp"

#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "study/outcome.hpp"
#include "study/progress.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "learn/mlp.hpp"
#include "learn/sampler.hpp"

namespace eqsim::study {
namespace fs = std::filesystem;

void make_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw InputError(dir, "", "cannot create output folder: " + ec.message());
  const fs::path probe = fs::path(dir) / ".eqsim_write_probe";
  std::ofstream(probe) << "";
  if (!fs::exists(probe)) throw InputError(dir, "", "output folder is not writable");
  fs::remove(probe, ec);
}

namespace {

// Keeps the header and rows with step <= last_step (drops a torn last line too).
void truncate_log(const std::string& path, long last_step) {
  std::ifstream in(path);
  std::string line, kept;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      kept += line + "\n";
      header = false;
      continue;
    }
    if (line.empty() || in.eof()) continue;  // a line without newline was torn by the kill
    if (std::stol(line.substr(0, line.find(','))) <= last_step) kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept;
}

}  // namespace

std::string resolve_project_path(const std::string& path) {
  if (fs::exists(path) || path.empty() || path[0] == '/') return path;
  const std::string in_source = std::string(EQSIM_SOURCE_DIR) + "/" + path;
  return fs::exists(in_source) ? in_source : path;
}

learn::AnnealedLangevinOptions diffusion_schedule(const config::RunConfig& cfg) {
  const auto& d = cfg.diffusion;
  model::RelaxOptions relax = cfg.sample.relax;
  relax.method = model::RelaxMethod::euler;  // Langevin substrate: time-domain relaxation
  return {learn::geometric_sigmas(d.sigma_max, d.sigma_min, d.levels), d.steps_per_level, d.step_scale, relax};
}

learn::BatchSource batch_source(const config::RunConfig& cfg, const Eigen::MatrixXd& data) {
  if (cfg.task == config::Task::diffusion) {
    auto sampler = std::make_shared<learn::DenoisingBatchSampler>(data, cfg.train, diffusion_schedule(cfg).sigmas);
    return [sampler](long step) { return sampler->draw(step); };
  }
  auto sampler = std::make_shared<learn::FlowBatchSampler>(data, cfg.train);
  return [sampler](long step) { return sampler->draw(step); };
}

learn::BatchSource shared_batches(learn::BatchSource source) {
  struct Slot {
    std::once_flag drawn;
    learn::FlowBatch batch;
  };
  struct Shared {
    learn::BatchSource source;
    std::mutex slots_mutex, source_mutex;  // the map; the source (not safe for concurrent calls)
    std::map<long, std::shared_ptr<Slot>> slots;
  };
  auto shared = std::make_shared<Shared>();
  shared->source = std::move(source);
  return [shared](long step) {
    std::shared_ptr<Slot> slot;
    {
      const std::lock_guard<std::mutex> lock(shared->slots_mutex);
      auto& s = shared->slots[step];
      if (!s) s = std::make_shared<Slot>();
      slot = s;
    }
    std::call_once(slot->drawn, [&] {
      const std::lock_guard<std::mutex> lock(shared->source_mutex);
      slot->batch = shared->source(step);
    });
    return slot->batch;
  };
}

TrainSummary train_job(const config::RunConfig& cfg, const std::string& dir, TrainKind kind, bool resume) {
  const learn::AnnealedLangevinOptions schedule = diffusion_schedule(cfg);
  make_output_dir(dir);
  const std::string log_path = dir + "/train_log.csv", ck_dir = dir + "/checkpoint";
  if (!resume && fs::exists(log_path))
    throw InputError(log_path, "", "a training run is already here; pass --resume to continue it or choose another --out");
  const auto digits = data::load_digits(cfg.data_path);

  model::Network net(cfg.network);
  net.init_xavier(cfg.init_gain, cfg.train.seed);
  learn::Mlp mlp(net.size(cfg.network.visible), cfg.baselines.mlp_hidden);
  mlp.init_xavier(cfg.init_gain, cfg.train.seed);
  std::unique_ptr<learn::Learner> learner;
  std::vector<std::string> names;
  if (kind == TrainKind::energy) {
    learner = std::make_unique<learn::EnergyLearner>(net, cfg.gradient_options(), cfg.train.adam);
    names = net.param_names();
  } else {
    learner = std::make_unique<learn::MlpLearner>(mlp, cfg.train.adam);
    names.assign(learn::Mlp::kNames, learn::Mlp::kNames + 6);
  }

  TrainSummary sum;
  config::recover_interrupted_write(ck_dir);
  config::recover_interrupted_write(dir + "/model");
  if (resume && fs::exists(ck_dir)) {
    config::Checkpoint ck{0, names, learner->params(), {}};
    config::load_checkpoint(ck_dir, ck);
    learner->params() = ck.params;
    learner->adam() = ck.adam;
    sum.resumed_from = ck.step;
    truncate_log(log_path, ck.step);
    fmt::print(stderr, "resuming {} from step {}\n", dir, ck.step);
  } else {
    std::ofstream(log_path, std::ios::trunc) << "step,loss,grad_norm,relax_change,wall_s\n";
  }
  std::ofstream log(log_path, std::ios::app);
  const std::string label = kind == TrainKind::mlp ? "train mlp" : "train " + learn::to_string(cfg.estimator);
  ProgressLine progress(label, cfg.train.steps - sum.resumed_from);
  std::vector<double> losses;
  learn::TrainHooks hooks;
  hooks.checkpoint_every = cfg.checkpoint_every;
  hooks.on_step = [&](const learn::StepRecord& r) {
    log << fmt::format("{},{:.10g},{:.10g},{:.6g},{:.6g}\n", r.step, r.loss, r.grad_norm, r.relax_change, r.wall_s);
    log.flush();
    losses.push_back(r.loss);
    sum.wall_s += r.wall_s;
    progress.update(r.step - sum.resumed_from, fmt::format("loss {:.4f}", r.loss));
  };
  hooks.on_checkpoint = [&](long step) {
    config::save_checkpoint(ck_dir, {step, names, learner->params(), learner->adam()});
    if (kind == TrainKind::energy) {
      learn::TrainingRecord record = cfg.training_record();
      record.steps_done = step;
      config::save_model_dir(dir + "/model", net, "trained by eqsim, step " + std::to_string(step),
                             cfg.task == config::Task::diffusion ? &schedule : nullptr, &record);
    }
    else config::save_mlp_dir(dir + "/model", mlp);
  };
  learn::train(*learner, batch_source(cfg, digits.images), cfg.train, sum.resumed_from, hooks);
  sum.steps = cfg.train.steps;
  const size_t tail = std::max<size_t>(1, losses.size() / 20);
  for (size_t i = losses.size() - std::min(tail, losses.size()); i < losses.size(); ++i) sum.final_loss += losses[i] / tail;
  progress.finish(fmt::format("final loss {:.4f}", sum.final_loss));
  return sum;
}

namespace {

bool training_complete(const std::string& dir, long steps) {
  std::ifstream log(dir + "/train_log.csv");
  std::string line, last;
  while (std::getline(log, line))
    if (!line.empty()) last = line;
  return fs::exists(dir + "/model/model.yaml") && !last.empty() && last[0] != 's' &&
         std::stol(last.substr(0, last.find(','))) >= steps;
}

}  // namespace

void train_stage(const config::RunConfig& cfg, const std::string& dir, TrainKind kind) {
  if (training_complete(dir, cfg.train.steps)) {
    fmt::print(stderr, "{}: training already complete, skipped\n", dir);
    return;
  }
  train_job(cfg, dir, kind, fs::exists(dir + "/train_log.csv"));
}

Eigen::MatrixXd sample_job(const std::string& model_dir, const learn::SampleOptions& opt) {
  ProgressLine progress("sample", std::lround(opt.t_end / opt.dt));
  auto report = [&](int done, int) { progress.update(done); };
  Eigen::MatrixXd x;
  if (config::model_dir_kind(model_dir) == "mlp") {
    const learn::Mlp mlp = config::load_mlp_dir(model_dir);
    x = learn::generate(learn::mlp_velocity(mlp), static_cast<int>(mlp.params()[4].rows()), opt, report);
  } else if (const auto schedule = config::load_diffusion_schedule(model_dir); !schedule.sigmas.empty()) {
    const model::Network net = config::load_model_dir(model_dir);
    ProgressLine langevin("annealed Langevin", static_cast<long>(schedule.sigmas.size()) * schedule.steps_per_level + 1);
    x = learn::generate_annealed(learn::energy_score(net, schedule), net.size(net.spec().visible), opt,
                                 schedule, [&](int done, int) { langevin.update(done); });
  } else {
    const model::Network net = config::load_model_dir(model_dir);
    x = learn::generate(learn::energy_velocity(net, opt), net.size(net.spec().visible), opt, report);
  }
  progress.finish(fmt::format("{} samples", x.cols()));
  return x;
}

namespace {

// Samples and Euler steps beyond which the spice backend warns about its cost.
constexpr long spice_warn_samples = 16;

nlohmann::json settle_json(const SettleStats& st) {
  return {{"relaxations", st.relaxations},
          {"settled", st.settled},
          {"not_settled", st.not_settled},
          {"settled_late", st.settled_late},
          {"backend_errors", st.backend_errors},
          {"first_backend_error", st.first_backend_error},
          {"late_settle_fraction", late_settle_fraction},
          {"settle_time_mean_s", st.settled > 0 ? st.settle_time_sum_s / static_cast<double>(st.settled) : 0.0},
          {"settle_time_max_s", st.settle_time_max_s},
          {"per_step", {{"not_settled", st.not_settled_per_step}, {"settle_time_max_s", st.settle_time_max_per_step_s}}}};
}

// How the samples are drawn: Euler steps of the flow, or annealed Langevin over the
// noise schedule of a diffusion model (empty sigmas: a flow model).
nlohmann::json sampler_json(const learn::SampleOptions& opt, const learn::AnnealedLangevinOptions& schedule) {
  if (schedule.sigmas.empty()) return {{"kind", "flow_euler"}, {"t_end", opt.t_end}, {"dt", opt.dt}};
  return {{"kind", "annealed_langevin"},
          {"sigmas", schedule.sigmas},
          {"steps_per_level", schedule.steps_per_level},
          {"step_scale", schedule.step_scale}};
}

nlohmann::json circuit_record(const std::string& model_dir, const learn::SampleOptions& opt,
                              const learn::AnnealedLangevinOptions& schedule, const CircuitVelocityOptions& c,
                              const CircuitVelocity& cv) {
  const auto& dm = c.device_model;
  return {{"model_dir", model_dir},
          {"n", opt.n},
          {"sampler", sampler_json(opt, schedule)},
          {"seed", opt.seed},
          {"backend", c.backend},
          {"backend_version", cv.backend_version()},
          {"device_model", {{"name", dm.name}, {"file", dm.source}, {"v_unit_V", dm.v_unit_V}, {"tau_s", circuit::tau_s(dm)}}},
          {"circuit_elements", cv.element_count()},
          {"mismatch_seed", c.mismatch_seed ? nlohmann::json(*c.mismatch_seed) : nlohmann::json(nullptr)},
          {"temperature_K", c.temperature_K},
          {"noise_seed", c.noise_seed},
          {"relax_time_s", cv.relax_time_s()},
          {"settle_tol_V", cv.settle_tol_V()},
          {"settle", settle_json(cv.stats())}};
}

void write_record(const std::string& path, nlohmann::json record, const std::string& status, const std::string& message) {
  record["status"] = status;
  record["message"] = message;
  data::write_text_atomic(path, record.dump(2) + "\n");
}

void warn_spice_cost(const learn::SampleOptions& opt, long steps, long elements) {
  if (opt.n <= spice_warn_samples) return;
  fmt::print(stderr,
             "warning: this backend runs once per sample and sampler step: {} x {} = {} runs of a {}-element "
             "circuit, as many at once as the backend has engines (spice: workers); this is slow (a batched backend "
             "such as ode relaxes all samples as one batch)\n",
             opt.n, steps, opt.n * steps, elements);
}

// Velocity (or score) evaluations of one sampling run.
long sampler_steps(const learn::SampleOptions& opt, const learn::AnnealedLangevinOptions& schedule) {
  if (schedule.sigmas.empty()) return std::lround(opt.t_end / opt.dt);
  return static_cast<long>(schedule.sigmas.size()) * schedule.steps_per_level + 1;
}

// Flow: Euler steps of the circuit's velocity; diffusion: annealed Langevin on its score.
Eigen::MatrixXd run_sampler(CircuitVelocity& cv, int dim, const learn::SampleOptions& opt,
                            const learn::AnnealedLangevinOptions& schedule) {
  if (schedule.sigmas.empty()) return learn::generate(cv.field(), dim, opt);
  return learn::generate_annealed(learn::spring_score(cv.level_field(), schedule.sigmas), dim, opt, schedule);
}

}  // namespace

Eigen::MatrixXd sample_circuit_job(const std::string& model_dir, const learn::SampleOptions& opt,
                                   const CircuitVelocityOptions& circuit, const std::string& record_path) {
  if (config::model_dir_kind(model_dir) == "mlp")
    throw InputError(model_dir, "--backend", "an MLP baseline has no circuit; use --backend ideal");
  const model::Network net = config::load_model_dir(model_dir);
  const auto schedule = config::load_diffusion_schedule(model_dir);
  const long steps = sampler_steps(opt, schedule);
  ProgressLine progress("sample (" + circuit.backend + ")", steps * opt.n);
  CircuitVelocityOptions copt = circuit;
  copt.on_relaxed = [&](long done, const SettleStats& st) {
    progress.update(done, fmt::format("{} not settled", st.not_settled));
  };
  CircuitVelocity cv(net, copt);
  if (!cv.batched()) warn_spice_cost(opt, steps, cv.element_count());
  Eigen::MatrixXd x;
  try {
    x = run_sampler(cv, net.size(net.spec().visible), opt, schedule);
  } catch (const SimulationOutcome& e) {
    write_record(record_path, circuit_record(model_dir, opt, schedule, circuit, cv), "failed", e.what());
    throw;
  }
  write_record(record_path, circuit_record(model_dir, opt, schedule, circuit, cv), "ok", "");
  const auto& st = cv.stats();
  progress.finish(fmt::format("{} samples", x.cols()));
  fmt::print(stderr,
             "circuit in the loop ({}): {} of {} relaxations did not settle within {:.4g} s (tol {:.3g} V; {} of them only "
             "in the last {:.0f} % of it){}; record: {}\n",
             cv.backend_version(), st.not_settled, st.relaxations, cv.relax_time_s(), cv.settle_tol_V(), st.settled_late,
             100 * (1 - late_settle_fraction), st.not_settled > 0 ? ": lengthen --relax-time-s" : "", record_path);
  if (st.backend_errors > 0)
    fmt::print(stderr, "warning: {} relaxations lost to a failed spice worker were run again on a fresh one; the first: {}\n",
               st.backend_errors, st.first_backend_error);
  return x;
}

std::vector<LabelledQuality> evaluate_job(const std::vector<std::pair<std::string, Eigen::MatrixXd>>& sets,
                                          const std::string& data_path) {
  const auto digits = data::load_digits(data_path);
  const metrics::DigitClassifier clf(digits);
  std::vector<LabelledQuality> rows;
  for (const auto& [label, x] : sets) {
    if (x.rows() != 64) throw InputError(label, "", "expected 64 pixels per sample, got " + std::to_string(x.rows()));
    if (!x.allFinite()) throw InputError(label, "", "samples contain NaN or Inf");
    LabelledQuality q;
    q.label = label;
    q.quality = metrics::evaluate_samples(x, clf, digits);
    rows.push_back(q);
  }
  return rows;
}

std::vector<learn::GradcheckRow> gradcheck_job(const config::RunConfig& cfg, const std::string& model_dir) {
  model::Network net(cfg.network);
  net.init_xavier(cfg.init_gain, cfg.train.seed);
  if (!model_dir.empty()) net = config::load_model_dir(model_dir);
  const auto digits = data::load_digits(cfg.data_path);
  learn::TrainOptions batch_opt = cfg.train;
  batch_opt.batch_size = cfg.gradcheck.batch_size;
  batch_opt.seed = cfg.train.seed + 7919;
  batch_opt.pairing = learn::Pairing::random;
  learn::GradcheckOptions opt;
  opt.estimators.clear();
  for (const auto& e : cfg.gradcheck.estimators) opt.estimators.push_back(learn::estimator_from_string(e));
  opt.betas = cfg.gradcheck.betas;
  opt.relax_steps = cfg.gradcheck.relax_steps;
  if (std::find(opt.relax_steps.begin(), opt.relax_steps.end(), 0) == opt.relax_steps.end()) opt.relax_steps.push_back(0);
  opt.repeats = cfg.gradcheck.repeats;
  opt.budget = cfg.relax;
  opt.temperatures = cfg.gradcheck.temperatures;
  const circuit::DeviceModel dm = config::load_device_model(resolve_project_path(cfg.gradcheck.device_model));
  opt.kelvin_per_unit = 1.0 / circuit::model_temperature(dm, 1.0);
  config::RunConfig gc = cfg;
  gc.train = batch_opt;
  std::optional<ProgressLine> progress;
  auto rows = learn::gradcheck(net, batch_source(gc, digits.images), opt, [&](int done, int total) {
    if (!progress) progress.emplace("gradcheck", total);
    progress->update(done);
  });
  if (progress) progress->finish(fmt::format("{} rows", rows.size()));
  return rows;
}

}  // namespace eqsim::study
