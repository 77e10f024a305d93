#pragma once
// The UCI optical digits (1797 images, 8x8, pixels 0..16), as shipped in
// Debian's python3-sklearn (sklearn/datasets/data/digits.csv.gz). The setup
// script fetches that one file into the cache; this loader checks its SHA-256.
#include <Eigen/Core>
#include <string>

namespace eqsim::data {

inline constexpr const char* kDigitsSha256 =
    "46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a";

struct Digits {
  Eigen::MatrixXd images;  // 64 x N, scaled pixel/16*2-1 into [-1, 1]
  Eigen::VectorXi labels;  // N, 0..9
};

// The cache path: explicit path if non-empty, else $EQSIM_DATA_DIR/digits.csv.gz,
// else the build's default data folder.
std::string digits_path(const std::string& explicit_path = "");

// Loads and checks the digits. Throws InputError naming the file when it is
// missing (with the command that fetches it), corrupt (SHA-256) or malformed.
Digits load_digits(const std::string& explicit_path = "");

// Hex SHA-256 of a file's bytes.
std::string sha256_file(const std::string& path);

}  // namespace eqsim::data
