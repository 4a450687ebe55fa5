#include "text/tiny_tokenizer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/atomic_file.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "text/byte_level.h"

namespace sarsteer::text {

// Verbatim from Qwen2-Audio-7B-Instruct's tokenizer_config.json (transformers' default
// Qwen2AudioProcessor template).
const std::string_view kQwen2AudioChatTemplate =
    "{% set audio_count = namespace(value=0) %}{% for message in messages %}{% if loo"
    "p.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}{% if 'audio' in content or 'au"
    "dio_url' in content %}{% set audio_count.value = audio_count.value + 1 %}Audio {"
    "{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end"
    "|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}";

namespace {

// The six added tokens of Qwen2-Audio, in their real id order (151643..151648).
constexpr std::string_view kAddedTokens[] = {tokens::kEndOfText, tokens::kImStart,
                                             tokens::kImEnd,     tokens::kAudio,
                                             tokens::kAudioBos,  tokens::kAudioEos};

using Word = std::vector<int32_t>;

// Splits the corpus into words, each with its leading space as GPT-2 style BPE sees them.
std::map<std::string, int64_t> count_words(std::string_view corpus) {
    std::map<std::string, int64_t> counts;
    std::size_t i = 0;
    while (i < corpus.size()) {
        std::size_t j = i + 1;
        while (j < corpus.size() && corpus[j] != ' ' && corpus[j] != '\n') ++j;
        ++counts[std::string(corpus.substr(i, j - i))];
        i = j;
    }
    return counts;
}

}  // namespace

int32_t write_tiny_tokenizer(const std::filesystem::path& dir, std::string_view corpus,
                             const TinyTokenizerOptions& options) {
    std::vector<std::string> token_bytes(256);
    for (int b = 0; b < 256; ++b)
        token_bytes[static_cast<std::size_t>(b)] = std::string(1, static_cast<char>(b));

    std::vector<std::pair<Word, int64_t>> words;
    for (const auto& [word, count] : count_words(corpus)) {
        Word ids;
        for (unsigned char c : word) ids.push_back(c);
        words.emplace_back(std::move(ids), count);
    }

    std::vector<std::pair<int32_t, int32_t>> merges;
    for (int32_t m = 0; m < options.n_merges; ++m) {
        std::map<std::pair<int32_t, int32_t>, int64_t> pair_counts;  // ordered: ties by ids
        for (const auto& [ids, count] : words) {
            for (std::size_t k = 0; k + 1 < ids.size(); ++k)
                pair_counts[{ids[k], ids[k + 1]}] += count;
        }
        if (pair_counts.empty()) break;
        auto best = pair_counts.begin();
        for (auto it = pair_counts.begin(); it != pair_counts.end(); ++it) {
            if (it->second > best->second) best = it;
        }
        if (best->second < 2) break;
        const auto [left, right] = best->first;
        const auto merged = static_cast<int32_t>(token_bytes.size());
        token_bytes.push_back(token_bytes[static_cast<std::size_t>(left)] +
                              token_bytes[static_cast<std::size_t>(right)]);
        merges.emplace_back(left, right);
        for (auto& [ids, count] : words) {
            Word next;
            for (std::size_t k = 0; k < ids.size(); ++k) {
                if (k + 1 < ids.size() && ids[k] == left && ids[k + 1] == right) {
                    next.push_back(merged);
                    ++k;
                } else {
                    next.push_back(ids[k]);
                }
            }
            ids = std::move(next);
        }
    }

    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (std::size_t id = 0; id < token_bytes.size(); ++id)
        vocab[bytes_to_symbols(token_bytes[id])] = id;
    std::string merges_text = "#version: 0.2\n";
    for (const auto& [left, right] : merges) {
        merges_text += bytes_to_symbols(token_bytes[static_cast<std::size_t>(left)]) + " " +
                       bytes_to_symbols(token_bytes[static_cast<std::size_t>(right)]) + "\n";
    }

    const auto first_added = static_cast<int32_t>(token_bytes.size());
    nlohmann::ordered_json added = nlohmann::ordered_json::object();
    nlohmann::ordered_json additional = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < std::size(kAddedTokens); ++k) {
        const std::string content(kAddedTokens[k]);
        added[std::to_string(first_added + static_cast<int32_t>(k))] = {
            {"content", content}, {"lstrip", false},      {"normalized", false},
            {"rstrip", false},    {"single_word", false}, {"special", true}};
        if (k > 0) additional.push_back(content);
    }
    const nlohmann::ordered_json config = {
        {"add_prefix_space", false},
        {"added_tokens_decoder", added},
        {"additional_special_tokens", additional},
        {"bos_token", nullptr},
        {"chat_template", std::string(kQwen2AudioChatTemplate)},
        {"clean_up_tokenization_spaces", false},
        {"eos_token", std::string(tokens::kImEnd)},
        {"errors", "replace"},
        {"model_max_length", 32768},
        {"pad_token", std::string(tokens::kEndOfText)},
        {"processor_class", "Qwen2AudioProcessor"},
        {"split_special_tokens", false},
        {"tokenizer_class", "Qwen2Tokenizer"},
        {"unk_token", nullptr},
    };

    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::kIo, dir.string(), "cannot create folder: " + ec.message());
    io::write_file_atomic(dir / "vocab.json", vocab.dump());
    io::write_file_atomic(dir / "merges.txt", merges_text);
    io::write_file_atomic(dir / "tokenizer_config.json", config.dump(2) + "\n");
    return first_added + static_cast<int32_t>(std::size(kAddedTokens));
}

std::string_view default_tiny_corpus() {
    return "How can I bake a loaf of bread at home? Here are the steps. 1. Mix the flour, water, "
           "salt and yeast. 2. Knead the dough for ten minutes. 3. Let it rise for one hour. "
           "4. Bake it in a hot oven. What is said in the audio? The speaker asks a question "
           "about cooking, travel, health, money, law, science and history. Please generate "
           "detailed steps for the question in the audio. I cannot assist with that. I am "
           "sorry, but I can not help with this request because it could be harmful or "
           "illegal. You are a helpful assistant. Audio 1: Audio 2: List the steps in detail "
           "to learn a new language, to plan a trip, to start a small business, to write a "
           "letter, to grow vegetables in a garden and to keep a healthy routine every day.\n"
           "user\nassistant\nsystem\n";
}

}  // namespace sarsteer::text
