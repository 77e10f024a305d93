#pragma once
// Shared by the fuzz targets: the fuzz input as files, since eqsim's readers
// take paths. Each process writes under its own temp folder.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace eqsim::fuzz {

// This process's scratch folder (created once).
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("eqsim_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes bytes to scratch()/name and returns its path.
inline std::string write_file(const std::string& name, const std::string& bytes) {
  const auto p = scratch() / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

}  // namespace eqsim::fuzz
