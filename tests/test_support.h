// Shared helpers for the test suite: where reference data lives and scratch directories.
#pragma once

#include <filesystem>
#include <string>

#include <unistd.h>

namespace sarsteer::testing {

// ../shared next to the checkout (configurable with -DSARSTEER_SHARED_DIR=...).
inline std::filesystem::path shared_dir() { return SARSTEER_SHARED_DIR; }
inline std::filesystem::path fixtures_dir() { return shared_dir() / "fixtures"; }
inline std::filesystem::path source_dir() { return SARSTEER_SOURCE_DIR; }
inline std::filesystem::path sarsteer_binary() { return SARSTEER_BINARY; }

// A fresh, empty directory under the system temp dir, removed when the object dies.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& tag);
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

inline ScratchDir::ScratchDir(const std::string& tag) {
    auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0;; ++attempt) {
        auto candidate = base / ("sarsteer-test-" + tag + "-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(attempt));
        if (std::filesystem::create_directory(candidate)) {
            path_ = candidate;
            return;
        }
    }
}

inline ScratchDir::~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace sarsteer::testing
