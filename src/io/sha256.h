// SHA-256 (FIPS 180-4), for content fingerprints: model configs, manifests, steering files.
// Written from the standard because the digests only identify inputs (no secrets involved) and a
// crypto library would be a dependency for ~100 lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace sarsteer::io {

// Incremental hasher: update() any number of times, then finish() once.
class Sha256 {
public:
    Sha256();
    void update(std::span<const std::byte> bytes);
    void update(std::string_view text);
    std::array<std::uint8_t, 32> finish();  // the hasher is spent afterwards
    std::string finish_hex();               // 64 lowercase hex digits

private:
    void compress(const std::uint8_t* block);

    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::span<const std::byte> bytes);
std::string sha256_hex(std::string_view text);
// Streams the file; throws Error (kNotFound, kIo) naming the path.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace sarsteer::io
