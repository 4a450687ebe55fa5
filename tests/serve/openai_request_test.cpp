// The request parser on its own: base64, JSON shape, types, limits, refused features.
#include "serve/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sarsteer/error.h"
#include "serve/base64.h"
#include "serve/openai_response.h"

namespace sarsteer::serve {
namespace {

using nlohmann::json;

std::string tiny_wav() {
    // A RIFF/WAVE header is all the parser looks at (decoding happens in the server).
    std::string bytes("RIFF\x24\x00\x00\x00WAVEfmt ", 16);
    bytes.resize(44, '\0');
    return bytes;
}

json audio_part(const std::string& bytes, const std::string& format = "wav") {
    return {{"type", "input_audio"},
            {"input_audio", {{"data", base64_encode(bytes)}, {"format", format}}}};
}

json request_with(json content) {
    return {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", content}}})}};
}

// Expects parse_chat_request to throw an Error of `kind` whose subject is `param`.
void expect_refused(const std::string& body, ErrorKind kind, const std::string& param,
                    const RequestLimits& limits = {}) {
    try {
        parse_chat_request(body, limits);
        ADD_FAILURE() << "accepted: " << body.substr(0, 200);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_EQ(e.subject(), param) << e.what();
    }
}

TEST(Base64, DecodesStrictlyAndRoundTrips) {
    for (std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        std::string why;
        const auto decoded = base64_decode(base64_encode(text), &why);
        ASSERT_TRUE(decoded) << why;
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(decoded->data()), decoded->size()),
                  text);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    std::string why;
    EXPECT_FALSE(base64_decode("Zm9", &why));         // length
    EXPECT_FALSE(base64_decode("Zm9v\nYmFy", &why));  // whitespace
    EXPECT_FALSE(base64_decode("Zm9-", &why));        // URL alphabet
    EXPECT_FALSE(base64_decode("Zm=v", &why));        // padding inside
    EXPECT_FALSE(base64_decode("Z===", &why));        // too much padding
    EXPECT_FALSE(base64_decode("Zm9=", &why));        // non-canonical trailing bits
    EXPECT_FALSE(base64_decode("Zm8=Zm8=", &why));    // padding before the end
    EXPECT_NE(why, "");
}

TEST(SniffAudioFormat, RecognisesTheFourContainers) {
    auto sniff = [](std::string bytes) {
        return sniff_audio_format(std::as_bytes(std::span(bytes.data(), bytes.size())));
    };
    EXPECT_EQ(sniff(tiny_wav()), "wav");
    EXPECT_EQ(sniff("fLaC\0\0\0\x22"), "flac");
    EXPECT_EQ(sniff("OggS\0\x02"), "ogg");
    EXPECT_EQ(sniff("ID3\x04\0\0"), "mp3");
    EXPECT_EQ(sniff("\xFF\xFB\x90\x00"), "mp3");
    EXPECT_EQ(sniff("hello, not audio"), "");
    EXPECT_EQ(sniff(""), "");
}

TEST(ParseChatRequest, ReadsMessagesAudioAndSampling) {
    auto body =
        request_with(json::array({audio_part(tiny_wav()), {{"type", "text"}, {"text", "What?"}}}));
    body["messages"].insert(body["messages"].begin(),
                            json::object({{"role", "developer"}, {"content", "Be brief."}}));
    body["max_tokens"] = 7;
    body["temperature"] = 0.5;
    body["top_p"] = 0.9;
    body["seed"] = -1;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    body["frequency_penalty"] = 0;  // ignored
    body["sarsteer"] = {{"alpha", 0.25}};
    const auto r = parse_chat_request(body.dump(), {});
    EXPECT_EQ(r.model, "m");
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_EQ(std::get<std::string>(r.messages[0].content), "Be brief.");
    const auto& parts = std::get<std::vector<ContentPart>>(r.messages[1].content);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<AudioPart>(parts[0]));
    EXPECT_EQ(std::get<TextPart>(parts[1]).text, "What?");
    ASSERT_EQ(r.audio.size(), 1u);
    EXPECT_EQ(r.audio[0].format, "wav");
    EXPECT_EQ(r.audio[0].bytes.size(), 44u);
    EXPECT_EQ(r.audio[0].param, "messages[1].content[0].input_audio");
    EXPECT_EQ(r.max_tokens, 7);
    EXPECT_EQ(r.temperature, 0.5);
    EXPECT_EQ(r.top_p, 0.9);
    EXPECT_EQ(r.seed, ~uint64_t{0});
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.include_usage);
    EXPECT_EQ(r.alpha, 0.25);
}

