/**
 * The CNN description (estimate/cnn.ts), its parameter counts, the step program's invariants,
 * and the planner's two estimates for cnn-mnist and cnn-cifar.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { CNN_IMAGES, CNN_PRESETS, cnnCounts, cnnGraph, cnnLayout, cnnProgram, cnnSpecOf, nodeIo } from '../../src/estimate/cnn.ts';
import { cnnTorchUnits } from '../../src/estimate/pytorch-cnn.ts';
import { dtypePlan } from '../../src/estimate/dtypes.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import { parseCnnRunConfig, planConfigOfCnn, DEFAULT_CNN_RUN } from '../../src/protocol/cnn.ts';
import type { CnnSpec } from '../../src/estimate/specs.ts';

const spec = (id: string, over: Partial<CnnSpec> = {}): CnnSpec => ({ kind: 'cnn', id, ...CNN_PRESETS[id]!, ...over });
const plan = (over: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, batch: 8, precision: 'fp32', optimizer: 'adam', ...over });

/** ResNet-6n+2 for CIFAR (He et al. 2016 §4.2) with projection shortcuts, counted from the paper's table. */
function resnetCifarParams(n: number, w: number): { params: number; bnChannels: number } {
  const conv = (cin: number, cout: number, k: number) => cin * cout * k * k;
  let params = conv(3, w, 3) + 2 * w;
  let bn = w;
  let cin = w;
  for (let stage = 0; stage < 3; stage++) {
    const c = w << stage;
    for (let i = 0; i < n; i++) {
      params += conv(cin, c, 3) + conv(c, c, 3) + 4 * c;
      bn += 2 * c;
      if (cin !== c) {
        params += conv(cin, c, 1) + 2 * c;
        bn += c;
      }
      cin = c;
    }
  }
  return { params: params + 4 * w * 10 + 10, bnChannels: bn };
}

describe('parameter counts', () => {
  it('cnn-mnist (LeNet-5) has 61,706 parameters and no buffers', () => {
    // conv1 6·1·5·5 + 6, conv2 16·6·5·5 + 16, fc1 400·120 + 120, fc2 120·84 + 84, fc3 84·10 + 10.
    const byHand = 6 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10;
    expect(byHand).toBe(61_706);
    expect(cnnCounts(cnnGraph(spec('cnn-mnist'), 1))).toEqual({ params: 61_706, buffers: 0 });
    expect(estimate(plan({ model: 'cnn-mnist' })).params).toBe(61_706);
  });

  it('cnn-cifar (ResNet-20) has 272,474 parameters (BatchNorm γ, β included) and 1,568 running-statistic values', () => {
    const want = resnetCifarParams(3, 16);
    expect(want.params).toBe(272_474);
    expect(cnnCounts(cnnGraph(spec('cnn-cifar'), 1))).toEqual({ params: 272_474, buffers: 2 * want.bnChannels });
    expect(2 * want.bnChannels).toBe(1568);
    expect(estimate(plan({ model: 'cnn-cifar' })).params).toBe(272_474);
  });

  it.each([
    [1, 4],
    [2, 8],
    [5, 16],
  ])('scaled cnn-cifar: %i blocks per stage, width %i', (blocks, width) => {
    const s = cnnSpecOf('cnn-cifar', { cnn: { blocks, width } })!;
    expect(s.name).toContain(`ResNet-${6 * blocks + 2}`);
    expect(cnnCounts(cnnGraph(s, 1)).params).toBe(resnetCifarParams(blocks, width).params);
  });
});

