#include "eval/synth.h"

#include <espeak-ng/speak_lib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/manifest.h"
#include "io/sha256.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer::eval {
namespace {

// Bumped when the rendering pipeline changes, so cached clips are rendered again.
constexpr int kSynthFormatVersion = 1;
constexpr std::string_view kCommentPrefix = "sarsteer-synth ";
constexpr std::size_t kMaxStemBytes = 80;

// ---- espeak-ng: one process-wide engine ----------------------------------------------------

// espeak-ng's API is a set of globals (current voice, rate, callback). All access goes through
// this class under one mutex; the library is initialised on first use and never terminated
// (espeak_Terminate followed by espeak_Initialize is not supported by 1.51).
class Espeak {
public:
    static Espeak& instance() {
        static Espeak engine;  // the one object standing for espeak-ng's global state
        return engine;
    }

    std::unique_lock<std::mutex> lock() {
        std::unique_lock guard(mutex_);
        if (!init_error_.empty()) {
            throw Error(ErrorKind::kNotFound, "espeak-ng", init_error_,
                        "install espeak-ng-data (scripts/install-deps.sh)");
        }
        return guard;
    }

    const std::string& version() const { return version_; }
    int sample_rate() const { return sample_rate_; }

    // The name espeak_SetVoiceByName accepts for `voice` ("en-gb+m3" -> "gmw/en+m3"), or throws
    // kInvalidArgument. Call with the lock held.
    std::string resolve(const std::string& voice) const {
        const auto plus = voice.find('+');
        const std::string base = voice.substr(0, plus);
        const std::string variant = plus == std::string::npos ? "" : voice.substr(plus + 1);
        const auto lower = [](std::string s) {
            std::transform(s.begin(), s.end(), s.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            return s;
        };
        const std::string want = lower(base);

        // A language code ("en-gb") picks the voice listing it with the best priority; otherwise
        // a voice identifier ("gmw/en-US"), its file name ("en-US") or its name.
        std::string identifier;
        int best_priority = 1 << 30;
        const espeak_VOICE** voices = espeak_ListVoices(nullptr);
        for (int i = 0; voices != nullptr && voices[i] != nullptr; ++i) {
            const espeak_VOICE* v = voices[i];
            for (const char* l = v->languages; l != nullptr && *l != 0;
                 l += std::strlen(l + 1) + 2) {
                if (lower(l + 1) == want && l[0] < best_priority) {
                    best_priority = l[0];
                    identifier = v->identifier;
                }
            }
        }
        for (int i = 0; identifier.empty() && voices != nullptr && voices[i] != nullptr; ++i) {
            const espeak_VOICE* v = voices[i];
            const std::string id = v->identifier != nullptr ? v->identifier : "";
            const std::string file =
                id.substr(id.find('/') == std::string::npos ? 0 : id.find('/') + 1);
            if (lower(id) == want || lower(file) == want ||
                (v->name != nullptr && lower(v->name) == want)) {
                identifier = id;
            }
        }
        if (base.empty() || identifier.empty()) {
            throw Error(ErrorKind::kInvalidArgument, "--voice",
                        "unknown espeak-ng voice \"" + voice + "\"",
                        "list voices with `espeak-ng --voices=en`");
        }
        if (!variant.empty()) {
            // espeak-ng silently ignores an unknown variant, so check its file.
            std::error_code ec;
            const bool safe =
                variant.find('/') == std::string::npos && variant != "." && variant != "..";
            if (!safe ||
                !std::filesystem::is_regular_file(data_path_ / "voices" / "!v" / variant, ec)) {
                throw Error(
                    ErrorKind::kInvalidArgument, "--voice",
                    "unknown espeak-ng voice variant \"" + variant + "\" in \"" + voice + "\"",
                    "variants are the files in " + (data_path_ / "voices" / "!v").string());
            }
            identifier += "+" + variant;
        }
        return identifier;
    }

    // Renders `text` at the engine's native rate. Call with the lock held.
    //
    // espeak-ng 1.51 keeps synthesis state in function statics (the pitch-flutter index, AGC,
    // wave phase in wavegen.c) that no API resets, so a clip would depend on every clip rendered
    // before it in the process. Each clip is therefore rendered in a forked child that starts
    // from a state which only ever initialised espeak-ng and never synthesised. The children are
    // forked by a helper process (the zygote), itself forked from this one on first use: a fork
    // copies the forking process's page tables, and `organism train` grows to gigabytes of
    // features while it renders (bench/bench_synth: a bare fork from a process holding 2 GiB
    // costs 10x one from a small process), where the zygote stays as small as this process was
    // when it first spoke.
    std::vector<short> render(std::string_view text, const std::string& espeak_voice, int rate) {
        if (zygote_fd_ < 0) start_zygote();
        std::string request;
        append_field(request, std::string(text));
        append_field(request, espeak_voice);
        request.append(reinterpret_cast<const char*>(&rate), sizeof rate);
        std::int32_t wait_status = 0;
        std::uint64_t size = 0;
        std::string bytes;
        const bool answered = send_all(zygote_fd_, request.data(), request.size()) &&
                              read_all(zygote_fd_, &wait_status, sizeof wait_status) &&
                              read_all(zygote_fd_, &size, sizeof size) && size <= kMaxReplyBytes &&
                              (bytes.resize(size), true) &&
                              read_all(zygote_fd_, bytes.data(), size);
        if (!answered) {
            stop_zygote();  // the next call starts a new one
            throw Error(ErrorKind::kInternal, "espeak-ng", "the synthesis helper process failed");
        }
        std::int32_t status = -1;
        const bool exited = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
        if (!exited || bytes.size() < sizeof status || (bytes.size() - sizeof status) % 2 != 0) {
            throw Error(ErrorKind::kInternal, "espeak-ng",
                        "the synthesis process failed" +
                            (WIFSIGNALED(wait_status)
                                 ? " (signal " + std::to_string(WTERMSIG(wait_status)) + ")"
                                 : std::string()));
        }
        std::memcpy(&status, bytes.data(), sizeof status);
        if (status == kChildBadVoice) {
            throw Error(ErrorKind::kInvalidArgument, "--voice",
                        "espeak-ng refused voice \"" + espeak_voice + "\"");
        }
        if (status != EE_OK) {
            throw Error(ErrorKind::kInternal, "espeak-ng",
                        "synthesis failed (status " + std::to_string(status) + ")");
        }
        std::vector<short> samples((bytes.size() - sizeof status) / 2);
        std::memcpy(samples.data(), bytes.data() + sizeof status, samples.size() * 2);
        return samples;
    }

    Espeak(const Espeak&) = delete;
    Espeak& operator=(const Espeak&) = delete;
    ~Espeak() { stop_zygote(); }

private:
    Espeak() {
        sample_rate_ =
            espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
        if (sample_rate_ <= 0) {
            init_error_ = "cannot initialise espeak-ng (its data folder was not found)";
            return;
        }
        const char* data = nullptr;
        const char* version = espeak_Info(&data);
        version_ = version != nullptr ? version : "";
        data_path_ = data != nullptr ? data : "";
    }

    static constexpr std::int32_t kChildBadVoice = 1000;
    // A clip's samples are a few MB at most (30 s at 22 kHz is 1.3 MB); anything larger is a
    // corrupt reply.
    static constexpr std::uint64_t kMaxReplyBytes = 64u << 20;

    // Both ends of the zygote's socket and of each renderer's. read_all/send_all are false at end
    // of file or on error.
    static bool read_all(int fd, void* data, std::size_t size) {
        auto* p = static_cast<char*>(data);
        while (size > 0) {
            const ssize_t n = ::read(fd, p, size);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }
    static bool send_all(int fd, const void* data, std::size_t size) {
        const auto* p = static_cast<const char*>(data);
        while (size > 0) {
            // MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE that ends the process.
            const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }
    static void append_field(std::string& out, const std::string& field) {
        const auto size = static_cast<std::uint32_t>(field.size());
        out.append(reinterpret_cast<const char*>(&size), sizeof size);
        out.append(field);
    }
    static bool read_field(int fd, std::string& field) {
        std::uint32_t size = 0;
        if (!read_all(fd, &size, sizeof size) || size > kMaxReplyBytes) return false;
        field.resize(size);
        return read_all(fd, field.data(), size);
    }

    void start_zygote() {
        int sockets[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
            throw Error(ErrorKind::kIo, "espeak-ng",
                        std::string("socketpair: ") + std::strerror(errno));
        }
        const pid_t pid = ::fork();
        if (pid < 0) {
            const int err = errno;
            ::close(sockets[0]);
            ::close(sockets[1]);
            throw Error(ErrorKind::kIo, "espeak-ng", std::string("fork: ") + std::strerror(err));
        }
        if (pid == 0) {
            ::close(sockets[0]);
            ::_exit(serve_as_zygote(sockets[1]));
        }
        ::close(sockets[1]);
        zygote_fd_ = sockets[0];
        zygote_pid_ = pid;
    }

    // Closing the socket ends the zygote's loop.
    void stop_zygote() noexcept {
        if (zygote_fd_ >= 0) ::close(zygote_fd_);
        if (zygote_pid_ > 0) {
            while (::waitpid(zygote_pid_, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
        zygote_fd_ = -1;
        zygote_pid_ = -1;
    }

    // The zygote's loop: for each request (text, voice, rate) fork a child that renders it,
    // collect what the child writes, and reply with its wait status and bytes. Returns (to
    // _exit) when the socket closes.
    static int serve_as_zygote(int fd) noexcept {
        try {
            std::string text, voice, bytes;
            int rate = 0;
            while (read_field(fd, text) && read_field(fd, voice) &&
                   read_all(fd, &rate, sizeof rate)) {
                int fds[2];  // a socket like the zygote's own, so that send_all serves both
                if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 4;
                const pid_t pid = ::fork();
                if (pid < 0) return 4;
                if (pid == 0) {
                    ::close(fd);
                    ::close(fds[0]);
                    ::_exit(render_in_child(fds[1], text, voice, rate));
                }
                ::close(fds[1]);
                bytes.clear();
                char chunk[65536];
                for (;;) {
                    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
                    if (n > 0) {
                        bytes.append(chunk, static_cast<std::size_t>(n));
                    } else if (n == 0 || errno != EINTR) {
                        break;
                    }
                }
                ::close(fds[0]);
                int wait_status = 0;
                while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
                }
                const auto status = static_cast<std::int32_t>(wait_status);
                const auto size = static_cast<std::uint64_t>(bytes.size());
                if (!send_all(fd, &status, sizeof status) || !send_all(fd, &size, sizeof size) ||
                    !send_all(fd, bytes.data(), bytes.size())) {
                    return 0;
                }
            }
        } catch (...) {
            return 5;
        }
        return 0;
    }

    // Runs in the forked child: no exceptions, no exit handlers; returns the exit code.
    static int render_in_child(int fd, const std::string& text, const std::string& voice,
                               int rate) noexcept {
        std::int32_t status = EE_OK;
        std::vector<short> samples;
        try {
            espeak_SetSynthCallback(&Espeak::on_samples);
            if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
                status = kChildBadVoice;
            } else if (espeak_SetParameter(espeakRATE, rate, 0) != EE_OK) {
                status = EE_INTERNAL_ERROR;
            } else {
                status = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                      espeakCHARS_UTF8 | espeakENDPAUSE, nullptr, &samples);
            }
        } catch (...) {
            return 2;
        }
        const bool ok = send_all(fd, &status, sizeof status) &&
                        send_all(fd, samples.data(), samples.size() * sizeof(short));
        ::close(fd);
        return ok ? 0 : 3;
    }

    // espeak-ng hands over audio in pieces; user_data is the vector passed to espeak_Synth.
    static int on_samples(short* wav, int n, espeak_EVENT* events) {
        if (wav != nullptr && n > 0 && events != nullptr && events->user_data != nullptr) {
            auto* out = static_cast<std::vector<short>*>(events->user_data);
            out->insert(out->end(), wav, wav + n);
        }
        return 0;  // continue
    }

    std::mutex mutex_;
    int zygote_fd_ = -1;  // our end of the zygote's socket, -1 before first use
    pid_t zygote_pid_ = -1;
    int sample_rate_ = 0;
    std::string version_;
    std::filesystem::path data_path_;
    std::string init_error_;
};

// ---- WAV ------------------------------------------------------------------------------------

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>(v >> 8));
}
std::uint32_t get_u32(const std::string& in, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) {
        v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    }
    return v;
}

// ---- items ----------------------------------------------------------------------------------

std::uint64_t hash64(std::string_view text, std::size_t offset) {
    io::Sha256 hasher;
    hasher.update(text);
    const auto digest = hasher.finish();
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | digest[offset + i];
    return v;
}

// The input rows again, as ordered JSON, so the output keeps each row's key order verbatim.
// Manifest::load has already validated the file; this only re-splits it the same way.
std::vector<nlohmann::ordered_json> ordered_rows(const std::filesystem::path& path, std::size_t n) {
    const std::string text = io::read_text_file(path);
    std::string_view rest(text);
    if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
    std::vector<nlohmann::ordered_json> rows;
    while (!rest.empty() && rows.size() < n) {
        const auto newline = rest.find('\n');
        std::string_view line = rest.substr(0, newline);
        rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
        if (line.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) continue;
        rows.push_back(nlohmann::ordered_json::parse(line));
    }
    if (rows.size() != n) {
        throw Error(ErrorKind::kInternal, path.string(), "changed while it was being read");
    }
    return rows;
}

std::string cache_key(const std::string& text, const std::string& espeak_voice, int rate,
                      const std::string& version) {
    const nlohmann::json key = {{"format", kSynthFormatVersion},   {"text", text},
                                {"voice", espeak_voice},           {"rate", rate},
                                {"sample_rate", kSynthSampleRate}, {"espeak_ng", version}};
    return io::sha256_hex(key.dump(-1, ' ', true));
}

void check_rate(int rate, const std::string& subject) {
    if (rate < espeakRATE_MINIMUM || rate > espeakRATE_MAXIMUM) {
        throw Error(ErrorKind::kInvalidArgument, subject,
                    "rate " + std::to_string(rate) + " wpm is outside espeak-ng's " +
                        std::to_string(espeakRATE_MINIMUM) + "-" +
                        std::to_string(espeakRATE_MAXIMUM));
    }
}

}  // namespace

