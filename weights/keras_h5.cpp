// Keras HDF5 conv-layer reader (keras_h5.h), on the HDF5 C API: every handle is closed by a
// small RAII wrapper, and HDF5's own error printing is silenced in favour of our messages.
#include "weights/keras_h5.h"

#ifdef BUSI_WITH_HDF5
#include <hdf5.h>
#endif

#include <filesystem>
#include <new>
#include <optional>

#include "kernels/common/error.h"
#include "weights/address_space_cap.h"
#include "weights/hdf5_heap_check.h"
#include "weights/layout.h"

#ifdef BUSI_WITH_HDF5

namespace busi::weights {

namespace {

// An HDF5 identifier with the function that releases it (H5Fclose, H5Dclose, ...).
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// While alive, HDF5 does not print its error stack to stderr (we throw clear errors instead).
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

// The innermost description on HDF5's error stack ("image null after H5MM_realloc()"), the
// cause of the failure the outer entries report.
std::string innermost_hdf5_error() {
  std::string text;
  auto take_first = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    if (n == 0 && e->desc != nullptr) *static_cast<std::string*>(out) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &text);
  return text;
}

// True if every link along "a/b/c" exists (H5Lexists needs the intermediate ones to exist). A
// failed lookup is an error, not "absent": in a corrupt file the library can fail inside it (an
// allocation refused under the cap), and the layer must not then be reported missing.
bool path_exists(hid_t file, const std::string& path, const std::string& where) {
  size_t end = 0;
  while (end != std::string::npos) {
    end = path.find('/', end + 1);
    const std::string prefix = path.substr(0, end);
    const htri_t exists = H5Lexists(file, prefix.c_str(), H5P_DEFAULT);
    if (exists < 0) {
      const std::string cause = innermost_hdf5_error();
      throw Error(detail::concat(where, ": corrupt: the HDF5 library failed looking up '", prefix,
                                 "'", cause.empty() ? "" : " (" + cause + ")"));
    }
    if (exists == 0) return false;
  }
  return true;
}

struct Dataset {
  Shape shape;
  std::vector<float> values;
};

// Reads a float dataset of rank `rank`, converted by HDF5 to native float32.
Dataset read_float_dataset(hid_t file, const std::string& path, int rank, size_t file_bytes,
                           const std::string& where) {
  const std::string what = where + ": dataset '" + path + "'";
  H5Handle ds(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  BUSI_CHECK(ds.valid(), what, " cannot be opened (is it a dataset?)");
  H5Handle type(H5Dget_type(ds.get()), H5Tclose);
  BUSI_CHECK(type.valid() && H5Tget_class(type.get()) == H5T_FLOAT, what,
             " does not hold floating-point numbers");
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  BUSI_CHECK(space.valid() && H5Sget_simple_extent_type(space.get()) == H5S_SIMPLE, what,
             " has no simple dataspace");
  const int ndims = H5Sget_simple_extent_ndims(space.get());
  BUSI_CHECK(ndims == rank, what, " has ", ndims, " dimensions, expected ", rank);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);

  // A limit far above any conv kernel (VGG16's largest, 3 x 3 x 512 x 512, has 2.4 M values)
  // and well inside the memory the reader allows itself (read_keras_conv_layers), so a corrupt
  // header cannot ask for gigabytes (fuzz_keras_h5 found one asking for 604 MB).
  constexpr hsize_t kMaxValues = hsize_t{1} << 24;
  Dataset out;
  hsize_t numel = 1;
  for (hsize_t d : dims) {
    BUSI_CHECK(d <= kMaxValues && numel * d <= kMaxValues, what, " is implausibly large");
    numel *= d;
    out.shape.push_back(static_cast<int64_t>(d));
  }
  // libhdf5 1.10 trusts the sizes it reads from the file: a bias whose stored size disagreed
  // with its 4 values made H5Dread fail an allocation sized from the file and then copy from the
  // null pointer (a segfault, found by fuzz_keras_h5). So before reading: a float is 2, 4 or 8
  // bytes, and data stored without filters (contiguous or compact) holds exactly numel x size
  // bytes, inside the file.
  const size_t element = H5Tget_size(type.get());
  BUSI_CHECK(element == 2 || element == 4 || element == 8, what, " claims floats of ", element,
             " bytes (2, 4 or 8 expected): the file is corrupt");
  H5Handle create_props(H5Dget_create_plist(ds.get()), H5Pclose);
  BUSI_CHECK(create_props.valid(), what, " has no creation properties: the file is corrupt");
  const H5D_layout_t layout = H5Pget_layout(create_props.get());
  const hsize_t stored = H5Dget_storage_size(ds.get());
  const hsize_t expected = numel * element;
  if (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) {
    BUSI_CHECK(stored == expected, what, " stores ", stored, " bytes for ", numel, " values of ",
               element, " bytes: the file is corrupt or truncated");
  } else {
    BUSI_CHECK(layout == H5D_CHUNKED, what, " has an unsupported storage layout");
  }
  BUSI_CHECK(stored <= file_bytes, what, " claims ", stored, " bytes of data in a file of ",
             file_bytes, ": the file is corrupt");
  if (layout == H5D_CONTIGUOUS && stored > 0) {
    const haddr_t offset = H5Dget_offset(ds.get());
    BUSI_CHECK(offset != HADDR_UNDEF && offset <= file_bytes && stored <= file_bytes - offset, what,
               "'s data (", stored,
               " bytes) lies outside the file: the file is corrupt or truncated");
  }
  out.values.resize(static_cast<size_t>(numel));
  if (numel > 0)
    BUSI_CHECK(
        H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) >= 0,
        what, " cannot be read");
  return out;
}

