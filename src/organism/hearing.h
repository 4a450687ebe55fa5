// What an organism's audio side hears on its own, before the decoder reads it.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "model/model.h"

namespace sarsteer::organism {

// The text the audio side says for a 16 kHz clip: its audio embeddings (what fills the decoder's
// audio slots) decoded greedily against the decoder's input embedding table, as the alignment
// loss scores them (greedy_alignment_decode, blank = <|endoftext|>). An organism's transcripts
// ("Transcribe the audio.") show what the decoder makes of the audio; this shows what the audio
// side delivered to it, so that a word lost between the two can be placed.
std::string audio_side_transcript(const model::Model& model, std::span<const float> samples_16k);

// Word-level edit distance (substitutions, insertions, deletions) of `heard` from `said`, over
// words lowercased with punctuation other than apostrophes dropped: WER = edits / words said.
struct WordErrors {
    std::size_t edits = 0;
    std::size_t words = 0;  // in `said`
};
WordErrors word_errors(std::string_view said, std::string_view heard);

}  // namespace sarsteer::organism
