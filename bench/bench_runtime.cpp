// Runtime of the model on a random checkpoint with the real geometry of Qwen2-Audio's parts at
// their smallest useful size: Qwen2-0.5B's decoder and whisper-large-v3's encoder (f32, ~4.5 GB).
//
// Every speed is reported as a ratio against a baseline measured in the same run on the same
// machine: the encoder against its full 30 s window, prefill against a plain GEMM, decode against
// the memory-bandwidth bound (decoder weight bytes per token / measured read bandwidth), loading
// against reading the file once, thread settings against sarsteer's (configure_cpu_threads).
//
// A plain main() rather than Google Benchmark: the measurements are long one-shots (seconds) that
// need a fixed order (cold page cache first, thread pools switched between runs). Repetition
// counts are stated in the table; values are medians, baselines (bandwidth, GEMM) best-of. The
// machine may be shared and its speed drifts, so each section re-measures its own baseline right
// around its runs and reports the CPU time other processes took meanwhile.
//
// Usage: bench_runtime [--dir D] [--keep] [--sections load,encoder,prefill,decode,threads]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "model/audio_encoder.h"
#include "model/config.h"
#include "model/make_tiny.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/session.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "text/tiny_tokenizer.h"

namespace {

namespace fs = std::filesystem;
namespace sm = sarsteer::model;
using Clock = std::chrono::steady_clock;

constexpr double kGB = 1e9;
constexpr int kSampleRate = 16000;

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class F>
double time_it(F&& f) {
    const auto t0 = Clock::now();
    f();
    return since(t0);
}

struct Runs {
    std::vector<double> seconds;

    double min() const { return *std::min_element(seconds.begin(), seconds.end()); }
    double max() const { return *std::max_element(seconds.begin(), seconds.end()); }
    double median() const {
        auto s = seconds;
        std::sort(s.begin(), s.end());
        const auto n = s.size();
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
};

template <class F>
Runs repeat(int n, F&& f) {
    Runs runs;
    for (int i = 0; i < n; ++i) runs.seconds.push_back(time_it(f));
    return runs;
}

__attribute__((format(printf, 1, 2))) std::string fmt(const char* format, ...) {
    char buffer[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    return buffer;
}

std::string spread(const Runs& r) {
    return fmt("%zu runs, %.3g..%.3g s", r.seconds.size(), r.min(), r.max());
}

// ---------------------------------------------------------------------------------------------
// CPU time taken by other processes (the machine may be shared: compilers, tests), so that every
// section of the table says how quiet the machine was while it ran.

struct CpuSample {
    double busy_ticks = 0;    // all CPUs: user + nice + system + irq + softirq
    double own_ticks = 0;     // this process: utime + stime
    double own_kernel_s = 0;  // this process: system time
    double minor_faults = 0, major_faults = 0;
    Clock::time_point time = Clock::now();
};

CpuSample cpu_sample() {
    CpuSample sample;
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double v[7] = {};
    stat >> cpu;
    for (auto& x : v) stat >> x;
    sample.busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6];
    std::ifstream self("/proc/self/stat");
    std::string line;
    std::getline(self, line);
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
        std::istringstream fields(line.substr(close + 2));  // from field 3 (state) on
        std::string field;
        for (int i = 3; i <= 15 && fields >> field; ++i) {
            if (i == 14 || i == 15) sample.own_ticks += std::stod(field);
        }
    }
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) == 0) {
        sample.own_kernel_s = static_cast<double>(usage.ru_stime.tv_sec) +
                              1e-6 * static_cast<double>(usage.ru_stime.tv_usec);
        sample.minor_faults = static_cast<double>(usage.ru_minflt);
        sample.major_faults = static_cast<double>(usage.ru_majflt);
    }
    return sample;
}

// Average number of cores other processes kept busy between two samples.
double other_cores(const CpuSample& a, const CpuSample& b) {
    const double wall = std::chrono::duration<double>(b.time - a.time).count();
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    if (wall <= 0 || ticks <= 0) return 0;
    return std::max(0.0,
                    ((b.busy_ticks - a.busy_ticks) - (b.own_ticks - a.own_ticks)) / ticks / wall);
}

// ---------------------------------------------------------------------------------------------
// The result table.

struct Row {
    std::string metric, value, baseline, ratio, note;
};

class Table {
public:
    // Starts a section (closing the previous one with its background CPU load).
    void section(std::string title) {
        close_section();
        std::fprintf(stderr, "%s\n", title.c_str());
        rows_.push_back({"## " + std::move(title), "", "", "", ""});
        open_ = true;
        start_ = cpu_sample();
    }
    void close_section() {
        if (!open_) return;
        open_ = false;
        const auto end = cpu_sample();
        const double wall = std::chrono::duration<double>(end.time - start_.time).count();
        add("  other processes' CPU load", fmt("%.2f cores", other_cores(start_, end)), "", "",
            fmt("average over this section (%.0f s); 0 = quiet machine", wall));
        add("  this process in the kernel", fmt("%.1f s", end.own_kernel_s - start_.own_kernel_s),
            fmt("%.1f s wall", wall), fmt("%.2f", (end.own_kernel_s - start_.own_kernel_s) / wall),
            fmt("%.0fk minor + %.0fk major page faults (x 4 KiB = %.1f GB)",
                (end.minor_faults - start_.minor_faults) / 1e3,
                (end.major_faults - start_.major_faults) / 1e3,
                (end.minor_faults - start_.minor_faults + end.major_faults - start_.major_faults) *
                    4096 / kGB));
    }
    void add(std::string metric, std::string value, std::string baseline = "",
             std::string ratio = "", std::string note = "") {
        rows_.push_back({std::move(metric), std::move(value), std::move(baseline), std::move(ratio),
                         std::move(note)});
        const auto& r = rows_.back();
        std::fprintf(stderr, "  %s: %s%s%s%s%s\n", r.metric.c_str(), r.value.c_str(),
                     r.baseline.empty() ? "" : "  vs ", r.baseline.c_str(),
                     r.ratio.empty() ? "" : "  ratio ", r.ratio.c_str());
    }

