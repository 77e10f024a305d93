#pragma once
// NumPy .npy files (format 1.0), so Python users can numpy.load every array.
// Arrays are written as little-endian float64 in C order; float32 and float64
// are read. A 1-D array of length n reads as an n x 1 matrix.
#include <Eigen/Core>
#include <string>

namespace eqsim::data {

// Writes m (rows x cols, or a 1-D vector when as_vector) atomically: the file
// appears whole or not at all. Throws InputError if the folder is unwritable.
void write_npy(const std::string& path, const Eigen::MatrixXd& m, bool as_vector = false);

// Reads a float32/float64 .npy of 1 or 2 dimensions. Throws InputError naming
// the file on a missing file, bad header, unsupported dtype or truncated data.
Eigen::MatrixXd read_npy(const std::string& path);

// Writes text atomically (temp file + rename). Throws InputError on failure.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace eqsim::data
