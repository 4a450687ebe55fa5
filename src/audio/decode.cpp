// Decoding with libsndfile (WAV, FLAC, OGG Vorbis/Opus, MP3, ...) from a path or from bytes,
// downmixing to mono, and the 16 kHz loader used by the model.
//
// ref: librosa.load (soundfile backend): float samples normalised by libsndfile, channels
// averaged (librosa.to_mono), then resampled; Qwen2-Audio's processor keeps at most 30 s.
#include <fcntl.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer {
namespace audio {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormatsHint =
    "sarsteer reads WAV, FLAC, OGG (Vorbis/Opus), MP3 and other formats libsndfile supports";
constexpr sf_count_t kBlockFrames = 8192;
constexpr sf_count_t kMaxReserveFrames = sf_count_t{1} << 22;
constexpr double kMaxLimitSeconds = 1e6;

// libsndfile reports a failed open through a process-wide error slot (sf_strerror(nullptr)),
// so opening and fetching that message must not interleave between threads.
std::mutex& open_mutex() {
    static std::mutex mutex;
    return mutex;
}

// An in-memory file image for sf_open_virtual.
struct MemoryStream {
    const std::byte* data = nullptr;
    sf_count_t size = 0;
    sf_count_t pos = 0;
};

sf_count_t vio_get_filelen(void* user) {
    return static_cast<MemoryStream*>(user)->size;
}

sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
    auto* stream = static_cast<MemoryStream*>(user);
    sf_count_t base = 0;
    switch (whence) {
        case SEEK_SET: base = 0; break;
        case SEEK_CUR: base = stream->pos; break;
        case SEEK_END: base = stream->size; break;
        default: return -1;
    }
    if ((offset > 0 && base > std::numeric_limits<sf_count_t>::max() - offset) ||
        base + offset < 0) {
        return -1;
    }
    stream->pos = std::min(base + offset, stream->size);
    return stream->pos;
}

sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
    auto* stream = static_cast<MemoryStream*>(user);
    const sf_count_t n =
        std::clamp<sf_count_t>(stream->size - stream->pos, 0, std::max<sf_count_t>(count, 0));
    if (n > 0) std::memcpy(ptr, stream->data + stream->pos, static_cast<std::size_t>(n));
    stream->pos += n;
    return n;
}

sf_count_t vio_write(const void*, sf_count_t, void*) {
    return 0;
}

sf_count_t vio_tell(void* user) {
    return static_cast<MemoryStream*>(user)->pos;
}

