#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sarsteer/error.h"

namespace sarsteer::io {
namespace {

// Closes a descriptor when leaving scope; the mapping stays valid after close.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        const auto kind = err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo;
        throw Error(kind, path.string(), std::string("cannot open: ") + std::strerror(err));
    }
    FdCloser closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw Error(ErrorKind::kIo, path.string(),
                    std::string("cannot stat: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::kIo, path.string(), "not a regular file");

    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        // mmap rejects zero-length mappings; an empty file is a valid (empty) byte range.
        return std::shared_ptr<const MappedFile>(new MappedFile(path, nullptr, 0));
    }
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
        throw Error(ErrorKind::kIo, path.string(),
                    std::string("cannot mmap: ") + std::strerror(errno));
    }
    return std::shared_ptr<const MappedFile>(
        new MappedFile(path, static_cast<const std::byte*>(addr), size));
}

MappedFile::MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size)
    : path_(std::move(path)), data_(data), size_(size) {}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace sarsteer::io
