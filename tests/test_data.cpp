#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

using namespace eqsim;

TEST_CASE("npy round trip, 1-D and 2-D") {
  auto dir = std::filesystem::temp_directory_path() / "eqsim_test_npy";
  std::filesystem::create_directories(dir);
  Eigen::MatrixXd m = Eigen::MatrixXd::Random(3, 5);
  data::write_npy((dir / "m.npy").string(), m);
  CHECK(data::read_npy((dir / "m.npy").string()) == m);
  Eigen::MatrixXd v = Eigen::MatrixXd::Random(4, 1);
  data::write_npy((dir / "v.npy").string(), v, true);
  CHECK(data::read_npy((dir / "v.npy").string()) == v);
  // header is 64-byte aligned as numpy requires
  CHECK(std::filesystem::file_size(dir / "m.npy") == 128 + 15 * 8);
}

TEST_CASE("npy reader rejects garbage with the file name") {
  auto path = (std::filesystem::temp_directory_path() / "eqsim_bad.npy").string();
  std::ofstream(path) << "not numpy";
  CHECK_THROWS_WITH_AS(data::read_npy(path), doctest::Contains("eqsim_bad.npy"), InputError);
}

TEST_CASE("the real digits load, checked, scaled into [-1, 1]") {
  auto d = data::load_digits();
  CHECK(d.images.cols() == 1797);
  CHECK(d.images.rows() == 64);
  CHECK(d.images.minCoeff() == -1.0);
  CHECK(d.images.maxCoeff() == 1.0);
  for (int k = 0; k < 10; ++k) CHECK((d.labels.array() == k).count() > 170);
}

TEST_CASE("a corrupt or missing digits file is a clear InputError") {
  auto path = (std::filesystem::temp_directory_path() / "eqsim_digits_corrupt.csv.gz").string();
  std::filesystem::copy_file(data::digits_path(), path, std::filesystem::copy_options::overwrite_existing);
  { std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary); f.seekp(100); f.put('X'); }
  CHECK_THROWS_WITH_AS(data::load_digits(path), doctest::Contains("SHA-256 mismatch"), InputError);
  CHECK_THROWS_WITH_AS(data::load_digits("/nonexistent/digits.csv.gz"), doctest::Contains("fetch-digits.sh"), InputError);
}
