// Progress for long jobs on stderr: a redrawn bar with rate and ETA on a terminal, one plain
// line per step (at most every few seconds) otherwise, so logs stay readable.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace sarsteer::cli {

class Progress {
public:
    Progress(std::string label, std::size_t total);
    void update(std::size_t done, bool cached = false);
    void finish();

private:
    std::string label_;
    std::size_t total_;
    std::size_t computed_ = 0;  // steps that did work (for the rate)
    bool tty_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_line_;
};

}  // namespace sarsteer::cli
