#include "model/tensor_io.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_support.h"

namespace sarsteer::model {
namespace {

TEST(TensorIo, ViewsAreZeroCopyAndOutliveTheReader) {
    sarsteer::testing::ScratchDir dir("tio");
    io::SafetensorsWriter writer;
    add_tensor(writer, "w", at::arange(12, at::kFloat).reshape({3, 4}));
    add_tensor(writer, "h", at::tensor({1.0, -2.5}).to(at::kBFloat16));
    add_tensor(writer, "ids", at::tensor({int64_t{7}, int64_t{-1}}));
    add_tensor(writer, "t", at::arange(6, at::kFloat).reshape({2, 3}).t());  // non-contiguous
    writer.write(dir / "x.safetensors");

    at::Tensor w;
    const void* mapped = nullptr;
    {
        const auto file = io::SafetensorsFile::open(dir / "x.safetensors");
        w = tensor_from_view(file.at("w"));
        mapped = file.at("w").bytes.data();
        EXPECT_TRUE(
            at::equal(tensor_from_view(file.at("h")), at::tensor({1.0, -2.5}).to(at::kBFloat16)));
        EXPECT_TRUE(
            at::equal(tensor_from_view(file.at("ids")), at::tensor({int64_t{7}, int64_t{-1}})));
        EXPECT_TRUE(at::equal(tensor_from_view(file.at("t")),
                              at::arange(6, at::kFloat).reshape({2, 3}).t().contiguous()));
    }
    EXPECT_EQ(w.data_ptr(), mapped);                                        // no copy
    EXPECT_TRUE(at::equal(w, at::arange(12, at::kFloat).reshape({3, 4})));  // still mapped
}

TEST(TensorIo, MisalignedDataIsCopied) {
    sarsteer::testing::ScratchDir dir("tio");
    // A one-byte tensor first puts the F32 tensor at an odd offset.
    const std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                               R"("f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
    std::ofstream out(dir / "m.safetensors", std::ios::binary);
    const std::uint64_t n = header.size() + (8 - header.size() % 8) % 8;
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(n - header.size(), ' ') << 'x';
    const float value = 3.25f;
    out.write(reinterpret_cast<const char*>(&value), 4);
    out.close();

    const auto file = io::SafetensorsFile::open(dir / "m.safetensors");
    const auto t = tensor_from_view(file.at("f"));
    EXPECT_NE(t.data_ptr(), static_cast<const void*>(file.at("f").bytes.data()));
    EXPECT_EQ(t.item<float>(), 3.25f);
}

}  // namespace
}  // namespace sarsteer::model