std::string espeak_version() {
    auto& engine = Espeak::instance();
    auto guard = engine.lock();
    return engine.version();
}

std::vector<std::int16_t> synthesize_speech(std::string_view text, const std::string& voice,
                                            int rate) {
    check_rate(rate, "--rate");
    auto& engine = Espeak::instance();
    std::vector<short> native;
    {
        auto guard = engine.lock();
        native = engine.render(text, engine.resolve(voice), rate);
    }
    std::vector<float> in(native.size());
    std::transform(native.begin(), native.end(), in.begin(),
                   [](short s) { return static_cast<float>(s) / 32768.0f; });
    const auto out = resample(in, engine.sample_rate(), kSynthSampleRate);
    std::vector<std::int16_t> pcm(out.size());
    std::transform(out.begin(), out.end(), pcm.begin(), [](float x) {
        const float scaled = std::clamp(std::nearbyint(x * 32768.0f), -32768.0f, 32767.0f);
        return static_cast<std::int16_t>(scaled);
    });
    return pcm;
}

std::string encode_wav(const std::vector<std::int16_t>& samples, std::string_view comment) {
    std::string info;
    if (!comment.empty()) {
        std::string text(comment);
        text.push_back('\0');
        if (text.size() % 2 != 0) text.push_back('\0');
        info = "INFO";
        info += "ICMT";
        put_u32(info, static_cast<std::uint32_t>(text.size()));
        info += text;
    }
    const auto data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
    const std::uint32_t list_bytes = info.empty() ? 0 : 8 + static_cast<std::uint32_t>(info.size());
    std::string out;
    out.reserve(44 + list_bytes + data_bytes);
    out += "RIFF";
    put_u32(out, 4 + 24 + list_bytes + 8 + data_bytes);
    out += "WAVE";
    out += "fmt ";
    put_u32(out, 16);
    put_u16(out, 1);  // PCM
    put_u16(out, 1);  // mono
    put_u32(out, kSynthSampleRate);
    put_u32(out, kSynthSampleRate * 2);  // byte rate
    put_u16(out, 2);                     // block align
    put_u16(out, 16);                    // bits per sample
    if (!info.empty()) {
        out += "LIST";
        put_u32(out, static_cast<std::uint32_t>(info.size()));
        out += info;
    }
    out += "data";
    put_u32(out, data_bytes);
    for (const auto s : samples) put_u16(out, static_cast<std::uint16_t>(s));
    return out;
}

