// Precompiled header for targets whose sources use ATen. Only .cpp files of src/model, src/steer,
// their tests and bench/ get it; public headers never include LibTorch.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
