// Qwen2-Audio chat prompts: exact rendering of the chat template and audio placeholder expansion.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"
#include "text_test_util.h"

namespace sarsteer::testing {
namespace {

constexpr int32_t kAudioId = 151646;
constexpr int32_t kAudioBosId = 151647;
constexpr int32_t kAudioEosId = 151648;

TEST(ChatPrompt, DefaultSystemWhenNoneGiven) {
    EXPECT_EQ(render_audio_prompt(1, "What is said?"),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhat is said?"
              "<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatPrompt, ExplicitSystem) {
    EXPECT_EQ(render_audio_prompt(1, "Transcribe.", "Be terse."),
              "<|im_start|>system\nBe terse.<|im_end|>\n"
              "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nTranscribe."
              "<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatPrompt, TwoClipsThenText) {
    EXPECT_EQ(render_audio_prompt(2, "Compare them."),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
              "Audio 2: <|audio_bos|><|AUDIO|><|audio_eos|>\nCompare them.<|im_end|>\n"
              "<|im_start|>assistant\n");
}

TEST(ChatPrompt, StringContentAndNoGenerationPrompt) {
    const std::vector<ChatMessage> messages = {{"user", std::string("Hi")},
                                               {"assistant", std::string("Hello!")}};
    EXPECT_EQ(render_chat_prompt(messages, /*add_generation_prompt=*/false),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n");
    // A system message that is not first does not suppress the default one.
    const std::vector<ChatMessage> late_system = {{"user", std::string("a")},
                                                  {"system", std::string("b")}};
    EXPECT_EQ(render_chat_prompt(late_system),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n"
              "<|im_start|>assistant\n");
    EXPECT_EQ(render_chat_prompt({}), "<|im_start|>assistant\n");
}

TEST(ChatPrompt, TextPartsVerbatimAndAudioCountedAcrossMessages) {
    const std::vector<ChatMessage> messages = {
        {"user", std::vector<ContentPart>{TextPart{"Listen: "}, AudioPart{}}},
        {"assistant", std::string("ok")},
        {"user", std::vector<ContentPart>{AudioPart{}, TextPart{"and?"}}}};
    EXPECT_EQ(render_chat_prompt(messages, false),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nListen: Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
              "<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"
              "<|im_start|>user\nAudio 2: <|audio_bos|><|AUDIO|><|audio_eos|>\nand?<|im_end|>\n");
}

TEST(ChatPrompt, AudioOutputLength) {
    EXPECT_EQ(audio_output_length(3000), 750);
    EXPECT_EQ(audio_output_length(1100), 275);
    EXPECT_EQ(audio_output_length(404), 101);
    EXPECT_EQ(audio_output_length(292), 73);
    EXPECT_EQ(audio_output_length(4), 1);
    EXPECT_EQ(audio_output_length(3), 1);
    EXPECT_EQ(audio_output_length(2), 0);
    EXPECT_EQ(audio_output_length(1), 0);
    EXPECT_EQ(audio_output_length(0), 0);  // Python: (0-1)//2+1 = 0, (0-2)//2+1 = 0
    EXPECT_EQ(audio_output_length(7), 2);  // 7 → 4 → 2
    EXPECT_THROW(audio_output_length(-1), Error);
}

TEST(ChatPrompt, ExpansionPlacesEncoderLengthBetweenBosAndEos) {
    const Tokenizer& tok = qwen2_tokenizer();
    const std::string prompt = render_audio_prompt(1, "What is said?");
    const std::vector<int64_t> frames = {1100};
    const PromptTokens p = tokenize_prompt(tok, prompt, frames);
    ASSERT_EQ(p.audio_spans.size(), 1u);
    const auto [begin, end] = p.audio_spans[0];
    EXPECT_EQ(end - begin, 275u);
    ASSERT_GE(begin, 1u);
    ASSERT_LT(end, p.ids.size());
    EXPECT_EQ(p.ids[begin - 1], kAudioBosId);
    EXPECT_EQ(p.ids[end], kAudioEosId);
    EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), kAudioId), 275);
    // Everything outside the span is the unexpanded encoding.
    std::vector<int32_t> collapsed(p.ids.begin(), p.ids.begin() + static_cast<long>(begin) + 1);
    collapsed.insert(collapsed.end(), p.ids.begin() + static_cast<long>(end), p.ids.end());
    EXPECT_EQ(collapsed, tok.encode(prompt));
}

TEST(ChatPrompt, MatchesTransformersChatTemplateCase) {
    // transformers test_chat_template_return_dict: glass shattering (101 audio tokens), then a
    // second clip (73). 404 and 292 feature frames give those counts.
    const GoldenCase* golden = nullptr;
    const auto cases = load_golden_cases();
    for (const auto& c : cases) {
        if (c.source.find("transformers") != std::string::npos &&
            c.text.find("Audio 2:") != std::string::npos) {
            golden = &c;
        }
    }
    ASSERT_NE(golden, nullptr);
    const std::vector<ChatMessage> messages = {
        {"user", std::vector<ContentPart>{AudioPart{}, TextPart{"What's that sound?"}}},
        {"assistant", std::string("It is the sound of glass shattering.")},
        {"user", std::vector<ContentPart>{AudioPart{}, TextPart{"How about this one?"}}}};
    const std::string prompt = render_chat_prompt(messages, true);
    const Tokenizer& tok = qwen2_tokenizer();

    const std::vector<int64_t> frames = {404, 292};
    const PromptTokens by_frames = tokenize_prompt(tok, prompt, frames);
    EXPECT_EQ(by_frames.ids, golden->ids);
    ASSERT_EQ(by_frames.audio_spans.size(), 2u);
    EXPECT_EQ(by_frames.audio_spans[0].end - by_frames.audio_spans[0].begin, 101u);
    EXPECT_EQ(by_frames.audio_spans[1].end - by_frames.audio_spans[1].begin, 73u);
    for (const auto& span : by_frames.audio_spans) {
        EXPECT_EQ(by_frames.ids[span.begin - 1], kAudioBosId);
        EXPECT_EQ(by_frames.ids[span.end], kAudioEosId);
    }

    const std::vector<int64_t> counts = {101, 73};
    EXPECT_EQ(tokenize_prompt_with_audio_tokens(tok, prompt, counts).ids, golden->ids);
}

TEST(ChatPrompt, ClipCountMismatchIsAnError) {
    const Tokenizer& tok = qwen2_tokenizer();
    const std::string prompt = render_audio_prompt(2, "x");
    const std::vector<int64_t> one = {100};
    EXPECT_THROW(tokenize_prompt(tok, prompt, one), Error);
    const std::vector<int64_t> three = {100, 100, 100};
    EXPECT_THROW(tokenize_prompt(tok, prompt, three), Error);
    const std::vector<int64_t> too_short = {100, 2};
    try {
        tokenize_prompt(tok, prompt, too_short);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
    // A prompt without audio and no clips is fine.
    const PromptTokens p = tokenize_prompt(tok, "hello", {});
    EXPECT_TRUE(p.audio_spans.empty());
    EXPECT_EQ(p.ids, tok.encode("hello"));
}

}  // namespace
}  // namespace sarsteer::testing