    void print() const {
        const Row header{"metric", "value", "baseline", "ratio", "note"};
        std::size_t w[4] = {header.metric.size(), header.value.size(), header.baseline.size(),
                            header.ratio.size()};
        for (const auto& r : rows_) {
            if (r.metric.starts_with("## ")) continue;
            w[0] = std::max(w[0], r.metric.size());
            w[1] = std::max(w[1], r.value.size());
            w[2] = std::max(w[2], r.baseline.size());
            w[3] = std::max(w[3], r.ratio.size());
        }
        auto line = [&](const Row& r) {
            std::printf("| %-*s | %-*s | %-*s | %-*s | %s |\n", static_cast<int>(w[0]),
                        r.metric.c_str(), static_cast<int>(w[1]), r.value.c_str(),
                        static_cast<int>(w[2]), r.baseline.c_str(), static_cast<int>(w[3]),
                        r.ratio.c_str(), r.note.c_str());
        };
        line(header);
        std::printf("|%s|%s|%s|%s|---|\n", std::string(w[0] + 2, '-').c_str(),
                    std::string(w[1] + 2, '-').c_str(), std::string(w[2] + 2, '-').c_str(),
                    std::string(w[3] + 2, '-').c_str());
        for (const auto& r : rows_) {
            if (r.metric.starts_with("## ")) {
                line({"**" + r.metric.substr(3) + "**", "", "", "", ""});
            } else {
                line(r);
            }
        }
    }

private:
    std::vector<Row> rows_;
    bool open_ = false;
    CpuSample start_;
};

// ---------------------------------------------------------------------------------------------
// Thread pools: LibTorch's OpenMP pool (element-wise ops, reductions, softmax) and OpenBLAS's own
// pthread pool (every GEMM/GEMV). openblas_* are looked up at run time: libopenblas.so.0 is only
// an indirect dependency (via libtorch_cpu and libblas.so.3), so linking against the symbols
// directly would need the library on our link line.

class OpenBlas {
public:
    OpenBlas() {
        void* set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
        void* get = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
        void* config = dlsym(RTLD_DEFAULT, "openblas_get_config");
        static_assert(sizeof(set) == sizeof(set_));
        std::memcpy(&set_, &set, sizeof set);
        std::memcpy(&get_, &get, sizeof get);
        std::memcpy(&config_, &config, sizeof config);
    }
    bool available() const { return set_ != nullptr && get_ != nullptr; }
    void set_threads(int n) const {
        if (set_ != nullptr) set_(n);
    }
    int threads() const { return get_ != nullptr ? get_() : -1; }
    std::string config() const { return config_ != nullptr ? config_() : "(unknown)"; }

private:
    void (*set_)(int) = nullptr;
    int (*get_)() = nullptr;
    char* (*config_)() = nullptr;
};

void set_threads(const OpenBlas& blas, int omp, int blas_threads) {
    at::set_num_threads(omp);
    blas.set_threads(blas_threads);
}

// ---------------------------------------------------------------------------------------------
// The checkpoint.

// Qwen2-0.5B's decoder (config.json of Qwen/Qwen2-0.5B) under whisper-large-v3's encoder (the
// AudioConfig defaults), with the 1280 -> 896 projector the tensor table implies.
sm::ModelConfig bench_config(const sarsteer::Tokenizer& tokenizer) {
    sm::ModelConfig c;
    c.model_type = sm::ModelType::kQwen2Audio;
    c.torch_dtype = "float32";
    c.audio_token_index = tokenizer.required_token_id(sarsteer::tokens::kAudio);
    c.audio = sm::AudioConfig{};  // d_model 1280, 32 layers, 20 heads, ffn 5120, 128 mels
    sm::TextConfig& t = c.text;
    t.vocab_size = 151936;
    sm::set_qwen2_0_5b_geometry(t);
    t.bos_token_id = tokenizer.required_token_id(sarsteer::tokens::kEndOfText);
    t.eos_token_id = tokenizer.required_token_id(sarsteer::tokens::kImEnd);
    t.sliding_window = 32768;
    return c;
}

const char* const kFiles[] = {"model.safetensors", "config.json", "vocab.json", "merges.txt",
                              "tokenizer_config.json"};

bool checkpoint_matches(const fs::path& dir, const sm::ModelConfig& config) {
    if (!fs::exists(dir / "model.safetensors") || !fs::exists(dir / "config.json")) return false;
    try {
        return sm::ModelConfig::load(dir).to_json() == config.to_json();
    } catch (const std::exception&) {
        return false;
    }
}

// Evicts clean pages from the page cache (needs root); false where not permitted.
bool drop_page_cache() {
    ::sync();
    std::ofstream f("/proc/sys/vm/drop_caches");
    if (!f) return false;
    f << "1\n";
    f.flush();
    return static_cast<bool>(f);
}

// The baselines of loading: the file read once, either into one reused 64 MiB buffer (the I/O
// alone) or into a new buffer of the file's size (what a copying loader does: the buffer's pages
// are touched for the first time too).
double read_whole_file(const fs::path& path, bool into_new_buffer) {
    const auto n = static_cast<std::size_t>(fs::file_size(path));
    constexpr std::size_t kChunk = std::size_t{64} << 20;
    const auto t0 = Clock::now();
    auto buffer = std::make_unique_for_overwrite<char[]>(into_new_buffer ? n : kChunk);
    std::ifstream in(path, std::ios::binary);
    for (std::size_t off = 0; off < n && in; off += kChunk) {
        char* dst = buffer.get() + (into_new_buffer ? off : 0);
        in.read(dst, static_cast<std::streamsize>(std::min(kChunk, n - off)));
    }
    if (!in) throw std::runtime_error("cannot read " + path.string());
    const double seconds = since(t0);
    volatile char sink = buffer[0];
    static_cast<void>(sink);
    return seconds;
}

