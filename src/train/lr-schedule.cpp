// Learning-rate schedules as transformers.get_scheduler: LambdaLR multipliers evaluated at the number of
// optimizer steps already taken (0 for the first step), with linear warm-up from 0. cosine is half a cosine
// period (num_cycles 0.5) from the peak to 0 (or to min_lr_rate x peak for cosine_with_min_lr).
#include <algorithm>
#include <cmath>

#include "r1/error.h"
#include "r1/train.h"

namespace r1::train {

double lr_multiplier(const std::string& type, int64_t step, int64_t warmup, int64_t total, double min_lr_rate) {
  if (type == "constant") return 1.0;
  if (step < warmup) return double(step) / double(std::max<int64_t>(1, warmup));
  if (type == "constant_with_warmup") return 1.0;
  const double progress = double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
  if (type == "linear") return std::max(0.0, double(total - step) / double(std::max<int64_t>(1, total - warmup)));
  if (type == "cosine") return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  if (type == "cosine_with_min_lr") {
    const double cosine = 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
    return min_lr_rate + (1.0 - min_lr_rate) * cosine;
  }
  fail_usage("unknown lr_scheduler_type '{}'", type);
}

int64_t resolve_warmup_steps(const TrainingArguments& args, int64_t total_steps) {
  if (args.warmup_steps > 0) return args.warmup_steps;
  return int64_t(std::ceil(args.warmup_ratio * double(total_steps)));
}

}  // namespace r1::train
