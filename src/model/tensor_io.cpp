#include "model/tensor_io.h"

#include <cstring>

#include "sarsteer/error.h"

namespace sarsteer::model {

c10::ScalarType to_scalar_type(io::DType dtype) {
    switch (dtype) {
        case io::DType::kF64: return at::kDouble;
        case io::DType::kF32: return at::kFloat;
        case io::DType::kF16: return at::kHalf;
        case io::DType::kBF16: return at::kBFloat16;
        case io::DType::kI64: return at::kLong;
        case io::DType::kI32: return at::kInt;
        case io::DType::kI16: return at::kShort;
        case io::DType::kI8: return at::kChar;
        case io::DType::kU8: return at::kByte;
        case io::DType::kBool: return at::kBool;
    }
    throw std::logic_error("unknown DType");
}

io::DType to_dtype(c10::ScalarType type) {
    switch (type) {
        case at::kDouble: return io::DType::kF64;
        case at::kFloat: return io::DType::kF32;
        case at::kHalf: return io::DType::kF16;
        case at::kBFloat16: return io::DType::kBF16;
        case at::kLong: return io::DType::kI64;
        case at::kInt: return io::DType::kI32;
        case at::kShort: return io::DType::kI16;
        case at::kChar: return io::DType::kI8;
        case at::kByte: return io::DType::kU8;
        case at::kBool: return io::DType::kBool;
        default:
            throw Error(ErrorKind::kUnsupported, "",
                        std::string("tensor dtype ") + c10::toString(type) +
                            " cannot be stored in safetensors");
    }
}

at::Tensor tensor_from_view(const io::TensorView& view) {
    const auto options = at::TensorOptions().dtype(to_scalar_type(view.dtype)).device(at::kCPU);
    const auto* data = view.bytes.data();
    const auto address = reinterpret_cast<std::uintptr_t>(data);
    if (view.numel() == 0) return at::empty(view.shape, options);
    if (address % io::dtype_size(view.dtype) != 0) {
        auto out = at::empty(view.shape, options);
        std::memcpy(out.data_ptr(), data, view.bytes.size());
        return out;
    }
    // The deleter owns a reference to the mapping, so the tensor may outlive the reader.
    return at::from_blob(
        const_cast<std::byte*>(data), view.shape, [file = view.file](void*) {}, options);
}

void add_tensor(io::SafetensorsWriter& writer, std::string name, const at::Tensor& tensor) {
    const auto cpu = tensor.to(at::kCPU).contiguous();
    const auto* bytes = static_cast<const std::byte*>(cpu.data_ptr());
    const auto n_bytes = static_cast<std::size_t>(cpu.numel()) * cpu.element_size();
    writer.add(std::move(name), to_dtype(cpu.scalar_type()),
               std::vector<int64_t>(cpu.sizes().begin(), cpu.sizes().end()), {bytes, n_bytes});
}

}  // namespace sarsteer::model
