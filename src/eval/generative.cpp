// evaluate_generative (r1/eval.h): the R1 paper's protocol (k samples per problem at T 0.6 / top-p 0.95,
// pass@1 averaged over the k samples, cons@k by majority vote) over open-r1's task formats. Math answers
// are verified with r1::verify (Math-Verify semantics) in parallel threads; GPQA answers by their letter.
// Voting groups answers that verify as equivalent (so "1/2" and "0.5" vote together), GPQA letters by
// equality. Sample j of problem i is drawn with seed mix_seed(seed, i) (the engine derives the j-th stream),
// so a run is reproducible and independent of batching.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/sampler.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/runtime.h"
#include "text/text-backends.h"

namespace r1::eval {
using Json = nlohmann::ordered_json;

namespace {

std::vector<text::TextCompletion> generate_all(const GenerativeEvalOptions& o, const Task& task,
                                               const std::function<void(int64_t, int64_t)>& on_progress) {
  const text::DatasetGenerateOptions& g = o.generation;
  const size_t count = task.problems.size();
  std::vector<uint64_t> seeds;
  for (size_t i = 0; i < count; ++i) seeds.push_back(engine::mix_seed(g.seed, uint64_t(i)));
  auto prompt_of = [&](const Problem& p, bool chat) {
    text::TextPrompt prompt;
    prompt.text = p.prompt;
    if (chat) {
      if (!g.system_prompt.empty()) prompt.messages.push_back({{"role", "system"}, {"content", g.system_prompt}});
      prompt.messages.push_back({{"role", "user"}, {"content", p.prompt}});
    }
    return prompt;
  };
  std::vector<text::TextCompletion> out(count);
  std::atomic<int64_t> done{0};
  if (g.server_url.empty()) {
    text::LocalTextBackend local(g);
    std::vector<std::vector<int32_t>> ids;
    for (const Problem& p : task.problems)
      ids.push_back(local.encode(prompt_of(p, local.chat()), fmt::format("{}:{}", task.path.string(), p.line)));
    local.run(ids, seeds, [&](size_t i, text::TextCompletion c) {
      out[i] = std::move(c);
      if (on_progress) on_progress(++done, int64_t(count));
    });
    return out;
  }
  text::RemoteTextBackend remote(g);
  std::mutex mutex;
  parallel_for(count, std::max(1, g.concurrency), [&](size_t i) {
    out[i] = remote.complete(prompt_of(task.problems[i], remote.chat()), seeds[i]);
    std::lock_guard<std::mutex> lock(mutex);
    if (on_progress) on_progress(++done, int64_t(count));
  });
  return out;
}

}  // namespace

Results evaluate_generative(const GenerativeEvalOptions& o, std::vector<std::string>* records,
                            const std::function<void(int64_t, int64_t)>& on_progress) {
  const int64_t n = o.generation.num_generations;
  if (n < 1) fail_usage("--num-samples must be >= 1, got {}", n);
  std::vector<int64_t> ks = o.ks;
  if (ks.empty()) {
    for (int64_t k = 1; k < n; k *= 2) ks.push_back(k);
    ks.push_back(n);
  }
  for (int64_t k : ks)
    if (k < 1 || k > n) fail_usage("--pass-at {} is outside 1..{} (--num-samples)", k, n);
  TaskOptions task_options = o.task;
  task_options.seed = o.generation.seed;
  const Task task = load_task(o.task_path, task_options);
  const std::vector<text::TextCompletion> completions = generate_all(o, task, on_progress);

  const bool gpqa = task.type == TaskType::kGpqa;
  std::vector<std::pair<std::string, std::string>> pairs;  // (gold, completion) for math verification
  for (size_t i = 0; i < task.problems.size(); ++i) {
    if (int64_t(completions[i].texts.size()) != n)
      fail("problem {}: expected {} completions, got {}", i, n, completions[i].texts.size());
    if (!gpqa)
      for (const std::string& text : completions[i].texts) pairs.emplace_back(task.problems[i].gold, text);
  }
  const std::vector<verify::VerifyResult> verdicts = verify::verify_batch(pairs, o.verify, o.threads);

  std::vector<std::vector<SampleOutcome>> outcomes(task.problems.size());
  int64_t truncated = 0, no_answer = 0, unparseable_gold = 0;
  size_t next = 0;
  for (size_t i = 0; i < task.problems.size(); ++i) {
    const Problem& p = task.problems[i];
    for (int64_t j = 0; j < n; ++j) {
      const std::string& text = completions[i].texts[size_t(j)];
      SampleOutcome s;
      std::string verdict;
      if (gpqa) {
        const std::optional<char> letter = verify::extract_choice(text, int(p.choices.size()));
        s.answer = letter ? std::string(1, *letter) : "";
        s.correct = s.answer == p.gold;
        verdict = !letter ? "no_answer" : s.correct ? "correct" : "wrong";
      } else {
        const verify::VerifyResult& v = verdicts[next++];
        s.answer = v.verdict == verify::Verdict::kNoAnswer ? "" : v.answer;  // unparseable text does not vote
        s.correct = v.verdict == verify::Verdict::kCorrect;
        verdict = std::string(verify::verdict_name(v.verdict));
        unparseable_gold += v.verdict == verify::Verdict::kUnparseableGold;
      }
      no_answer += s.answer.empty();
      truncated += completions[i].reasons[size_t(j)] == "length";
      if (records) {
        Json r = {{"line", p.line},
                  {"problem", i},
                  {"sample", j},
                  {"completion", text},
                  {"finish_reason", completions[i].reasons[size_t(j)]},
                  {"gold", p.gold},
                  {"answer", s.answer},
                  {"verdict", verdict},
                  {"correct", s.correct}};
        records->push_back(r.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
      outcomes[i].push_back(std::move(s));
    }
  }
  // Two extracted answers vote together when they verify as equivalent; they are normalised LaTeX, so each goes
  // back in $...$ (Math-Verify extracts no bare LaTeX but numbers and \frac{a}{b}).
  auto equivalent = [&](const std::string& a, const std::string& b) {
    if (a == b) return true;
    if (gpqa) return false;
    return verify::verify("$" + a + "$", "$" + b + "$", o.verify).verdict == verify::Verdict::kCorrect;
  };

  Results r;
  r.kind = "generative";
  r.task = o.task_path.string();
  r.model = o.generation.server_url.empty() ? o.generation.model_dir.string() : o.generation.server_url;
  const engine::SamplingParams& s = o.generation.sampling;
  r.config = {{"task_type", task_type_name(task.type)},
              {"num_samples", std::to_string(n)},
              {"temperature", fmt::format("{}", s.temperature)},
              {"top_p", fmt::format("{}", s.top_p)},
              {"max_new_tokens", std::to_string(s.max_new_tokens)},
              {"seed", std::to_string(o.generation.seed)},
              {"chat_template", o.generation.chat_template}};
  if (!o.task.prompt_template.empty()) r.config.emplace_back("prompt_template", o.task.prompt_template);
  r.counts = {{"problems", int64_t(task.problems.size())},
              {"samples", int64_t(task.problems.size()) * n},
              {"truncated", truncated},
              {"no_answer", no_answer},
              {"unparseable_gold", unparseable_gold}};
  r.bootstrap = o.bootstrap;
  r.metrics = generative_metrics(outcomes, ks, equivalent, o.bootstrap);
  return r;
}

}  // namespace r1::eval
