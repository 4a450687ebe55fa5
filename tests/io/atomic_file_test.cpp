#include "io/atomic_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(AtomicFile, ReplacesOnlyOnCommit) {
    sarsteer::testing::ScratchDir dir("atomic");
    const auto path = dir / "out.txt";
    write_file_atomic(path, "first");
    {
        AtomicFile file(path);
        file.write(std::string_view("second, never committed"));
    }  // abandoned: as if the process died or threw mid-write
    EXPECT_EQ(slurp(path), "first");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
    write_file_atomic(path, "third");
    EXPECT_EQ(slurp(path), "third");
}

TEST(AtomicFile, UnwritableFolderIsAClearError) {
    try {
        write_file_atomic("/nonexistent-dir/sub/out.txt", "x");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kIo);
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/sub/out.txt"), std::string::npos);
    }
}

}  // namespace
}  // namespace sarsteer::io
