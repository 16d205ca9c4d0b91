#!/usr/bin/env python3
"""PyTorch side of the fast-path comparison (issue 7): the reference config trained and sampled
exactly as bench/fast-step.ts and bench/fast-sample.ts do with acft.

    /usr/bin/python3 bench/fast-torch.py [--threads 2] [--steps 10] [--warmup 3]

Prints training tokens/s (forward + backward + AdamW, batch 16 x context 128) and KV-cached
sampling tokens/s (32 sequences x 64 new tokens), medians over repeats, and which BLAS torch uses.
Needs Debian's python3-torch + libopenblas0 (reference BLAS is ~25x slower; see PERF-NOTES.md).
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, T, C, H, L, MLP, B = 2048, 128, 128, 4, 4, 4, 16


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.fc2 = nn.Linear(C, MLP * C), nn.Linear(MLP * C, C)

    def forward(self, x, past=None):
        b, t, _ = x.shape
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        heads = lambda z: z.view(b, t, H, C // H).transpose(1, 2)  # (B, T, C) -> (B, H, T, hs)
        q, k, v = heads(q), heads(k), heads(v)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        tk = k.shape[2]
        s = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        mask = torch.ones(t, tk, dtype=torch.bool).tril(tk - t)  # query i sees keys j <= tk - t + i
        s = s.masked_fill(~mask, float("-inf"))
        y = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, t, C)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block() for _ in range(L)])
        self.lnf = nn.LayerNorm(C)

    def forward(self, ids, cache=None):
        start = 0 if cache is None else cache[0][0].shape[2]
        x = self.wte(ids) + self.wpe(torch.arange(start, start + ids.shape[1]))
        new = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, None if cache is None else cache[i])
            new.append(kv)
        return self.lnf(x) @ self.wte.weight.T, new  # tied embeddings


def train_speed(model, steps, warmup):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    ids = torch.randint(0, V, (B, T + 1))
    times, cpu = [], 0.0
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        logits, _ = model(ids[:, :T])
        loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0
    return B * T / statistics.median(times), cpu / steps * 1000


@torch.no_grad()
def sample_speed(model, repeats=3, n=32, new=64):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ids = torch.zeros(n, 1, dtype=torch.long)
        logits, cache = model(ids)
        for _ in range(new):
            nxt = torch.multinomial(F.softmax(logits[:, -1], dim=-1), 1)
            logits, cache = model(nxt, cache)
        times.append(time.perf_counter() - t0)
    return n * new / statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT()
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, libblas.so.3 -> {blas}, load {os.getloadavg()[0]:.2f}")
    tok_s, cpu_ms = train_speed(model, a.steps, a.warmup)
    # CPU ms/step (all threads) is the work done; on a loaded machine it is steadier than wall time.
    print(f"torch train  {tok_s:8.0f} tok/s  (cpu {cpu_ms:.0f} ms/step)")
    model.eval()
    print(f"torch sample {sample_speed(model):8.0f} tok/s (32 x 64, KV cache)")


if __name__ == "__main__":
    main()
