// Bridges between safetensors views (src/io, torch-free) and ATen tensors.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "io/safetensors.h"

namespace sarsteer::model {

c10::ScalarType to_scalar_type(io::DType dtype);
io::DType to_dtype(c10::ScalarType type);  // throws Error for types safetensors cannot hold

// A CPU tensor over the mapped bytes, without a copy when the data is suitably aligned (it keeps
// the mapping alive). The memory is read-only: never write to it in place — convert or clone
// first. Misaligned data is copied.
at::Tensor tensor_from_view(const io::TensorView& view);

// Adds a tensor (any device, contiguous or not) to a writer; data is copied to the CPU.
void add_tensor(io::SafetensorsWriter& writer, std::string name, const at::Tensor& tensor);

}  // namespace sarsteer::model