// Read bandwidth: a plain vectorised sum over `n` floats split between `n_threads` std::threads
// (4 independent 8-wide accumulators, so the loop is bound by memory, not by add latency).
using Float8 = float __attribute__((vector_size(32)));

float sum_floats(const float* p, std::size_t n) {
    Float8 a = {}, b = {}, c = {}, d = {};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        Float8 x[4];
        std::memcpy(x, p + i, sizeof x);
        a += x[0];
        b += x[1];
        c += x[2];
        d += x[3];
    }
    const Float8 s = (a + b) + (c + d);
    float total = 0;
    for (int k = 0; k < 8; ++k) total += s[k];
    for (; i < n; ++i) total += p[i];
    return total;
}

double sum_threads(const float* p, std::size_t n, int n_threads) {
    std::vector<float> partial(static_cast<std::size_t>(n_threads));
    std::vector<std::thread> threads;
    const std::size_t per = n / static_cast<std::size_t>(n_threads) / 32 * 32;
    for (int t = 0; t < n_threads; ++t) {
        const std::size_t begin = per * static_cast<std::size_t>(t);
        const std::size_t count = t + 1 == n_threads ? n - begin : per;
        threads.emplace_back([&partial, p, begin, count, t] {
            partial[static_cast<std::size_t>(t)] = sum_floats(p + begin, count);
        });
    }
    for (auto& th : threads) th.join();
    double total = 0;
    for (float x : partial) total += x;
    return total;
}

// ---------------------------------------------------------------------------------------------
// Inputs.

std::vector<int32_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> ids(static_cast<std::size_t>(n));
    for (auto& id : ids) id = pick(rng);
    return ids;
}

std::vector<float> noise_clip(double seconds, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0F, 0.1F);
    std::vector<float> clip(static_cast<std::size_t>(seconds * kSampleRate));
    for (auto& s : clip) s = noise(rng);
    return clip;
}

// Greedy generation of `n_new` tokens after a random prompt; returns the seconds between the
// first and the last generated token divided by the decode steps between them (n_new - 1), and
// the time to the first token (prefill + logits + sampling) in `first`.
double decode_step_seconds(const sm::Model& model, int64_t n_prompt, int64_t n_new,
                           double* first = nullptr) {
    const std::vector<sm::PreparedPrompt> prompts = {
        sm::prepare_ids(model, random_ids(n_prompt, model.config().text.vocab_size, 7))};
    sm::GenerateOptions options;
    options.max_new_tokens = n_new;
    options.stop_ids = {-1};
    std::vector<Clock::time_point> stamps;
    stamps.reserve(static_cast<std::size_t>(n_new));
    options.on_token = [&](std::size_t, int32_t) { stamps.push_back(Clock::now()); };
    const auto t0 = Clock::now();
    sm::generate(model, prompts, options);
    if (first != nullptr) *first = std::chrono::duration<double>(stamps.front() - t0).count();
    return std::chrono::duration<double>(stamps.back() - stamps.front()).count() /
           static_cast<double>(stamps.size() - 1);
}

double prefill_seconds(const sm::Model& model, int64_t n_tokens) {
    const std::vector<sm::PreparedPrompt> prompts = {
        sm::prepare_ids(model, random_ids(n_tokens, model.config().text.vocab_size, 11))};
    return time_it([&] {
        const auto out = sm::forward(model, prompts);
        static_cast<void>(out.hidden.sum().item<float>());
    });
}

// Multiply-adds of the decoder's matrices per token, plus attention over `n_keys` keys.
double decoder_flops_per_token(const sm::ModelConfig& config, double n_keys) {
    const auto& t = config.text;
    const double d = static_cast<double>(t.hidden_size);
    const double qkv_o = d * static_cast<double>(t.num_attention_heads * t.head_dim) * 2 +
                         d * static_cast<double>(t.num_key_value_heads * t.head_dim) * 2;
    const double mlp = 3 * d * static_cast<double>(t.intermediate_size);
    const double attention = 2 * static_cast<double>(t.num_attention_heads * t.head_dim) * n_keys;
    return 2 * static_cast<double>(t.num_hidden_layers) * (qkv_o + mlp + attention);
}

// Multiply-adds of the audio tower for `n_pos` encoder positions: conv2, the layers' matrices and
// attention (conv1, pooling and the projector are small).
double encoder_flops(const sm::AudioConfig& a, double n_pos) {
    const double d = static_cast<double>(a.d_model);
    const double ffn = static_cast<double>(a.encoder_ffn_dim);
    const double conv2 = n_pos * d * d * 3;
    const double layer = n_pos * (4 * d * d + 2 * d * ffn) + 2 * n_pos * n_pos * d;
    return 2 * (conv2 + static_cast<double>(a.encoder_layers) * layer);
}

// Bytes a decode step reads from the weights: every decoder layer tensor, the final norm and the
// lm_head (tied to the embedding, counted once; the embedding row gather is negligible).
double decode_weight_bytes(const sm::Model& model) {
    const auto& d = model.weights().decoder;
    double bytes = static_cast<double>(d.norm_w.nbytes() + d.lm_head.nbytes());
    for (const auto& l : d.layers) {
        for (const auto* t : {&l.q_w, &l.q_b, &l.k_w, &l.k_b, &l.v_w, &l.v_b, &l.o_w, &l.gate_w,
                              &l.up_w, &l.down_w, &l.input_ln_w, &l.post_attn_ln_w}) {
            bytes += static_cast<double>(t->nbytes());
        }
    }
    return bytes;
}

