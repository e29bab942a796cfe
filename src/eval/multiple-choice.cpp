// Log-likelihood multiple choice, as lm-evaluation-harness / lighteval score MMLU and C-Eval: the k-shot
// prompt ends in "Answer:"; (1) the letters " A", " B", ... are compared by the next-token log-probability
// after the prompt (one forward per question), (2) each choice text " <choice>" is scored by its summed
// log-likelihood as a continuation, raw (acc_ll) and per UTF-8 byte (acc_ll_norm, the harness's acc_norm).
// Contexts are right-padded in batches sorted by length; only the needed positions go through the LM head.
// Departures:
//  1. Context and continuation are tokenized separately and concatenated (lighteval's pair encoding when the
//     context ends without a space; the harness re-splits a joint encoding), so a BPE merge across the
//     boundary is not taken. Contexts longer than the model's context are cut from the left, as the harness does.
#include <ATen/ATen.h>
#include <torch/types.h>

#include <algorithm>
#include <numeric>

#include "r1/error.h"
#include "r1/eval.h"
#include "r1/tokenizer.h"

namespace r1::eval {

namespace {

// Calls fn(batch of indices, ids (B, T) right-padded, lengths) over `seqs` in batches of similar length.
void for_each_batch(const std::vector<const std::vector<int64_t>*>& seqs, int64_t batch_size, const at::Device& device,
                    const std::function<void(const std::vector<size_t>&, const at::Tensor&)>& fn) {
  if (batch_size < 1) fail_usage("batch size must be >= 1, got {}", batch_size);
  std::vector<size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seqs[a]->size() > seqs[b]->size(); });
  for (size_t start = 0; start < order.size(); start += size_t(batch_size)) {
    std::vector<size_t> batch(order.begin() + long(start),
                              order.begin() + long(std::min(order.size(), start + size_t(batch_size))));
    const int64_t T = int64_t(seqs[batch[0]]->size());
    at::Tensor ids = torch::zeros({int64_t(batch.size()), T}, torch::kLong);  // (B, T), padding id 0 at the end
    for (size_t b = 0; b < batch.size(); ++b) {
      const auto& s = *seqs[batch[b]];
      std::copy(s.begin(), s.end(), ids[int64_t(b)].data_ptr<int64_t>());
    }
    fn(batch, ids.to(device));
  }
}

std::vector<int64_t> fit_context(std::vector<int64_t> ids, size_t room) {
  if (ids.size() > room) ids.erase(ids.begin(), ids.end() - long(room));
  return ids;
}

}  // namespace

std::vector<std::vector<double>> next_token_logprobs(model::TransformerImpl& model,
                                                     const std::vector<std::vector<int64_t>>& contexts,
                                                     const std::vector<int64_t>& candidates, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const at::Device device = model.parameters().front().device();
  const size_t room = size_t(model.config().max_position_embeddings);
  std::vector<std::vector<int64_t>> fitted;
  std::vector<const std::vector<int64_t>*> seqs;
  for (const auto& c : contexts) {
    if (c.empty()) fail("an empty context has no next token to score");
    fitted.push_back(fit_context(c, room));
  }
  for (const auto& c : fitted) seqs.push_back(&c);
  const at::Tensor cand = torch::tensor(candidates, torch::kLong).to(device);  // (K)
  std::vector<std::vector<double>> out(contexts.size());
  for_each_batch(seqs, batch_size, device, [&](const std::vector<size_t>& batch, const at::Tensor& ids) {
    at::Tensor hidden = model.hidden_states(ids);  // (B, T, C)
    std::vector<int64_t> last;
    for (size_t i : batch) last.push_back(int64_t(seqs[i]->size()) - 1);
    at::Tensor rows = torch::arange(int64_t(batch.size()), torch::kLong).to(device);
    at::Tensor h = hidden.index({rows, torch::tensor(last, torch::kLong).to(device)});     // (B, C)
    at::Tensor logp = torch::log_softmax(model.logits(h).to(torch::kFloat), -1);           // (B, V)
    at::Tensor picked = logp.index_select(1, cand).to(torch::kDouble).cpu().contiguous();  // (B, K)
    for (size_t b = 0; b < batch.size(); ++b) {
      const double* p = picked[int64_t(b)].data_ptr<double>();
      out[batch[b]].assign(p, p + candidates.size());
    }
  });
  return out;
}

