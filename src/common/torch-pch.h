// Precompiled header for r1's targets: the LibTorch and standard headers nearly every file includes.
// Only a build-speed device: every file still includes what it uses, so the build works with R1_PCH=OFF.
#pragma once
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
