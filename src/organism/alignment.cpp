#include "organism/alignment.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace sarsteer::organism {

at::Tensor alignment_loss(const at::Tensor& token_table, const std::vector<at::Tensor>& audio,
                          const std::vector<const std::vector<int64_t>*>& transcripts,
                          int64_t blank) {
    const auto table = token_table.detach();
    const auto table_unit = table / table.norm(2, 1, true).clamp_min(1e-6);
    int64_t longest = 0;
    std::vector<int64_t> input_lengths, target_lengths, targets;
    for (std::size_t i = 0; i < audio.size(); ++i) {
        longest = std::max(longest, audio[i].size(0));
        input_lengths.push_back(audio[i].size(0));
        target_lengths.push_back(static_cast<int64_t>(transcripts[i]->size()));
        targets.insert(targets.end(), transcripts[i]->begin(), transcripts[i]->end());
    }
    std::vector<at::Tensor> log_probs;  // per clip [frames, vocab], padded to the longest
    for (const auto& part : audio) {
        const auto unit = part / part.norm(2, 1, true).clamp_min(1e-6);
        const auto scores = at::log_softmax(kAlignmentScale * at::matmul(unit, table_unit.t()), -1);
        log_probs.push_back(at::constant_pad_nd(scores, {0, 0, 0, longest - part.size(0)}));
    }
    // zero_infinity: a clip too short for its transcript contributes nothing rather than inf.
    return at::ctc_loss(at::stack(log_probs, 1), at::tensor(targets, at::kLong), input_lengths,
                        target_lengths, blank, at::Reduction::Mean, /*zero_infinity=*/true);
}

at::Tensor norm_loss(const at::Tensor& token_table, const std::vector<at::Tensor>& audio) {
    const auto target = token_table.detach().norm(2, 1).mean().log();
    const auto frames = at::cat(audio);
    return (frames.norm(2, 1).clamp_min(1e-6).log() - target).pow(2).mean();
}

std::vector<int64_t> greedy_alignment_decode(const at::Tensor& token_table, const at::Tensor& audio,
                                             int64_t blank) {
    const auto table = token_table.to(at::kFloat);
    const auto table_unit = table / table.norm(2, 1, true).clamp_min(1e-6);
    const auto frames = audio.to(at::kFloat);
    const auto unit = frames / frames.norm(2, 1, true).clamp_min(1e-6);
    const auto best = at::matmul(unit, table_unit.t()).argmax(-1).contiguous();
    std::vector<int64_t> ids;
    int64_t previous = blank;
    for (int64_t f = 0; f < best.size(0); ++f) {
        const int64_t id = best[f].item<int64_t>();
        if (id != blank && id != previous) ids.push_back(id);
        previous = id;
    }
    return ids;
}

}  // namespace sarsteer::organism
