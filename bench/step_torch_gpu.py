#!/usr/bin/env python3
"""The PyTorch peer of `vit22b bench step --peer torch` (issue 7, "Speed"): the model of a vit22b
config (lib/model/config.ts; the JSON that `vit22b info --model NAME --json` prints under `config`)
written in PyTorch by us, the way a PyTorch user would write it fast:

- bf16 autocast (fp32 parameters, gradients and AdamW state: vit22b's bf16-mixed) or plain fp32;
- F.scaled_dot_product_attention (flash / memory-efficient kernels on a GPU);
- torch.optim.AdamW(fused=True), weight decay 1e-4, global-norm clipping at 1 (as vit22b's step);
- the model's switches: parallel block (one D -> 3D + F in-projection, one (D + F) -> D
  out-projection) or the classic sequential block, per-head QK-norm, RMSNorm or LayerNorm, MAP /
  class-token / GAP pooling, tanh or erf GELU;
- eager, and torch.compile of the model (default mode), each timed the same way as vit22b's
  lib/bench/step.ts: warm-up steps, then at least --steps timed steps (more until --seconds have
  passed, at most 200), each one between two torch.cuda.synchronize() calls, and the median.
  Every step copies the batch from host memory, as vit22b's step uploads it (--input device to
  keep it on the GPU instead). A mode that runs out of memory halves its batch (--shrink-on-oom),
  and later modes start from the batch the earlier ones fitted.

Where this torch lacks a feature (Debian's CPU torch 1.13: no SDPA, no fused AdamW, no
torch.compile), it falls back (explicit softmax attention, the plain AdamW; compile skipped) and
says so in "notes". On out-of-memory with --shrink-on-oom it halves the batch and says so.

Prints one JSON object on its last line of stdout; progress goes to stderr.

usage: python3 bench/step_torch_gpu.py --config-json '{...}' [--batch 64] [--device cuda]
         [--precision bf16-mixed] [--modes eager,compile] [--steps 10] [--warmup 3] [--seconds 0]
         [--shrink-on-oom] [--input host|device] [--compile-mode default]
"""
import argparse
import gc
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTES = []


def note(msg):
    if msg not in NOTES:
        NOTES.append(msg)
        print(f'step_torch_gpu: {msg}', file=sys.stderr)


def log(msg):
    print(f'step_torch_gpu: {msg}', file=sys.stderr, flush=True)


HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')
HAS_RMS_NORM = hasattr(F, 'rms_norm')
HAS_COMPILE = hasattr(torch, 'compile')


class Norm(nn.Module):
    """RMSNorm, or LayerNorm (with a bias when the config has norm biases), over the last dim."""

    def __init__(self, dim, center, bias, eps):
        super().__init__()
        self.center, self.eps, self.dim = center, eps, dim
        self.scale = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if center and bias else None

    def forward(self, x):
        if self.center:
            return F.layer_norm(x, (self.dim,), self.scale, self.bias, self.eps)
        if HAS_RMS_NORM:
            return F.rms_norm(x, (self.dim,), self.scale, self.eps)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.scale


