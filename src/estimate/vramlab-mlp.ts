/**
 * The engine's `mlp` model as one ModelDescription (describe.ts): the trainer
 * (src/engine/graph/mlp.ts) allocates from it and the planner's framework-vramlab estimate
 * reads it.
 *
 * L blocks of Linear(d→hidden)+bias, activation, Linear(hidden→d)+bias; loss = mean of squares
 * of the last output. Weights stored in × out: W1 d×hidden, W2 hidden×d, fp32 (under amp the
 * masters of packed 16-bit copies). `a` = activation storage (4 B, or 2 B packed under amp);
 * activation gradients fp32.
 *
 * - input x: batch×d in the activation storage, category inputs, for the whole run;
 * - block l keeps its input (the previous block's output; block 0's is x, an input), pre =
 *   in·W1 + b1 and act = f(pre) (batch×hidden each), and makes its output out (batch×d);
 * - the loss (no forward op of its own) keeps the last output; backward starts with it: it
 *   creates dOut of the last block (fp32);
 * - block l's backward: its gradients, then dPre (dOut·W2ᵀ ⊙ f'(pre), batch×hidden) and, for
 *   l > 0, dIn (batch×d) beside the incoming dOut; dIn becomes the next dOut.
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { RunConfig } from '../protocol/run.ts';
import type { ModelDescription, ParamDesc, TensorDesc, UnitDesc } from './describe.ts';
import type { MlpSpec } from './specs.ts';
import { ENGINE_OP, storageBytes } from './vramlab.ts';

export interface MlpShape {
  d: number;
  hidden: number;
  layers: number;
}

/** Parameter names, shared by the engine and the description. */
export const mlpParamName = (l: number) => ({ W1: `block${l}.W1`, b1: `block${l}.b1`, W2: `block${l}.W2`, b2: `block${l}.b2` });

/** The ledger name of block l's output (the next block's input; the last one's is the loss's). */
export const mlpOutputName = (l: number) => `block${l}.out`;

export function mlpDescription(sh: MlpShape, step: { batch: number; amp: boolean }): ModelDescription {
  const { d, hidden: H, layers: L } = sh;
  const B = step.batch;
  const a = (n: number): TensorDesc => ({ bytes: storageBytes(n, step.amp), category: 'activations' });
  const g = (n: number): TensorDesc => ({ bytes: 4 * n, category: 'activation-grads' });
  // PyTorch's Linear init: U(−1/√fan_in, 1/√fan_in) for weights and biases.
  const linear = (name: string, n: number, fanIn: number, matmul: boolean): ParamDesc => ({ name, n, matmul, init: { kind: 'bound', bound: 1 / Math.sqrt(fanIn) } });
  const blocks = Array.from({ length: L }, (_, l) => {
    const n = mlpParamName(l);
    return [linear(n.W1, d * H, d, true), linear(n.b1, H, d, false), linear(n.W2, H * d, H, true), linear(n.b2, d, H, false)];
  });
  const units: UnitDesc[] = blocks.map((grads, l) => {
    const t = (name: string) => `block${l}.${name}`;
    // Block 0 reads x, counted as inputs; the others keep the previous output.
    const input = l === 0 ? [] : [mlpOutputName(l - 1)];
    const tensors: Record<string, TensorDesc> = {
      ...(l === 0 ? {} : { [mlpOutputName(l - 1)]: a(B * d) }),
      [t('pre')]: a(B * H),
      [t('act')]: a(B * H),
      [mlpOutputName(l)]: a(B * d),
      [l === L - 1 ? 'loss.dOut' : `block${l + 1}.dIn`]: g(B * d),
      [t('dPre')]: g(B * H),
      ...(l === 0 ? {} : { [t('dIn')]: g(B * d) }),
    };
    const saved = [...input, t('pre'), t('act')];
    const dOut = l === L - 1 ? 'loss.dOut' : `block${l + 1}.dIn`;
    return {
      name: `block ${l}`,
      recomputable: true,
      grads,
      tensors,
      saved,
      selective: [],
      forwardMoments: [[...saved, mlpOutputName(l)]],
      backwardMoments: [[dOut, t('dPre'), ...(l === 0 ? [] : [t('dIn')])]],
      ops: {
        forward: ENGINE_OP.forwardBlock(l),
        recompute: ENGINE_OP.recomputeBlock(l),
        backward: ENGINE_OP.backwardBlock(l),
        input: l === 0 ? 0 : a(B * d).bytes,
        output: a(B * d).bytes,
        gradOut: l === 0 ? 0 : g(B * d).bytes,
      },
    };
  });
  const last = mlpOutputName(L - 1);
  units.push({
    name: 'loss',
    recomputable: false,
    grads: [],
    tensors: { [last]: a(B * d), 'loss.dOut': g(B * d) },
    saved: [last],
    selective: [],
    forwardMoments: [[last]],
    backwardMoments: [['loss.dOut']],
    // No forward op of its own: the loss op starts backward, reading the last output.
    ops: { forward: null, backward: ENGINE_OP.loss, input: a(B * d).bytes, output: 0, gradOut: g(B * d).bytes },
  });
  return { params: blocks.flat(), units, inputBytes: a(B * d).bytes };
}

/** The description of a planner configuration of the mlp. */
export function mlpDescriptionOf(s: MlpSpec, cfg: PlanConfig): ModelDescription {
  return mlpDescription({ d: s.d, hidden: s.hidden, layers: s.layers }, { batch: cfg.batch, amp: cfg.precision !== 'fp32' });
}

/** The description of an mlp run. */
export function mlpDescriptionOfRun(cfg: RunConfig): ModelDescription {
  return mlpDescription({ d: cfg.d, hidden: cfg.hidden, layers: cfg.layers }, { batch: cfg.batch, amp: cfg.precision !== 'fp32' });
}
