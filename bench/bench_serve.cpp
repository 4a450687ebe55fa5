// Loopback load on `sarsteer serve`'s server with the tiny checkpoint: requests/s and p50/p99
// latency at concurrency 1, 4 and 16, with batching on (--max-batch 16) and off (--max-batch 1).
//
// Baselines from the same run: batching off at the same concurrency (the ratio column), and the
// library's own latency for one request (encode + generate, no HTTP) — the HTTP/queue overhead is
// p50 at concurrency 1 minus that.
//
// Each client is an httplib::Client with keep-alive that sends its requests back to back: a 1 s
// WAV clip plus an instruction, max_tokens 16, greedy. A plain main() printing one Markdown table.
//
// Usage: bench_serve [--requests N] (per concurrency level and mode; default 48)
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "model/make_tiny.h"
#include "model/model.h"
#include "model/session.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "serve/base64.h"
#include "serve/server.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using namespace sarsteer;

constexpr int64_t kMaxTokens = 16;

std::string wav_tone(double seconds, int rate = 16000) {
    const auto n = static_cast<uint32_t>(seconds * rate);
    std::string out = "RIFF";
    auto u32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
    };
    auto u16 = [&](uint16_t v) {
        out += static_cast<char>(v & 0xFF);
        out += static_cast<char>(v >> 8);
    };
    u32(36 + 2 * n);
    out += "WAVEfmt ";
    u32(16);
    u16(1);
    u16(1);
    u32(static_cast<uint32_t>(rate));
    u32(static_cast<uint32_t>(rate) * 2);
    u16(2);
    u16(16);
    out += "data";
    u32(2 * n);
    for (uint32_t i = 0; i < n; ++i) {
        const double x = 0.3 * std::sin(2 * M_PI * 440.0 * i / rate);
        u16(static_cast<uint16_t>(static_cast<int16_t>(std::lround(x * 32767))));
    }
    return out;
}

std::string request_body(const std::string& wav) {
    const json body = {
        {"messages",
         json::array(
             {{{"role", "user"},
               {"content",
                json::array(
                    {{{"type", "input_audio"},
                      {"input_audio", {{"data", serve::base64_encode(wav)}, {"format", "wav"}}}},
                     {{"type", "text"}, {"text", "What is said in the audio?"}}})}}})},
        {"max_tokens", kMaxTokens},
        {"temperature", 0}};
    return body.dump();
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const auto index =
        static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
}

struct Result {
    double requests_per_s = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    int failures = 0;
};

Result load(int port, const std::string& body, int concurrency, int total) {
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(concurrency));
    std::vector<int> failures(static_cast<std::size_t>(concurrency), 0);
    const int per_client = std::max(1, total / concurrency);
    const auto t0 = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < concurrency; ++c) {
        clients.emplace_back([&, c] {
            httplib::Client client("127.0.0.1", port);
            client.set_keep_alive(true);
            client.set_read_timeout(120);
            for (int i = 0; i < per_client; ++i) {
                const auto start = Clock::now();
                auto res = client.Post("/v1/chat/completions", body, "application/json");
                const auto ms =
                    std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                if (!res || res->status != 200) ++failures[static_cast<std::size_t>(c)];
                latencies[static_cast<std::size_t>(c)].push_back(ms);
            }
        });
    }
    for (auto& t : clients) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    Result r;
    for (std::size_t c = 0; c < latencies.size(); ++c) {
        all.insert(all.end(), latencies[c].begin(), latencies[c].end());
        r.failures += failures[c];
    }
    r.requests_per_s = static_cast<double>(all.size()) / seconds;
    r.p50_ms = percentile(all, 0.50);
    r.p99_ms = percentile(all, 0.99);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    int total = 48;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--requests") == 0 && i + 1 < argc) total = std::atoi(argv[++i]);
    }
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sarsteer-bench-serve-" + std::to_string(::getpid()));
    model::make_tiny(dir, {.seed = 3});
    model::configure_cpu_threads(1);
    auto model = model::Model::load({.path = dir});
    const auto wav = wav_tone(1.0);
    const auto body = request_body(wav);

    // Baseline: the library answering one request directly (decode, encode, generate).
    std::vector<double> direct_ms;
    for (int i = 0; i < 10; ++i) {
        const auto start = Clock::now();
        const auto decoded = decode_audio(std::as_bytes(std::span(wav.data(), wav.size())));
        std::vector<std::vector<float>> clips = {
            resample(decoded.samples, decoded.sample_rate, kWhisperSampleRate)};
        const auto encoded = model::encode_clips(*model, clips);
        const auto prompt = model::prepare_prompt(
            *model, render_audio_prompt(1, "What is said in the audio?"), encoded);
        model::GenerateOptions options;
        options.max_new_tokens = kMaxTokens;
        auto sampling = model::SamplingParams::from(model->generation_config());
        sampling.temperature = 0;
        options.sampling = {sampling};
        model::generate(*model, std::span(&prompt, 1), options);
        direct_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    const double direct_p50 = percentile(direct_ms, 0.5);

    std::printf(
        "| concurrency | batching | requests/s | p50 ms | p99 ms | req/s vs batching off |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (int concurrency : {1, 4, 16}) {
        Result results[2];
        for (int mode = 0; mode < 2; ++mode) {  // 0: off (max_batch 1), 1: on (max_batch 16)
            serve::ServerOptions options;
            options.port = 0;
            options.max_tokens = kMaxTokens;
            options.max_batch = mode == 0 ? 1 : 16;
            serve::Server server(model, {}, options);
            const int port = server.start();
            load(port, body, concurrency, std::min(total, 4 * concurrency));  // warm-up
            results[mode] = load(port, body, concurrency, total);
            server.shutdown();
            const auto& r = results[mode];
            std::printf(
                "| %d | %s | %.1f | %.1f | %.1f | %s |%s\n", concurrency,
                mode == 0 ? "off (--max-batch 1)" : "on (--max-batch 16)", r.requests_per_s,
                r.p50_ms, r.p99_ms,
                mode == 0
                    ? "1.00 (baseline)"
                    : (std::to_string(r.requests_per_s / results[0].requests_per_s).substr(0, 4) +
                       "x")
                          .c_str(),
                r.failures ? (" " + std::to_string(r.failures) + " failed").c_str() : "");
            std::fflush(stdout);
        }
    }
    std::printf(
        "\nlibrary alone (decode + encode + generate, one request): p50 %.1f ms; "
        "%d requests per row, max_tokens %lld, 1 s clip, tiny checkpoint, 1 BLAS thread\n",
        direct_p50, total, static_cast<long long>(kMaxTokens));
    std::filesystem::remove_all(dir);
    return 0;
}
