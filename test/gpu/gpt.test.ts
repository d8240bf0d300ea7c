import { describe, expect, it } from 'vitest';
import { GptTrainer } from '../../src/engine/graph/gpt.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
import { runGptTraining } from '../../src/engine/run.ts';
import { estimate } from '../../src/estimate/index.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';
import { GPT_NANO_RUN, type GptRunConfig, planConfigOfGpt } from '../../src/protocol/run.ts';
import { maxRelDiff } from '../helpers/grads.ts';
import { expectEstimateIsLedger, expectTimelineAlignedToOps } from '../helpers/op-timeline.ts';
import { useTrainerDevice, withLedger, stepGrads } from './fixture.ts';

const dev = useTrainerDevice('test.gpt');

const tiny = (over: Partial<GptRunConfig> = {}): GptRunConfig => ({ ...GPT_NANO_RUN, vocab: 32, dModel: 16, heads: 2, layers: 2, seq: 8, batch: 2, steps: 2, ...over });

/** One step's loss and gradients (fp16 loss scaling divided out). */
function gradsOf(cfg: GptRunConfig): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  return withLedger(dev.device, async (ledger) => {
    const t = await GptTrainer.create(dev.device, ledger, cfg, 1e-3);
    return stepGrads(t, ledger, 4 + 2 * cfg.layers, cfg.precision === 'amp-fp16' ? 65536 : 1);
  });
}


describe('GPT: the estimate equals the ledger', () => {
  const grid: Partial<GptRunConfig>[] = [];
  for (const precision of ['fp32', 'amp-bf16', 'amp-fp16'] as const) {
    for (const attention of ['eager', 'fused'] as const) {
      for (const checkpoint of ['none', 'full', 'selective', 'sqrt'] as const) {
        grid.push({ precision, attention, checkpoint, layers: checkpoint === 'sqrt' ? 4 : 2, optimizer: precision === 'fp32' ? 'adamw' : 'adam' });
      }
    }
  }
  it.each(grid)('%j: peak and every category, to the byte, also at every op boundary; the counted work is stepWork', async (over) => {
    expectEstimateIsLedger(await runGptTraining(dev.opened, tiny(over)));
  });
});

describe('GPT: gpt-nano (batch 1, seq 16), the lab’s lesson shape', () => {
  it.each(['none', 'selective', 'full', 'sqrt'] as const)('%s: the counted work is stepWork and the estimate matches the ledger at every op', async (checkpoint) => {
    const r = await runGptTraining(dev.opened, { ...GPT_NANO_RUN, batch: 1, seq: 16, steps: 2, checkpoint, attention: 'eager' });
    expect(r.work).toEqual(stepWork(r.config));
    expect(r.work.clears).toBe(0);
    expectTimelineAlignedToOps(r);
    expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
  });
});

describe('GPT: gradients', () => {
  it('eager and fused attention give the same loss and gradients', async () => {
    const eager = await gradsOf(tiny({ attention: 'eager', precision: 'fp32' }));
    const fused = await gradsOf(tiny({ attention: 'fused', precision: 'fp32' }));
    expect(Math.abs(eager.loss - fused.loss)).toBeLessThan(1e-5 * Math.abs(eager.loss));
    expect(eager.grads.size).toBe(2 + 12 * 2 + 2);
    expect(maxRelDiff(fused.grads, eager.grads)).toBeLessThan(1e-4);
  });

  it('every checkpointing mode gives the gradients of none', async () => {
    const cfg = tiny({ layers: 4, precision: 'fp32', attention: 'eager' });
    const none = await gradsOf(cfg);
    for (const checkpoint of ['full', 'selective', 'sqrt'] as const) {
      const other = await gradsOf({ ...cfg, checkpoint, attention: 'eager' });
      expect(other.loss).toBe(none.loss);
      expect(maxRelDiff(other.grads, none.grads), checkpoint).toBeLessThan(1e-6);
    }
  });
});

