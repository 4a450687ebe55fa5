// Whisper log-mel features, computed in double precision.
//
// ref: openai/whisper audio.py log_mel_spectrogram and HF WhisperFeatureExtractor
// (_np_extract_fbank_features): pad/trim to 30 s, torch.stft(n_fft=400, hop=160,
// window=hann_window(400), center=True, pad_mode="reflect"), |X|^2, drop the last frame, mel
// filterbank (librosa.filters.mel), log10(max(., 1e-10)), floor at max - 8, (x + 4) / 4.
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numbers>
#include <string>
#include <vector>

#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer {
namespace audio {
namespace {

constexpr int kNBins = kWhisperNFft / 2 + 1;  // 201
constexpr int kPad = kWhisperNFft / 2;        // center=True pads n_fft / 2 on both sides
constexpr int kMaxMels = 512;
constexpr double kLogFloor = 1e-10;
constexpr double kDynamicRangeLog10 = 8.0;

// Slaney's Auditory Toolbox mel scale: linear below 1 kHz, logarithmic above.
// ref: librosa.hz_to_mel / mel_to_hz with htk=False.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;  // 15
const double kLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double hz) {
    if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / kLogStep;
    return hz / kFSp;
}

double mel_to_hz(double mel) {
    if (mel >= kMinLogMel) return kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel));
    return kFSp * mel;
}

// ref: librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm="slaney").
// librosa stores the weights as float32; so do we.
std::vector<float> compute_mel_filters(int n_mels, int n_fft, int sample_rate) {
    const int n_bins = n_fft / 2 + 1;
    const double fmax = sample_rate / 2.0;
    // mel_frequencies(n_mels + 2): np.linspace over the mel axis, mapped back to Hz.
    const double min_mel = hz_to_mel(0.0);
    const double max_mel = hz_to_mel(fmax);
    std::vector<double> mel_f(static_cast<std::size_t>(n_mels) + 2);
    const double step = (max_mel - min_mel) / (n_mels + 1);
    for (std::size_t i = 0; i < mel_f.size(); ++i) {
        const double mel =
            i + 1 == mel_f.size() ? max_mel : min_mel + static_cast<double>(i) * step;
        mel_f[i] = mel_to_hz(mel);
    }
    std::vector<float> weights(static_cast<std::size_t>(n_mels) * n_bins, 0.0f);
    for (int m = 0; m < n_mels; ++m) {
        const double lower_hz = mel_f[m];
        const double center_hz = mel_f[m + 1];
        const double upper_hz = mel_f[m + 2];
        const double enorm = 2.0 / (upper_hz - lower_hz);  // Slaney: constant energy per band
        for (int k = 0; k < n_bins; ++k) {
            const double freq = static_cast<double>(k) * sample_rate / n_fft;  // rfftfreq
            const double rising = (freq - lower_hz) / (center_hz - lower_hz);
            const double falling = (upper_hz - freq) / (upper_hz - center_hz);
            const double w = std::max(0.0, std::min(rising, falling));
            // Round to float before normalising, as librosa's float32 weights array does.
            weights[static_cast<std::size_t>(m) * n_bins + k] =
                static_cast<float>(static_cast<float>(w) * enorm);
        }
    }
    return weights;
}

// The 16 kHz / n_fft 400 filterbank with each row's non-zero bin range, for a sparse product.
struct Filterbank {
    std::vector<double> weights;  // [n_mels, kNBins]
    std::vector<int> begin;       // first non-zero bin per mel
    std::vector<int> end;         // one past the last non-zero bin per mel
};

std::shared_ptr<const Filterbank> whisper_filterbank(int n_mels) {
    static std::mutex mutex;
    static std::map<int, std::shared_ptr<const Filterbank>> cache;
    std::lock_guard lock(mutex);
    auto& slot = cache[n_mels];
    if (!slot) {
        const std::vector<float> dense =
            compute_mel_filters(n_mels, kWhisperNFft, kWhisperSampleRate);
        auto bank = std::make_shared<Filterbank>();
        bank->weights.assign(dense.begin(), dense.end());
        bank->begin.assign(static_cast<std::size_t>(n_mels), 0);
        bank->end.assign(static_cast<std::size_t>(n_mels), 0);
        for (int m = 0; m < n_mels; ++m) {
            const double* row = bank->weights.data() + static_cast<std::size_t>(m) * kNBins;
            int first = 0;
            while (first < kNBins && row[first] == 0.0) ++first;
            int last = kNBins;
            while (last > first && row[last - 1] == 0.0) --last;
            bank->begin[static_cast<std::size_t>(m)] = first;
            bank->end[static_cast<std::size_t>(m)] = last;
        }
        slot = std::move(bank);
    }
    return slot;
}

struct FftwFree {
    void operator()(void* p) const { fftw_free(p); }
};
template <typename T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;

template <typename T>
FftwBuffer<T> fftw_buffer(std::size_t n) {
    auto* p = static_cast<T*>(fftw_malloc(sizeof(T) * n));
    if (p == nullptr) throw std::bad_alloc();
    return FftwBuffer<T>(p);
}

// One r2c plan of size n_fft, created once. FFTW's planner is not thread-safe but executing a
// plan is, so planning happens under a mutex and each call brings its own (fftw_malloc-aligned)
// buffers to fftw_execute_dft_r2c. The plan lives for the whole process on purpose.
fftw_plan whisper_fft_plan() {
    static std::mutex mutex;
    static fftw_plan plan = nullptr;
    std::lock_guard lock(mutex);
    if (plan == nullptr) {
        auto in = fftw_buffer<double>(kWhisperNFft);
        auto out = fftw_buffer<fftw_complex>(kNBins);
        plan = fftw_plan_dft_r2c_1d(kWhisperNFft, in.get(), out.get(), FFTW_ESTIMATE);
        if (plan == nullptr) {
            throw Error(ErrorKind::kInternal, "fftw", "cannot create the n_fft=400 r2c plan");
        }
    }
    return plan;
}

