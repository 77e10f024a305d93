// The bad-input matrix (DESIGN.md §14): one table of broken inputs across the
// commands, each run through the real eqsim binary. Every case must end with its
// exit code (2 bad input; 1 a simulation outcome), a message naming the file and
// the key or line, and every file that was in its folder before the run (the
// inputs and earlier outputs) byte for byte as it was.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "config/model_dir.hpp"
#include "data/npy.hpp"
#include "helpers.hpp"

using namespace eqsim;
namespace fs = std::filesystem;

namespace {

const std::string kQuick = testing::source_path("configs/quick.yaml");
const std::string kDeviceModel = testing::source_path("device_models/generic-65nm.yaml");
const std::string kBaseline = testing::source_path("device_models/gpu-a100.yaml");

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Text with the first `from` replaced by `to` (the case fails if `from` is absent).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "no '" << from << "' to replace");
  return text.replace(at, from.size(), to);
}

std::string without_line(const std::string& text, const std::string& start) {
  const auto at = text.find("\n" + start);
  REQUIRE(at != std::string::npos);
  return text.substr(0, at + 1) + text.substr(text.find('\n', at + 1) + 1);
}

// A small model folder (6-7-5, dense and bilinear) in dir/model, and earlier samples dir/s.npy.
std::string model_in(const std::string& dir) {
  config::save_model_dir(dir + "/model", testing::small_network(8), "bad-input matrix");
  data::write_npy(dir + "/s.npy", Eigen::MatrixXd::Constant(6, 2, 0.5));
  return dir + "/model";
}

std::string sample_args(const std::string& dir) { return "sample " + dir + "/model --n 2 --t-end 0.02 --out " + dir + "/s.npy"; }

std::string train_args(const std::string& config, const std::string& dir) { return "train " + config + " --out " + dir + "/out"; }

std::string config_with(const std::string& dir, const std::string& from, const std::string& to) {
  return write(dir + "/bad.yaml", replaced(read_bytes(kQuick), from, to));
}

std::string device_model_with(const std::string& dir, const std::string& text) {
  model_in(dir);
  return "netlist " + dir + "/model --device-model " + write(dir + "/dm.yaml", text) + " --out " + dir + "/c.cir";
}

std::string relax_args(const std::string& dir, const std::string& netlist, const std::string& backend) {
  return "relax " + write(dir + "/bad.cir", netlist) + " --backend " + backend + " --out " + dir + "/r.json";
}

struct Case {
  std::string name;
  std::function<std::string(const std::string&)> setup;  // writes the inputs into the case folder; eqsim's arguments
  int exit_code;
  std::vector<std::string> named;  // the message must contain each (file, key or line)
};

const std::string kDm = read_bytes(kDeviceModel);

