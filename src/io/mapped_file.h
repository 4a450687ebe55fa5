// Read-only memory mapping of a whole file. Shared by safetensors readers and the tensors that
// view into them: a tensor built on a mapping holds a shared_ptr to it, so the mapping outlives
// every view.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

namespace sarsteer::io {

class MappedFile {
public:
    // Maps `path` read-only. Throws Error (kNotFound / kIo) naming the path.
    static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);

    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    std::size_t size() const noexcept { return size_; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size);

    std::filesystem::path path_;
    const std::byte* data_;
    std::size_t size_;
};

}  // namespace sarsteer::io
