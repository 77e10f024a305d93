// The model folder reader (eqsim sample / netlist / energy MODEL_DIR). The input
// is a folder in one text: files, each introduced by a line "==> NAME <==" (as
// `head` prints several files), NAME of [A-Za-z0-9_.] only; the folder is read
// as eqsim reads it (its kind, then the energy network or MLP, and the schedule).
#include <cstdint>
#include <filesystem>
#include <string>

#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "fuzz_input.hpp"

namespace {

bool plain_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || n[0] == '.') return false;
  for (const char ch : n)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.')) return false;
  return true;
}

// Writes the files of `folder` into a fresh scratch()/model and returns its path.
std::string write_folder(const std::string& folder) {
  const auto dir = eqsim::fuzz::scratch() / "model";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string open = "==> ", close = " <==\n";
  for (size_t at = folder.find(open); at != std::string::npos;) {
    const size_t name_end = folder.find(close, at);
    if (name_end == std::string::npos) break;
    const std::string name = folder.substr(at + open.size(), name_end - at - open.size());
    const size_t body = name_end + close.size();
    const size_t next = folder.find("\n" + open, body);
    const size_t body_end = next == std::string::npos ? folder.size() : next;
    if (plain_name(name)) eqsim::fuzz::write_file("model/" + name, folder.substr(body, body_end - body));
    at = next == std::string::npos ? next : next + 1;
  }
  return dir.string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = write_folder(std::string(reinterpret_cast<const char*>(data), size));
  try {
    if (eqsim::config::model_dir_kind(dir) == "mlp") {
      eqsim::config::load_mlp_dir(dir);
    } else {
      eqsim::config::load_model_dir(dir);
      eqsim::config::load_diffusion_schedule(dir);
    }
  } catch (const eqsim::InputError&) {
  }
  return 0;
}