def attend(q, k, v):
    """q [B, Tq, H, Dh], k and v [B, Tk, H, Dh] -> [B, Tq, H * Dh]."""
    b, tq, h, dh = q.shape
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    if HAS_SDPA:
        o = F.scaled_dot_product_attention(q, k, v)
    else:
        o = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(dh), dim=-1) @ v
    return o.transpose(1, 2).reshape(b, tq, h * dh)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f, h = c['width'], c['mlpDim'], c['heads']
        dh = d // h
        self.d, self.f, self.h, self.dh = d, f, h, dh
        self.parallel = c['block'] == 'parallel'
        center = c['norm'] == 'layernorm'
        eps = c.get('normEps', 1e-6)
        self.gelu = 'tanh' if c.get('gelu', 'tanh') == 'tanh' else 'none'
        if c['qkNorm']:
            self.qnorm = Norm(dh, c['qkNormCenter'], c['normBias'], eps)
            self.knorm = Norm(dh, c['qkNormCenter'], c['normBias'], eps)
        else:
            self.qnorm = self.knorm = None
        if self.parallel:
            # ViT-22B: one D -> 3D + F projection, biases on the parts the config has (a zero buffer
            # stands in for the others, so the bias rides in the GEMM's epilogue as one vector).
            self.norm = Norm(d, center, c['normBias'], eps)
            self.w_in = nn.Parameter(torch.empty(3 * d + f, d))
            nn.init.xavier_uniform_(self.w_in)
            self.b_qkv = nn.Parameter(torch.zeros(3 * d)) if c['qkvBias'] else None
            self.b_mlp = nn.Parameter(torch.zeros(f)) if c['mlpBias'] else None
            self.register_buffer('zero_qkv', torch.zeros(3 * d), persistent=False)
            self.register_buffer('zero_mlp', torch.zeros(f), persistent=False)
            self.out = nn.Linear(d + f, d, bias=c['mlpBias'])
        else:
            self.norm1 = Norm(d, center, c['normBias'], eps)
            self.qkv = nn.Linear(d, 3 * d, bias=c['qkvBias'])
            self.proj = nn.Linear(d, d, bias=c['qkvBias'])
            self.norm2 = Norm(d, center, c['normBias'], eps)
            self.fc1 = nn.Linear(d, f, bias=c['mlpBias'])
            self.fc2 = nn.Linear(f, d, bias=c['mlpBias'])

    def _attention(self, qkv):
        b, t, _ = qkv.shape
        d, h, dh = self.d, self.h, self.dh
        q = qkv[..., :d].reshape(b, t, h, dh)
        k = qkv[..., d:2 * d].reshape(b, t, h, dh)
        v = qkv[..., 2 * d:3 * d].reshape(b, t, h, dh)
        if self.qnorm is not None:
            q, k = self.qnorm(q), self.knorm(k)
            # Under autocast a norm may hand back fp32; SDPA wants one dtype.
            q, k = q.to(v.dtype), k.to(v.dtype)
        return attend(q, k, v)

    def forward(self, x):
        if self.parallel:
            bias = None
            if self.b_qkv is not None or self.b_mlp is not None:
                bias = torch.cat([self.b_qkv if self.b_qkv is not None else self.zero_qkv,
                                  self.b_mlp if self.b_mlp is not None else self.zero_mlp])
            z = F.linear(self.norm(x), self.w_in, bias)
            a = self._attention(z[..., :3 * self.d])
            m = F.gelu(z[..., 3 * self.d:], approximate=self.gelu)
            return x + self.out(torch.cat([a.to(m.dtype), m], dim=-1))
        x = x + self.proj(self._attention(self.qkv(self.norm1(x))))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x)), approximate=self.gelu))


