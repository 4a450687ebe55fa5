#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sarsteer::cli {

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_line_(start_) {}

void Progress::update(std::size_t done, bool cached) {
    if (!cached) ++computed_;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(computed_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    if (tty_) {
        constexpr int kWidth = 30;
        const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
        std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu  %.2f/s  ETA %.0fs ", label_.c_str(), filled,
                     "##############################", kWidth - filled, "", done, total_, rate,
                     eta);
        std::fflush(stderr);
        return;
    }
    if (done == total_ || now - last_line_ >= std::chrono::seconds(5)) {
        std::fprintf(stderr, "%s %zu/%zu (%.2f/s, ETA %.0fs)\n", label_.c_str(), done, total_, rate,
                     eta);
        last_line_ = now;
    }
}

void Progress::finish() {
    if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace sarsteer::cli
