// The generation engine: token ids in, token ids out. It owns preallocated KV-cache slots, prefills prompts,
// decodes every active sequence together (continuous batching: a finished sequence frees its slot for a
// waiting one), lets the n samples of one prompt share its prefill, and samples with the chain
// penalties -> temperature -> top-k -> top-p -> min-p (the order of vLLM / HF generate). For every generated
// token it returns the log-probability under the distribution it was drawn from AND under the plain softmax
// of the logits (what a training forward recomputes), so RL is exactly on-policy.
// The engine reads the model's live parameters: a trainer that updates the same Transformer needs no sync.
// It knows nothing of text except through EngineOptions::decode (for stop strings), nor of JSON or HTTP.
//
// Usage:
//   r1::engine::Engine engine(r1::model::load_pretrained("runs/sft"), {.max_batch = 16});
//   r1::engine::Request request{.prompt = tokenizer.encode("What is 2+3?"), .params = {.temperature = 0.6}, .n = 4};
//   std::vector<r1::engine::Result> results = engine.generate({request});  // all at once, on this thread
//
//   uint64_t id = engine.submit(request, [](const r1::engine::Event& e) { /* kToken, kFinished, kDone */ });
//   while (engine.step()) {}  // one thread steps (the server's EngineThread); submit() and cancel(id) from any thread
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "r1/model.h"

namespace r1::engine {

// ---- What to generate: sampling parameters and requests -------------------------------------------------------------

struct SamplingParams {
  double temperature = 1.0;         // <= 0: greedy (argmax after penalties)
  int64_t top_k = 0;                // <= 0: off
  double top_p = 1.0;               // 1: off
  double min_p = 0.0;               // 0: off; keeps tokens with p >= min_p * max p
  double repetition_penalty = 1.0;  // HF/CTRL: logit of a token in prompt or output: > 0 ? l / r : l * r
  double presence_penalty = 0.0;    // OpenAI: logit -= presence_penalty if the token occurs in the output
  double frequency_penalty = 0.0;   // OpenAI: logit -= frequency_penalty * (occurrences in the output)
  int64_t max_new_tokens = 256;
  std::vector<int32_t> stop_token_ids;  // finish when sampled, in addition to the eos ids
  std::vector<std::string> stop;        // stop strings (need EngineOptions::decode)
  bool ignore_eos = false;              // eos ids do not finish the sequence
  std::optional<uint64_t> seed;         // per-request: same seed, prompt and params -> same tokens
  int32_t top_logprobs = 0;             // also return this many most likely tokens per step (0..20)
  double logprob_temperature = 1.0;     // Sample::raw_logprobs = log_softmax(logits / this); GRPO passes its
                                        // sampling temperature, as TRL scales logits in the loss
};

struct Request {
  std::vector<int32_t> prompt;  // non-empty
  SamplingParams params;
  int32_t n = 1;  // independent samples of this prompt; they share one prefill
  // With a seed: these are samples first_sample .. first_sample + n - 1 of the seed's stream, the same tokens as
  // those samples of one request with a larger n (data-parallel GRPO splits a group over ranks this way).
  int32_t first_sample = 0;
};

// ---- What comes back: samples, results and streamed events ----------------------------------------------------------

enum class FinishReason {
  kEos,         // an end-of-sequence id (EngineOptions::eos_token_ids) was sampled; it ends `tokens`
  kStopToken,   // one of SamplingParams::stop_token_ids was sampled; it ends `tokens`
  kStopString,  // the decoded output came to contain a stop string (Sample::stop_string); the token that
                // completed it ends `tokens` (callers trim the text at the match, as OpenAI servers do)
  kLength,      // max_new_tokens reached, or the slot's max_seq_len
  kCancelled,   // Engine::cancel
};
const char* finish_reason_name(FinishReason reason);  // "eos", "stop_token", "stop_string", "length", "cancelled"

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;  // under the sampling distribution
};

struct Sample {
  std::vector<int32_t> tokens;      // generated ids, prompt excluded
  std::vector<float> logprobs;      // per token: log p under the distribution it was sampled from (all
                                    // processors applied; greedy: log_softmax of the penalised logits)
  std::vector<float> raw_logprobs;  // per token: log_softmax(logits / logprob_temperature), no processors
  std::vector<std::vector<TokenLogprob>> top_logprobs;  // per token, when SamplingParams::top_logprobs > 0
  FinishReason finish_reason = FinishReason::kLength;
  std::string stop_string;  // the stop string matched (kStopString)
};

struct Result {
  std::vector<Sample> samples;  // n of them, in sample order
  int64_t prompt_tokens = 0;
};

// Reported from the thread that runs step(): one kToken event per generated token of each sample, then one
// kFinished per sample, then kDone for the request with its complete Result.
struct Event {
  enum class Kind { kToken, kFinished, kDone };
  Kind kind = Kind::kToken;
  uint64_t request_id = 0;
  int32_t sample = 0;                                  // which of the request's n samples (kToken, kFinished)
  int32_t token = 0;                                   // kToken
  float logprob = 0;                                   // kToken: under the sampling distribution
  std::vector<TokenLogprob> top_logprobs;              // kToken
  FinishReason finish_reason = FinishReason::kLength;  // kFinished
  const Result* result = nullptr;                      // kDone: valid during the callback only
};

// ---- The engine -----------------------------------------------------------------------------------------------------

struct EngineOptions {
  int64_t max_batch = 16;               // sequences decoded together (KV-cache slots)
  int64_t max_seq_len = 0;              // prompt + generated tokens per slot; 0: the model's max_position_embeddings
  std::optional<at::ScalarType> dtype;  // compute dtype (e.g. bf16); unset: the parameters' dtype
  std::vector<int32_t> eos_token_ids;   // empty: the model config's eos_token_id
  std::function<std::string(const std::vector<int32_t>&)> decode;  // ids -> text, for stop strings
  uint64_t seed = 42;                                              // for requests without their own seed
};

class Engine {
 public:
  Engine(model::Transformer model, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Generates every request (continuously batched together) and returns the results in request order.
  // Runs on the calling thread; must not be mixed with step() running on another thread.
  std::vector<Result> generate(const std::vector<Request>& requests);

  // Incremental interface for the one thread that steps the engine (the server's EngineThread). submit() and cancel()
  // are thread-safe; step() is called by one thread at a time and invokes the callbacks on that thread.
  using Callback = std::function<void(const Event&)>;
  uint64_t submit(Request request, Callback on_event);  // returns the request id; throws r1::Error if invalid
  void cancel(uint64_t request_id);  // its unfinished samples finish with kCancelled at the next step
  bool step();                       // one scheduling + prefill/decode iteration; false if there was no work
  bool has_work() const;

  const EngineOptions& options() const;
  model::TransformerImpl& model();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace r1::engine