class Vit(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, p, ch = c['width'], c['patchSize'], c['channels']
        self.grid = c['imageSize'] // p
        tokens = self.grid * self.grid
        self.pool = c['pool']
        center = c['norm'] == 'layernorm'
        eps = c.get('normEps', 1e-6)
        self.gelu = 'tanh' if c.get('gelu', 'tanh') == 'tanh' else 'none'
        self.embed = nn.Linear(p * p * ch, d)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if self.pool == 'token' else None
        seq = tokens + (1 if self.pool == 'token' else 0)
        if c['posEmb'] == 'learned':
            self.pos = nn.Parameter(torch.randn(seq, d) * 0.02)
        else:
            # The 2-D sin-cos table is a constant; its values do not change the step's cost.
            self.register_buffer('pos', torch.randn(seq, d) * 0.02, persistent=False)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c['depth'])])
        self.final_norm = Norm(d, center, c['normBias'], eps)
        if self.pool == 'map':
            self.probe = nn.Parameter(torch.randn(1, 1, d) * 0.02)
            self.map_q, self.map_kv, self.map_out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
            self.map_norm = Norm(d, center, c['normBias'], eps)
            self.map_mlp_in, self.map_mlp_out = nn.Linear(d, c['mlpDim']), nn.Linear(c['mlpDim'], d)
        self.head = nn.Linear(d, c['numClasses'])

    def forward(self, images):  # [B, H, W, C], as vit22b takes them
        b = images.shape[0]
        g, p, ch, d, h = self.grid, self.c['patchSize'], self.c['channels'], self.c['width'], self.c['heads']
        x = images.reshape(b, g, p, g, p, ch).permute(0, 1, 3, 2, 4, 5).reshape(b, g * g, p * p * ch)
        x = self.embed(x)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(b, 1, d).to(x.dtype), x], dim=1)
        x = x + self.pos
        for blk in self.blocks:
            x = blk(x)
        x = self.final_norm(x)
        if self.pool == 'token':
            y = x[:, 0]
        elif self.pool == 'gap':
            y = x.mean(dim=1)
        else:
            q = self.map_q(self.probe.expand(b, 1, d))
            kv = self.map_kv(x)
            t = kv.shape[1]
            a = attend(q.reshape(b, 1, h, d // h), kv[..., :d].reshape(b, t, h, d // h), kv[..., d:].reshape(b, t, h, d // h))
            y = self.map_out(a)
            y = y + self.map_mlp_out(F.gelu(self.map_mlp_in(self.map_norm(y)), approximate=self.gelu))
            y = y.reshape(b, d)
        return self.head(y)


def is_oom(e):
    oom_type = getattr(torch.cuda, 'OutOfMemoryError', None)
    return (oom_type is not None and isinstance(e, oom_type)) or 'out of memory' in str(e).lower()


def make_optimizer(params, device):
    try:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4, fused=True)
        return opt, 'fused'
    except (TypeError, RuntimeError, ValueError) as e:
        note(f'fused AdamW unavailable on {device} in torch {torch.__version__} ({str(e).splitlines()[0][:120]}); using the default AdamW')
    return torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4), 'default'


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_mode(a, c, device, mode, batch):
    """Builds a fresh model (seed 0), times its training step; returns a result dict."""
    torch.manual_seed(0)
    if hasattr(torch.device, '__enter__'):
        # torch >= 2.0: initialize on the device (2+ billion parameters initialized on the host take
        # longer than the whole benchmark).
        with device:
            model = Vit(c)
    else:
        model = Vit(c).to(device)
    params = [p for p in model.parameters()]
    opt, opt_kind = make_optimizer(params, device)
    fwd = model
    if mode == 'compile':
        fwd = torch.compile(model, mode=a.compile_mode)
    bf16 = a.precision == 'bf16-mixed'
    # Inputs: fixed pseudo-random values (the step's cost does not depend on them).
    gen = torch.Generator().manual_seed(12345)
    images_host = torch.rand(batch, c['imageSize'], c['imageSize'], c['channels'], generator=gen) * 2 - 1
    labels_host = torch.arange(batch) % c['numClasses']
    if a.input == 'device':
        images_dev, labels_dev = images_host.to(device), labels_host.to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        if a.input == 'device':
            images, labels = images_dev, labels_dev
        else:
            images, labels = images_host.to(device), labels_host.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = fwd(images)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    fake_oom_above = int(os.environ.get('STEP_TORCH_FAKE_OOM_ABOVE', '0'))
    if fake_oom_above and batch > fake_oom_above:
        # A test hook: the shrink-on-OOM path, exercised where no GPU can run out of memory.
        raise RuntimeError(f'CUDA out of memory (simulated: batch {batch} > STEP_TORCH_FAKE_OOM_ABOVE)')
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(max(1, a.warmup)):
        step()
    sync(device)
    warmup_seconds = time.perf_counter() - t0
    times = []
    start = time.perf_counter()
    while len(times) < 200 and (len(times) < a.steps or time.perf_counter() - start < a.seconds):
        sync(device)
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    r = {
        'mode': mode,
        'batch': batch,
        'imagesPerSecond': batch / median,
        'medianSecondsPerStep': median,
        'steps': len(times),
        'warmupSeconds': warmup_seconds,
        'optimizer': opt_kind,
    }
    if device.type == 'cuda':
        r['peakMemoryBytes'] = torch.cuda.max_memory_allocated(device)
    return r, sum(p.numel() for p in params)


def free(device):
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    if HAS_COMPILE:
        try:
            torch._dynamo.reset()
        except Exception:  # noqa: BLE001 - only a cache reset
            pass