describe('the step program', () => {
  const cases = (['cnn-mnist', 'cnn-cifar'] as const).flatMap((id) => (['none', 'full', 'sqrt'] as const).map((checkpoint) => ({ id, checkpoint })));
  it.each(cases)('$id, checkpoint $checkpoint: every tensor made is freed once, nothing is used dead, the images stay', ({ id, checkpoint }) => {
    const g = cnnGraph(spec(id, id === 'cnn-cifar' ? { blocks: 2, width: 4 } : {}), 2);
    const prog = cnnProgram(g, checkpoint);
    const alive = new Set([CNN_IMAGES]);
    const grads = new Set<number>();
    for (const c of prog) {
      if (c.k === 'alloc') {
        expect(alive.has(c.t), g.tensors[c.t]!.name).toBe(false);
        alive.add(c.t);
      } else if (c.k === 'free') {
        expect(c.t).not.toBe(CNN_IMAGES);
        expect(alive.delete(c.t), g.tensors[c.t]!.name).toBe(true);
      } else if (c.k === 'allocGrad') grads.add(c.t);
      else if (c.k === 'freeGrad') expect(grads.delete(c.t)).toBe(true);
      else if (c.k === 'forward' || c.k === 'backward') {
        const n = g.nodes[c.node]!;
        const io = nodeIo(n);
        const used = c.k === 'forward' ? [...io.reads, ...io.writes] : io.needs;
        for (const t of used) expect(alive.has(t), `${c.k} ${n.name} uses ${g.tensors[t]!.name}`).toBe(true);
        if (c.k === 'backward') for (const t of [...io.gradIn, ...io.gradOut.filter((x) => x !== CNN_IMAGES)]) expect(grads.has(t), `${n.name} uses the gradient of ${g.tensors[t]!.name}`).toBe(true);
      }
    }
    expect([...alive]).toEqual([CNN_IMAGES]);
    expect(grads.size).toBe(0);
    const recomputes = prog.filter((c) => c.k === 'forward' && !c.updateRunning).length;
    expect(recomputes > 0).toBe(checkpoint !== 'none');
  });

  it('after forward, ResNet-20 keeps each unit’s input under full checkpointing, every ⌈√n⌉-th under √n, and far more under none', () => {
    const at = (checkpoint: 'none' | 'full' | 'sqrt') => {
      const lay = cnnLayout(spec('cnn-cifar'), plan({ checkpoint }));
      let live = 0;
      let endOfForward = 0;
      for (const c of lay.program) {
        if (c.k === 'alloc') live += lay.tensorBytes(c.t);
        if (c.k === 'free') live -= lay.tensorBytes(c.t);
        if (c.k === 'op' && c.phase !== 'forward' && endOfForward === 0) endOfForward = live;
      }
      return endOfForward;
    };
    const none = at('none');
    const full = at('full');
    const sqrt = at('sqrt');
    // Full: the outputs of the stem and the 9 blocks (the next units' inputs; the images are
    // inputs), the pooled features and the logits the head keeps. √n (segments of 4 of the 10
    // units): the inputs of units 4 and 8, the last block's output, and the head's.
    const out = (c: number, side: number) => 4 * 8 * c * side * side;
    const head = 4 * 8 * 64 + 4 * 8 * 10;
    expect(full).toBe(out(16, 32) * 4 + out(32, 16) * 3 + out(64, 8) * 3 + head);
    expect(sqrt).toBe(out(16, 32) + out(64, 8) * 2 + head);
    expect(full).toBeLessThan(none / 3);
  });
});

describe('estimates', () => {
  it('framework vramlab: activations fall with checkpointing for ResNet-20; amp halves the activations', () => {
    const a = (o: Partial<PlanConfig>) => estimate(plan({ model: 'cnn-cifar', framework: 'vramlab', ...o })).bytes.activations;
    expect(a({ checkpoint: 'full' })).toBeLessThan(a({ checkpoint: 'sqrt' }));
    expect(a({ checkpoint: 'sqrt' })).toBeLessThan(a({ checkpoint: 'none' }));
    // Everything but BatchNorm's f32 statistics (2·C per layer) is stored in 16 bits.
    expect(a({ precision: 'amp-bf16' })).toBeGreaterThan(a({}) / 2);
    expect(a({ precision: 'amp-bf16' })).toBeLessThan(0.501 * a({}));
  });

  it('framework vramlab names the engine ops on its timeline and refuses selective checkpointing in one line', () => {
    const p = estimate(plan({ model: 'cnn-mnist', framework: 'vramlab' }));
    expect(p.timeline.map((x) => x.op)).toContain('backward conv1');
    expect(() => estimate(plan({ model: 'cnn-mnist', framework: 'vramlab', checkpoint: 'selective' }))).toThrow(/CNNs have no attention/);
  });

  it('PyTorch: LeNet saves the ReLU outputs, the pool outputs the next layer reads, the logits, and int64 pool indices', () => {
    const units = cnnTorchUnits(spec('cnn-mnist'), plan({ batch: 1 }), dtypePlan('fp32', false), () => 0, () => 0);
    // relu1 6·28·28, pool1 6·14·14, relu2 16·10·10, pool2 400, relu3 120, relu4 84, logits 10 (fp32);
    // indices 8 B per pool output; the loss's log_softmax output 10 × 4 B.
    const saved = 4 * (4704 + 1176 + 1600 + 400 + 120 + 84 + 10) + 8 * (1176 + 400) + 40;
    expect(units.reduce((s, u) => s + u.saved, 0)).toBe(saved);
  });

  it('PyTorch: the cuDNN workspace is its own line; ResNet-20 at batch 128 under amp is far from any GPU limit', () => {
    const p = estimate(plan({ model: 'cnn-cifar', batch: 128, precision: 'amp-bf16' }));
    const ws = p.terms.find((t) => t.label === 'cuDNN convolution workspace')!;
    // The largest im2col: a 3×3 conv of 64 → 64 at 8×8 or 16 → 16 at 32×32: 128·32·32·16·9 × 2 B.
    expect(ws.bytes).toBe(128 * 32 * 32 * 16 * 9 * 2);
    expect(p.bytes.workspace).toBeGreaterThanOrEqual(ws.bytes);
    expect(p.peak.bytes).toBeLessThan(2 ** 30);
  });
});

describe('run config', () => {
  it('cnn-mnist has a fixed shape; cnn-cifar scales; the plan config carries the scale', () => {
    expect(() => parseCnnRunConfig({ ...DEFAULT_CNN_RUN, blocks: 1 })).toThrow(/cnn-mnist has a fixed shape/);
    const c = parseCnnRunConfig({ ...DEFAULT_CNN_RUN, model: 'cnn-cifar', blocks: 1, width: 8 });
    expect(planConfigOfCnn(c).cnn).toEqual({ blocks: 1, width: 8 });
    expect(estimate(planConfigOfCnn(c)).model.name).toBe('ResNet-8 (CIFAR-10, width 8)');
  });
});