std::vector<Case> cases() {
  return {
      // Run configs (eqsim train).
      {"broken YAML", [](const std::string& d) { return train_args(write(d + "/bad.yaml", "train:\n  steps: [1, 2\n  seed: 3\n"), d); }, 2,
       {"bad.yaml", "line"}},
      {"truncated YAML", [](const std::string& d) { const auto q = read_bytes(kQuick); return train_args(write(d + "/bad.yaml", q.substr(0, q.find("size: 128") + 7)), d); }, 2,
       {"bad.yaml", "line"}},
      {"empty config file", [](const std::string& d) { return train_args(write(d + "/bad.yaml", ""), d); }, 2, {"bad.yaml"}},
      {"config file missing", [](const std::string& d) { return train_args(d + "/missing.yaml", d); }, 2, {"missing.yaml"}},
      {"unknown key", [](const std::string& d) { return train_args(config_with(d, "  seed: 0", "  seed: 0\n  stpes: 3"), d); }, 2,
       {"bad.yaml", "train.stpes"}},
      {"no training seed", [](const std::string& d) { return train_args(config_with(d, "  seed: 0", "  seeds: []"), d); }, 2,
       {"bad.yaml", "train.seeds"}},
      {"repeated training seed", [](const std::string& d) { return train_args(config_with(d, "  seed: 0", "  seeds: [0, 0]"), d); }, 2,
       {"bad.yaml", "train.seeds", "distinct"}},
      {"misspelt section", [](const std::string& d) { return train_args(config_with(d, "relax:", "relx:"), d); }, 2, {"bad.yaml", "relx"}},
      {"misspelt --set key", [](const std::string& d) { return train_args(kQuick, d) + " --set sample.nn=3"; }, 2, {"sample.nn"}},
      {"--set without a value", [](const std::string& d) { return train_args(kQuick, d) + " --set train.steps"; }, 2, {"train.steps"}},
      {"wrong type: text for a count", [](const std::string& d) { return train_args(config_with(d, "steps: 40", "steps: many"), d); }, 2,
       {"bad.yaml", "train.steps"}},
      {"wrong type: list for a number", [](const std::string& d) { return train_args(config_with(d, "lr: 1.0e-3", "lr: [1, 2]"), d); }, 2,
       {"bad.yaml", "train.lr"}},
      {"NaN learning rate", [](const std::string& d) { return train_args(config_with(d, "lr: 1.0e-3", "lr: .nan"), d); }, 2,
       {"bad.yaml", "train.lr"}},
      {"infinite beta", [](const std::string& d) { return train_args(config_with(d, "beta: 1.25e-3", "beta: .inf"), d); }, 2,
       {"bad.yaml", "train.beta"}},
      {"negative step count", [](const std::string& d) { return train_args(config_with(d, "steps: 40", "steps: -5"), d); }, 2,
       {"bad.yaml", "train.steps"}},
      {"coupling to an unknown module", [](const std::string& d) { return train_args(config_with(d, "to: h2", "to: h9"), d); }, 2,
       {"bad.yaml", "h9"}},
      {"visible module that does not exist", [](const std::string& d) { return train_args(config_with(d, "visible: x", "visible: y"), d); }, 2,
       {"bad.yaml", "visible"}},
      // Model folders (eqsim sample).
      {"model folder missing an array", [](const std::string& d) { model_in(d); fs::remove(d + "/model/W_x_h1.npy"); return sample_args(d); }, 2,
       {"W_x_h1.npy"}},
      {"array of the wrong shape", [](const std::string& d) { model_in(d); data::write_npy(d + "/model/W_x_h1.npy", Eigen::MatrixXd::Zero(6, 8)); return sample_args(d); }, 2,
       {"W_x_h1.npy", "shape"}},
      {"NaN in an array", [](const std::string& d) { model_in(d); Eigen::MatrixXd w = Eigen::MatrixXd::Zero(6, 7); w(2, 3) = std::nan(""); data::write_npy(d + "/model/W_x_h1.npy", w); return sample_args(d); }, 2,
       {"W_x_h1.npy", "NaN"}},
      {"empty .npy", [](const std::string& d) { model_in(d); write(d + "/model/b_x.npy", ""); return sample_args(d); }, 2, {"b_x.npy"}},
      {"truncated .npy", [](const std::string& d) { model_in(d); const auto b = read_bytes(d + "/model/W_x_h1.npy"); write(d + "/model/W_x_h1.npy", b.substr(0, b.size() - 20)); return sample_args(d); }, 2,
       {"W_x_h1.npy", "truncated"}},
      {".npy with a garbled shape", [](const std::string& d) { model_in(d); write(d + "/model/b_x.npy", replaced(read_bytes(d + "/model/b_x.npy"), "(6,", "(x,")); return sample_args(d); }, 2,
       {"b_x.npy", "shape"}},
      {"model folder without model.yaml", [](const std::string& d) { model_in(d); fs::remove(d + "/model/model.yaml"); return sample_args(d); }, 2, {"model.yaml"}},
      {"model.yaml with an unknown key", [](const std::string& d) { model_in(d); write(d + "/model/model.yaml", replaced(read_bytes(d + "/model/model.yaml"), "alpha:", "alpah:")); return sample_args(d); }, 2,
       {"model.yaml", "alpah"}},
      {"model.yaml shapes disagree with the arrays", [](const std::string& d) { model_in(d); write(d + "/model/model.yaml", replaced(read_bytes(d + "/model/model.yaml"), "size: 7", "size: 9")); return sample_args(d); }, 2,
       {"model", "shape"}},
      {"sample --n 0", [](const std::string& d) { model_in(d); return "sample " + d + "/model --n 0 --out " + d + "/s.npy"; }, 2, {"--n"}},
      // Device models (eqsim netlist).
      {"device model missing a key", [](const std::string& d) { return device_model_with(d, without_line(kDm, "c_node_F:")); }, 2, {"dm.yaml", "c_node_F"}},
      {"negative capacitance", [](const std::string& d) { return device_model_with(d, replaced(kDm, "value: 50.0e-15", "value: -50.0e-15")); }, 2,
       {"dm.yaml", "c_node_F"}},
      {"a number without its source", [](const std::string& d) { return device_model_with(d, replaced(kDm, "{value: 1.0e-6, assumption: \"1 uS", "{value: 1.0e-6, note: \"1 uS")); }, 2,
       {"dm.yaml", "g_unit_siemens"}},
      {"device model that is not YAML", [](const std::string& d) { return device_model_with(d, "name: [generic\nVDD_V: 1\n"); }, 2, {"dm.yaml", "line"}},
      // Netlists (eqsim relax).
      {"netlist with an unsupported element", [](const std::string& d) { return relax_args(d, "* q\nR1 a 0 1k\nC1 a 0 1p\nQ1 a b 0 npn\n.end\n", "ode"); }, 2,
       {"bad.cir", "line 4"}},
      {"netlist value that is not a number", [](const std::string& d) { return relax_args(d, "* v\nR1 a 0 abc\nC1 a 0 1p\n.end\n", "ode"); }, 2,
       {"bad.cir", "line 2"}},
      {"netlist header number that is not a number", [](const std::string& d) { return relax_args(d, "* h\n* eqsim: noise_gamma=0.6x6\nR1 a 0 1k\nC1 a 0 1p\n.end\n", "ode"); }, 2,
       {"bad.cir", "line 2", "noise_gamma"}},
      // ngspice rejects a loop of voltage sources; eqsim's topology check names the line before it runs.
      {"netlist ngspice rejects (voltage-source loop)", [](const std::string& d) { return relax_args(d, "* loop\nV1 a 0 DC 1\nV2 a 0 DC 2\nR1 a 0 1k\nC1 a 0 1p\n.tran 1p 10n\n.end\n", "spice"); }, 2,
       {"bad.cir", "line 3"}},
      {"circuit that never settles", [](const std::string& d) { return relax_args(d, "* ramp\nI1 0 a DC 1n\nR1 a 0 1g\nC1 a 0 1p\n.tran 1n 1u\n.end\n", "ode"); }, 1,
       {"bad.cir", "not_settled"}},
      // Outputs.
      {"output folder that cannot be written", [](const std::string& d) { return train_args(kQuick, "/proc/eqsim_cannot_write_" + fs::path(d).filename().string()); }, 2,
       {"/proc/eqsim_cannot_write_"}},
      {"full output folder (file size limit)", [](const std::string& d) { model_in(d); return "__limit__ " + sample_args(d); }, 2, {"s.npy"}},
      {"evaluate samples of the wrong width", [](const std::string& d) { data::write_npy(d + "/w.npy", Eigen::MatrixXd::Zero(10, 3)); return "evaluate " + d + "/w.npy"; }, 2,
       {"w.npy", "64"}},
      {"energy baseline missing", [](const std::string& d) { model_in(d); return "energy " + d + "/model --device-model " + kDeviceModel + " --baseline " + d + "/gpu.yaml --out " + d + "/l.json"; }, 2,
       {"gpu.yaml"}},
  };
}

