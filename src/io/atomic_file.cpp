#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sarsteer/error.h"

namespace sarsteer::io {
namespace {

[[noreturn]] void throw_io(const std::filesystem::path& path, const char* what, int err) {
    throw Error(ErrorKind::kIo, path.string(), std::string(what) + ": " + std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)), tmp_path_(path_.string() + ".tmp." + std::to_string(::getpid())) {
    // rename() would replace a device (`--out /dev/full` as root), a FIFO or a socket with a
    // regular file, and fails late for a folder: refuse anything but a regular file up front.
    std::error_code ec;
    const auto status = std::filesystem::status(path_, ec);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
        throw Error(
            ErrorKind::kIo, path_.string(),
            std::filesystem::is_directory(status)
                ? "is a folder, expected a file"
                : "is not a regular file (a device, pipe or socket); refusing to replace it",
            "name a file path for the output");
    }
    file_ = std::fopen(tmp_path_.c_str(), "wb");
    if (file_ == nullptr) throw_io(path_, "cannot create file", errno);
}

AtomicFile::~AtomicFile() {
    if (file_ != nullptr) {
        std::fclose(file_);
        std::remove(tmp_path_.c_str());
    }
}

void AtomicFile::write(std::span<const std::byte> bytes) {
    if (bytes.empty()) return;
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
        throw_io(path_, "cannot write", errno);
    }
}

void AtomicFile::write(std::string_view text) {
    write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

void AtomicFile::commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
        throw_io(path_, "cannot write", errno);
    }
    std::FILE* file = file_;
    file_ = nullptr;
    if (std::fclose(file) != 0) {
        const int err = errno;
        std::remove(tmp_path_.c_str());
        throw_io(path_, "cannot write", err);
    }
    if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp_path_.c_str());
        throw_io(path_, "cannot replace file", err);
    }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view text) {
    AtomicFile file(path);
    file.write(text);
    file.commit();
}

}  // namespace sarsteer::io
