// Wall-clock timestamps recorded in output files.
#pragma once

#include <string>

namespace sarsteer::io {

// The current UTC time as ISO 8601, e.g. "2026-11-28T11:22:14Z".
std::string utc_timestamp();

}  // namespace sarsteer::io
