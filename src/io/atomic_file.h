// Crash-safe file replacement: data goes to a temp file beside the destination, which is renamed
// over it only after everything was written and flushed. A failure or a kill before commit()
// leaves any earlier file at the destination untouched.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string_view>

namespace sarsteer::io {

class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path path);  // throws Error (kIo) naming the path
    ~AtomicFile();                                    // removes the temp file unless committed
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(std::span<const std::byte> bytes);
    void write(std::string_view text);
    void commit();  // flush, fsync, rename; throws Error (kIo) naming the path

private:
    std::filesystem::path path_;
    std::filesystem::path tmp_path_;
    std::FILE* file_ = nullptr;
};

void write_file_atomic(const std::filesystem::path& path, std::string_view text);

}  // namespace sarsteer::io
