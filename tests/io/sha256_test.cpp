#include "io/sha256.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

// Test vectors from FIPS 180-4's examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf").
TEST(Sha256, EmptyInput) {
    EXPECT_EQ(sha256_hex(std::string_view()),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, OneBlock) {
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlocks448Bits) {
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionA) {
    EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundary (55, 56, 63, 64 bytes) must agree whether the input
// arrives whole or in uneven pieces.
TEST(Sha256, IncrementalMatchesOneShot) {
    for (const std::size_t n : {0u, 1u, 55u, 56u, 57u, 63u, 64u, 65u, 127u, 128u, 1000u}) {
        std::string text;
        for (std::size_t i = 0; i < n; ++i) text += static_cast<char>('a' + i % 26);
        Sha256 hasher;
        for (std::size_t pos = 0, step = 1; pos < n; pos += step, step = step * 2 + 1) {
            hasher.update(std::string_view(text).substr(pos, step));
        }
        EXPECT_EQ(hasher.finish_hex(), sha256_hex(text)) << "length " << n;
    }
}

TEST(Sha256, FileMatchesMemoryAcrossChunks) {
    sarsteer::testing::ScratchDir dir("sha");
    std::string text;
    for (int i = 0; i < 200'000; ++i) text += static_cast<char>(i * 7 % 251);  // > one chunk
    std::ofstream(dir / "f.bin", std::ios::binary) << text;
    EXPECT_EQ(sha256_file_hex(dir / "f.bin"), sha256_hex(text));
    std::ofstream(dir / "empty.bin", std::ios::binary).close();
    EXPECT_EQ(sha256_file_hex(dir / "empty.bin"), sha256_hex(std::string_view()));
}

TEST(Sha256, UnreadableFileNamesThePath) {
    sarsteer::testing::ScratchDir dir("sha");
    const auto missing = dir / "missing.bin";
    try {
        sha256_file_hex(missing);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
        EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
    }
    EXPECT_THROW(sha256_file_hex(dir.path()), Error);
}

}  // namespace
}  // namespace sarsteer::io