TEST(ParseChatRequest, DefaultsComeFromTheLimits) {
    RequestLimits limits;
    limits.max_tokens = 33;
    const auto r = parse_chat_request(request_with("hi").dump(), limits);
    EXPECT_EQ(r.max_tokens, 33);
    EXPECT_FALSE(r.temperature || r.top_p || r.seed || r.alpha);
    EXPECT_FALSE(r.stream);
}

TEST(ParseChatRequest, RefusesMalformedBodies) {
    expect_refused("{\"messages\": [", ErrorKind::kInvalidArgument, "body");
    expect_refused("[]", ErrorKind::kInvalidArgument, "body");
    expect_refused(std::string(100, '[') + std::string(100, ']'), ErrorKind::kInvalidArgument,
                   "body");
    expect_refused("{\"messages\": \"hi\"}", ErrorKind::kInvalidArgument, "messages");
    expect_refused("{\"model\": \"m\"}", ErrorKind::kInvalidArgument, "messages");
    expect_refused("{\"messages\": []}", ErrorKind::kInvalidArgument, "messages");
    expect_refused(R"({"messages": [{"content": "x"}]})", ErrorKind::kInvalidArgument,
                   "messages[0].role");
    expect_refused(R"({"messages": [{"role": "tool", "content": "x"}]})", ErrorKind::kUnsupported,
                   "messages[0].role");
    expect_refused(R"({"messages": [{"role": "user", "content": 5}]})", ErrorKind::kInvalidArgument,
                   "messages[0].content");
    expect_refused(
        request_with(json::array({{{"type", "image_url"}, {"image_url", "file:///etc/passwd"}}}))
            .dump(),
        ErrorKind::kUnsupported, "messages[0].content[0].type");
    expect_refused(request_with("say <|AUDIO|>").dump(), ErrorKind::kInvalidArgument,
                   "messages[0].content");
    auto last_assistant = request_with("hi");
    last_assistant["messages"].push_back({{"role", "assistant"}, {"content", "x"}});
    expect_refused(last_assistant.dump(), ErrorKind::kUnsupported, "messages");
}

TEST(ParseChatRequest, RefusesBadAudio) {
    auto bad_b64 = request_with(json::array({audio_part(tiny_wav())}));
    bad_b64["messages"][0]["content"][0]["input_audio"]["data"] = "UklGRg=!";
    const std::string data = "messages[0].content[0].input_audio.data";
    expect_refused(bad_b64.dump(), ErrorKind::kInvalidArgument, data);
    expect_refused(request_with(json::array({audio_part("this is plain text, not audio")})).dump(),
                   ErrorKind::kInvalidArgument, data);
    expect_refused(request_with(json::array({audio_part(tiny_wav(), "flac")})).dump(),
                   ErrorKind::kInvalidArgument, "messages[0].content[0].input_audio.format");
    expect_refused(request_with(json::array({audio_part(tiny_wav(), "aiff")})).dump(),
                   ErrorKind::kInvalidArgument, "messages[0].content[0].input_audio.format");
    auto no_format = request_with(json::array({audio_part(tiny_wav())}));
    no_format["messages"][0]["content"][0]["input_audio"].erase("format");
    expect_refused(no_format.dump(), ErrorKind::kInvalidArgument,
                   "messages[0].content[0].input_audio.format");
    json system_audio = {
        {"messages",
         json::array({{{"role", "system"}, {"content", json::array({audio_part(tiny_wav())})}}})}};
    expect_refused(system_audio.dump(), ErrorKind::kUnsupported, "messages[0].content[0]");
}

