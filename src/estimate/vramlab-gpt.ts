/**
 * What this project's engine allocates for a GPT-style decoder (the gpt2 family: learned
 * positions, pre-LayerNorm blocks, GELU(tanh) MLP, LM head tied to the token embedding, no
 * dropout), buffer by buffer. The engine (src/engine/graph/gpt.ts) follows this layout and
 * its ledger is checked against it. rows = batch·seq; `a` = activation storage bytes
 * (4, or 2 packed under amp); gradients of activations are fp32.
 *
 * - persistent: fp32 parameters (master weights under amp) and, under amp, packed 16-bit
 *   copies of wte, Wqkv, Wo, W1, W2; optimizer states; token ids and targets (u32 each);
 *   the workspace of the mlp engine (hyper-parameters, loss scale, loss).
 * - embeddings: x0 = wte[ids] + wpe[pos] (rows×d).
 * - block l keeps its input x, y1 = LN1(x) with mean/rstd (fp32 per row), qkv (rows×3d),
 *   the attention's probabilities (eager: batch·heads·seq² values) or per-row logsumexp
 *   (fused: fp32 batch·heads·seq), its output (rows×d), x1 = x + out·Wo + bo, y2 = LN2(x1)
 *   with mean/rstd, pre = y2·W1 + b1 and act = gelu(pre) (rows×4d); the projection and
 *   the MLP output live only until they are added to the residual. Its output x2 = x1 + m.
 * - head: yf = LNf(x_L) with mean/rstd, logits = yf·wteᵀ (rows×V); the loss (start of
 *   backward) creates dLogits (fp32 rows×V); the head's backward also holds dYf and dX_L
 *   (fp32 rows×d) before freeing dLogits.
 * - block backward, in order: gradients of the block; dPre (fp32 rows×4d) and dY2 (rows×d)
 *   beside the incoming dX2 — the block's largest moment; then dX1, the attention's dOut and
 *   dQkv, dY1 and dX, each freed as soon as used.
 * - checkpointing: full keeps each block's input and recomputes the block in backward; √n
 *   keeps every ⌈√L⌉-th block's input and recomputes a segment at a time; selective drops
 *   only the eager attention's probabilities and recomputes them before the block's backward.
 */
import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import type { Unit } from './schedule.ts';
import type { TransformerSpec } from './specs.ts';
import { ENGINE_OP, ENGINE_WORKSPACE_BYTES, packed16Bytes, storageBytes } from './vramlab.ts';

export interface EngineGptLayout {
  units: Unit[];
  weightsBytes: number;
  masterBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  inputBytes: number;
  workspaceBytes: number;
}

/** The engine's shapes of a gpt2-family spec. */
export function gptShape(s: TransformerSpec) {
  return { vocab: s.vocab, d: s.hidden, heads: s.heads, headDim: s.headDim, layers: s.layers, inner: s.intermediate, maxPos: s.maxPositions };
}

export function checkEngineGpt(s: TransformerSpec, cfg: PlanConfig): void {
  const fix = 'or use --framework pytorch for a PyTorch estimate';
  if (s.family !== 'gpt2' || s.head !== 'causal-lm' || !s.tiedEmbeddings) {
    throw new EstimateError(`framework vramlab: the engine runs GPT-style decoders (gpt2 family, tied LM head); ${s.name} is not one, ${fix}`);
  }
  if (cfg.seq > s.maxPositions) throw new EstimateError(`framework vramlab: seq ${cfg.seq} is over the model's ${s.maxPositions} positions; lower --seq`);
}

