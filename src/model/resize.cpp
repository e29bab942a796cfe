// resize_token_embeddings(): grow or shrink the vocabulary dimension of a model (embedding rows and the
// untied LM head), initialising new rows from the rows of the tokens they decompose into. As transformers'
// resize_token_embeddings with mean initialisation, except that a row with known pieces starts at the mean of
// those pieces (Chinese-LLaMA style) rather than of the whole vocabulary. Also with_pad_token_id(): the same
// weights under a config with another pad_token_id.
#include <torch/types.h>
#include <torch/utils.h>

#include "r1/error.h"
#include "r1/model.h"

namespace r1::model {

Transformer resize_token_embeddings(TransformerImpl& model, int64_t vocab_size,
                                    const std::map<int64_t, std::vector<int32_t>>& init) {
  const ModelConfig& old_config = model.config();
  const int64_t old_vocab = old_config.vocab_size;
  if (vocab_size <= 0) fail("resize-embeddings: vocabulary size must be positive, got {}", vocab_size);
  ModelConfig config = old_config;
  config.vocab_size = vocab_size;
  auto first = model.parameters().front();
  if (config.pad_token_id && *config.pad_token_id >= vocab_size) config.pad_token_id.reset();
  Transformer resized(config, first.options());
  torch::NoGradGuard no_grad;
  auto src = model.named_parameters();
  for (auto& item : resized->named_parameters()) {
    const at::Tensor& from = src[item.key()];
    at::Tensor& to = item.value();
    bool vocab_rows = item.key() == "model.embed_tokens.weight" || item.key() == "lm_head.weight";
    if (!vocab_rows) {
      to.copy_(from);
      continue;
    }
    const int64_t keep = std::min(old_vocab, vocab_size);
    to.narrow(0, 0, keep).copy_(from.narrow(0, 0, keep));
    if (vocab_size > old_vocab)
      to.narrow(0, old_vocab, vocab_size - old_vocab)
          .copy_(from.mean(0).expand({vocab_size - old_vocab, from.size(1)}));
    for (const auto& [row, sources] : init) {
      if (row < 0 || row >= vocab_size)
        fail("resize-embeddings: row {} is outside the new vocabulary ({})", row, vocab_size);
      if (sources.empty()) continue;
      for (int32_t id : sources)
        if (id < 0 || id >= old_vocab)
          fail("resize-embeddings: source id {} of row {} is outside the old vocabulary ({})", id, row, old_vocab);
      std::vector<int64_t> ids(sources.begin(), sources.end());
      at::Tensor index = torch::tensor(ids, torch::TensorOptions().dtype(at::kLong).device(from.device()));
      to[row].copy_(from.index_select(0, index).mean(0));
    }
  }
  return resized;
}

Transformer with_pad_token_id(Transformer model, int64_t pad) {
  if (model->config().pad_token_id == pad) return model;
  if (model->has_lora())
    fail("with_pad_token_id: the model has LoRA adapters (set the pad token before applying them)");
  ModelConfig config = model->config();
  config.pad_token_id = pad;
  Transformer copy(config, model->parameters().front().options());
  torch::NoGradGuard no_grad;
  auto src = named_tensors(*model);
  auto dst = named_tensors(*copy);
  for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
  return copy;
}

}  // namespace r1::model