std::string read_wav_comment(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    if (head.size() < 12 || head.compare(0, 4, "RIFF") != 0 || head.compare(8, 4, "WAVE") != 0) {
        return {};
    }
    for (std::size_t at = 12; at + 8 <= head.size();) {
        const std::string id = head.substr(at, 4);
        const std::size_t size = get_u32(head, at + 4);
        if (id == "data") return {};
        if (id == "LIST" && at + 8 + size <= head.size() && size >= 4 &&
            head.compare(at + 8, 4, "INFO") == 0) {
            for (std::size_t sub = at + 12; sub + 8 <= at + 8 + size;) {
                const std::size_t sub_size = get_u32(head, sub + 4);
                if (sub + 8 + sub_size > at + 8 + size) return {};
                if (head.compare(sub, 4, "ICMT") == 0) {
                    std::string text = head.substr(sub + 8, sub_size);
                    return text.substr(0, text.find('\0'));
                }
                sub += 8 + sub_size + (sub_size % 2);
            }
        }
        at += 8 + size + (size % 2);
    }
    return {};
}

VoiceChoice choose_voice(const SynthOptions& options, std::string_view id) {
    if (options.voices.empty()) {
        throw Error(ErrorKind::kInvalidArgument, "--voice", "no voice given");
    }
    const std::string key = std::to_string(options.seed) + '\0' + std::string(id);
    const std::uint64_t h_voice = hash64(key, 0);
    const std::uint64_t h_rate = hash64(key, 8);
    const auto lo = std::min(options.rate_min, options.rate_max);
    const auto hi = std::max(options.rate_min, options.rate_max);
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return {options.voices[h_voice % options.voices.size()], lo + static_cast<int>(h_rate % span)};
}

