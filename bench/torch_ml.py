#!/usr/bin/env python3
"""The acft reference LM (ml/lm.ts) written in PyTorch, for the side-by-side figures of bench/ml.ts.

Same architecture: learned positions, pre-LayerNorm blocks, GELU (tanh form), tied output head,
fused qkv projection; AdamW with the same hyper-parameters; fp32. Prints one JSON line.
Usage: torch_ml.py '{"vocabSize":2048,"contextLength":128,"dModel":128,"nHeads":4,"nLayers":4,
        "mlpRatio":4,"batch":16,"steps":10,"warmup":2,"sampleBatch":32,"newTokens":64,"promptLen":8}'
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["dModel"]
        self.nh = c["nHeads"]
        self.ln1 = nn.LayerNorm(C)
        self.attn = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, int(c["mlpRatio"] * C))
        self.fc2 = nn.Linear(int(c["mlpRatio"] * C), C)

    def forward(self, x, past=None):
        B, T, C = x.shape
        hs = C // self.nh
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        Tk = k.shape[2]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(diagonal=Tk - T)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x, (k, v)


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocabSize"], c["dModel"])
        self.wpe = nn.Embedding(c["contextLength"], c["dModel"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["nLayers"])])
        self.lnf = nn.LayerNorm(c["dModel"])
        # GPT-2 init as ml/lm.ts: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), biases 0
        for n, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * c["nLayers"]) if n.endswith(("proj.weight", "fc2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids, cache=None):
        past = 0 if cache is None else cache[0][0].shape[2]
        pos = torch.arange(past, past + ids.shape[1])
        x = self.wte(ids) + self.wpe(pos)
        new = []
        for i, b in enumerate(self.blocks):
            x, kv = b(x, None if cache is None else cache[i])
            new.append(kv)
        return self.lnf(x) @ self.wte.weight.T, new  # tied head


def main():
    a = json.loads(sys.argv[1])
    if "threads" in a:
        torch.set_num_threads(a["threads"])
    torch.manual_seed(0)
    model = LM(a)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95))
    B, T, V = a["batch"], a["contextLength"], a["vocabSize"]
    data = torch.randint(0, V, (B, T + 1))
    times = []
    for s in range(a["warmup"] + a["steps"]):
        t0 = time.perf_counter()
        logits, _ = model(data[:, :-1])
        loss = F.cross_entropy(logits.reshape(B * T, V), data[:, 1:].reshape(B * T))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if s >= a["warmup"]:
            times.append(time.perf_counter() - t0)
    train_tok_s = B * T / statistics.median(times)

    model.eval()
    prompts = torch.randint(0, V, (a["sampleBatch"], a["promptLen"]))
    gen = torch.Generator().manual_seed(0)
    stimes = []
    with torch.no_grad():
        for _ in range(a.get("sampleRepeats", 3)):
            t0 = time.perf_counter()
            logits, cache = model(prompts)
            for _ in range(a["newTokens"]):
                probs = logits[:, -1, :].softmax(dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)
                logits, cache = model(nxt, cache)
            stimes.append(time.perf_counter() - t0)
    sample_tok_s = a["sampleBatch"] * a["newTokens"] / statistics.median(stimes)
    blas = [l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l]
    print(json.dumps({"train_tok_s": train_tok_s, "sample_tok_s": sample_tok_s, "loss": loss.item(),
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "blas": blas}))


if __name__ == "__main__":
    main()
