// Writing small HDF5 files with the layout of Keras weight files, for the converter tests
// (tests/test_convert.cpp) and the Keras reader's fuzz seeds (fuzz/write_seeds.cpp): the kernel
// values they store, and H5Writer (with the HDF5 C library, BUSI_WITH_HDF5), which throws
// std::runtime_error when a write fails.
#pragma once

#ifdef BUSI_WITH_HDF5
#include <hdf5.h>
#endif

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace busi::testing {

// The value the test files store at kernel[h][w][i][o]: every element different and readable.
inline float kernel_value(int64_t h, int64_t w, int64_t i, int64_t o) {
  return static_cast<float>(1000 * o + 100 * i + 10 * h + w);
}

inline std::vector<float> hwio_values(int64_t H, int64_t W, int64_t I, int64_t O) {
  std::vector<float> v;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t o = 0; o < O; ++o) v.push_back(kernel_value(h, w, i, o));
  return v;
}

#ifdef BUSI_WITH_HDF5
// Writes small HDF5 files with the layout of Keras weight files.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("H5Writer: cannot create " + path);
    // Groups along a dataset's path ("block1_conv1/block1_conv1/") are created as needed.
    link_props_ = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(link_props_, 1);
  }
  ~H5Writer() {
    H5Pclose(link_props_);
    H5Fclose(file_);
  }
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  void floats(const std::string& path, const std::vector<hsize_t>& dims,
              const std::vector<float>& values) {
    write(path, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data());
  }
  void ints(const std::string& path, const std::vector<hsize_t>& dims,
            const std::vector<int>& values) {
    write(path, dims, H5T_STD_I32LE, H5T_NATIVE_INT, values.data());
  }
  // A Keras layer: kernel (H, W, I, O) with kernel_value() and bias[o] = -o, under the Keras 2
  // names (<layer>/<layer>/kernel:0) or the Keras 1 names (<layer>/<layer>_W_1:0).
  void conv_layer(const std::string& layer, int64_t H, int64_t W, int64_t I, int64_t O,
                  bool keras1_names = false) {
    const std::string kernel =
        keras1_names ? layer + "/" + layer + "_W_1:0" : layer + "/" + layer + "/kernel:0";
    const std::string bias =
        keras1_names ? layer + "/" + layer + "_b_1:0" : layer + "/" + layer + "/bias:0";
    floats(kernel, {hsize_t(H), hsize_t(W), hsize_t(I), hsize_t(O)}, hwio_values(H, W, I, O));
    std::vector<float> b;
    for (int64_t o = 0; o < O; ++o) b.push_back(-static_cast<float>(o));
    floats(bias, {hsize_t(O)}, b);
  }

 private:
  void write(const std::string& path, const std::vector<hsize_t>& dims, hid_t file_type,
             hid_t memory_type, const void* data) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t ds =
        H5Dcreate2(file_, path.c_str(), file_type, space, link_props_, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0 || H5Dwrite(ds, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      throw std::runtime_error("H5Writer: cannot write " + path);
    H5Dclose(ds);
    H5Sclose(space);
  }
  hid_t file_ = -1;
  hid_t link_props_ = -1;
};
#endif  // BUSI_WITH_HDF5

}  // namespace busi::testing