std::string safe_file_stem(std::string_view id) {
    std::string stem;
    for (const char c : id.substr(0, kMaxStemBytes)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        stem.push_back(ok ? c : '_');
    }
    if (!stem.empty() && stem.front() == '.') stem.front() = '_';
    if (stem != id) stem += "-" + io::sha256_hex(id).substr(0, 8);
    return stem;
}

std::vector<std::string> parse_voice_list(std::string_view text, const std::string& subject) {
    std::vector<std::string> voices;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        auto part = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (part.empty()) {
            throw Error(ErrorKind::kInvalidArgument, subject,
                        "empty voice name in \"" + std::string(text) + "\"",
                        "give one voice or a comma list, e.g. en-us,en-gb,en+m3");
        }
        voices.emplace_back(part);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return voices;
}

std::pair<int, int> parse_rate_range(std::string_view text, const std::string& subject) {
    const auto number = [&](std::string_view part) {
        int value = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) {
            throw Error(
                ErrorKind::kInvalidArgument, subject,
                "expected words per minute as N or MIN-MAX, got \"" + std::string(text) + "\"");
        }
        check_rate(value, subject);
        return value;
    };
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        const int rate = number(text);
        return {rate, rate};
    }
    const int lo = number(text.substr(0, dash));
    const int hi = number(text.substr(dash + 1));
    if (lo > hi) {
        throw Error(ErrorKind::kInvalidArgument, subject,
                    "range " + std::string(text) + " has MIN above MAX");
    }
    return {lo, hi};
}