export function engineGptLayout(s: TransformerSpec, cfg: PlanConfig): EngineGptLayout {
  const { vocab: V, d, heads: H, layers: L, inner: I, maxPos } = gptShape(s);
  const B = cfg.batch;
  const S = cfg.seq;
  const rows = B * S;
  const amp = cfg.precision !== 'fp32';
  const act = (n: number) => storageBytes(n, amp);
  const stats = 2 * 4 * rows; // mean and rstd, fp32 per row
  const G = 4 * rows * d;
  const attnSaved = cfg.attention === 'eager' ? act(B * H * S * S) : 4 * B * H * S;

  const blockParams = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * I + I) + (I * d + d);
  const units: Unit[] = [];
  const base = (u: Partial<Unit> & Pick<Unit, 'name'>): Unit => ({
    category: 'activations',
    saved: 0,
    selective: 0,
    checkpointInput: 0,
    fwdTransient: 0,
    bwdTransient: 0,
    castBytes: 0,
    gradBytes: 0,
    recomputable: false,
    ...u,
  });
  // Embeddings: x0 is created here and kept by block 0 as its input. In backward the
  // incoming dX0 is all it holds; wte's gradient already exists (tied head), wpe's is new.
  units.push(
    base({
      name: 'embeddings',
      fwdTransient: act(rows * d),
      bwdTransient: G,
      gradBytes: 4 * maxPos * d,
      ops: { forward: ENGINE_OP.forwardEmbeddings, backward: ENGINE_OP.backwardEmbeddings, input: 0, output: act(rows * d), gradOut: 0 },
    }),
  );
  for (let l = 0; l < L; l++) {
    const input = act(rows * d);
    const saved =
      input + // x
      act(rows * d) + stats + // y1, LN1 stats
      act(rows * 3 * d) + // qkv
      attnSaved +
      act(rows * d) + // attention output
      act(rows * d) + // x1
      act(rows * d) + stats + // y2, LN2 stats
      2 * act(rows * I); // pre, act
    units.push(
      base({
        name: `block ${l}`,
        saved,
        // Selective recompute drops the eager probabilities (fused attention keeps none).
        selective: cfg.attention === 'eager' ? attnSaved : 0,
        checkpointInput: input,
        // The MLP output and x2, made at the end of the block's forward.
        fwdTransient: 2 * act(rows * d),
        // The largest moment of the sequence: incoming dX2 + dPre + dY2, or later dX1 + dY1 +
        // dQkv (a wide qkv over a narrow MLP), or dX1 + dY1 + dX.
        bwdTransient: Math.max(2 * G + 4 * rows * I, 2 * G + 3 * G, 3 * G),
        gradBytes: 4 * blockParams,
        recomputable: true,
        ops: {
          forward: ENGINE_OP.forwardBlock(l),
          recompute: ENGINE_OP.recomputeBlock(l),
          selective: ENGINE_OP.recomputeAttention(l),
          backward: ENGINE_OP.backwardBlock(l),
          input,
          output: act(rows * d), // x2
          gradOut: G, // dX
        },
      }),
    );
  }
  units.push(
    base({
      name: 'final norm, LM head and loss',
      saved: act(rows * d) /* x_L */ + act(rows * d) + stats /* yf */ + act(rows * V) /* logits */,
      bwdTransient: 4 * rows * V + G + G, // dLogits, dYf, dX_L
      gradBytes: 4 * (V * d + 2 * d), // the tied embedding's gradient starts here; LNf
      ops: { forward: ENGINE_OP.forwardHead, backward: ENGINE_OP.lossAndHeadBackward, input: act(rows * d), output: 0, gradOut: G },
    }),
  );
  const params = V * d + maxPos * d + L * blockParams + 2 * d;
  const matmulCopies = amp ? packed16Bytes(V * d) + L * (packed16Bytes(d * 3 * d) + packed16Bytes(d * d) + packed16Bytes(d * I) + packed16Bytes(I * d)) : 0;
  const states = cfg.optimizer === 'sgd' ? 0 : cfg.optimizer === 'sgd-momentum' ? 1 : 2;
  return {
    units,
    weightsBytes: amp ? matmulCopies : 4 * params,
    masterBytes: amp ? 4 * params : 0,
    gradBytes: 4 * params,
    optimizerBytes: states * 4 * params,
    inputBytes: 2 * 4 * rows,
    workspaceBytes: ENGINE_WORKSPACE_BYTES,
  };
}