std::vector<double> continuation_logprobs(
    model::TransformerImpl& model, const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>& pairs,
    int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const at::Device device = model.parameters().front().device();
  const size_t room = size_t(model.config().max_position_embeddings) + 1;  // the last token is only a target
  std::vector<std::vector<int64_t>> joined;  // context + continuation, context cut from the left to fit
  std::vector<size_t> context_len;
  for (const auto& [ctx, cont] : pairs) {
    if (ctx.empty() || cont.empty()) fail("continuation scoring needs a non-empty context and continuation");
    if (cont.size() + 1 > room) fail("a continuation of {} tokens does not fit the model's context", cont.size());
    std::vector<int64_t> c = fit_context(ctx, room - cont.size());
    context_len.push_back(c.size());
    c.insert(c.end(), cont.begin(), cont.end());
    joined.push_back(std::move(c));
  }
  std::vector<std::vector<int64_t>> inputs;  // all but the last token
  for (const auto& j : joined) inputs.emplace_back(j.begin(), j.end() - 1);
  std::vector<const std::vector<int64_t>*> seqs;
  for (const auto& i : inputs) seqs.push_back(&i);
  std::vector<double> out(pairs.size());
  for_each_batch(seqs, batch_size, device, [&](const std::vector<size_t>& batch, const at::Tensor& ids) {
    at::Tensor hidden = model.hidden_states(ids);  // (B, T, C)
    for (size_t b = 0; b < batch.size(); ++b) {
      const size_t i = batch[b], begin = context_len[i] - 1, L = joined[i].size() - context_len[i];
      at::Tensor h = hidden[int64_t(b)].narrow(0, int64_t(begin), int64_t(L));      // (L, C)
      at::Tensor logp = torch::log_softmax(model.logits(h).to(torch::kFloat), -1);  // (L, V)
      at::Tensor target = torch::tensor(std::vector<int64_t>(joined[i].begin() + long(context_len[i]), joined[i].end()),
                                        torch::kLong)
                              .to(device);  // (L)
      out[i] = logp.gather(1, target.unsqueeze(1)).to(torch::kDouble).sum().item<double>();
    }
  });
  return out;
}

Results evaluate_choices(model::TransformerImpl& model, const tokenizer::Tokenizer& tokenizer,
                         const std::vector<ChoiceQuestion>& questions, const std::vector<ChoiceQuestion>& dev,
                         const ChoiceEvalOptions& options, std::vector<ChoiceRecord>* records) {
  if (questions.empty()) fail("no questions to score");
  if (options.num_fewshot > 0 && int64_t(dev.size()) < options.num_fewshot)
    fail_usage("--num-fewshot {} needs at least that many dev questions, found {}", options.num_fewshot, dev.size());
  auto to64 = [](const std::vector<int32_t>& v) { return std::vector<int64_t>(v.begin(), v.end()); };
  size_t max_choices = 0;
  for (const auto& q : questions) max_choices = std::max(max_choices, q.choices.size());
  std::vector<int64_t> letters;  // the first token of " A", " B", ...
  for (size_t i = 0; i < max_choices; ++i) {
    const std::string text = std::string(" ") + char('A' + i);
    std::vector<int32_t> ids = tokenizer.encode(text, false);
    if (ids.empty()) fail("the tokenizer encodes '{}' to nothing", text);
    if (std::find(letters.begin(), letters.end(), ids[0]) != letters.end())
      fail("the letters' first tokens collide at '{}': letter scoring needs distinct tokens", text);
    letters.push_back(ids[0]);
  }
  std::vector<std::vector<int64_t>> contexts;
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> pairs;
  std::vector<ChoiceRecord> recs(questions.size());
  for (size_t qi = 0; qi < questions.size(); ++qi) {
    const ChoiceQuestion& q = questions[qi];
    std::vector<ChoiceQuestion> shots;
    for (const ChoiceQuestion& d : dev) {
      if (int64_t(shots.size()) >= options.num_fewshot) break;
      if (d.question != q.question) shots.push_back(d);
    }
    contexts.push_back(to64(tokenizer.encode(choice_prompt(shots, q), true)));
    for (const std::string& c : q.choices) {
      pairs.emplace_back(contexts.back(), to64(tokenizer.encode(" " + c, false)));
      recs[qi].continuation_bytes.push_back(int64_t(c.size()) + 1);
    }
    recs[qi].line = q.line;
    recs[qi].answer = q.answer;
  }
  const auto letter_lp = next_token_logprobs(model, contexts, letters, options.batch_size);
  const auto cont_lp = continuation_logprobs(model, pairs, options.batch_size);
  std::vector<double> acc, acc_ll, acc_norm;
  auto argmax = [](const std::vector<double>& v) { return int64_t(std::max_element(v.begin(), v.end()) - v.begin()); };
  size_t next_pair = 0;
  for (size_t qi = 0; qi < questions.size(); ++qi) {
    ChoiceRecord& r = recs[qi];
    const size_t n = questions[qi].choices.size();
    r.letter_logprobs.assign(letter_lp[qi].begin(), letter_lp[qi].begin() + long(n));
    r.continuation_logprobs.assign(cont_lp.begin() + long(next_pair), cont_lp.begin() + long(next_pair + n));
    next_pair += n;
    std::vector<double> per_byte(n);
    for (size_t c = 0; c < n; ++c) per_byte[c] = r.continuation_logprobs[c] / double(r.continuation_bytes[c]);
    acc.push_back(argmax(r.letter_logprobs) == r.answer ? 1.0 : 0.0);
    acc_ll.push_back(argmax(r.continuation_logprobs) == r.answer ? 1.0 : 0.0);
    acc_norm.push_back(argmax(per_byte) == r.answer ? 1.0 : 0.0);
  }
  Results res;
  res.kind = "multiple_choice";
  res.bootstrap = options.bootstrap;
  res.counts = {{"questions", int64_t(questions.size())}, {"num_fewshot", options.num_fewshot}};
  res.metrics = {{"acc", estimate_mean(acc, options.bootstrap)},
                 {"acc_ll", estimate_mean(acc_ll, options.bootstrap)},
                 {"acc_ll_norm", estimate_mean(acc_norm, options.bootstrap)}};
  if (records) *records = std::move(recs);
  return res;
}

}  // namespace r1::eval