// Every regular file under dir with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[e.path().string()] = read_bytes(e.path().string());
  return files;
}

// The command line of a case: "__limit__ ARGS" runs eqsim with a file-size limit
// of 0 (every write fails with EFBIG, as on a full disk; SIGXFSZ ignored).
std::string command_of(const std::string& args) {
  const std::string limit = "__limit__ ";
  if (args.rfind(limit, 0) != 0) return std::string(EQSIM_BINARY) + " " + args;
  return "bash -c \"trap '' XFSZ; ulimit -f 0; exec " + std::string(EQSIM_BINARY) + " " + args.substr(limit.size()) + "\"";
}

}  // namespace

TEST_CASE("bad-input matrix: exit code, file and key or line named, earlier files intact") {
  const auto table = cases();
  CHECK(table.size() >= 30);
  int k = 0;
  for (const auto& c : table) {
    const std::string dir = testing::fresh_dir("bad_input_" + std::to_string(k++));
    write(dir + "/earlier.txt", "written before the failing command\n");
    const std::string args = c.setup(dir);
    const auto before = snapshot(dir);
    const auto r = testing::run_command(command_of(args));
    INFO("case '" << c.name << "': eqsim " << args << "\n" << r.output);
    CHECK(r.exit_code == c.exit_code);
    for (const auto& n : c.named) CHECK_MESSAGE(r.output.find(n) != std::string::npos, "message does not name " << n);
    CHECK(r.output.find("internal error") == std::string::npos);
    for (const auto& [path, bytes] : before) CHECK_MESSAGE(read_bytes(path) == bytes, path << " changed");
  }
}
