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
 * - LoRA (rank r > 0; engine/graph/lora.ts): every base parameter is frozen, so it has no
 *   gradient, no optimizer state and no master copy: fp32 'weights', except the four block
 *   projections Wqkv, Wo, W1, W2, stored packed 16-bit under amp or NF4 under QLoRA
 *   (codes ⌈n/8⌉·4 B + absmax ⌈n/64⌉·4 B). Each projection gets adapters A (in×r) and
 *   B (r×out), fp32 'weights' read as they are (no 16-bit copy), the only tensors with
 *   gradients and optimizer states. Forward keeps, beside everything above, s·(x·A) of each
 *   projection (rows×r, `<proj>.lora_xa`), and briefly holds the adapter's product (fp32
 *   rows×out, `<proj>.lora_xaB`) before adding it to the base's. Backward holds per
 *   projection d(x·A) (fp32 rows×r) and the adapter's part of dX (fp32 rows×in) until it is
 *   added. The head and the embeddings compute no weight gradients. The GELU is applied
 *   after the adapter's product is added (its own kernel), likewise its backward.
 */
import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import type { Unit } from './schedule.ts';
import type { TransformerSpec } from './specs.ts';
import { ENGINE_OP, ENGINE_WORKSPACE_BYTES, nf4AbsmaxBytes, nf4CodeBytes, packed16Bytes, storageBytes } from './vramlab.ts';

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
  if (cfg.loraRank > s.hidden) throw new EstimateError(`framework vramlab: LoRA rank ${cfg.loraRank} is over the model's width ${s.hidden}; lower --lora-rank`);
}

/** Largest prefix sum of a sequence of allocations (+) and releases (−). */
function peakOf(events: number[]): number {
  let live = 0;
  let most = 0;
  for (const e of events) {
    live += e;
    most = Math.max(most, live);
  }
  return most;
}

