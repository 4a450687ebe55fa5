#include "organism/hearing.h"

#include <ATen/ATen.h>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "model/session.h"
#include "organism/alignment.h"
#include "sarsteer/tokenizer.h"

namespace sarsteer::organism {

std::string audio_side_transcript(const model::Model& model, std::span<const float> samples_16k) {
    c10::InferenceMode guard;
    const std::vector<std::vector<float>> clips = {{samples_16k.begin(), samples_16k.end()}};
    const auto encoded = model::encode_clips(model, clips);
    const auto& tok = model.tokenizer();
    const auto ids =
        greedy_alignment_decode(model.weights().decoder.embed_tokens.cpu(), encoded.embeds.cpu(),
                                tok.required_token_id(tokens::kEndOfText));
    return tok.decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
}

namespace {

std::vector<std::string> normalized_words(std::string_view text) {
    std::vector<std::string> words(1);
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '\'') {
            words.back() += static_cast<char>(std::tolower(u));
        } else if (std::isspace(u) && !words.back().empty()) {
            words.emplace_back();
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

}  // namespace

WordErrors word_errors(std::string_view said, std::string_view heard) {
    const auto ref = normalized_words(said);
    const auto hyp = normalized_words(heard);
    // One row of the Levenshtein table at a time.
    std::vector<std::size_t> row(hyp.size() + 1);
    for (std::size_t j = 0; j <= hyp.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= ref.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= hyp.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min(
                {above + 1, row[j - 1] + 1, diagonal + (ref[i - 1] == hyp[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return {row[hyp.size()], ref.size()};
}

}  // namespace sarsteer::organism
