// The organism's audio-alignment objective (internal to src/organism; LibTorch types).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace sarsteer::organism {

// Cosine-similarity scale of the alignment logits: a word's frames can reach p ≈ 0.9 against a
// vocabulary of ~1000 without the embeddings' norm being involved.
inline constexpr double kAlignmentScale = 16.0;

// CTC of each clip's audio embeddings (`audio[i]`: [frames, hidden], what the projector puts in
// the decoder's audio slots) against its transcript's token ids, with
// logits = kAlignmentScale · cos(embedding, row of `token_table`). The table (the decoder's
// input embeddings) is detached: the audio side learns the decoder's token space, not the other
// way round, as real LALMs align a speech encoder to an existing LLM. `blank` must occur in no
// transcript (the organism uses the padding token). Mean over clips of the per-token loss.
at::Tensor alignment_loss(const at::Tensor& token_table, const std::vector<at::Tensor>& audio,
                          const std::vector<const std::vector<int64_t>*>& transcripts,
                          int64_t blank);

// Mean over all frames of (log ‖frame‖ − log mean ‖row of `token_table`‖)²: zero when the audio
// embeddings are as long as the decoder's token embeddings. The cosine CTC above leaves their
// norm free, and a trained projector's outputs were 50× longer than the token embeddings (run
// 25 of docs/organism.md), so the decoder's residual stream at audio positions is swamped by
// them and processes them unlike text. The table is detached.
at::Tensor norm_loss(const at::Tensor& token_table, const std::vector<at::Tensor>& audio);

// What the audio side says on its own: each frame of `audio` ([frames, hidden]) read as its
// nearest row of `token_table` by cosine (the alignment loss's argmax), repeats merged and
// blanks dropped, as CTC's greedy decoding does. The decoder is not involved.
std::vector<int64_t> greedy_alignment_decode(const at::Tensor& token_table, const at::Tensor& audio,
                                             int64_t blank);

}  // namespace sarsteer::organism