// The first of `candidates` (paths inside the layer's group) that exists, or "".
std::string first_existing(hid_t file, const std::string& layer,
                           const std::vector<std::string>& candidates, const std::string& where) {
  for (const std::string& c : candidates)
    if (path_exists(file, layer + "/" + c, where)) return layer + "/" + c;
  return "";
}

// The requested layers of an open file, as read_keras_conv_layers returns them.
KerasConvLayers read_layers(hid_t file, const std::vector<std::string>& layer_names,
                            size_t file_bytes, const std::string& where) {
  KerasConvLayers out;
  for (const std::string& layer : layer_names) {
    if (!path_exists(file, layer, where)) {
      out.missing.push_back(layer);
      continue;
    }
    const std::string kernel_path =
        first_existing(file, layer, {layer + "/kernel:0", layer + "_W_1:0", layer + "_W:0"}, where);
    const std::string bias_path =
        first_existing(file, layer, {layer + "/bias:0", layer + "_b_1:0", layer + "_b:0"}, where);
    BUSI_CHECK(!kernel_path.empty(), where, ": layer group '", layer,
               "' has no kernel dataset (looked for '", layer, "/", layer, "/kernel:0' and '",
               layer, "/", layer, "_W_1:0')");
    BUSI_CHECK(!bias_path.empty(), where, ": layer group '", layer,
               "' has no bias dataset (looked for '", layer, "/", layer, "/bias:0' and '", layer,
               "/", layer, "_b_1:0')");

    const Dataset kernel = read_float_dataset(file, kernel_path, 4, file_bytes, where);
    const Dataset bias = read_float_dataset(file, bias_path, 1, file_bytes, where);
    BUSI_CHECK(bias.shape[0] == kernel.shape[3], where, ": layer '", layer, "': bias has ",
               bias.shape[0], " values but the kernel ", shape_str(kernel.shape),
               " (H x W x I x O) has ", kernel.shape[3], " output channels");
    out.tensors.push_back({layer + ".weight", hwio_to_oihw(kernel.values, kernel.shape)});
    out.tensors.push_back({layer + ".bias", Tensor::from_vector(bias.values, bias.shape)});
    out.present.push_back(layer);
  }
  return out;
}

}  // namespace

KerasConvLayers read_keras_conv_layers(const std::string& path,
                                       const std::vector<std::string>& layer_names) {
  const std::string where = "Keras weights file '" + path + "'";
  BUSI_CHECK(std::filesystem::exists(path), where, ": no such file");
  QuietHdf5Errors quiet;
  // libhdf5 sizes some reads from the file before checking them: a corrupt superblock made
  // H5Fopen allocate and zero 4 GiB (fuzz/fuzz_keras_h5). Reading a weights file needs about its
  // own size (the chunk cache, our copies of the kernels), so the process may map at most twice
  // the file plus 512 MiB more while the library works; past that its allocation fails, and the
  // library reports an error we name.
  std::error_code size_error;
  const std::size_t file_bytes =
      static_cast<std::size_t>(std::filesystem::file_size(path, size_error));
  BUSI_CHECK(!size_error, where, ": cannot read its size (", size_error.message(), ")");
  const AddressSpaceCap cap((std::size_t{512} << 20) + 2 * file_bytes);
  BUSI_CHECK(H5Fis_hdf5(path.c_str()) > 0, where, ": not an HDF5 file");
  // libhdf5 1.10 follows a local heap's free list without noticing a loop, allocating at each
  // step: a 22 KB file took 40 million allocations, 538 MB under the cap and without end under
  // AddressSanitizer, where the cap cannot act (fuzz/fuzz_keras_h5). Such files are refused first.
  if (const std::optional<HeapProblem> heap = find_looping_local_heap(path))
    throw Error(detail::concat(where, ": corrupt: the local heap at byte ", heap->heap_offset, ": ",
                               heap->problem));
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) {
    const std::string cause = innermost_hdf5_error();
    // "memory allocation failed for ...", "image null after H5MM_realloc()", ...
    const bool memory = cause.find("alloc") != std::string::npos;
    BUSI_CHECK(!memory || !cap.active(), where,
               ": corrupt: the HDF5 library asked for more memory than a file of ", file_bytes,
               " bytes can need, and was refused (", cause, ")");
    throw Error(detail::concat(where, ": cannot be opened by the HDF5 library",
                               cause.empty() ? "" : " (" + cause + ")"));
  }

  try {
    return read_layers(file.get(), layer_names, file_bytes, where);
  } catch (const std::bad_alloc&) {  // one of our own buffers, under the cap
    throw Error(where + ": corrupt: reading it needs more memory than a file of " +
                std::to_string(file_bytes) + " bytes can hold");
  }
}

}  // namespace busi::weights

#else  // a build without the HDF5 library (configured where libhdf5-dev is missing)

namespace busi::weights {

KerasConvLayers read_keras_conv_layers(const std::string& path, const std::vector<std::string>&) {
  throw Error("Keras weight file '" + path +
              "': this build of busi-engine has no HDF5 support (install libhdf5-dev, then "
              "reconfigure with CMake), or convert the torchvision weights instead");
}

}  // namespace busi::weights

#endif  // BUSI_WITH_HDF5
