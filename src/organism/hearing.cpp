#include "organism/hearing.h"

#include <ATen/ATen.h>

#include <c10/core/InferenceMode.h>
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

}  // namespace sarsteer::organism
