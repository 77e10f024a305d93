#pragma once
// Typed errors shared by every stage. Bad input throws InputError (the CLI
// maps it to exit code 2); simulation outcomes are statuses, never exceptions.
#include <stdexcept>
#include <string>

namespace eqsim {

// Bad user input: names the file and, where there is one, the key or line.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& key, const std::string& what)
      : std::runtime_error(format(file, key, what)), file_(file), key_(key) {}
  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }

 private:
  static std::string format(const std::string& file, const std::string& key,
                            const std::string& what) {
    std::string s = file.empty() ? std::string("input") : file;
    if (!key.empty()) s += ": " + key;
    return s + ": " + what;
  }
  std::string file_, key_;
};

}  // namespace eqsim