SynthSummary synthesize_manifest(const std::filesystem::path& data,
                                 const std::filesystem::path& out_dir,
                                 const SynthOptions& options) {
    check_rate(options.rate_min, "--rate");
    check_rate(options.rate_max, "--rate");
    if (options.rate_min > options.rate_max) {
        throw Error(ErrorKind::kInvalidArgument, "--rate", "MIN is above MAX");
    }
    io::ManifestOptions load_options;
    load_options.require_audio = false;
    load_options.limit = options.limit;
    const auto manifest = io::Manifest::load(data, load_options);
    auto rows = ordered_rows(data, manifest.items.size());

    if (options.voices.empty()) {
        throw Error(ErrorKind::kInvalidArgument, "--voice", "no voice given");
    }
    // Every voice is checked before anything is rendered.
    auto& engine = Espeak::instance();
    std::unordered_map<std::string, std::string> espeak_name;
    std::string version;
    {
        auto guard = engine.lock();
        for (const auto& voice : options.voices) espeak_name[voice] = engine.resolve(voice);
        version = engine.version();
    }

    const auto audio_dir = out_dir / "audio";
    std::error_code ec;
    std::filesystem::create_directories(audio_dir, ec);
    if (ec || !std::filesystem::is_directory(audio_dir)) {
        throw Error(ErrorKind::kIo, audio_dir.string(),
                    "cannot create folder" + (ec ? ": " + ec.message() : std::string()));
    }

    SynthSummary summary;
    summary.manifest = out_dir / "manifest.jsonl";
    summary.n_items = manifest.items.size();
    std::set<std::string> stems;
    std::string out_text;
    for (std::size_t i = 0; i < manifest.items.size(); ++i) {
        const auto& item = manifest.items[i];
        const auto stem = safe_file_stem(item.id);
        if (!stems.insert(stem).second) {
            throw Error(ErrorKind::kCorruptInput, data.string(),
                        "ids \"" + item.id + "\" and another map to the same file name " + stem);
        }
        const auto choice = choose_voice(options, item.id);
        const auto relative = std::filesystem::path("audio") / (stem + ".wav");
        const auto wav_path = out_dir / relative;
        const auto key =
            std::string(kCommentPrefix) +
            cache_key(item.question, espeak_name.at(choice.voice), choice.rate, version);

        const bool cached = read_wav_comment(wav_path) == key;
        if (!cached) {
            const auto pcm = synthesize_speech(item.question, choice.voice, choice.rate);
            io::AtomicFile file(wav_path);
            file.write(encode_wav(pcm, key));
            file.commit();
            ++summary.n_rendered;
            summary.audio_seconds += static_cast<double>(pcm.size()) / kSynthSampleRate;
        } else {
            ++summary.n_cached;
        }

        auto& row = rows[i];
        row["audio"] = relative.generic_string();
        row["voice"] = choice.voice;
        row["rate"] = choice.rate;
        out_text += row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out_text += '\n';
        if (options.on_progress) options.on_progress(i + 1, manifest.items.size(), cached);
    }
    io::write_file_atomic(summary.manifest, out_text);
    return summary;
}

}  // namespace sarsteer::eval
