// Turning PromptFlags into a prepared model prompt (audio decoded, encoded, placed).
#pragma once

#include "cli/model_flags.h"
#include "model/session.h"

namespace sarsteer::cli {

model::PreparedPrompt prepare_cli_prompt(const model::Model& model, const PromptFlags& flags);

}  // namespace sarsteer::cli
