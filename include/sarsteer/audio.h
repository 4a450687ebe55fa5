// Audio front-end: decode (WAV/FLAC/OGG/MP3 via libsndfile), downmix, resample to 16 kHz
// (libsoxr), and the Whisper log-mel features that Qwen2-Audio's encoder consumes.
//
// The pipeline mirrors what a Python user of Qwen2-Audio runs:
//   librosa.load(path, sr=16000)              -> load_audio_16k
//   WhisperFeatureExtractor(..., padding="max_length", return_attention_mask=True)
//                                              -> whisper_log_mel
// Every failure caused by the input throws sarsteer::Error naming the file (or `name`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sarsteer {

// Whisper / Qwen2-Audio feature-extractor constants (ref: openai/whisper audio.py).
inline constexpr int kWhisperSampleRate = 16000;
inline constexpr int kWhisperNFft = 400;
inline constexpr int kWhisperHopLength = 160;
inline constexpr int kWhisperChunkSeconds = 30;
inline constexpr int kWhisperNSamples = kWhisperChunkSeconds * kWhisperSampleRate;  // 480000
inline constexpr int kWhisperNFrames = kWhisperNSamples / kWhisperHopLength;        // 3000

// Guards checked against the file's header before anything is allocated.
struct DecodeLimits {
    double max_seconds = 600.0;  // longer audio -> kLimitExceeded
    int max_channels = 64;
    int max_sample_rate = 768000;
};

struct DecodedAudio {
    std::vector<float> samples;  // mono (channels averaged), nominally in [-1, 1]
    int sample_rate = 0;
    int channels = 0;    // channel count of the source before downmixing
    std::string format;  // container name as libsndfile reports it, e.g. "FLAC"

    double seconds() const {
        return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
    }
};

// Decodes a whole file or in-memory file image (any rate, channel count, bit depth) and
// downmixes it to mono. Throws Error: kNotFound (missing file), kCorruptInput (undecodable,
// truncated, empty, non-finite samples), kUnsupported (no audio frames), kLimitExceeded.
DecodedAudio decode_audio(const std::filesystem::path& path, const DecodeLimits& limits = {});
// `name` is used as the Error subject (e.g. "request audio").
DecodedAudio decode_audio(std::span<const std::byte> bytes, std::string_view name = "audio bytes",
                          const DecodeLimits& limits = {});

// Band-limited resampling with libsoxr SOXR_HQ (float in/out), as librosa.resample(res_type=
// "soxr_hq") does: output length ceil(n * to_rate / from_rate). Identity when rates match.
std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate);

struct Audio16k {
    std::vector<float> samples;  // mono, 16 kHz, at most max_seconds long
    int source_sample_rate = 0;
    int source_channels = 0;
    double source_seconds = 0.0;  // duration of the whole input, before truncation
    bool truncated = false;       // the input was longer than max_seconds and was cut

    double seconds() const { return static_cast<double>(samples.size()) / kWhisperSampleRate; }
};

// decode -> downmix -> resample to 16 kHz -> keep the first max_seconds (Qwen2-Audio's
// processor keeps at most 30 s). Only the kept prefix (plus a resampler margin) is decoded, so
// long inputs cost no more than 30 s of audio. max_seconds must be in (0,
// DecodeLimits{}.max_seconds].
Audio16k load_audio_16k(const std::filesystem::path& path,
                        double max_seconds = kWhisperChunkSeconds);
Audio16k load_audio_16k(std::span<const std::byte> bytes, double max_seconds = kWhisperChunkSeconds,
                        std::string_view name = "audio bytes");

struct LogMelFeatures {
    int n_mels = 0;
    int n_frames = 0;
    std::vector<float> data;              // row-major [n_mels, n_frames]
    std::vector<int64_t> attention_mask;  // [n_frames]: 1 where the frame starts inside the audio

    float at(int mel, int frame) const {
        return data[static_cast<std::size_t>(mel) * static_cast<std::size_t>(n_frames) +
                    static_cast<std::size_t>(frame)];
    }
    int64_t valid_frames() const;  // number of ones in attention_mask
};

// Whisper log-mel spectrogram of 16 kHz mono samples, padded with zeros / cut to 30 s:
// exactly openai/whisper log_mel_spectrogram and HF WhisperFeatureExtractor (n_fft 400, hop 160,
// periodic Hann, reflect-padded centred STFT, Slaney mel filterbank, log10, max-8 floor,
// (x+4)/4), giving [n_mels, 3000]. n_mels is 128 for Qwen2-Audio (80 for Whisper v1/v2).
// Thread-safe. Throws Error(kInvalidArgument) for a bad n_mels or non-finite samples.
LogMelFeatures whisper_log_mel(std::span<const float> samples_16k, int n_mels = 128);

// The feature attention mask HF WhisperFeatureExtractor returns (return_attention_mask=True):
// frame i is valid iff i * 160 < n_samples; always kWhisperNFrames long.
std::vector<int64_t> whisper_attention_mask(std::size_t n_samples);

// librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels) with its defaults (Slaney mel
// scale, Slaney area normalisation, fmin 0, fmax sr/2): row-major [n_mels, n_fft/2 + 1].
std::vector<float> mel_filters(int n_mels, int n_fft = kWhisperNFft,
                               int sample_rate = kWhisperSampleRate);

}  // namespace sarsteer