// One row through every matrix of a decode step (all layers, then the lm_head), either through
// ops::linear (matrix-vector for one row) or through at::linear on [1, 1, K] as PyTorch eager
// (and so Hugging Face) does: GEMM with M = 1.
void one_row_linears(const sm::Model& model, bool gemm, bool layers, bool lm_head) {
    const auto& d = model.weights().decoder;
    const auto& t = model.config().text;
    static const auto x = at::randn({1, 1, t.hidden_size}) * 0.1;
    static const auto x_ffn = at::randn({1, 1, t.intermediate_size}) * 0.1;
    auto lin = [&](const at::Tensor& in, const at::Tensor& w, const at::Tensor& b = {}) {
        if (!gemm) return sm::ops::linear(in, w, b);
        return b.defined() ? at::linear(in, w, b) : at::linear(in, w);
    };
    at::Tensor out;
    if (layers) {
        for (const auto& l : d.layers) {
            out = lin(x, l.q_w, l.q_b);
            out = lin(x, l.k_w, l.k_b);
            out = lin(x, l.v_w, l.v_b);
            out = lin(x, l.o_w);
            out = lin(x, l.gate_w);
            out = lin(x, l.up_w);
            out = lin(x_ffn, l.down_w);
        }
    }
    if (lm_head) out = lin(x, d.lm_head);
    const double sink = out.sum().item<float>();
    volatile double keep = sink;
    static_cast<void>(keep);
}

// Exclusive wall time per ATen operator (time inside the op minus time inside the ops it calls),
// collected through RecordFunction callbacks while an instance lives. A callback costs about a
// microsecond, so the profile slightly inflates what it measures.
class OpProfile {
public:
    struct Stat {
        double seconds = 0;
        int64_t calls = 0;
    };

    OpProfile() {
        std::lock_guard lock(mutex());
        stats().clear();
        handle_ = at::addGlobalCallback(
            at::RecordFunctionCallback(&on_start, &on_end).scopes({at::RecordScope::FUNCTION}));
    }
    ~OpProfile() { at::removeCallback(handle_); }
    OpProfile(const OpProfile&) = delete;
    OpProfile& operator=(const OpProfile&) = delete;

    static std::map<std::string, Stat> result() {
        std::lock_guard lock(mutex());
        return stats();
    }

private:
    struct Frame {
        Clock::time_point start;
        double children = 0;
    };
    static std::vector<Frame>& frames() {
        thread_local std::vector<Frame> f;
        return f;
    }
    static std::map<std::string, Stat>& stats() {
        static std::map<std::string, Stat> s;
        return s;
    }
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction&) {
        frames().push_back({Clock::now(), 0});
        return nullptr;
    }
    static void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
        auto& f = frames();
        if (f.empty()) return;
        const double inclusive = since(f.back().start);
        const double exclusive = inclusive - f.back().children;
        f.pop_back();
        if (!f.empty()) f.back().children += inclusive;
        std::lock_guard lock(mutex());
        auto& stat = stats()[fn.name()];
        stat.seconds += exclusive;
        ++stat.calls;
    }

    at::CallbackHandle handle_ = 0;
};

// Profiles the decode steps (not the prefill) of one greedy generation: per operator, seconds per
// step, calls per step; plus the step time.
std::pair<std::vector<std::pair<std::string, OpProfile::Stat>>, double> profile_decode(
    const sm::Model& model, int64_t n_prompt, int64_t n_new) {
    const std::vector<sm::PreparedPrompt> prompts = {
        sm::prepare_ids(model, random_ids(n_prompt, model.config().text.vocab_size, 13))};
    sm::GenerateOptions options;
    options.max_new_tokens = n_new;
    options.stop_ids = {-1};
    std::unique_ptr<OpProfile> profile;
    Clock::time_point first;
    options.on_token = [&](std::size_t, int32_t) {
        if (!profile) {
            first = Clock::now();
            profile = std::make_unique<OpProfile>();
        }
    };
    sm::generate(model, prompts, options);
    const double steps = static_cast<double>(n_new - 1);
    const double step_seconds = since(first) / steps;
    profile.reset();
    std::vector<std::pair<std::string, OpProfile::Stat>> ops;
    for (const auto& [name, stat] : OpProfile::result()) {
        ops.emplace_back(
            name, OpProfile::Stat{stat.seconds / steps,
                                  static_cast<int64_t>(static_cast<double>(stat.calls) / steps)});
    }
    std::sort(ops.begin(), ops.end(),
              [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    return {ops, step_seconds};
}

// One row through one kind of matrix of every layer via ops::linear: {seconds (median of 5),
// bytes read}.
std::pair<double, double> one_row_kind(const sm::Model& model,
                                       at::Tensor sm::DecoderLayerWeights::*w,
                                       at::Tensor sm::DecoderLayerWeights::*b) {
    const auto& layers = model.weights().decoder.layers;
    const auto x = at::randn({1, 1, (layers.front().*w).size(1)}) * 0.1;
    double bytes = 0;
    for (const auto& l : layers) bytes += static_cast<double>((l.*w).nbytes());
    auto pass = [&] {
        at::Tensor out;
        for (const auto& l : layers) {
            out = sm::ops::linear(x, l.*w, b != nullptr ? l.*b : at::Tensor{});
        }
        static_cast<void>(out.sum().item<float>());
    };
    pass();
    return {repeat(5, pass).median(), bytes};
}

// ---------------------------------------------------------------------------------------------

struct Options {
    fs::path dir;
    bool keep = false;
    std::set<std::string> sections = {"load", "encoder", "prefill", "decode", "threads"};
};

[[noreturn]] void usage(int code) {
    std::fprintf(code == 0 ? stdout : stderr,
                 "usage: bench_runtime [--dir D] [--keep] [--sections LIST]\n"
                 "  --dir D        checkpoint folder (default $TMPDIR/sarsteer-bench-runtime);\n"
                 "                 reused when it already holds this geometry\n"
                 "  --keep         keep the checkpoint (~4.5 GB) afterwards\n"
                 "  --sections L   comma-separated subset of load,encoder,prefill,decode,threads\n"
                 "                 (default: all; the machine baselines always run)\n");
    std::exit(code);
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--keep") {
            o.keep = true;
        } else if (arg == "--dir" && i + 1 < argc) {
            o.dir = argv[++i];
        } else if (arg == "--sections" && i + 1 < argc) {
            o.sections.clear();
            std::stringstream list(argv[++i]);
            for (std::string s; std::getline(list, s, ',');) {
                if (s != "load" && s != "encoder" && s != "prefill" && s != "decode" &&
                    s != "threads") {
                    usage(2);
                }
                o.sections.insert(s);
            }
        } else if (arg == "--help" || arg == "-h") {
            usage(0);
        } else {
            usage(2);
        }
    }
    if (o.dir.empty()) o.dir = fs::temp_directory_path() / "sarsteer-bench-runtime";
    return o;
}

