// One function per reward family, each defined in its own file under src/rewards/, returning the rewards it
// provides. src/rewards/registry.cpp collects them. Internal to src/rewards.
#pragma once

#include <vector>

#include "r1/rewards.h"

namespace r1::rewards {

std::vector<RewardInfo> accuracy_rewards();    // accuracy.cpp: math verification (src/verify)
std::vector<RewardInfo> format_rewards();      // format.cpp: format, tag_count, reasoning_steps
std::vector<RewardInfo> length_rewards();      // length.cpp: cosine, length (Kimi 1.5), soft_overlong_punishment
std::vector<RewardInfo> repetition_rewards();  // repetition.cpp: repetition_penalty
std::vector<RewardInfo> language_rewards();    // language.cpp: language_consistency
std::vector<RewardInfo> code_rewards();        // code.cpp: code (sandboxed execution)

}  // namespace r1::rewards
