// safetensors files: a validating mmap reader (single file or sharded checkpoint) and an atomic
// writer. Format: docs/file-formats.md and https://github.com/huggingface/safetensors.
//
// Hand-written because Debian has no C++ safetensors library; the format is one JSON header and
// a flat byte buffer, so a reader is small and we control every bounds check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.h"

namespace sarsteer::io {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

std::string_view dtype_name(DType dtype);  // "F32", "BF16", ... as in safetensors headers
std::size_t dtype_size(DType dtype);       // bytes per element
std::optional<DType> parse_dtype(std::string_view name);

// A tensor inside a mapped file: no copy, valid while `file` lives.
struct TensorView {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    std::span<const std::byte> bytes;
    std::shared_ptr<const MappedFile> file;  // keeps `bytes` alive

    int64_t numel() const;
};

// Converts F32/F16/BF16/F64 data to float; throws Error for integer dtypes.
std::vector<float> to_f32(const TensorView& view);
// Converts I64/I32/I16/I8/U8/BOOL data to int64; throws Error for float dtypes.
std::vector<int64_t> to_i64(const TensorView& view);

struct SafetensorsLimits {
    std::size_t max_header_bytes = 100u << 20;  // the safetensors reference implementation's cap
    std::size_t max_tensors = 1u << 20;
    std::size_t max_rank = 16;
};

// One .safetensors file, header validated in full when opened:
// JSON object, known dtypes, shape product × dtype size == byte range, ranges inside the data
// section and not overlapping, unique names, string-to-string `__metadata__`.
class SafetensorsFile {
public:
    static SafetensorsFile open(const std::filesystem::path& path,
                                const SafetensorsLimits& limits = {});

    const std::filesystem::path& path() const { return file_->path(); }
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const TensorView* find(std::string_view name) const;  // nullptr when absent
    const TensorView& at(std::string_view name) const;    // throws Error naming file and tensor

private:
    std::shared_ptr<const MappedFile> file_;
    std::vector<TensorView> tensors_;  // sorted by name
    std::map<std::string, std::string> metadata_;
};

// A Hugging Face checkpoint: a folder with model.safetensors, or with
// model.safetensors.index.json naming shards; or a single .safetensors path.
class Checkpoint {
public:
    static Checkpoint open(const std::filesystem::path& path, const SafetensorsLimits& limits = {});

    const std::filesystem::path& path() const { return path_; }
    std::vector<std::string> names() const;  // sorted
    std::size_t size() const { return index_.size(); }
    const TensorView* find(std::string_view name) const;
    const TensorView& at(std::string_view name) const;  // throws Error naming checkpoint and tensor
    const std::vector<SafetensorsFile>& shards() const { return shards_; }

private:
    std::filesystem::path path_;
    std::vector<SafetensorsFile> shards_;
    std::map<std::string, const TensorView*, std::less<>> index_;
};

// Builds a .safetensors file in memory-order and writes it atomically (temp file + rename), so
// an existing file at the destination is never left half-written.
class SafetensorsWriter {
public:
    void add(std::string name, DType dtype, std::vector<int64_t> shape,
             std::span<const std::byte> bytes);
    void add_f32(std::string name, std::vector<int64_t> shape, std::span<const float> data);
    void add_i64(std::string name, std::vector<int64_t> shape, std::span<const int64_t> data);
    void set_metadata(std::string key, std::string value);

    void write(const std::filesystem::path& path) const;

private:
    struct Entry {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        std::vector<std::byte> bytes;
    };
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

}  // namespace sarsteer::io