class UniqueFd {
public:
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() {
        if (fd_ >= 0) ::close(fd_);
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

struct SndfileCloser {
    void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

// An open decoder plus whatever keeps its byte source alive.
struct OpenAudio {
    std::string subject;
    std::optional<UniqueFd> fd;
    MemoryStream memory;
    SF_VIRTUAL_IO vio{};
    SF_INFO info{};
    SndfileHandle handle;
};

[[noreturn]] void throw_open_failure(const std::string& subject, const char* message) {
    throw Error(ErrorKind::kCorruptInput, subject,
                std::string("cannot decode audio: ") + (message ? message : "unknown error"),
                kFormatsHint);
}

void open_path(const fs::path& path, OpenAudio& audio) {
    audio.subject = path.string();
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) {
        throw Error(ErrorKind::kNotFound, audio.subject, "no such audio file");
    }
    if (status.type() == fs::file_type::directory) {
        throw Error(ErrorKind::kInvalidArgument, audio.subject,
                    "is a directory, not an audio file");
    }
    // O_NONBLOCK: never hang on a FIFO; the regular-file check below refuses it anyway.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        throw Error(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, audio.subject,
                    std::string("cannot open audio file: ") + std::strerror(err));
    }
    audio.fd.emplace(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw Error(ErrorKind::kIo, audio.subject,
                    std::string("cannot stat audio file: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::kUnsupported, audio.subject, "is not a regular file");
    }
    if (st.st_size == 0) {
        throw Error(ErrorKind::kCorruptInput, audio.subject, "file is empty (0 bytes)",
                    kFormatsHint);
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);

    std::lock_guard lock(open_mutex());
    // close_desc = false: UniqueFd owns the descriptor on every path, success or failure.
    audio.handle.reset(sf_open_fd(fd, SFM_READ, &audio.info, SF_FALSE));
    if (!audio.handle) throw_open_failure(audio.subject, sf_strerror(nullptr));
}

void open_bytes(std::span<const std::byte> bytes, std::string_view name, OpenAudio& audio) {
    audio.subject = std::string(name);
    if (bytes.empty()) {
        throw Error(ErrorKind::kCorruptInput, audio.subject, "audio data is empty (0 bytes)",
                    kFormatsHint);
    }
    audio.memory = {bytes.data(), static_cast<sf_count_t>(bytes.size()), 0};
    audio.vio = {vio_get_filelen, vio_seek, vio_read, vio_write, vio_tell};
    std::lock_guard lock(open_mutex());
    audio.handle.reset(sf_open_virtual(&audio.vio, SFM_READ, &audio.info, &audio.memory));
    if (!audio.handle) throw_open_failure(audio.subject, sf_strerror(nullptr));
}

std::string format_name(SNDFILE* file, int format) {
    SF_FORMAT_INFO info{};
    info.format = format & SF_FORMAT_TYPEMASK;
    if (sf_command(file, SFC_GET_FORMAT_INFO, &info, sizeof(info)) != 0 || info.name == nullptr) {
        return "unknown";
    }
    return info.name;
}

std::string seconds_text(double seconds) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.1f s", seconds);
    return buffer;
}

// Validates the header against `limits` before anything sized by it is allocated.
void check_header(const OpenAudio& audio, const DecodeLimits& limits) {
    const SF_INFO& info = audio.info;
    if (info.channels <= 0) {
        throw Error(ErrorKind::kCorruptInput, audio.subject,
                    "header declares " + std::to_string(info.channels) + " channels");
    }
    if (info.samplerate <= 0) {
        throw Error(ErrorKind::kCorruptInput, audio.subject,
                    "header declares a sample rate of " + std::to_string(info.samplerate) + " Hz");
    }
    if (info.channels > limits.max_channels) {
        throw Error(ErrorKind::kLimitExceeded, audio.subject,
                    "has " + std::to_string(info.channels) + " channels; the limit is " +
                        std::to_string(limits.max_channels));
    }
    if (info.samplerate > limits.max_sample_rate) {
        throw Error(ErrorKind::kLimitExceeded, audio.subject,
                    "has a sample rate of " + std::to_string(info.samplerate) +
                        " Hz; the limit is " + std::to_string(limits.max_sample_rate) + " Hz");
    }
    if (info.frames == 0) {
        throw Error(ErrorKind::kUnsupported, audio.subject, "contains no audio samples (0 frames)");
    }
    if (info.frames < 0) {
        throw Error(ErrorKind::kCorruptInput, audio.subject,
                    "header declares a negative frame count");
    }
}

sf_count_t limit_frames(double seconds, int sample_rate) {
    return static_cast<sf_count_t>(std::ceil(seconds * sample_rate));
}

// Reads up to `max_frames` frames, averaging channels (ref: librosa.to_mono).
std::vector<float> read_mono(OpenAudio& audio, sf_count_t max_frames) {
    const int channels = audio.info.channels;
    std::vector<float> mono;
    // The header's frame count is a claim, SF_COUNT_MAX when unknown: reserve at most
    // kMaxReserveFrames up front and let the vector grow with what actually decodes.
    mono.reserve(
        static_cast<std::size_t>(std::min({audio.info.frames, max_frames, kMaxReserveFrames})));
    std::vector<float> block(static_cast<std::size_t>(kBlockFrames) *
                             static_cast<std::size_t>(channels));
    const float scale = 1.0f / static_cast<float>(channels);
    sf_count_t total = 0;
    while (total < max_frames) {
        const sf_count_t want = std::min(kBlockFrames, max_frames - total);
        const sf_count_t got = sf_readf_float(audio.handle.get(), block.data(), want);
        if (got <= 0) break;
        for (sf_count_t f = 0; f < got; ++f) {
            const float* frame = block.data() + f * channels;
            float value = frame[0];
            if (channels > 1) {
                double sum = 0.0;
                for (int c = 0; c < channels; ++c) sum += frame[c];
                value = static_cast<float>(sum) * scale;
            }
            if (!std::isfinite(value)) {
                throw Error(ErrorKind::kCorruptInput, audio.subject,
                            "contains non-finite samples (NaN or infinity) at frame " +
                                std::to_string(total + f));
            }
            mono.push_back(value);
        }
        total += got;  // a short read is not taken as the end: only 0 frames is
    }
    if (sf_error(audio.handle.get()) != SF_ERR_NO_ERROR) {
        throw Error(ErrorKind::kCorruptInput, audio.subject,
                    std::string("decoding failed after ") + std::to_string(total) +
                        " frames: " + sf_strerror(audio.handle.get()),
                    "the file may be truncated or damaged");
    }
    if (mono.empty()) {
        throw Error(ErrorKind::kCorruptInput, audio.subject,
                    audio.info.frames == SF_COUNT_MAX
                        ? std::string("no audio frames could be decoded")
                        : "header declares " + std::to_string(audio.info.frames) +
                              " frames but none could be decoded");
    }
    return mono;
}

using Source = std::variant<fs::path, std::pair<std::span<const std::byte>, std::string_view>>;

void open_source(const Source& source, OpenAudio& audio) {
    if (const auto* path = std::get_if<fs::path>(&source)) {
        open_path(*path, audio);
    } else {
        const auto& [bytes, name] = std::get<1>(source);
        open_bytes(bytes, name, audio);
    }
}

std::string number_text(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", value);
    return buffer;
}

void check_limits(const DecodeLimits& limits) {
    // Bounded so that seconds x rate stays far from sf_count_t overflow.
    if (!std::isfinite(limits.max_seconds) || limits.max_seconds <= 0.0 ||
        limits.max_seconds > kMaxLimitSeconds) {
        throw Error(ErrorKind::kInvalidArgument, "DecodeLimits::max_seconds",
                    "must be in (0, " + number_text(kMaxLimitSeconds) + "], got " +
                        number_text(limits.max_seconds));
    }
    if (limits.max_channels < 1 || limits.max_sample_rate < 1) {
        throw Error(ErrorKind::kInvalidArgument, "DecodeLimits",
                    "max_channels and max_sample_rate must be positive");
    }
}

DecodedAudio decode(const Source& source, const DecodeLimits& limits) {
    check_limits(limits);
    OpenAudio audio;
    open_source(source, audio);
    check_header(audio, limits);
    const sf_count_t limit = limit_frames(limits.max_seconds, audio.info.samplerate);
    const auto too_long = [&](sf_count_t frames) {
        return Error(ErrorKind::kLimitExceeded, audio.subject,
                     "is " + seconds_text(static_cast<double>(frames) / audio.info.samplerate) +
                         " long; the limit is " + seconds_text(limits.max_seconds));
    };
    if (audio.info.frames != SF_COUNT_MAX && audio.info.frames > limit) {
        throw too_long(audio.info.frames);
    }
    DecodedAudio out;
    // One frame past the limit tells an over-long stream of unknown length apart.
    out.samples = read_mono(audio, limit + 1);
    if (static_cast<sf_count_t>(out.samples.size()) > limit) throw too_long(limit + 1);
    out.sample_rate = audio.info.samplerate;
    out.channels = audio.info.channels;
    out.format = format_name(audio.handle.get(), audio.info.format);
    return out;
}

Audio16k load_16k(const Source& source, double max_seconds) {
    const DecodeLimits limits;
    if (!std::isfinite(max_seconds) || max_seconds <= 0.0 || max_seconds > limits.max_seconds) {
        throw Error(ErrorKind::kInvalidArgument, "max_seconds",
                    "must be in (0, " + number_text(limits.max_seconds) + "], got " +
                        number_text(max_seconds));
    }
    OpenAudio audio;
    open_source(source, audio);
    check_header(audio, limits);
    const int rate = audio.info.samplerate;
    // Decode only what is kept, plus one second so the resampler's filter sees the same
    // neighbourhood at the cut as it would when resampling the whole file.
    const sf_count_t read_limit = limit_frames(max_seconds, rate) + rate;
    std::vector<float> mono = read_mono(audio, read_limit);
    const bool whole_file = static_cast<sf_count_t>(mono.size()) < read_limit;

    Audio16k out;
    out.source_sample_rate = rate;
    out.source_channels = audio.info.channels;
    // When the file was not read to the end its length comes from the header (an estimate
    // for some MP3s).
    const sf_count_t source_frames =
        whole_file || audio.info.frames == SF_COUNT_MAX
            ? static_cast<sf_count_t>(mono.size())
            : std::max(audio.info.frames, static_cast<sf_count_t>(mono.size()));
    out.source_seconds = static_cast<double>(source_frames) / rate;
    out.samples = resample(mono, rate, kWhisperSampleRate);
    const auto keep = static_cast<std::size_t>(std::floor(max_seconds * kWhisperSampleRate));
    if (!whole_file || out.samples.size() > keep) {
        out.truncated = true;
        out.samples.resize(std::min(keep, out.samples.size()));
    }
    return out;
}

}  // namespace
}  // namespace audio

DecodedAudio decode_audio(const std::filesystem::path& path, const DecodeLimits& limits) {
    return audio::decode(audio::Source(path), limits);
}

DecodedAudio decode_audio(std::span<const std::byte> bytes, std::string_view name,
                          const DecodeLimits& limits) {
    return audio::decode(audio::Source(std::in_place_index<1>, bytes, name), limits);
}

Audio16k load_audio_16k(const std::filesystem::path& path, double max_seconds) {
    return audio::load_16k(audio::Source(path), max_seconds);
}

Audio16k load_audio_16k(std::span<const std::byte> bytes, double max_seconds,
                        std::string_view name) {
    return audio::load_16k(audio::Source(std::in_place_index<1>, bytes, name), max_seconds);
}

}  // namespace sarsteer
