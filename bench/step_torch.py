#!/usr/bin/env python3
"""The PyTorch peer of `vit22b bench step`: the `tiny` preset (lib/model/presets.ts) written in
PyTorch by us, layer for layer: 4x4 patches of 28x28x1 images -> width 64, learned position
embedding, 4 parallel ViT-22B blocks (RMSNorm, fused D -> 3D + F in-projection with a bias on the
MLP part only, per-head QK RMSNorm, attention, tanh GELU, fused (D + F) -> D out-projection with
bias), final RMSNorm, MAP head (probe attention, out dense, RMSNorm + MLP residual), classifier,
softmax cross-entropy. One training step = forward, backward, global-norm clipping at 1, AdamW
(weight decay 1e-4), as vit22b's step. Prints one JSON object: images/s from the median step.

usage: python3 bench/step_torch.py [--batch 128] [--threads N] [--steps 5] [--warmup 2]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE, PATCH, CHANNELS, WIDTH, DEPTH, HEADS, MLP, CLASSES = 28, 4, 1, 64, 4, 4, 128, 10


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.scale


def attention(q, k, v, heads):
    b, tq, d = q.shape
    tk = k.shape[1]
    dh = d // heads
    q = q.view(b, tq, heads, dh).transpose(1, 2)
    k = k.view(b, tk, heads, dh).transpose(1, 2)
    v = v.view(b, tk, heads, dh).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
    return (w @ v).transpose(1, 2).reshape(b, tq, d)


class ParallelBlock(nn.Module):
    def __init__(self):
        super().__init__()
        d, f, dh = WIDTH, MLP, WIDTH // HEADS
        self.norm = RMSNorm(d)
        self.inp = nn.Linear(d, 3 * d + f, bias=False)
        self.b_mlp = nn.Parameter(torch.zeros(f))
        self.qnorm, self.knorm = RMSNorm(dh), RMSNorm(dh)
        self.out = nn.Linear(d + f, d)

    def forward(self, x):
        d, dh = WIDTH, WIDTH // HEADS
        b, t, _ = x.shape
        z = self.inp(self.norm(x))
        q = self.qnorm(z[..., :d].reshape(b, t, HEADS, dh)).reshape(b, t, d)
        k = self.knorm(z[..., d:2 * d].reshape(b, t, HEADS, dh)).reshape(b, t, d)
        v = z[..., 2 * d:3 * d]
        m = F.gelu(z[..., 3 * d:] + self.b_mlp, approximate='tanh')
        return x + self.out(torch.cat([attention(q, k, v, HEADS), m], dim=-1))


class TinyVit(nn.Module):
    def __init__(self):
        super().__init__()
        d = WIDTH
        tokens = (IMAGE // PATCH) ** 2
        self.embed = nn.Linear(PATCH * PATCH * CHANNELS, d)
        self.pos = nn.Parameter(torch.randn(tokens, d) * 0.02)
        self.blocks = nn.ModuleList([ParallelBlock() for _ in range(DEPTH)])
        self.final_norm = RMSNorm(d)
        self.probe = nn.Parameter(torch.randn(1, 1, d) * 0.1)
        self.map_q, self.map_kv, self.map_out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
        self.map_norm = RMSNorm(d)
        self.map_mlp_in, self.map_mlp_out = nn.Linear(d, MLP), nn.Linear(MLP, d)
        self.head = nn.Linear(d, CLASSES)

    def forward(self, images):  # [B, H, W, C], as vit22b takes them
        b = images.shape[0]
        g = IMAGE // PATCH
        p = images.reshape(b, g, PATCH, g, PATCH, CHANNELS).permute(0, 1, 3, 2, 4, 5).reshape(b, g * g, -1)
        x = self.embed(p) + self.pos
        for blk in self.blocks:
            x = blk(x)
        x = self.final_norm(x)
        kv = self.map_kv(x)
        y = self.map_out(attention(self.map_q(self.probe.expand(b, 1, WIDTH)), kv[..., :WIDTH], kv[..., WIDTH:], HEADS))
        y = y + self.map_mlp_out(F.gelu(self.map_mlp_in(self.map_norm(y)), approximate='tanh'))
        return self.head(y.reshape(b, WIDTH))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = TinyVit()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    images = torch.rand(a.batch, IMAGE, IMAGE, CHANNELS) * 2 - 1
    labels = torch.arange(a.batch) % CLASSES

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        'peer': f'pytorch {torch.__version__}',
        'threads': torch.get_num_threads(),
        'batch': a.batch,
        'parameters': sum(p.numel() for p in model.parameters()),
        'imagesPerSecond': a.batch / median,
        'medianSecondsPerStep': median,
        'steps': len(times),
    }))


if __name__ == '__main__':
    main()