int run(const Options& opt) {
    c10::InferenceMode inference;
    Table table;
    const OpenBlas blas;
    const int libtorch_omp = at::get_num_threads();  // the libraries' own defaults
    const int libtorch_blas = blas.threads();
    std::fprintf(stderr, "%sOpenBLAS: %d threads, %s\n", at::get_parallel_info().c_str(),
                 libtorch_blas, blas.config().c_str());
    // Everything runs with sarsteer's setting, as the CLI does; the threads section compares it.
    sm::configure_cpu_threads(0);
    const int default_omp = at::get_num_threads();
    const int default_blas = blas.threads();
    auto has = [&](const char* s) { return opt.sections.contains(s); };

    // --- checkpoint ---------------------------------------------------------------------------
    const fs::path& dir = opt.dir;
    sarsteer::text::write_tiny_tokenizer(dir, sarsteer::text::default_tiny_corpus());
    const auto config = bench_config(sarsteer::Tokenizer::load(dir));
    table.section("setup");
    if (checkpoint_matches(dir, config)) {
        table.add("checkpoint", "reused", "", "", dir.string());
    } else {
        std::fprintf(stderr, "writing the random checkpoint into %s ...\n", dir.c_str());
        const double s = time_it([&] { sm::write_random_checkpoint(dir, config, 1); });
        table.add("write_random_checkpoint", fmt("%.1f s", s), "", "", dir.string());
    }
    const auto file = dir / "model.safetensors";
    const double file_bytes = static_cast<double>(fs::file_size(file));
    table.add("model.safetensors", fmt("%.2f GB", file_bytes / kGB), "", "",
              "f32; Qwen2-0.5B decoder + whisper-large-v3 encoder + projector");
    table.add("threads: configure_cpu_threads(0)",
              fmt("omp %d, blas %d", default_omp, default_blas), "", "",
              fmt("the libraries' own defaults: omp %d, blas %d; openblas_set_num_threads %s",
                  libtorch_omp, libtorch_blas, blas.available() ? "found" : "NOT found"));

    const auto clip2 = noise_clip(2.0, 2);
    const std::vector<std::vector<float>> clips2 = {clip2};
    const std::vector<int32_t> short_ids = random_ids(8, config.text.vocab_size, 3);
    sm::GenerateOptions one_token;
    one_token.max_new_tokens = 1;
    one_token.stop_ids = {-1};

    // --- load: mmap vs reading the file once ---------------------------------------------------
    std::shared_ptr<const sm::Model> model;
    auto load_model = [&] {
        return sm::Model::load({.path = dir, .device = "cpu", .dtype = "f32"});
    };
    if (has("load")) {
        const bool cold = drop_page_cache();
        const char* when = cold ? "cold" : "warm";
        table.section(cold ? "load (page cache dropped before each cold step; 1 run each)"
                           : "load (page cache could NOT be dropped: all warm; 1 run each)");
        const double io_cold = read_whole_file(file, false);
        table.add(fmt("read model.safetensors once, I/O only (%s)", when), fmt("%.2f s", io_cold),
                  "", "",
                  fmt("%.2f GB/s; ifstream, one reused 64 MiB buffer", file_bytes / kGB / io_cold));
        drop_page_cache();
        const double read_cold = read_whole_file(file, true);
        table.add(fmt("read model.safetensors once into memory (%s)", when),
                  fmt("%.2f s", read_cold), "", "",
                  fmt("%.2f GB/s; ifstream into a new %.1f GB buffer (a copying loader)",
                      file_bytes / kGB / read_cold, file_bytes / kGB));
        drop_page_cache();
        const double load_cold = time_it([&] { model = load_model(); });
        table.add(fmt("Model::load, mmap (%s)", when), fmt("%.3f s", load_cold),
                  fmt("%.2f s", read_cold), fmt("%.4f", load_cold / read_cold),
                  "config + tokenizer + header; weights are views of the mapping");
        const std::vector<sm::PreparedPrompt> prompt = {sm::prepare_ids(*model, short_ids)};
        const double gen_first = time_it([&] { sm::generate(*model, prompt, one_token); });
        const double gen_warm = time_it([&] { sm::generate(*model, prompt, one_token); });
        table.add("first generate after load (8-token prompt, 1 token)", fmt("%.2f s", gen_first),
                  fmt("%.2f s", gen_warm), fmt("%.1f", gen_first / gen_warm),
                  "baseline: the same call again; the first faults in decoder + lm_head pages");
        const double enc_first = time_it([&] { sm::encode_clips(*model, clips2); });
        const double enc_warm = time_it([&] { sm::encode_clips(*model, clips2); });
        table.add("first encode_clips 2 s after load", fmt("%.2f s", enc_first),
                  fmt("%.2f s", enc_warm), fmt("%.1f", enc_first / enc_warm),
                  "baseline: the same call again; the first faults in encoder pages");
        const double paid = load_cold + (gen_first - gen_warm) + (enc_first - enc_warm);
        table.add("load + page-fault cost of first use", fmt("%.2f s", paid),
                  fmt("%.2f s", read_cold), fmt("%.2f", paid / read_cold),
                  "load + (first - again) generate + (first - again) encode; all pages touched");
        table.add("load + page-fault cost of first use", fmt("%.2f s", paid),
                  fmt("%.2f s", io_cold), fmt("%.2f", paid / io_cold),
                  "the same against the I/O-only read");
        // The model keeps the file mapped, so its pages stay in the page cache.
        const double io_warm = read_whole_file(file, false);
        table.add("read model.safetensors once, I/O only (warm)", fmt("%.2f s", io_warm), "", "",
                  fmt("%.2f GB/s", file_bytes / kGB / io_warm));
        const double read_warm = read_whole_file(file, true);
        table.add("read model.safetensors once into memory (warm)", fmt("%.2f s", read_warm), "",
                  "", fmt("%.2f GB/s", file_bytes / kGB / read_warm));
        const double load_warm = time_it([&] { static_cast<void>(load_model()); });
        table.add("Model::load, mmap (warm)", fmt("%.3f s", load_warm), fmt("%.2f s", read_warm),
                  fmt("%.4f", load_warm / read_warm));
    } else {
        model = load_model();
        const std::vector<sm::PreparedPrompt> prompt = {sm::prepare_ids(*model, short_ids)};
        sm::generate(*model, prompt, one_token);  // fault the weights in before timing anything
        if (has("encoder")) sm::encode_clips(*model, clips2);
    }

    // --- machine baselines (always) ------------------------------------------------------------
    // The buffer and GEMM operands stay alive: each later section measures its baseline again
    // right around its own runs, because this shared machine's speed drifts over minutes.
    constexpr int64_t kFloats = int64_t{1} << 28;  // 1 GiB
    auto bw_buffer = at::empty({kFloats}, at::kFloat);
    const double bw_bytes = static_cast<double>(bw_buffer.nbytes());
    const auto* bw_data = bw_buffer.data_ptr<float>();
    const auto& w0 = model->weights().decoder.layers.at(0);
    const auto gemm_x = at::randn({512, config.text.hidden_size}) * 0.1;
    const double gemm_flops = 2.0 * 512 * static_cast<double>(w0.gate_w.numel());
    auto sum_at = [&](int threads, int reps) {
        at::set_num_threads(threads);
        static_cast<void>(bw_buffer.sum().item<float>());
        const auto runs = repeat(reps, [&] { static_cast<void>(bw_buffer.sum().item<float>()); });
        at::set_num_threads(default_omp);
        return bw_bytes / runs.min();
    };
    auto sum_vector = [&](int threads, int reps) {
        const auto n = static_cast<std::size_t>(kFloats);
        static_cast<void>(sum_threads(bw_data, n, threads));
        return bw_bytes /
               repeat(reps, [&] { static_cast<void>(sum_threads(bw_data, n, threads)); }).min();
    };
    // Read bandwidth now, bytes/s: the better of the two 2-thread sums, best of `reps`.
    auto bandwidth_now = [&](int reps) { return std::max(sum_at(2, reps), sum_vector(2, reps)); };
    // GEMM rate now, FLOP/s, in sarsteer's thread setting: best of `reps`.
    auto gemm_now = [&](int reps) {
        static_cast<void>(at::linear(gemm_x, w0.gate_w).sum().item<float>());
        const auto runs = repeat(
            reps, [&] { static_cast<void>(at::linear(gemm_x, w0.gate_w).sum().item<float>()); });
        return gemm_flops / runs.min();
    };

    table.section("machine baselines: read bandwidth (1 GiB f32 buffer) and GEMM, best of 5");
    double best_bandwidth = 0;
    {
        const double touch = time_it([&] { bw_buffer.fill_(1.0F); });
        table.add("first touch of 1 GiB fresh memory (fill_)",
                  fmt("%.2f GB/s", bw_bytes / touch / kGB), "", "",
                  "page faults of new anonymous memory; a copying loader pays this");
        for (int threads : {1, 2}) {
            const double b = sum_vector(threads, 5);
            best_bandwidth = std::max(best_bandwidth, b);
            table.add(fmt("vector sum, %d std::thread%s", threads, threads > 1 ? "s" : ""),
                      fmt("%.2f GB/s", b / kGB), "", "", "4 x 8-wide accumulators");
        }
        for (int threads : {1, 2}) {
            const double b = sum_at(threads, 5);
            best_bandwidth = std::max(best_bandwidth, b);
            table.add(fmt("at::sum, %d OpenMP thread%s", threads, threads > 1 ? "s" : ""),
                      fmt("%.2f GB/s", b / kGB));
        }
    }
    table.add("read bandwidth", fmt("%.2f GB/s", best_bandwidth / kGB), "", "",
              "the highest of the above");
    // The compute baseline: one GEMM of a prefill's MLP shape, in sarsteer's thread setting.
    table.add("GEMM [512x896] x [896x4864] (at::linear)", fmt("%.1f GFLOP/s", gemm_now(5) / 1e9),
              "", "", "compute baseline");

    // --- encoder ------------------------------------------------------------------------------
    if (has("encoder")) {
        table.section("audio encoder + projector (encode_clips: log-mel included)");
        const auto& audio = *config.audio;
        const double gemm_rate = gemm_now(5);
        table.add("GEMM baseline at the section's start", fmt("%.1f GFLOP/s", gemm_rate / 1e9), "",
                  "", "best of 5");
        Runs full;
        for (double seconds : {30.0, 11.0, 2.0}) {
            const std::vector<std::vector<float>> clips = {noise_clip(seconds, 5)};
            const auto runs = repeat(seconds > 20  ? 2
                                     : seconds > 5 ? 2
                                                   : 3,
                                     [&] { sm::encode_clips(*model, clips); });
            const int64_t frames = static_cast<int64_t>(seconds * 100);
            const int64_t positions = sm::encoder_feature_length(std::min<int64_t>(frames, 3000));
            const double rtf = seconds / runs.median();
            const double gflops =
                encoder_flops(audio, static_cast<double>(positions)) / runs.median() / 1e9;
            if (seconds > 20) {
                full = runs;
                table.add(fmt("encode 30 s clip (%lld positions, full window)",
                              static_cast<long long>(positions)),
                          fmt("%.2f s", runs.median()), "", "",
                          fmt("%.1fx real time; %.0f GFLOP/s = %.2f of the GEMM baseline; %s", rtf,
                              gflops, gflops * 1e9 / gemm_rate, spread(runs).c_str()));
            } else {
                table.add(fmt("encode %.0f s clip (%lld positions)", seconds,
                              static_cast<long long>(positions)),
                          fmt("%.2f s", runs.median()), fmt("%.2f s", full.median()),
                          fmt("%.3f", runs.median() / full.median()),
                          fmt("positions %lld/%lld = %.3f; %.1fx real time; %.0f GFLOP/s; %s",
                              static_cast<long long>(positions),
                              static_cast<long long>(audio.max_source_positions),
                              static_cast<double>(positions) /
                                  static_cast<double>(audio.max_source_positions),
                              rtf, gflops, spread(runs).c_str()));
            }
        }
    }

    // --- prefill ------------------------------------------------------------------------------
    if (has("prefill")) {
        table.section("prefill (forward, batch 1, hidden states only: no lm_head)");
        const double gemm_before = gemm_now(5);
        static_cast<void>(prefill_seconds(*model, 16));  // warm-up
        std::vector<std::pair<int64_t, Runs>> results;
        for (int64_t n : {128, 512}) {
            results.emplace_back(n, repeat(n > 200 ? 2 : 3, [&] { prefill_seconds(*model, n); }));
        }
        const double gemm_rate = std::max(gemm_before, gemm_now(5));
        table.add("GEMM baseline around the section", fmt("%.1f GFLOP/s", gemm_rate / 1e9), "", "",
                  "best of 5 before and 5 after the prefills");
        for (const auto& [n, runs] : results) {
            const double rate = decoder_flops_per_token(config, (static_cast<double>(n) + 1) / 2) *
                                static_cast<double>(n) / runs.median();
            table.add(fmt("prefill %lld tokens", static_cast<long long>(n)),
                      fmt("%.0f tok/s", static_cast<double>(n) / runs.median()),
                      fmt("GEMM %.1f GFLOP/s", gemm_rate / 1e9), fmt("%.2f", rate / gemm_rate),
                      fmt("%.1f GFLOP/s achieved; %s", rate / 1e9, spread(runs).c_str()));
        }
    }

    // --- decode -------------------------------------------------------------------------------
    if (has("decode")) {
        table.section("decode (generate, greedy, batch 1, 64-token prompt, 32 steps)");
        const double bytes = decode_weight_bytes(*model);
        const double bw_before = bandwidth_now(3);
        std::vector<double> steps;
        for (int i = 0; i < 2; ++i) steps.push_back(decode_step_seconds(*model, 64, 33));
        const double bandwidth = std::max(bw_before, bandwidth_now(3));
        const double bound = bandwidth / bytes;
        table.add("weight bytes read per decode step", fmt("%.3f GB", bytes / kGB), "", "",
                  "24 layers + final norm + lm_head (tied embedding, once)");
        table.add("read bandwidth around the section", fmt("%.2f GB/s", bandwidth / kGB), "", "",
                  "2-thread sums, best of 3 before and 3 after the decode runs");
        table.add("bandwidth bound", fmt("%.2f tok/s", bound), "", "",
                  fmt("%.2f GB/s / %.3f GB", bandwidth / kGB, bytes / kGB));
        const Runs step{steps};
        const double tok_s = 1.0 / step.median();
        table.add("decode", fmt("%.2f tok/s", tok_s), fmt("%.2f tok/s", bound),
                  fmt("%.3f", tok_s / bound),
                  fmt("%.1f ms/token; 2 runs of 32 steps, %.3g..%.3g s/step", 1e3 * step.median(),
                      step.min(), step.max()));

        // Where the step goes: the one-row matrix products alone, then the rest.
        const auto& d = model->weights().decoder;
        const double lm_bytes = static_cast<double>(d.lm_head.nbytes());
        one_row_linears(*model, false, true, true);
        const auto mv_layers = repeat(3, [&] { one_row_linears(*model, false, true, false); });
        const auto mv_head = repeat(3, [&] { one_row_linears(*model, false, false, true); });
        const auto gemm_all = repeat(3, [&] { one_row_linears(*model, true, true, true); });
        const double mv_all = mv_layers.median() + mv_head.median();
        table.add("  one-row linears, 24 layers (ops::linear -> at::mv)",
                  fmt("%.1f ms", 1e3 * mv_layers.median()), fmt("%.2f GB/s", bandwidth / kGB),
                  fmt("%.3f", (bytes - lm_bytes) / mv_layers.median() / bandwidth),
                  fmt("%.2f GB/s effective; %s", (bytes - lm_bytes) / mv_layers.median() / kGB,
                      spread(mv_layers).c_str()));
        table.add("  lm_head [151936x896] (at::mv)", fmt("%.1f ms", 1e3 * mv_head.median()),
                  fmt("%.2f GB/s", bandwidth / kGB),
                  fmt("%.3f", lm_bytes / mv_head.median() / bandwidth),
                  fmt("%.2f GB/s effective; %s", lm_bytes / mv_head.median() / kGB,
                      spread(mv_head).c_str()));
        using L = sm::DecoderLayerWeights;
        struct Kind {
            const char* name;
            at::Tensor L::*w;
            at::Tensor L::*b;
        };
        const auto& l0 = d.layers.front();
        for (const Kind& k :
             {Kind{"q_proj", &L::q_w, &L::q_b}, Kind{"k_proj", &L::k_w, &L::k_b},
              Kind{"v_proj", &L::v_w, &L::v_b}, Kind{"o_proj", &L::o_w, nullptr},
              Kind{"gate_proj", &L::gate_w, nullptr}, Kind{"up_proj", &L::up_w, nullptr},
              Kind{"down_proj", &L::down_w, nullptr}}) {
            const auto [sec, kind_bytes] = one_row_kind(*model, k.w, k.b);
            table.add(fmt("    %s [%lldx%lld] x24 (at::mv)", k.name,
                          static_cast<long long>((l0.*k.w).size(0)),
                          static_cast<long long>((l0.*k.w).size(1))),
                      fmt("%.2f ms", 1e3 * sec), fmt("%.2f GB/s", bandwidth / kGB),
                      fmt("%.3f", kind_bytes / sec / bandwidth),
                      fmt("%.2f GB/s effective; %.1f us a call; median of 5",
                          kind_bytes / sec / kGB, 1e6 * sec / 24));
        }
        table.add("  rest of the step (norms, rope, attention, cache, sampling)",
                  fmt("%.1f ms", 1e3 * (step.median() - mv_all)),
                  fmt("%.1f ms", 1e3 * step.median()),
                  fmt("%.3f", (step.median() - mv_all) / step.median()),
                  "decode step minus the one-row linears");
        table.add("  same linears via at::linear (GEMM, M=1: PyTorch eager / HF)",
                  fmt("%.1f ms", 1e3 * gemm_all.median()), fmt("%.1f ms", 1e3 * mv_all),
                  fmt("%.2f", gemm_all.median() / mv_all),
                  fmt("%.2f GB/s effective; %s", bytes / gemm_all.median() / kGB,
                      spread(gemm_all).c_str()));
        {
            const auto [ops, step_s] = profile_decode(*model, 64, 9);
            double in_ops = 0;
            for (const auto& [name, stat] : ops) in_ops += stat.seconds;
            table.add("  op profile: one decode step (RecordFunction)",
                      fmt("%.1f ms", 1e3 * step_s), "", "",
                      "8 steps; exclusive time per ATen op; callbacks add ~1 us per op");
            for (std::size_t i = 0; i < std::min<std::size_t>(ops.size(), 10); ++i) {
                const auto& [name, stat] = ops[i];
                table.add("    " + name, fmt("%.2f ms", 1e3 * stat.seconds),
                          fmt("%.1f ms", 1e3 * step_s), fmt("%.3f", stat.seconds / step_s),
                          fmt("%lld calls a step", static_cast<long long>(stat.calls)));
            }
            table.add("    outside ATen ops (sampling, bookkeeping)",
                      fmt("%.2f ms", 1e3 * (step_s - in_ops)), fmt("%.1f ms", 1e3 * step_s),
                      fmt("%.3f", (step_s - in_ops) / step_s));
        }
        const double gemm_tok_s = 1.0 / (step.median() - mv_all + gemm_all.median());
        table.add("decode if linears took the GEMM path (estimate)", fmt("%.2f tok/s", gemm_tok_s),
                  fmt("%.2f tok/s", bound), fmt("%.3f", gemm_tok_s / bound),
                  "the issue quotes ~0.23 for PyTorch eager on this machine");
    }

    // --- threads ------------------------------------------------------------------------------
    if (has("threads")) {
        table.section("threads: at::set_num_threads x openblas_set_num_threads");
        struct Result {
            int omp, blas;
            std::vector<double> prefill_s, step_s;
            double prefill = 0, decode = 0;  // tok/s of the medians
        };
        std::vector<Result> results;
        for (int omp : {1, 2}) {
            for (int blas_threads : {1, 2}) results.push_back({omp, blas_threads, {}, {}});
        }
        // Interleaved rounds (the starting combination rotates), so that a change of background
        // load spreads over all combinations instead of favouring one.
        constexpr int kRounds = 3;
        for (int round = 0; round < kRounds; ++round) {
            for (std::size_t k = 0; k < results.size(); ++k) {
                auto& r = results[(k + static_cast<std::size_t>(round)) % results.size()];
                set_threads(blas, r.omp, r.blas);
                static_cast<void>(decode_step_seconds(*model, 16, 3));  // pools spun up
                r.prefill_s.push_back(prefill_seconds(*model, 128));
                r.step_s.push_back(decode_step_seconds(*model, 16, 9));
            }
        }
        for (auto& r : results) {
            r.prefill = 128.0 / Runs{r.prefill_s}.median();
            r.decode = 1.0 / Runs{r.step_s}.median();
        }
        auto found = std::find_if(results.begin(), results.end(), [&](const Result& r) {
            return r.omp == default_omp && r.blas == default_blas;
        });
        const Result base = found != results.end() ? *found : results.back();
        for (const auto& r : results) {
            const std::string label = fmt("omp %d x blas %d", r.omp, r.blas);
            table.add("prefill 128, " + label, fmt("%.0f tok/s", r.prefill),
                      fmt("%.0f tok/s", base.prefill), fmt("%.3f", r.prefill / base.prefill),
                      "baseline: sarsteer's setting; median of 3 interleaved rounds");
            table.add("decode, " + label, fmt("%.2f tok/s", r.decode),
                      fmt("%.2f tok/s", base.decode), fmt("%.3f", r.decode / base.decode),
                      "baseline: sarsteer's setting; 3 interleaved rounds of 8 steps");
        }
        auto best = [&](auto key) {
            return *std::max_element(
                results.begin(), results.end(),
                [&](const Result& a, const Result& b) { return key(a) < key(b); });
        };
        const auto bp = best([](const Result& r) { return r.prefill; });
        const auto bd = best([](const Result& r) { return r.decode; });
        table.add("best for prefill", fmt("omp %d x blas %d", bp.omp, bp.blas));
        table.add("best for decode", fmt("omp %d x blas %d", bd.omp, bd.blas));
        set_threads(blas, default_omp, default_blas);
    }

    table.close_section();
    std::printf("\nbench_runtime: %s\n\n", dir.c_str());
    table.print();
    return 0;
}

void cleanup(const fs::path& dir) {
    std::error_code ec;
    for (const char* name : kFiles) fs::remove(dir / name, ec);
    fs::remove(dir, ec);  // only when nothing else is left in it
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse_args(argc, argv);
    int code = 1;
    try {
        code = run(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_runtime: %s\n", e.what());
    }
    if (!opt.keep) cleanup(opt.dir);
    return code;
}