TEST(ParseChatRequest, EnforcesLimits) {
    RequestLimits limits;
    limits.max_tokens = 10;
    limits.max_messages = 2;
    limits.max_text_bytes = 16;
    limits.max_audio_clips = 1;
    limits.max_audio_bytes = 100;
    auto body = request_with("hi");
    body["max_tokens"] = 11;
    expect_refused(body.dump(), ErrorKind::kLimitExceeded, "max_tokens", limits);
    body["max_tokens"] = 0;
    expect_refused(body.dump(), ErrorKind::kInvalidArgument, "max_tokens", limits);
    body["max_tokens"] = 2.5;
    expect_refused(body.dump(), ErrorKind::kInvalidArgument, "max_tokens", limits);
    body.erase("max_tokens");
    body["max_completion_tokens"] = 11;
    expect_refused(body.dump(), ErrorKind::kLimitExceeded, "max_completion_tokens", limits);
    auto many = request_with("a");
    many["messages"].push_back(many["messages"][0]);
    many["messages"].push_back(many["messages"][0]);
    expect_refused(many.dump(), ErrorKind::kLimitExceeded, "messages", limits);
    expect_refused(request_with(std::string(17, 'x')).dump(), ErrorKind::kLimitExceeded,
                   "messages[0].content", limits);
    expect_refused(
        request_with(json::array({audio_part(tiny_wav()), audio_part(tiny_wav())})).dump(),
        ErrorKind::kLimitExceeded, "messages[0].content[1]", limits);
    auto big = tiny_wav() + std::string(200, '\0');
    expect_refused(request_with(json::array({audio_part(big)})).dump(), ErrorKind::kLimitExceeded,
                   "messages[0].content[0].input_audio.data", limits);
}

TEST(ParseChatRequest, RefusesFeaturesItDoesNotServeAndBadValues) {
    auto with = [](const char* key, json value) {
        auto body = request_with("hi");
        body[key] = std::move(value);
        return body.dump();
    };
    expect_refused(with("tools", json::array({{{"type", "function"}}})), ErrorKind::kUnsupported,
                   "tools");
    expect_refused(with("n", 2), ErrorKind::kUnsupported, "n");
    expect_refused(with("stop", "\n"), ErrorKind::kUnsupported, "stop");
    expect_refused(with("logprobs", true), ErrorKind::kUnsupported, "logprobs");
    expect_refused(with("temperature", 3), ErrorKind::kInvalidArgument, "temperature");
    expect_refused(with("temperature", "hot"), ErrorKind::kInvalidArgument, "temperature");
    expect_refused(with("top_p", 0), ErrorKind::kInvalidArgument, "top_p");
    expect_refused(with("seed", 1.5), ErrorKind::kInvalidArgument, "seed");
    expect_refused(with("stream", "yes"), ErrorKind::kInvalidArgument, "stream");
    expect_refused(with("stream_options", {{"include_usage", true}}), ErrorKind::kInvalidArgument,
                   "stream_options");
    expect_refused(with("sarsteer", {{"alpha", -1}}), ErrorKind::kInvalidArgument,
                   "sarsteer.alpha");
    // Accepted no-op values.
    EXPECT_NO_THROW(parse_chat_request(with("n", 1), {}));
    EXPECT_NO_THROW(parse_chat_request(with("stop", nullptr), {}));
    EXPECT_NO_THROW(parse_chat_request(with("tools", json::array()), {}));
}

TEST(ApiErrors, UseOpenAisShapeAndStatus) {
    const auto e = api_error_from(Error(ErrorKind::kLimitExceeded, "max_tokens", "too many"));
    EXPECT_EQ(e.status, 400);
    const auto body = json::parse(e.to_json());
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(body["error"]["param"], "max_tokens");
    EXPECT_EQ(body["error"]["code"], "limit_exceeded");
    EXPECT_EQ(body["error"]["message"], "max_tokens: too many");
    const auto internal = api_error_from(Error(ErrorKind::kInternal, "/secret/path", "boom"));
    EXPECT_EQ(internal.status, 500);
    EXPECT_EQ(internal.to_json().find("/secret/path"), std::string::npos);
    EXPECT_TRUE(
        json::parse(api_error(401, "invalid_api_key", "no").to_json())["error"]["param"].is_null());
}

}  // namespace
}  // namespace sarsteer::serve
