// The generative evaluation driver (`r1 eval gen`): a task file -> k samples per problem through the local
// engine or an OpenAI-compatible server (text/text-backends.h) -> verdicts (math verification or the GPQA
// letter) -> pass@1 over the k samples, pass@k, maj@k with their uncertainty, and per-sample records.
// Internal (the CLI's edge): the public statistics live in r1/eval.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "r1/eval.h"
#include "r1/verify.h"
#include "text/dataset-generate.h"

namespace r1::eval {

struct GenerativeEvalOptions {
  std::filesystem::path task_path;
  TaskOptions task;
  // Generation: model_dir or server_url (+ server_model, api_key, concurrency, timeout, retries),
  // chat_template, system_prompt, sampling (defaults set by the CLI: T 0.6, top-p 0.95), num_generations = k,
  // seed (problem i samples with mix_seed(seed, i)), engine, device.
  text::DatasetGenerateOptions generation;
  std::vector<int64_t> ks;  // pass@k / maj@k; empty: 1, 2, 4, ... up to k, and k itself
  BootstrapOptions bootstrap;
  verify::VerifyOptions verify;
  int threads = 0;  // verification threads (0: one per hardware thread)
};

// Runs the evaluation; records (when given) receive one JSON line per sample: line, problem, sample,
// completion, finish_reason, gold, answer, verdict, correct. on_progress(done, total) counts problems.
Results evaluate_generative(const GenerativeEvalOptions& options, std::vector<std::string>* records = nullptr,
                            const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace r1::eval
