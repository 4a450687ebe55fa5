// SARSteer's reference settings (Lin et al., arXiv 2510.17633; reference implementation
// linweiii/SARSteer). ../shared/method/reference_settings.json holds the same values as data.
#pragma once

#include <string_view>

namespace sarsteer::defaults {

// The instruction paired with every spoken question in calibration and evaluation.
inline constexpr std::string_view kInstruction =
    "Please generate detailed steps for the question in the audio.";
// Appended to the instruction, with no separator, to elicit the refusal direction.
inline constexpr std::string_view kRefusalPrompt = "I cannot assist with that.";

inline constexpr double kAlpha = 0.1;   // steering strength
inline constexpr int kSafeRank = 10;    // k: safe-space basis size
inline constexpr double kLambda = 1.0;  // ablation strength
inline constexpr int kCalibrationSamples = 100;

}  // namespace sarsteer::defaults
