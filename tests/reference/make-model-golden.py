#!/usr/bin/python3
"""Golden files for r1's model tests, from an independent reference.

An implementation of the Hugging Face Llama / Qwen2 forward (transformers' modeling_llama.py and
modeling_qwen2.py, eager attention) in plain PyTorch, with its own safetensors writer, so that r1's C++
model and reader are checked against code that shares nothing with them. Needs only Debian's
python3-torch (scripts/install-deps.sh --reference). Regenerate with:

    /usr/bin/python3 tests/reference/make-model-golden.py tests/golden

For each model it writes <out>/<name>/{config.json, model.safetensors} (an HF model directory, loadable
by transformers) and <out>/<name>/golden.safetensors with input_ids, attention_mask, position_ids (I64)
and the expected logits (F32). Row 1 of the batch is left-padded; its padded positions are not compared.
"""
import json
import math
import os
import struct
import sys

import torch

MODELS = {
    # Qwen2 style: grouped-query attention 4:2, q/k/v biases, tied embeddings, rope_theta 1e6.
    "qwen2-tiny": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=96, hidden_size=32,
                       intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                       max_position_embeddings=128, use_sliding_window=False),
    # Llama 3 style: multi-query attention 4:1, explicit head_dim (4 x 16 != hidden 48), untied head,
    # llama3 RoPE scaling.
    "llama-tiny": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=80, hidden_size=48,
                       intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                       head_dim=16, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
                       attention_bias=False, mlp_bias=False, max_position_embeddings=128,
                       rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                         high_freq_factor=4.0, original_max_position_embeddings=8)),
    # r1's ALiBi switch on a Llama, multi-head attention with 6 heads (slopes for a non-power of two),
    # biases on q/k/v/o and the MLP.
    "llama-alibi-tiny": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=64,
                             hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=6,
                             num_key_value_heads=6, rms_norm_eps=1e-6, rope_theta=10000.0,
                             tie_word_embeddings=False, attention_bias=True, mlp_bias=True,
                             max_position_embeddings=128, position_embedding_type="alibi"),
}


def head_dim(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def tensor_shapes(c):
    C, D, H, Hkv, I = c["hidden_size"], head_dim(c), c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"]
    qkv_bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
    o_bias = c["model_type"] == "llama" and c.get("attention_bias", False)
    mlp_bias = c["model_type"] == "llama" and c.get("mlp_bias", False)
    shapes = {"model.embed_tokens.weight": (c["vocab_size"], C)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (C,)
        shapes[p + "post_attention_layernorm.weight"] = (C,)
        for name, out in (("q", H * D), ("k", Hkv * D), ("v", Hkv * D)):
            shapes[p + f"self_attn.{name}_proj.weight"] = (out, C)
            if qkv_bias:
                shapes[p + f"self_attn.{name}_proj.bias"] = (out,)
        shapes[p + "self_attn.o_proj.weight"] = (C, H * D)
        if o_bias:
            shapes[p + "self_attn.o_proj.bias"] = (C,)
        for name, (o, i_) in (("gate", (I, C)), ("up", (I, C)), ("down", (C, I))):
            shapes[p + f"mlp.{name}_proj.weight"] = (o, i_)
            if mlp_bias:
                shapes[p + f"mlp.{name}_proj.bias"] = (o,)
    shapes["model.norm.weight"] = (C,)
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (c["vocab_size"], C)
    return shapes


def random_weights(c, gen):
    w = {}
    for name, shape in tensor_shapes(c).items():
        if name.endswith("norm.weight"):
            w[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:  # larger than HF's 0.02 init so that every term visibly affects the logits
            w[name] = 0.2 * torch.randn(shape, generator=gen)
    return w


def rms_norm(x, weight, eps):
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def inv_freq(c):
    D = head_dim(c)
    f = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    s = c.get("rope_scaling")
    if s and s.get("rope_type", s.get("type")) == "llama3":
        factor, lo, hi, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / f
        scaled = torch.where(wavelen > low_wavelen, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        f = torch.where(medium, smoothed, scaled)
    return f


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def alibi_slopes(n):
    def pow2_slopes(m):
        start = 2 ** (-(2 ** -(math.log2(m) - 3)))
        return [start ** (i + 1) for i in range(m)]
    closest = 2 ** math.floor(math.log2(n))
    slopes = pow2_slopes(closest)
    if closest != n:
        slopes += pow2_slopes(2 * closest)[0::2][: n - closest]
    return torch.tensor(slopes)


def forward(c, w, input_ids, attention_mask, position_ids):
    B, T = input_ids.shape
    C, D, H, Hkv = c["hidden_size"], head_dim(c), c["num_attention_heads"], c["num_key_value_heads"]
    eps = c["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][input_ids]
    alibi = c.get("position_embedding_type") == "alibi"
    if not alibi:
        freqs = position_ids[:, :, None].float() * inv_freq(c)[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    # HF-style 4D additive mask: causal and padding, finfo.min where not allowed
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
    bias = torch.zeros(B, 1, T, T).masked_fill(~allowed, torch.finfo(torch.float32).min)
    if alibi:
        dist = torch.arange(T)[:, None] - torch.arange(T)[None, :]
        bias = bias + (-alibi_slopes(H)[:, None, None] * dist)[None]

    def lin(h, name):
        b = w.get(name + ".bias")
        return torch.nn.functional.linear(h, w[name + ".weight"], b)

    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, Hkv, D).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, Hkv, D).transpose(1, 2)
        if not alibi:
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)  # HF repeat_kv
        v = v.repeat_interleave(H // Hkv, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(D) + bias
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        a = (probs @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + lin(a, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        t = t.contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main(out):
    for index, (name, c) in enumerate(MODELS.items()):
        gen = torch.Generator().manual_seed(1234 + index)
        w = random_weights(c, gen)
        B, T, pad = 2, 9, 3
        input_ids = torch.randint(0, c["vocab_size"], (B, T), generator=gen)
        attention_mask = torch.ones(B, T, dtype=torch.int64)
        attention_mask[1, :pad] = 0
        input_ids[1, :pad] = 0
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = forward(c, w, input_ids, attention_mask, position_ids)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        config = dict(c, hidden_act="silu", torch_dtype="float32", initializer_range=0.02, bos_token_id=1,
                      eos_token_id=2)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        write_safetensors(os.path.join(d, "model.safetensors"), w)
        write_safetensors(os.path.join(d, "golden.safetensors"),
                          {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids,
                           "logits": logits.float()})
        print(f"{d}: logits {tuple(logits.shape)}, |logits| max {logits.abs().max():.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden")
