// The Qwen2-Audio audio tower (Whisper-style encoder + average pooling) and the multi-modal
// projector: a clip's log-mel features -> the embeddings that replace its <|AUDIO|> placeholders.
//
// ref: transformers/models/qwen2_audio/modeling_qwen2_audio.py (Qwen2AudioEncoder,
// Qwen2AudioMultiModalProjector, Qwen2AudioForConditionalGeneration.forward).
//
// HF runs the encoder over all 1500 positions with an additive -inf mask on the padded KEYS and
// then keeps the first audio_output_length(L) pooled rows. Padded keys never influence valid
// rows, so this implementation runs the layers over the valid positions only (cost grows with
// the clip's length) and gives the same rows. The convolutions still read the padded feature
// frames that reach valid positions (frames up to 2 * encoder_feature_length(L)), as HF does.
#pragma once

#include <cstdint>
#include <span>

#include <ATen/core/Tensor.h>

#include "model/config.h"
#include "model/weights.h"

namespace sarsteer::model {

// Number of valid encoder positions after conv2 for L valid mel frames: (L-1)//2+1 (floor
// division, so 0 -> 0). HF: Qwen2AudioEncoder._get_feat_extract_output_lengths. Throws
// Error(kInvalidArgument) for negative L.
int64_t encoder_feature_length(int64_t valid_frames);

// features: [num_mel_bins, 2 * max_source_positions] (= [128, 3000]: a clip's Whisper log-mel,
// padded to 30 s), any floating dtype/device; it is converted to the weights' dtype and device
// (as HF converts input_features to conv1's dtype).
// valid_frames: L = sum of the clip's feature attention mask, 1 <= L <= 3000.
// Returns [audio_output_length(L), text hidden_size] in the weights' dtype and device: exactly
// the clip's rows of HF's `masked_audio_features`. L = 1 or 2 yield no rows ([0, hidden]).
// Throws Error(kInvalidArgument) for a wrong feature shape or dtype or L out of range.
at::Tensor encode_audio(const AudioTowerWeights& w, const AudioConfig& config,
                        const at::Tensor& features, int64_t valid_frames);

// Several clips: features [B, num_mel_bins, 3000], one L per clip -> the clips' embeddings
// concatenated in order, [sum_i audio_output_length(L_i), hidden]. Equal (bit for bit) to
// concatenating encode_audio per clip, which is what it does: per-clip runs need no key mask and
// cost only each clip's own length.
at::Tensor encode_audio_batch(const AudioTowerWeights& w, const AudioConfig& config,
                              const at::Tensor& features, std::span<const int64_t> valid_frames);

}  // namespace sarsteer::model
