// Shared helpers for the server tests: WAV bytes, request bodies, SSE parsing, metrics lookup.
#pragma once

#include <httplib.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "serve/base64.h"

namespace sarsteer::serve::testing {

using nlohmann::json;

// A 16-bit PCM mono WAV file image: a 440 Hz tone.
inline std::string wav_bytes(double seconds, int rate = 16000) {
    const auto n = static_cast<uint32_t>(seconds * rate);
    std::string out;
    auto u32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
    };
    auto u16 = [&](uint16_t v) {
        out += static_cast<char>(v & 0xFF);
        out += static_cast<char>(v >> 8);
    };
    out += "RIFF";
    u32(36 + 2 * n);
    out += "WAVEfmt ";
    u32(16);
    u16(1);  // PCM
    u16(1);  // mono
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

inline json audio_part(const std::string& bytes, const std::string& format = "wav") {
    return {{"type", "input_audio"},
            {"input_audio", {{"data", base64_encode(bytes)}, {"format", format}}}};
}

// {"messages":[{"role":"user","content":[audio?, text]}], "max_tokens": n, "temperature": 0}
inline json chat_body(const std::string& text, const std::string& audio, int64_t max_tokens) {
    json content = json::array();
    if (!audio.empty()) content.push_back(audio_part(audio));
    content.push_back({{"type", "text"}, {"text", text}});
    return {{"model", "tiny"},
            {"messages", json::array({{{"role", "user"}, {"content", content}}})},
            {"max_tokens", max_tokens},
            {"temperature", 0}};
}

// The `data:` payloads of a server-sent event stream, comments (": ...") skipped. Fails the
// test when the framing is wrong.
inline std::vector<std::string> sse_payloads(const std::string& stream) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        const auto end = stream.find("\n\n", pos);
        if (end == std::string::npos) {
            ADD_FAILURE() << "unterminated event: " << stream.substr(pos);
            break;
        }
        const auto event = stream.substr(pos, end - pos);
        pos = end + 2;
        if (event.rfind(":", 0) == 0) continue;
        if (event.rfind("data: ", 0) != 0) {
            ADD_FAILURE() << "not a data event: " << event;
            continue;
        }
        out.push_back(event.substr(6));
    }
    return out;
}

// The value of a metric line "name value" (or with labels, exactly as written), or -1.
inline double metric(const std::string& text, const std::string& name) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
}

inline httplib::Headers bearer(const std::string& key) {
    return {{"Authorization", "Bearer " + key}};
}

}  // namespace sarsteer::serve::testing