/** The block projections LoRA adapts, as [in, out], in the engine's order (qkv, proj, fc1, fc2). */
export function gptLoraShapes(d: number, inner: number): [number, number][] {
  return [
    [d, 3 * d],
    [d, d],
    [d, inner],
    [inner, d],
  ];
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
      gradBytes: cfg.loraRank > 0 ? 0 : 4 * maxPos * d,
      ops: { forward: ENGINE_OP.forwardEmbeddings, backward: ENGINE_OP.backwardEmbeddings, input: 0, output: act(rows * d), gradOut: 0 },
    }),
  );
  const r = cfg.loraRank;
  const lora = r > 0;
  const shapes = gptLoraShapes(d, I);
  const adapterParams = shapes.reduce((a, [i, o]) => a + i * r + r * o, 0);
  const xa = act(rows * r); // s·(x·A) of one projection
  const R = 4 * rows * r; // d(x·A), fp32
  for (let l = 0; l < L; l++) {
    const input = act(rows * d);
    const stats2 = stats / 2;
    // The block's forward as the engine allocates (+) and releases (−), its input first.
    const ev: number[] = [input, act(rows * d), stats2, stats2, act(rows * 3 * d)];
    if (lora) ev.push(xa, 4 * rows * 3 * d, -4 * rows * 3 * d);
    ev.push(act(rows * d), attnSaved, act(rows * d)); // out, probs/lse, proj
    if (lora) ev.push(xa, 4 * rows * d, -4 * rows * d);
    ev.push(act(rows * d), -act(rows * d)); // x1, proj freed
    ev.push(act(rows * d), stats2, stats2, act(rows * I), act(rows * I)); // y2, stats, pre, act
    if (lora) ev.push(xa, 4 * rows * I, -4 * rows * I);
    const saved =
      input + // x
      act(rows * d) + stats + // y1, LN1 stats
      act(rows * 3 * d) + // qkv
      attnSaved +
      act(rows * d) + // attention output
      act(rows * d) + // x1
      act(rows * d) + stats + // y2, LN2 stats
      2 * act(rows * I) + // pre, act
      (lora ? 4 * xa : 0);
    // The last block of a recomputed segment stops here (LoRA: after fc2's s·(x·A)).
    const lastRecomputeTransient = lora ? peakOf([...ev, xa]) - saved : 0;
    ev.push(act(rows * d)); // m
    if (lora) ev.push(xa, 4 * rows * d, -4 * rows * d);
    ev.push(act(rows * d)); // x2
    const fwdTransient = peakOf(ev) - saved;
    // Backward, activation gradients (all fp32), from the incoming dX2.
    const P = 4 * rows * I;
    const bwdTransient = lora
      ? peakOf([G, P, R, P, -P, -R, G, R, G, -G, -R, -P, G, -G, -G, G, R, G, -G, -R, 3 * G, -G, G, R, G, -G, -R, -3 * G, G])
      : Math.max(2 * G + 4 * rows * I, 2 * G + 3 * G, 3 * G);
    units.push(
      base({
        name: `block ${l}`,
        saved,
        // Selective recompute drops the eager probabilities (fused attention keeps none).
        selective: cfg.attention === 'eager' ? attnSaved : 0,
        checkpointInput: input,
        // Beyond saved: the MLP output and x2, made at the end of the block's forward (and
        // under LoRA the adapters' products, held one at a time).
        fwdTransient,
        // The largest moment of the sequence: incoming dX2 + dPre + dY2, or later dX1 + dY1 +
        // dQkv (a wide qkv over a narrow MLP), or dX1 + dY1 + dX; under LoRA with each
        // projection's d(x·A) and the adapter's part of its dX.
        bwdTransient,
        gradBytes: lora ? 4 * adapterParams : 4 * blockParams,
        recomputable: true,
        ops: {
          forward: ENGINE_OP.forwardBlock(l),
          recompute: ENGINE_OP.recomputeBlock(l),
          selective: ENGINE_OP.recomputeAttention(l),
          backward: ENGINE_OP.backwardBlock(l),
          input,
          output: act(rows * d), // x2
          gradOut: G, // dX
          lastRecomputeTransient,
        },
      }),
    );
  }
  units.push(
    base({
      name: 'final norm, LM head and loss',
      saved: act(rows * d) /* x_L */ + act(rows * d) + stats /* yf */ + act(rows * V) /* logits */,
      bwdTransient: 4 * rows * V + G + G, // dLogits, dYf, dX_L
      gradBytes: lora ? 0 : 4 * (V * d + 2 * d), // the tied embedding's gradient starts here; LNf
      ops: { forward: ENGINE_OP.forwardHead, backward: ENGINE_OP.lossAndHeadBackward, input: act(rows * d), output: 0, gradOut: G },
    }),
  );
  const params = V * d + maxPos * d + L * blockParams + 2 * d;
  const states = cfg.optimizer === 'sgd' ? 0 : cfg.optimizer === 'sgd-momentum' ? 1 : 2;
  const common = { units, inputBytes: 2 * 4 * rows, workspaceBytes: ENGINE_WORKSPACE_BYTES };
  if (lora) {
    // The frozen base: the projections packed 16-bit (amp), NF4 (QLoRA) or fp32, the rest fp32.
    const matrices = shapes.map(([i, o]) => i * o);
    const matrixBytes = (n: number) => (cfg.qlora ? nf4CodeBytes(n) + nf4AbsmaxBytes(n) : amp ? packed16Bytes(n) : 4 * n);
    const projParams = matrices.reduce((a, n) => a + n, 0);
    const baseBytes = 4 * (params - L * projParams) + L * matrices.reduce((a, n) => a + matrixBytes(n), 0);
    const adapters = 4 * L * adapterParams;
    return { ...common, weightsBytes: baseBytes + adapters, masterBytes: 0, gradBytes: adapters, optimizerBytes: states * adapters };
  }
  const matmulCopies = amp ? packed16Bytes(V * d) + L * (packed16Bytes(d * 3 * d) + packed16Bytes(d * d) + packed16Bytes(d * I) + packed16Bytes(I * d)) : 0;
  return {
    ...common,
    weightsBytes: amp ? matmulCopies : 4 * params,
    masterBytes: amp ? 4 * params : 0,
    gradBytes: 4 * params,
    optimizerBytes: states * 4 * params,
  };
}
