#pragma once
// A model folder: MODEL_DIR/model.yaml (network description, parameter list
// with shapes) + one NumPy .npy per array, loadable with numpy.load.
#include <optional>
#include <string>

#include "learn/mlp.hpp"
#include "learn/record.hpp"
#include "learn/sampler.hpp"
#include "model/network.hpp"

namespace eqsim::config {

// Writes the folder atomically: everything goes to DIR.tmp first, then replaces DIR.
// A diffusion model also records its noise schedule and sampler settings; a trained
// one how it was trained (model.yaml `training:`).
void save_model_dir(const std::string& dir, const model::Network& net, const std::string& note = "",
                    const learn::AnnealedLangevinOptions* diffusion = nullptr,
                    const learn::TrainingRecord* training = nullptr);

// Loads and checks a model folder. Throws InputError naming the file and key on a
// missing file, malformed YAML, unknown key, wrong array shape or NaN/Inf value.
model::Network load_model_dir(const std::string& dir);

// The MLP baseline's folder (same layout, kind: mlp).
void save_mlp_dir(const std::string& dir, const learn::Mlp& mlp);
learn::Mlp load_mlp_dir(const std::string& dir);

// Reads the model kind ("energy" or "mlp") of a model folder.
std::string model_dir_kind(const std::string& dir);

// The noise schedule of a diffusion model folder; empty sigmas for a flow model.
learn::AnnealedLangevinOptions load_diffusion_schedule(const std::string& dir);

// How the model in DIR was trained; empty for a folder that does not record it
// (written by hand, or before eqsim recorded training). InputError for a damaged record.
std::optional<learn::TrainingRecord> load_training_record(const std::string& dir);

// Network description <-> YAML text (the `network:` section schema).
std::string network_yaml(const model::NetworkSpec& spec);

}  // namespace eqsim::config

namespace eqsim::config {

// Training state for --resume: the parameters, Adam moments and step count.
struct Checkpoint {
  long step = 0;
  std::vector<std::string> names;
  model::ParamList params;
  learn::AdamState adam;
};

// Writes DIR atomically (DIR.tmp, then rename).
void save_checkpoint(const std::string& dir, const Checkpoint& ck);

// Fills ck.params/adam/step from DIR; ck.names and ck.params give the expected layout.
// Throws InputError on a mismatched or damaged checkpoint.
void load_checkpoint(const std::string& dir, Checkpoint& ck);

// Model folders and checkpoints are replaced by two renames (dir -> dir.old, new -> dir);
// after a kill between them this puts dir.old back. A no-op otherwise.
void recover_interrupted_write(const std::string& dir);

}  // namespace eqsim::config