// torch.hann_window(400) (periodic=True): 0.5 - 0.5 cos(2 pi k / N).
const std::vector<double>& hann_window() {
    static const std::vector<double> window = [] {
        std::vector<double> w(kWhisperNFft);
        for (int k = 0; k < kWhisperNFft; ++k) {
            w[static_cast<std::size_t>(k)] =
                0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * k / kWhisperNFft);
        }
        return w;
    }();
    return window;
}

}  // namespace
}  // namespace audio

int64_t LogMelFeatures::valid_frames() const {
    return std::count(attention_mask.begin(), attention_mask.end(), int64_t{1});
}

std::vector<int64_t> whisper_attention_mask(std::size_t n_samples) {
    // ref: HF WhisperFeatureExtractor: attention_mask[:, ::hop_length] of the padded sample mask.
    std::vector<int64_t> mask(kWhisperNFrames, 0);
    for (std::size_t i = 0; i < mask.size(); ++i) {
        mask[i] = i * kWhisperHopLength < n_samples ? 1 : 0;
    }
    return mask;
}

std::vector<float> mel_filters(int n_mels, int n_fft, int sample_rate) {
    if (n_mels < 1 || n_mels > audio::kMaxMels) {
        throw Error(ErrorKind::kInvalidArgument, "n_mels",
                    "must be in [1, " + std::to_string(audio::kMaxMels) + "], got " +
                        std::to_string(n_mels));
    }
    if (n_fft < 2 || n_fft > (1 << 16)) {
        throw Error(ErrorKind::kInvalidArgument, "n_fft",
                    "must be in [2, 65536], got " + std::to_string(n_fft));
    }
    if (sample_rate < 1 || sample_rate > 768000) {
        throw Error(ErrorKind::kInvalidArgument, "sample_rate",
                    "must be in [1, 768000] Hz, got " + std::to_string(sample_rate));
    }
    return audio::compute_mel_filters(n_mels, n_fft, sample_rate);
}

LogMelFeatures whisper_log_mel(std::span<const float> samples_16k, int n_mels) {
    using namespace audio;
    if (n_mels < 1 || n_mels > kMaxMels) {
        throw Error(
            ErrorKind::kInvalidArgument, "n_mels",
            "must be in [1, " + std::to_string(kMaxMels) + "], got " + std::to_string(n_mels));
    }
    // pad_or_trim to exactly 30 s (ref: whisper.audio.pad_or_trim).
    const std::size_t n = std::min<std::size_t>(samples_16k.size(), kWhisperNSamples);
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(samples_16k[i])) {
            throw Error(ErrorKind::kInvalidArgument, "audio samples",
                        "sample " + std::to_string(i) + " is not finite");
        }
    }

    // Reflect padding of n_fft/2 on both sides (torch.stft center=True, pad_mode="reflect").
    constexpr std::size_t kSignal = kWhisperNSamples;
    std::vector<double> padded(kSignal + 2 * kPad, 0.0);
    for (std::size_t i = 0; i < n; ++i) padded[kPad + i] = samples_16k[i];
    for (std::size_t j = 1; j <= kPad; ++j) {
        padded[kPad - j] = padded[kPad + j];
        padded[kPad + kSignal - 1 + j] = padded[kPad + kSignal - 1 - j];
    }

    const auto bank = whisper_filterbank(n_mels);
    const fftw_plan plan = whisper_fft_plan();
    const std::vector<double>& window = hann_window();
    auto in = fftw_buffer<double>(kWhisperNFft);
    auto spectrum = fftw_buffer<fftw_complex>(kNBins);
    std::vector<double> power(kNBins);

    // Frames 0..2999: torch.stft yields 3001 frames and whisper drops the last one.
    std::vector<double> log_mel(static_cast<std::size_t>(n_mels) * kWhisperNFrames);
    double max_value = -std::numeric_limits<double>::infinity();
    for (int t = 0; t < kWhisperNFrames; ++t) {
        const double* frame = padded.data() + static_cast<std::size_t>(t) * kWhisperHopLength;
        for (int k = 0; k < kWhisperNFft; ++k) in[k] = frame[k] * window[k];
        fftw_execute_dft_r2c(plan, in.get(), spectrum.get());
        for (int k = 0; k < kNBins; ++k) {
            power[k] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
        }
        for (int m = 0; m < n_mels; ++m) {
            const double* row = bank->weights.data() + static_cast<std::size_t>(m) * kNBins;
            double sum = 0.0;
            for (int k = bank->begin[m]; k < bank->end[m]; ++k) sum += row[k] * power[k];
            const double value = std::log10(std::max(sum, kLogFloor));
            log_mel[static_cast<std::size_t>(m) * kWhisperNFrames + t] = value;
            max_value = std::max(max_value, value);
        }
    }

    LogMelFeatures out;
    out.n_mels = n_mels;
    out.n_frames = kWhisperNFrames;
    out.data.resize(log_mel.size());
    const double floor_value = max_value - kDynamicRangeLog10;
    for (std::size_t i = 0; i < log_mel.size(); ++i) {
        out.data[i] = static_cast<float>((std::max(log_mel[i], floor_value) + 4.0) / 4.0);
    }
    out.attention_mask = whisper_attention_mask(samples_16k.size());
    return out;
}

}  // namespace sarsteer
