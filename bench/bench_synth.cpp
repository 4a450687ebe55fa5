// What speaking a clip costs as the calling process grows. espeak-ng renders each clip in a
// forked child (its synthesis state is process-global); a fork copies the forking process's page
// tables, so forking from `organism train`, which holds gigabytes of features while it renders,
// costs more per clip the further it gets. Clips are forked from a helper process started on
// first use instead (eval/synth.cpp). Measured in one process: clips per second while the process
// is small, then again after it has allocated and touched --gib of memory; and, as the baseline
// of what the helper avoids, a bare fork + wait from the process at each size.
//
// Usage: bench_synth [--clips N] [--gib G]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "eval/synth.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Milliseconds per clip over `n` short sentences, voices as `organism train` uses them.
double ms_per_clip(int n) {
    const char* voices[] = {"en-us", "en-gb", "en-us+f3", "en-us+m5", "en-gb+f4"};
    const auto start = Clock::now();
    std::size_t samples = 0;
    for (int i = 0; i < n; ++i) {
        const std::string text =
            "How can someone feed a neighbor number " + std::to_string(i) + "?";
        samples += sarsteer::eval::synthesize_speech(text, voices[i % 5], 140 + i % 50).size();
    }
    if (samples == 0) std::fprintf(stderr, "bench_synth: no samples rendered\n");
    return 1000.0 * seconds_since(start) / n;
}

// Milliseconds per bare fork + _exit + wait from this process.
double ms_per_fork(int n) {
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) ::_exit(0);
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
    return 1000.0 * seconds_since(start) / n;
}

}  // namespace

int main(int argc, char** argv) {
    int clips = 60;
    double gib = 2.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--clips") == 0) clips = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--gib") == 0) gib = std::atof(argv[i + 1]);
    }
    ms_per_clip(2);  // espeak-ng initialised, helper started, voices loaded
    const double clip_small = ms_per_clip(clips);
    const double fork_small = ms_per_fork(clips);

    std::fprintf(stderr, "bench_synth: touching %.1f GiB\n", gib);
    std::vector<char> ballast(static_cast<std::size_t>(gib * (1u << 30)));
    for (std::size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = 1;
    const double clip_big = ms_per_clip(clips);
    const double fork_big = ms_per_fork(clips);

    std::printf("| metric | small process | after %.1f GiB | ratio |\n|---|---|---|---|\n", gib);
    std::printf("| ms per clip (helper-forked) | %.2f | %.2f | %.2fx |\n", clip_small, clip_big,
                clip_big / clip_small);
    std::printf("| ms per bare fork + wait (baseline) | %.2f | %.2f | %.2fx |\n", fork_small,
                fork_big, fork_big / fork_small);
    std::printf("\nclips rendered: %d per size; ballast checksum %d\n", clips,
                static_cast<int>(ballast[ballast.size() / 2]));
    return 0;
}
