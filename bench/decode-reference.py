#!/usr/bin/python3
# The PyTorch-Python peer of bench/decode.sh: greedy decoding with a preallocated KV cache, written the way
# one would in plain PyTorch (HF Llama math: RMSNorm, RoPE rotate_half, GQA via repeat, SwiGLU, tied head),
# reading the same r1-written model.safetensors. Prints "<tokens> <seconds> <ids of row 0>" for the timed
# part: prefill of the batch + max_new decode steps (batch x max_new new tokens).
#   decode-reference.py MODEL_DIR BATCH MAX_NEW PROMPT_IDS(comma-separated) [float32|bfloat16]
import json
import struct
import sys
import time

import torch

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
SIZES = {"F32": 4, "BF16": 2, "F16": 2}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(data, dtype=DTYPES[info["dtype"]], count=(b - a) // SIZES[info["dtype"]], offset=a)
        out[name] = t.reshape(info["shape"]).float().clone()
    return out


class Model:
    def __init__(self, d, dtype):
        self.c = json.load(open(f"{d}/config.json"))
        self.w = {k: v.to(dtype) for k, v in load_safetensors(f"{d}/model.safetensors").items()}
        c = self.c
        self.H, self.Hkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.D = c.get("head_dim") or c["hidden_size"] // self.H
        self.L = c["num_hidden_layers"]
        self.eps = c["rms_norm_eps"]
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.D, 2).float() / self.D))
        self.head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def norm(self, x, w):
        h = x.float()
        return w * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def forward(self, ids, pos, cache, past):
        B, T = ids.shape
        x = self.w["model.embed_tokens.weight"][ids]
        freqs = pos.float()[:, :, None] * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[:, None].to(x.dtype), emb.sin()[:, None].to(x.dtype)

        def rope(t):
            h = t.shape[-1] // 2
            return t * cos + torch.cat([-t[..., h:], t[..., :h]], -1) * sin

        S = past + T
        mask = torch.full((T, S), float("-inf")).triu(past + 1).to(x.dtype) if T > 1 else None
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            q = (h @ self.w[p + "self_attn.q_proj.weight"].t()).view(B, T, self.H, self.D).transpose(1, 2)
            k = (h @ self.w[p + "self_attn.k_proj.weight"].t()).view(B, T, self.Hkv, self.D).transpose(1, 2)
            v = (h @ self.w[p + "self_attn.v_proj.weight"].t()).view(B, T, self.Hkv, self.D).transpose(1, 2)
            q, k = rope(q), rope(k)
            ck, cv = cache[i]
            ck[:, :, past:S] = k
            cv[:, :, past:S] = v
            k = ck[:, :, :S].repeat_interleave(self.H // self.Hkv, 1)
            v = cv[:, :, :S].repeat_interleave(self.H // self.Hkv, 1)
            s = q @ k.transpose(-1, -2) / self.D ** 0.5
            if mask is not None:
                s = s + mask
            a = (s.float().softmax(-1).to(v.dtype) @ v).transpose(1, 2).reshape(B, T, self.H * self.D)
            x = x + a @ self.w[p + "self_attn.o_proj.weight"].t()
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(h @ self.w[p + "mlp.gate_proj.weight"].t()) * (h @ self.w[p + "mlp.up_proj.weight"].t())
            x = x + g @ self.w[p + "mlp.down_proj.weight"].t()
        return self.norm(x[:, -1], self.w["model.norm.weight"]) @ self.head.t()


def main():
    d, B, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    prompt = [int(t) for t in sys.argv[4].split(",")]
    dtype = torch.bfloat16 if len(sys.argv) > 5 and sys.argv[5] in ("bfloat16", "bf16") else torch.float32
    torch.set_num_threads(2)
    m = Model(d, dtype)
    P = len(prompt)
    with torch.inference_mode():
        cache = [(torch.zeros(B, m.Hkv, P + new, m.D, dtype=dtype), torch.zeros(B, m.Hkv, P + new, m.D, dtype=dtype))
                 for _ in range(m.L)]
        ids = torch.tensor([prompt] * B)
        out = []
        start = time.perf_counter()
        logits = m.forward(ids, torch.arange(P)[None].expand(B, P), cache, 0)
        for t in range(new):
            nxt = logits.argmax(-1)
            out.append(nxt)
            if t + 1 == new:
                break
            logits = m.forward(nxt[:, None], torch.full((B, 1), P + t), cache, P + t)
        row0 = [int(x[0]) for x in out]  # the host read of the ids, as a decode loop needs each step
        seconds = time.perf_counter() - start
    print(B * new, f"{seconds:.4f}", ",".join(map(str, row0)))


if __name__ == "__main__":
    main()
