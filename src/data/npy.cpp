#include "data/npy.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "data/error.hpp"

namespace eqsim::data {
namespace {

std::string shape_text(Eigen::Index rows, Eigen::Index cols, bool as_vector) {
  if (as_vector) return "(" + std::to_string(rows * cols) + ",)";
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

std::string header_value(const std::string& header, const std::string& key,
                         const std::string& path) {
  auto pos = header.find("'" + key + "'");
  if (pos == std::string::npos) throw InputError(path, key, "npy header lacks this field");
  pos = header.find(':', pos);
  auto end = key == "shape" ? header.find(')', pos) + 1 : header.find(',', pos);
  std::string v = header.substr(pos + 1, end - pos - 1);
  v.erase(0, v.find_first_not_of(" '"));
  v.erase(v.find_last_not_of(" '") + 1);
  return v;
}

// The dimensions of a 1-D or 2-D shape "(R,)" or "(R, C)": non-negative integers.
std::vector<long> shape_dims(const std::string& shape, const std::string& path) {
  const auto bad = [&] { return InputError(path, "shape", "only 1-D and 2-D arrays of sizes 0..2^31 are supported, got " + shape); };
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') throw bad();
  std::vector<long> dims;
  std::stringstream ss(shape.substr(1, shape.size() - 2));
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) continue;
    if (item.size() > 10 || item.find_first_not_of("0123456789") != std::string::npos) throw bad();
    dims.push_back(std::stol(item));
    if (dims.back() > (1L << 31)) throw bad();
  }
  if (dims.empty() || dims.size() > 2) throw bad();
  return dims;
}

// Bytes from the read position of in to its end.
unsigned long data_bytes_left(std::ifstream& in) {
  const auto here = in.tellg();
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  return here < 0 || end < here ? 0 : static_cast<unsigned long>(end - here);
}

}  // namespace

void write_text_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw InputError(path, "", "cannot open for writing");
    out << text;
    out.close();  // a full disk shows only when the buffer is flushed
    if (!out) {
      std::filesystem::remove(tmp);
      throw InputError(path, "", "write failed (disk full or file too large?); the previous file is left as it was");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw InputError(path, "", "cannot move into place: " + ec.message());
}

void write_npy(const std::string& path, const Eigen::MatrixXd& m, bool as_vector) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': " +
                       shape_text(m.rows(), m.cols(), as_vector) + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  uint16_t hlen = static_cast<uint16_t>(header.size());
  bytes.push_back(static_cast<char>(hlen & 0xff));
  bytes.push_back(static_cast<char>(hlen >> 8));
  bytes += header;
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  bytes.append(reinterpret_cast<const char*>(rm.data()), rm.size() * sizeof(double));
  write_text_atomic(path, bytes);
}

Eigen::MatrixXd read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open .npy file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw InputError(path, "", "not a .npy file (bad magic)");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  }
  if (!in || hlen > data_bytes_left(in)) throw InputError(path, "", "truncated .npy header");
  std::string header(hlen, '\0');
  if (!in.read(header.data(), hlen)) throw InputError(path, "", "truncated .npy header");
  std::string descr = header_value(header, "descr", path);
  bool fortran = header_value(header, "fortran_order", path) == "True";
  std::string shape = header_value(header, "shape", path);
  const std::vector<long> dims = shape_dims(shape, path);
  const long rows = dims[0], cols = dims.size() == 2 ? dims[1] : 1;
  const size_t item = descr == "<f4" ? 4 : 8;
  if (cols != 0 && static_cast<unsigned long>(rows) > data_bytes_left(in) / item / static_cast<unsigned long>(cols))
    throw InputError(path, "shape", "shape " + shape + " needs more data than the file holds (truncated .npy data)");
  const size_t n = static_cast<size_t>(rows * cols);
  std::vector<double> values(n);
  if (descr == "<f8") {
    in.read(reinterpret_cast<char*>(values.data()), n * 8);
  } else if (descr == "<f4") {
    std::vector<float> f(n);
    in.read(reinterpret_cast<char*>(f.data()), n * 4);
    for (size_t i = 0; i < n; ++i) values[i] = f[i];
  } else {
    throw InputError(path, "descr", "unsupported dtype " + descr + " (need <f4 or <f8)");
  }
  if (!in) throw InputError(path, "", "truncated .npy data");
  Eigen::MatrixXd m(rows, cols);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c)
      m(r, c) = fortran ? values[c * rows + r] : values[r * cols + c];
  return m;
}

}  // namespace eqsim::data
