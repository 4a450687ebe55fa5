// A miniature organism geometry shared by the organism tests: every part present, a few thousand
// parameters, so that training and evaluating one takes seconds.
#pragma once

#include "organism/train.h"

namespace sarsteer::organism {

inline OrganismGeometry small_geometry() {
    OrganismGeometry g;
    g.audio_d_model = 32;
    g.audio_layers = 1;
    g.audio_heads = 2;
    g.audio_ffn = 64;
    g.hidden = 32;
    g.layers = 2;
    g.heads = 2;
    g.kv_heads = 1;
    g.intermediate = 64;
    g.n_merges = 200;
    return g;
}

}  // namespace sarsteer::organism
