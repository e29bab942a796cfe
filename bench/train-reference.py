#!/usr/bin/python3
# PyTorch-Python peer of `r1 pretrain` for bench/train-throughput.sh: the same Llama architecture written as
# transformers' eager LlamaForCausalLM (RMSNorm in fp32, rotate_half RoPE, GQA by repeat_kv, explicit
# softmax attention, SwiGLU), torch.optim.AdamW, random tokens, optional bf16 autocast. Prints one JSON line
# with training tokens/s (after warm-up) and, with --gemm, the fp32 / bf16 GEMM ceilings of this machine.
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__(); self.weight = nn.Parameter(torch.ones(d)); self.eps = eps
    def forward(self, x):
        dtype = x.dtype; x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)

def rotate_half(x):
    x1, x2 = x.chunk(2, -1); return torch.cat((-x2, x1), -1)

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"] // c["num_attention_heads"]
        self.h, self.kv, self.hd = h, kv, hd
        self.q = nn.Linear(d, h * hd, bias=False); self.k = nn.Linear(d, kv * hd, bias=False)
        self.v = nn.Linear(d, kv * hd, bias=False); self.o = nn.Linear(h * hd, d, bias=False)
        self.gate = nn.Linear(d, c["intermediate_size"], bias=False); self.up = nn.Linear(d, c["intermediate_size"], bias=False)
        self.down = nn.Linear(c["intermediate_size"], d, bias=False)
        self.n1 = RMSNorm(d); self.n2 = RMSNorm(d)
    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin; k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, 1); v = v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        p = F.softmax(s, -1, dtype=torch.float32).to(q.dtype)
        a = (p @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o(a)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))

class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"]); self.c = c
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)): nn.init.normal_(m.weight, std=0.02)
    def forward(self, ids):
        B, T = ids.shape; hd = self.c["hidden_size"] // self.c["num_attention_heads"]
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(T).float(), inv); e = torch.cat((f, f), -1)
        cos, sin = e.cos(), e.sin()
        mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
        x = self.embed(ids)
        if torch.is_autocast_cpu_enabled():
            cos, sin, mask = cos.bfloat16(), sin.bfloat16(), mask.bfloat16()
        for l in self.layers: x = l(x, cos, sin, mask)
        return F.linear(self.norm(x), self.embed.weight)  # tied head

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON with the model keys")
    ap.add_argument("--batch", type=int, default=8); ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10); ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bf16", action="store_true"); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gemm", action="store_true", help="also measure the fp32 and bf16 GEMM ceilings")
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    out = {}
    if a.gemm:
        for dt, name in ((torch.float32, "gemm_fp32_gflops"), (torch.bfloat16, "gemm_bf16_gflops")):
            n = 2048; x = torch.randn(n, n, dtype=dt); y = torch.randn(n, n, dtype=dt)
            for _ in range(2): x @ y
            reps = 4 if dt == torch.float32 else 20
            t = time.perf_counter()
            for _ in range(reps): x @ y
            out[name] = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
    c = json.load(open(a.config))
    model = Model(c); opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    ids = torch.randint(0, c["vocab_size"], (a.batch, a.seq + 1))
    for step in range(a.warmup + a.steps):
        if step == a.warmup: t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
    out["tokens_per_second"] = a.batch * a.seq * a.steps / (time.perf_counter() - t)
    print(json.dumps(out))

if __name__ == "__main__":
    main()
