#include "data/digits.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <vector>

#include "data/error.hpp"

#ifndef EQSIM_DEFAULT_DATA_DIR
#define EQSIM_DEFAULT_DATA_DIR "data"
#endif

namespace eqsim::data {

std::string digits_path(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* dir = std::getenv("EQSIM_DATA_DIR"); dir && *dir)
    return std::string(dir) + "/digits.csv.gz";
  return std::string(EQSIM_DEFAULT_DATA_DIR) + "/digits.csv.gz";
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

namespace {

std::string gunzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
  if (!gz) throw InputError(path, "", "cannot open gzip stream");
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(gz.get(), buf, sizeof buf)) > 0) text.append(buf, n);
  if (n < 0) throw InputError(path, "", "corrupt gzip stream");
  return text;
}

}  // namespace

Digits load_digits(const std::string& explicit_path) {
  const std::string path = digits_path(explicit_path);
  if (!std::ifstream(path))
    throw InputError(path, "", "digits data not found; fetch it with scripts/fetch-digits.sh "
                               "(or set EQSIM_DATA_DIR)");
  const std::string sha = sha256_file(path);
  if (sha != kDigitsSha256)
    throw InputError(path, "", "SHA-256 mismatch (got " + sha + ", want " + kDigitsSha256 +
                                   "); delete it and run scripts/fetch-digits.sh");
  std::stringstream text(gunzip(path));
  std::vector<std::vector<double>> rows;
  std::string line;
  int line_no = 0;
  while (std::getline(text, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<double> row;
    std::stringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) row.push_back(std::stod(cell));
    if (row.size() != 65)
      throw InputError(path, "line " + std::to_string(line_no), "expected 65 columns");
    rows.push_back(std::move(row));
  }
  Digits d;
  d.images.resize(64, static_cast<Eigen::Index>(rows.size()));
  d.labels.resize(static_cast<Eigen::Index>(rows.size()));
  for (size_t n = 0; n < rows.size(); ++n) {
    for (int p = 0; p < 64; ++p) d.images(p, n) = rows[n][p] / 16.0 * 2.0 - 1.0;
    d.labels(n) = static_cast<int>(rows[n][64]);
  }
  return d;
}

}  // namespace eqsim::data