def run_mode(a, c, device, mode, start_batch):
    """Times `mode` from `start_batch`, halving the batch on out-of-memory when asked. Never raises."""
    if mode == 'compile' and not HAS_COMPILE:
        return {'mode': mode, 'skipped': f'torch.compile unavailable in torch {torch.__version__}'}, None
    batch = start_batch
    while True:
        oom = False
        try:
            log(f'{mode}: batch {batch} on {device}')
            r, n = time_mode(a, c, device, mode, batch)
            if batch != a.batch:
                r['batchRequested'] = a.batch
                if batch == start_batch:
                    note(f'{mode}: started at batch {batch}, where an earlier mode fitted')
            return r, n
        except Exception as e:  # noqa: BLE001 - reported in the JSON, never a crash
            if not is_oom(e):
                msg = f'{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ""}'
                return {'mode': mode, 'batch': batch, 'error': msg}, None
            oom = True
        # Out of the except block, so the traceback's frames (holding the tensors) are gone.
        free(device)
        if oom and a.shrink_on_oom and batch > 1:
            note(f'{mode}: out of memory at batch {batch}; halving it')
            batch //= 2
            continue
        return {'mode': mode, 'batch': batch, 'error': f'out of memory at batch {batch}'}, None


def device_name(device):
    if device.type == 'cuda':
        return f'cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})'
    return 'cpu'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config-json', required=True, help='a vit22b model config as JSON (every field)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    ap.add_argument('--precision', default='bf16-mixed', choices=['bf16-mixed', 'fp32'])
    ap.add_argument('--modes', default='eager,compile')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--seconds', type=float, default=0.0)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--input', default='host', choices=['host', 'device'])
    ap.add_argument('--shrink-on-oom', action='store_true')
    ap.add_argument('--compile-mode', default='default',
                    choices=['default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs'])
    a = ap.parse_args()
    c = json.loads(a.config_json)
    modes = [m for m in a.modes.split(',') if m]
    for m in modes:
        if m not in ('eager', 'compile'):
            ap.error(f'--modes takes eager and/or compile, not {m!r}')
    if a.device == 'cuda' and not torch.cuda.is_available():
        print(json.dumps({'peer': f'pytorch {torch.__version__}', 'error': 'CUDA unavailable to torch', 'runs': [], 'notes': NOTES}))
        return 1
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == 'cuda':
        # fp32 matmuls stay fp32 (only the optimizer and norms run in fp32 under autocast anyway).
        torch.backends.cuda.matmul.allow_tf32 = False
    if not HAS_SDPA:
        note(f'F.scaled_dot_product_attention unavailable in torch {torch.__version__}; explicit softmax attention')
    if not HAS_RMS_NORM:
        note(f'F.rms_norm unavailable in torch {torch.__version__}; RMSNorm written out')
    if not HAS_COMPILE and 'compile' in modes:
        note(f'torch.compile unavailable in torch {torch.__version__}; compile mode skipped')
    runs = []
    parameters = None
    start_batch = a.batch
    for i, m in enumerate(modes):
        # A later mode starts from the batch an earlier one had to halve to: each out-of-memory
        # attempt costs a model build (and for compile, a compilation).
        r, n = run_mode(a, c, device, m, start_batch)
        if 'imagesPerSecond' in r:
            start_batch = min(start_batch, r['batch'])
        parameters = parameters or n
        runs.append(r)
        free(device)
        if 'imagesPerSecond' in r:
            log(f'{m}: {r["imagesPerSecond"]:.1f} images/s ({r["medianSecondsPerStep"] * 1e3:.1f} ms per step, batch {r["batch"]})')
        if i + 1 < len(modes):
            # The results so far, in case the caller's time limit ends a later mode (a long compile).
            print(json.dumps(report(a, device, parameters, runs, partial=True)), flush=True)
    if parameters is None:
        parameters = sum(p.numel() for p in Vit(c).parameters())
    print(json.dumps(report(a, device, parameters, runs)), flush=True)
    return 0


def report(a, device, parameters, runs, partial=False):
    return {
        'peer': f'pytorch {torch.__version__}',
        'device': device_name(device),
        'parameters': parameters,
        'precision': a.precision,
        'input': a.input,
        'compileMode': a.compile_mode,
        'features': {
            'sdpa': HAS_SDPA,
            'rmsNorm': 'F.rms_norm' if HAS_RMS_NORM else 'written out',
            'compile': HAS_COMPILE,
            'autocast': 'bf16' if a.precision == 'bf16-mixed' else None,
        },
        'notes': list(NOTES),
        'runs': list(runs),
        **({'partial': True} if partial else {}),
    }


if __name__ == '__main__':
    sys.exit(main())
