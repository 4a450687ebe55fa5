// What an organism's audio side hears on its own, before the decoder reads it.
#pragma once

#include <span>
#include <string>

#include "model/model.h"

namespace sarsteer::organism {

// The text the audio side says for a 16 kHz clip: its audio embeddings (what fills the decoder's
// audio slots) decoded greedily against the decoder's input embedding table, as the alignment
// loss scores them (greedy_alignment_decode, blank = <|endoftext|>). An organism's transcripts
// ("Transcribe the audio.") show what the decoder makes of the audio; this shows what the audio
// side delivered to it, so that a word lost between the two can be placed.
std::string audio_side_transcript(const model::Model& model, std::span<const float> samples_16k);

}  // namespace sarsteer::organism
