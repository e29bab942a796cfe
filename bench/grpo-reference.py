#!/usr/bin/python3
# The PyTorch-Python peer of `r1 grpo` for bench/grpo-step.sh: one GRPO step as TRL's GRPOTrainer does it, written
# in plain PyTorch on the same r1-written weights. Sampling: G completions per prompt, all rows in one batch, with
# a KV cache (bench/decode-reference.py's decode forward on the live weights), temperature 1, exactly MAX_NEW
# tokens (EOS ignored). Scoring: detokenize (byte-level BPE from tokenizer.json) and open-r1's format regex.
# Learning: group advantages (unbiased std + 1e-4), policy log-probs with grad (bench/train-reference.py's model),
# frozen reference log-probs without grad, TRL's per-token clipped surrogate + beta * k3 KL, loss_type grpo
# (per-sequence mean), backward, global grad-norm clip 1.0, AdamW. Prints one JSON line per step with its times.
#   grpo-reference.py MODEL_DIR PROMPT_IDS_FILE (one comma-separated line per prompt) [--steps N] [--threads T]
import argparse, copy, importlib.util, json, os, re, time
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), os.path.join(here, name + ".py"))
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); return mod


train_ref, decode_ref = load("train-reference"), load("decode-reference")
FORMAT = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)
HF = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
      "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
      "n1": "input_layernorm", "n2": "post_attention_layernorm"}


def hf_name(name):  # train-reference parameter name -> transformers' name
    if name == "embed.weight": return "model.embed_tokens.weight"
    if name == "norm.weight": return "model.norm.weight"
    _, i, mod, _ = name.split(".")
    return f"model.layers.{i}.{HF[mod]}.weight"


def decoder_over(model, d):
    """decode-reference's KV-cache forward reading the live parameters (shared storage, no copy)."""
    dec = decode_ref.Model.__new__(decode_ref.Model)
    c = json.load(open(f"{d}/config.json"))
    dec.c, dec.H, dec.Hkv, dec.L, dec.eps = c, c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"], c["rms_norm_eps"]
    dec.D = c["hidden_size"] // dec.H
    dec.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, dec.D, 2).float() / dec.D))
    dec.w = {hf_name(n): p.detach() for n, p in model.named_parameters()}
    dec.head = dec.w["model.embed_tokens.weight"]
    return dec


def byte_decoder(d):
    """tokenizer.json's byte-level vocabulary -> id: bytes (GPT-2's bytes_to_unicode, inverted)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs: bs.append(b); cs.append(256 + n); n += 1
    inv = {chr(c): b for b, c in zip(bs, cs)}
    vocab = json.load(open(f"{d}/tokenizer.json"))["model"]["vocab"]
    return {i: bytes(inv.get(ch, 32) for ch in tok) for tok, i in vocab.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("prompts")
    ap.add_argument("--steps", type=int, default=3); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num-generations", type=int, default=8); ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--beta", type=float, default=0.04); ap.add_argument("--epsilon", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    c = json.load(open(f"{a.model}/config.json"))
    model = train_ref.Model(c)
    weights = decode_ref.load_safetensors(f"{a.model}/model.safetensors")
    with torch.no_grad():
        for n, p in model.named_parameters(): p.copy_(weights[hf_name(n)])
    ref = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    dec, vocab = decoder_over(model, a.model), byte_decoder(a.model)
    prompts = [[int(t) for t in line.split(",")] for line in open(a.prompts) if line.strip()]
    P = min(len(p) for p in prompts)  # equal lengths in one batch: longer prompts keep their last P tokens (TRL)
    G, N = a.num_generations, a.max_new
    ids = torch.tensor([p[-P:] for p in prompts for _ in range(G)])  # [B, P], B = prompts x G
    B = ids.size(0)
    for step in range(a.steps):
        t0 = time.perf_counter()
        with torch.no_grad():  # sampling: prefill + N - 1 decode steps, temperature 1
            cache = [(torch.zeros(B, dec.Hkv, P + N, dec.D), torch.zeros(B, dec.Hkv, P + N, dec.D)) for _ in range(dec.L)]
            logits = dec.forward(ids, torch.arange(P)[None].expand(B, P), cache, 0)  # [B, V]
            out = []
            for t in range(N):
                nxt = torch.multinomial(F.softmax(logits, -1), 1)  # [B, 1]
                out.append(nxt)
                if t + 1 == N: break
                logits = dec.forward(nxt, torch.full((B, 1), P + t), cache, P + t)
            completion = torch.cat(out, 1)  # [B, N]
        t1 = time.perf_counter()
        texts = [b"".join(vocab.get(int(i), b"") for i in row).decode("utf-8", "replace") for row in completion.tolist()]
        rewards = torch.tensor([1.0 if FORMAT.match(s) else 0.0 for s in texts])
        grouped = rewards.view(-1, G)
        adv = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)  # [B]
        t2 = time.perf_counter()
        seq = torch.cat([ids, completion], 1)  # [B, P + N]

        def token_logps(m):  # train-reference's forward with the head on the completion rows only (TRL's logits_to_keep)
            T, hd = P + N - 1, c["hidden_size"] // c["num_attention_heads"]
            inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
            f = torch.outer(torch.arange(T).float(), inv); e = torch.cat((f, f), -1)
            mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
            x = m.embed(seq[:, :-1])
            for layer in m.layers: x = layer(x, e.cos(), e.sin(), mask)
            logits = F.linear(m.norm(x[:, P - 1:]), m.embed.weight)  # [B, N, V]: the logits of the completion tokens
            return torch.gather(F.log_softmax(logits.float(), -1), 2, completion[:, :, None]).squeeze(2)  # [B, N]

        logp = token_logps(model)
        with torch.no_grad():
            ref_logp = token_logps(ref)
        ratio = torch.exp(logp - logp.detach())  # num_iterations 1: pi_old is the detached current policy
        surrogate = torch.min(ratio * adv[:, None], torch.clamp(ratio, 1 - a.epsilon, 1 + a.epsilon) * adv[:, None])
        kl = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1
        loss = (-(surrogate - a.beta * kl)).mean(1).mean()  # all N tokens are completion tokens
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        print(json.dumps({"step": step + 1, "time/sampling": t1 - t0, "time/scoring": t2 - t1, "time/learning": t3 - t2,
                          "prompt_length": P, "completions/mean_length": float(N), "reward": rewards.mean().item(),
                          "kl": kl.mean().item(), "loss": loss.item()}), flush=True)


if __name__ == "__main__":
    main()
