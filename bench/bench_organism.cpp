// What denormal floats cost a training step, and what flushing them to zero (as `organism train`
// does) buys back. A converged organism's gradients and Adam moments decay into the denormal
// range (below 1.2e-38), where x86 arithmetic takes a slow path: run 24's alignment stage slowed
// from 0.35 to 1.25 s/step (docs/organism.md). Here one step of a decoder-MLP-shaped network
// (the default organism's widths: 128 → 384 → 128, a batch of 8 × 64 positions) — forward,
// backward, AdamW — is timed with the loss scaled by 1 (baseline) and by a tiny factor that puts
// the gradients into the denormal range, with flushing off and on. All in one process.
//
// Usage: bench_organism [--reps N] [--threads N]
#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "model/model.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Network {
    std::vector<at::Tensor> params;
    at::Tensor input, target;
};

Network make_network() {
    at::manual_seed(1);
    Network n;
    for (const auto& shape : std::vector<std::vector<int64_t>>{
             {384, 128}, {384, 128}, {128, 384}, {384, 128}, {384, 128}, {128, 384}}) {
        n.params.push_back((at::randn(shape) * 0.05).requires_grad_(true));
    }
    n.input = at::randn({512, 128});
    n.target = at::randn({512, 128});
    return n;
}

// One SwiGLU MLP per layer pair, two layers, mean squared error scaled by `loss_scale`.
void step(Network& n, torch::optim::AdamW& optimizer, double loss_scale) {
    optimizer.zero_grad();
    auto h = n.input;
    for (std::size_t i = 0; i < n.params.size(); i += 3) {
        const auto gate = at::silu(at::linear(h, n.params[i]));
        h = h + at::linear(gate * at::linear(h, n.params[i + 1]), n.params[i + 2]);
    }
    const auto loss = (h - n.target).pow(2).mean() * loss_scale;
    loss.backward();
    optimizer.step();
}

// Median seconds per step, on a fresh network and optimizer (Adam's moments start at zero, so
// after a few steps they hold what the scaled gradients put there).
double seconds_per_step(double loss_scale, bool flush, int reps) {
    at::globalContext().setFlushDenormal(flush);
    auto network = make_network();
    torch::optim::AdamW optimizer(network.params, torch::optim::AdamWOptions(1e-3));
    for (int i = 0; i < 3; ++i) step(network, optimizer, loss_scale);  // warm-up
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        step(network, optimizer, loss_scale);
        times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    at::globalContext().setFlushDenormal(false);
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 15;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::stoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--threads") == 0) threads = std::stoi(argv[i + 1]);
    }
    sarsteer::model::configure_cpu_threads(threads);

    // 1e-36: the loss's gradients land around 1e-38 and below, Adam's squared moments underflow.
    constexpr double kTiny = 1e-36;
    struct Row {
        const char* what;
        double scale;
        bool flush;
    };
    const Row rows[] = {{"normal gradients, flushing off (baseline)", 1.0, false},
                        {"normal gradients, flushing on", 1.0, true},
                        {"denormal gradients, flushing off", kTiny, false},
                        {"denormal gradients, flushing on (organism train)", kTiny, true}};
    // Interleaved rounds: the machine's speed drifts over seconds.
    std::vector<std::vector<double>> measured(std::size(rows));
    for (int round = 0; round < 3; ++round) {
        for (std::size_t r = 0; r < std::size(rows); ++r) {
            measured[r].push_back(seconds_per_step(rows[r].scale, rows[r].flush, reps));
            std::fprintf(stderr, "round %d: %s %.2f ms\n", round + 1, rows[r].what,
                         1e3 * measured[r].back());
        }
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double baseline = median(measured[0]);
    std::printf("| training step (forward, backward, AdamW), %d thread(s) | ms | ratio |\n",
                threads);
    std::printf("|---|---|---|\n");
    for (std::size_t r = 0; r < std::size(rows); ++r) {
        const double s = median(measured[r]);
        std::printf("| %s | %.2f | %.2f |\n", rows[r].what, 1e3 * s, s / baseline);
    }
}
