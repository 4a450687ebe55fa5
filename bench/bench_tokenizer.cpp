// Tokenizer throughput on the real Qwen2 vocabulary.
//
// The 1 MB English text is synthetic but word-realistic: words are drawn with a Zipf law from
// the vocabulary's own " word" tokens (so frequent words repeat as in prose and hit the per-call
// BPE cache), 3% are random letter strings that BPE must really merge, with punctuation and
// newlines. After the runs, the encode time is reported as a ratio against two baselines measured
// in the same run: a plain byte copy and the pre-tokenizer regex pass alone.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include "sarsteer/chat_prompt.h"
#include "sarsteer/tokenizer.h"
#include "text/pretokenizer.h"

namespace {

const std::string kTokenizerDir = std::string(SARSTEER_SHARED_DIR) + "/fixtures/qwen2_tokenizer";
constexpr std::size_t kTextBytes = 1 << 20;

const sarsteer::Tokenizer& tokenizer() {
    static const sarsteer::Tokenizer kTokenizer = sarsteer::Tokenizer::load(kTokenizerDir);
    return kTokenizer;
}

std::string english_text() {
    const auto& tok = tokenizer();
    std::vector<std::string> words;
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        const auto bytes = tok.token_bytes(id);
        if (!bytes || bytes->size() < 3 || (*bytes)[0] != ' ') continue;
        bool letters = true;
        for (std::size_t i = 1; i < bytes->size(); ++i) {
            const char c = (*bytes)[i];
            letters = letters && ((c >= 'a' && c <= 'z') || (i == 1 && c >= 'A' && c <= 'Z'));
        }
        if (letters) words.emplace_back(bytes->substr(1));
    }
    std::mt19937_64 rng(42);
    std::vector<double> weights(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) weights[i] = 1.0 / std::pow(i + 1.0, 1.05);
    std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
    std::uniform_int_distribution<int> percent(0, 99);
    std::uniform_int_distribution<int> letter('a', 'z');
    std::string text;
    text.reserve(kTextBytes + 64);
    bool sentence_start = true;
    while (text.size() < kTextBytes) {
        std::string word;
        if (percent(rng) < 3) {
            for (int n = 3 + percent(rng) % 8; n > 0; --n)
                word.push_back(static_cast<char>(letter(rng)));
        } else {
            word = words[pick(rng)];
        }
        if (sentence_start && word[0] >= 'a') word[0] = static_cast<char>(word[0] - 'a' + 'A');
        text += word;
        sentence_start = false;
        const int p = percent(rng);
        if (p < 6) {
            text += ", ";
        } else if (p < 11) {
            text += ". ";
            sentence_start = true;
        } else if (p < 12) {
            text += ".\n\n";
            sentence_start = true;
        } else {
            text += ' ';
        }
    }
    text.resize(kTextBytes);
    return text;
}

const std::string& english() {
    static const std::string kText = english_text();
    return kText;
}

std::string chinese_text() {
    // Chinese has no spaces: long \p{L}+ pieces take the heap BPE path.
    const std::string unit = "大型音频语言模型既接受文本也接受语音，这使得它们更难保持安全。";
    std::string text;
    while (text.size() < kTextBytes / 4) text += unit;
    return text;
}

void BM_ByteCopy1MB(benchmark::State& state) {
    const std::string& text = english();
    for (auto _ : state) {
        std::string copy(text);
        benchmark::DoNotOptimize(copy.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ByteCopy1MB)->Unit(benchmark::kMillisecond);

void BM_RegexOnly1MB(benchmark::State& state) {
    const std::string& text = english();
    static const sarsteer::text::PreTokenizer kPre;
    for (auto _ : state) {
        sarsteer::text::PreTokenizer::Cursor cursor(kPre, text);
        std::string_view piece;
        std::size_t n = 0;
        while (cursor.next(piece)) ++n;
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_RegexOnly1MB)->Unit(benchmark::kMillisecond);

void BM_Encode1MBEnglish(benchmark::State& state) {
    const std::string& text = english();
    const auto& tok = tokenizer();
    std::size_t n_ids = 0;
    for (auto _ : state) {
        auto ids = tok.encode(text);
        n_ids = ids.size();
        benchmark::DoNotOptimize(ids.data());
    }
    state.counters["ids"] = static_cast<double>(n_ids);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Encode1MBEnglish)->Unit(benchmark::kMillisecond);

void BM_Encode256KBChinese(benchmark::State& state) {
    const std::string text = chinese_text();
    const auto& tok = tokenizer();
    for (auto _ : state) {
        auto ids = tok.encode(text);
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Encode256KBChinese)->Unit(benchmark::kMillisecond);

void BM_Decode1MBEnglish(benchmark::State& state) {
    const auto& tok = tokenizer();
    const auto ids = tok.encode(english());
    for (auto _ : state) {
        auto text = tok.decode(ids);
        benchmark::DoNotOptimize(text.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * english().size()));
}
BENCHMARK(BM_Decode1MBEnglish)->Unit(benchmark::kMillisecond);

void BM_ChatPrompt(benchmark::State& state) {
    const auto& tok = tokenizer();
    const std::string prompt = sarsteer::render_audio_prompt(1, "What is the speaker asking for?");
    const std::vector<int64_t> frames = {3000};
    for (auto _ : state) {
        auto p = sarsteer::tokenize_prompt(tok, prompt, frames);
        benchmark::DoNotOptimize(p.ids.data());
    }
}
BENCHMARK(BM_ChatPrompt)->Unit(benchmark::kMicrosecond);

void BM_Load(benchmark::State& state) {
    for (auto _ : state) {
        auto tok = sarsteer::Tokenizer::load(kTokenizerDir);
        benchmark::DoNotOptimize(&tok);
    }
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->Iterations(3);

// Console output as usual, plus the per-run real time of each benchmark for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    // Colour only on a terminal, so redirected output stays plain text.
    RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (run.run_type == Run::RT_Iteration && run.iterations > 0) {
                seconds_[run.benchmark_name()] =
                    run.real_accumulated_time / static_cast<double>(run.iterations);
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }
    const std::map<std::string, double>& seconds() const { return seconds_; }

private:
    std::map<std::string, double> seconds_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    const auto& s = reporter.seconds();
    auto find = [&](const std::string& prefix) -> double {
        for (const auto& [name, sec] : s) {
            if (name.rfind(prefix, 0) == 0) return sec;
        }
        return 0.0;
    };
    const double encode = find("BM_Encode1MBEnglish");
    const double copy = find("BM_ByteCopy1MB");
    const double regex = find("BM_RegexOnly1MB");
    if (encode > 0 && copy > 0 && regex > 0) {
        std::printf(
            "\n1 MB English encode: %.1f ms = %.1fx regex-only pass (%.1f ms), %.0fx byte "
            "copy (%.3f ms); PCRE2 JIT %s\n",
            encode * 1e3, encode / regex, regex * 1e3, encode / copy, copy * 1e3,
            sarsteer::text::PreTokenizer().jit() ? "on" : "off");
    }
    benchmark::Shutdown();
    return 0;
}
