// Spoken prompts from text: renders each manifest row's `question` with espeak-ng (its C
// library, not the program) to a 16 kHz mono 16-bit WAV and writes a manifest that points at
// the clips.
//
// espeak-ng keeps global state (one voice, one rate, one callback per process, and synthesis
// state in function statics that no API resets), so the library is initialised once behind a
// process-wide mutex, and each clip is synthesised in a forked child process that starts from
// that pristine state. The functions here are thread-safe but render one clip at a time; call
// them from a process whose other threads do not hold locks a forked child would need (the CLI
// is single-threaded; glibc's malloc is fork-safe).
//
// Determinism: the voice and rate of an item are a pure function of (seed, id), so they do not
// depend on the order of the rows or on a limit, and the same input renders byte-identical WAVs.
//
// Caching: each WAV carries the SHA-256 of what it was rendered from (text, voice, rate, output
// rate, espeak-ng version) in its RIFF INFO comment. An item whose file exists with the same key
// is not rendered again; a changed question, voice or rate re-renders it. WAVs and the manifest
// are written atomically (temp file + rename), so a killed run keeps every finished clip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sarsteer::eval {

inline constexpr int kSynthSampleRate = 16000;

struct SynthOptions {
    std::vector<std::string> voices = {"en-us"};  // espeak-ng names, variants as "en+m3"
    int rate_min = 150;                           // words per minute, inclusive range
    int rate_max = 150;
    std::uint64_t seed = 0;
    std::optional<std::size_t> limit;  // only the first n rows
    // Called after each item: (done, total, cached = the item was already rendered).
    std::function<void(std::size_t, std::size_t, bool)> on_progress;
};

struct SynthSummary {
    std::filesystem::path manifest;  // DIR/manifest.jsonl
    std::size_t n_items = 0;
    std::size_t n_rendered = 0;
    std::size_t n_cached = 0;
    double audio_seconds = 0.0;  // of the clips rendered in this run
};

// Renders `data` (a JSONL manifest: rows need `id` and `question`; see io/manifest.h) into
// `out_dir`: DIR/audio/<safe id>.wav and DIR/manifest.jsonl, each input row verbatim (key order
// kept) plus `audio` (relative to DIR), `voice` and `rate`. Throws Error: the input unreadable,
// malformed or empty (naming the file), an unknown voice, a rate outside espeak-ng's 80-450 wpm,
// or a write failure (naming the path).
SynthSummary synthesize_manifest(const std::filesystem::path& data,
                                 const std::filesystem::path& out_dir, const SynthOptions& options);

struct VoiceChoice {
    std::string voice;
    int rate = 0;
};

// The voice and rate of item `id`: a hash of (seed, id) picks from options.voices and
// [rate_min, rate_max].
VoiceChoice choose_voice(const SynthOptions& options, std::string_view id);

// A file name stem for `id` that stays inside its folder: characters other than [A-Za-z0-9._-]
// become '_', a leading '.' becomes '_', long ids are cut, and whenever the id had to change, 8
// hex digits of its hash are appended so distinct ids keep distinct files.
std::string safe_file_stem(std::string_view id);

// "en-us" or "en-us,en-gb,en+m3" -> the list. `subject` names the flag in errors.
std::vector<std::string> parse_voice_list(std::string_view text, const std::string& subject);
// "150" or "140-180" -> {min, max}, both within espeak-ng's 80-450 wpm.
std::pair<int, int> parse_rate_range(std::string_view text, const std::string& subject);

// Renders one text as 16 kHz mono 16-bit samples. Throws Error (kInvalidArgument) for an unknown
// voice, (kNotFound) when espeak-ng's data is missing, (kInternal) when synthesis fails.
std::vector<std::int16_t> synthesize_speech(std::string_view text, const std::string& voice,
                                            int rate);

// The canonical 44-byte-header PCM WAV (plus an optional RIFF INFO comment) of 16 kHz mono
// 16-bit samples.
std::string encode_wav(const std::vector<std::int16_t>& samples, std::string_view comment = {});
// The INFO comment of a WAV written by encode_wav, or empty when absent or unreadable.
std::string read_wav_comment(const std::filesystem::path& path);

// espeak-ng's version string, e.g. "1.51".
std::string espeak_version();

}  // namespace sarsteer::eval