describe('GPT: learning and memory', () => {
  it('selective recompute drops exactly the eager probabilities from the activation peak', async () => {
    const cfg = tiny({ attention: 'eager', seq: 32, batch: 2, layers: 2, steps: 1 });
    const none = await runGptTraining(dev.opened, cfg);
    const sel = await runGptTraining(dev.opened, { ...cfg, checkpoint: 'selective' });
    const probs = 2 * 2 * 32 * 32 * 4; // batch · heads · seq² · 4 B, per block
    console.log(`selective: activations ${none.actual.bytes.activations} → ${sel.actual.bytes.activations} B (probabilities ${probs} B per block), recompute ${sel.timing.phasesMs.recompute.toFixed(2)} ms`);
    // Forward ends with both blocks' probabilities gone; backward brings one back at a time.
    const endOfForward = (r: typeof none) => r.timeline.filter((p) => p.label.startsWith('forward')).at(-1)!.bytes.activations;
    expect(endOfForward(none) - endOfForward(sel)).toBe(2 * probs);
    expect(sel.actual.bytes.activations).toBeLessThan(none.actual.bytes.activations);
    expect(sel.actual.peakBytes).toBe(sel.estimate.peak.bytes);
  });

  it('gpt-nano learns to count: the loss falls far below the uniform guess', async () => {
    const cfg: GptRunConfig = { ...GPT_NANO_RUN, batch: 2, steps: 16, lr: 1e-2 };
    const r = await runGptTraining(dev.opened, cfg);
    const uniform = Math.log(cfg.vocab);
    const last = r.loss[r.loss.length - 1]!;
    console.log(`gpt learns to count: loss ${r.loss[0]!.toFixed(3)} → ${last.toFixed(3)} over ${cfg.steps} steps (uniform guess ${uniform.toFixed(3)}); ${r.timing.stepMs.toFixed(1)} ms/step`);
    expect(r.loss[0]!).toBeGreaterThan(0.8 * uniform);
    expect(last).toBeLessThan(0.25 * uniform);
  });

  it('the device holds at most 1.15× the peak plus the gradient arena: released buffers are reused within the step', async () => {
    const r = await runGptTraining(dev.opened, { ...GPT_NANO_RUN, batch: 2, seq: 32, steps: 2 });
    expect(r.actual.physicalPeakBytes).toBeGreaterThanOrEqual(r.actual.peakBytes);
    // The gradients live in their own arena (one optimizer dispatch over all of them), whose bytes
    // the pool cannot lend to forward's activations: at most their bytes on top.
    expect(r.actual.physicalPeakBytes).toBeLessThanOrEqual(1.15 * r.actual.peakBytes + r.estimate.bytes.gradients);
  });

  it('eager attention keeps s² probabilities that grow 4× from seq 64 to 128; fused keeps none; activations follow the estimate', async () => {
    const probsBytes = async (seq: number, attention: 'eager' | 'fused') => {
      const cfg = tiny({ seq, batch: 1, layers: 1, dModel: 16, heads: 2, vocab: 32, attention, steps: 1 });
      const ledger = new Ledger(dev.device);
      try {
        const t = await GptTrainer.create(dev.device, ledger, cfg, 1e-3);
        const rec = await StepRecorder.create(dev.device, ledger, 6, false);
        await t.step(rec);
        await rec.finish();
        rec.destroy();
        const probs = ledger.entries().filter((e) => e.name.endsWith('attn.probs')).reduce((a, e) => Math.max(a, e.requested), 0);
        return probs;
      } finally {
        ledger.dispose();
      }
    };
    const [e64, e128, f128] = [await probsBytes(64, 'eager'), await probsBytes(128, 'eager'), await probsBytes(128, 'fused')];
    const act = async (seq: number, attention: 'eager' | 'fused') => {
      const r = await runGptTraining(dev.opened, tiny({ seq, batch: 1, layers: 1, attention, steps: 1 }));
      return { measured: r.actual.bytes.activations, estimated: r.estimate.bytes.activations };
    };
    const points = [await act(32, 'eager'), await act(64, 'eager'), await act(128, 'eager'), await act(128, 'fused')];
    console.log(
      `attention probabilities: seq 64 ${e64} B, seq 128 ${e128} B (×${(e128 / e64).toFixed(2)}), fused 128: ${f128} B; ` +
        `activations measured/estimated: eager 32 ${points[0]!.measured}/${points[0]!.estimated}, 64 ${points[1]!.measured}/${points[1]!.estimated}, 128 ${points[2]!.measured}/${points[2]!.estimated}, fused 128 ${points[3]!.measured}/${points[3]!.estimated}`,
    );
    expect(e128).toBe(4 * e64);
    expect(f128).toBe(0);
    for (const p of points) expect(p.measured).toBe(p.estimated);
  });

  it('the planner sees the same s² term for eager attention', () => {
    const at = (seq: number) => estimate(planConfigOfGpt(tiny({ seq, batch: 1, layers: 1, attention: 'eager' }))).bytes.activations;
    const fused = (seq: number) => estimate(planConfigOfGpt(tiny({ seq, batch: 1, layers: 1, attention: 'fused' }))).bytes.activations;
    // The difference eager − fused is the probabilities minus the row statistics.
    const d = (seq: number) => at(seq) - fused(seq) + 4 * 2 * seq;
    expect(d(256) / d(128)).toBe(4);
  });
});
