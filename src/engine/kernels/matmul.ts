/**
 * Matmul family: out[M×N] = A[M×K] · B[K×N] (+ bias[N]) and an optional epilogue, row-major,
 * operands and output in any Storage (computed in f32). Transposed operands are read in place
 * (Xᵀ·dY, dY·Wᵀ need no copy). The WGSL is shaders/matmul.wgsl; shapes, storages and flags
 * are override constants, so each (shape, storages, flags) is one cached pipeline.
 *
 * Two kernels compute it. The tiled one (the default) gives each workgroup a BM×BN tile of out
 * and each invocation a TM×TN register tile, staging TK-deep slices of A and B in workgroup
 * memory; its tile sizes are a MatmulTiles, chosen per device (tuneMatmul measures the
 * candidates; without tuning, a default by adapter) and shrunk for small shapes. The
 * reference kernel computes one output word (two elements) per invocation, untiled: it is the
 * one every other is tested against, and it takes the one case the tiled kernel cannot, a
 * packed 16-bit output with an odd N (its words straddle rows).
 *
 * Split-K: an output of few tiles with a long K (a weight gradient Xᵀ·dY, K = batch·seq) leaves
 * most of a GPU idle. Given an f32 workspace by the caller (kernels create no buffers), the
 * tiled kernel then computes S k-slices in S grids of workgroups into it and a second dispatch
 * adds the slices in a fixed order and applies the epilogue (splitKPlan decides S).
 */
import matmulWgsl from '../../../shaders/matmul.wgsl?raw';
import {
  STORAGE_CODE,
  cachedPipeline,
  checkBuffer,
  checkCount,
  recordPass,
  storageBytes,
  withStorageWgsl,
  type KernelCache,
  type Storage,
} from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

/** relu, or GELU's tanh approximation (GPT-2 NewGELU, PyTorch GELU(approximate='tanh')). */
export const ACTIVATION_FNS = ['relu', 'gelu'] as const;
export type ActivationFn = (typeof ACTIVATION_FNS)[number];

export interface MatmulArgs {
  M: number;
  N: number;
  K: number;
  a: GPUBuffer;
  aStorage: Storage;
  /** A stored M×K, or K×M when true. */
  aTransposed: boolean;
  b: GPUBuffer;
  bStorage: Storage;
  /** B stored K×N, or N×K when true. */
  bTransposed: boolean;
  out: GPUBuffer;
  outStorage: Storage;
  /** f32, N values, added before the epilogue (not allowed with 'activation-grad'). */
  bias?: GPUBuffer;
  /**
   * activation: out = pre = A·B + bias; act = fn(pre), from the f32 value.
   * activation-grad: out = (A·B) ⊙ fn'(pre), pre as stored by the forward.
   */
  epilogue?:
    | { kind: 'activation'; fn: ActivationFn; act: GPUBuffer; actStorage: Storage }
    | { kind: 'activation-grad'; fn: ActivationFn; pre: GPUBuffer; preStorage: Storage };
  label?: string;
  /** 'tiled' (the default; falls back to 'reference' where it cannot run) or 'reference'. */
  kernel?: MatmulKernel;
  /**
   * Split-K with the tiled kernel: 'auto' (the default) splits where splitKPlan says so for
   * the device and a workspace is given; 'off' never; a number S ≥ 1 forces S slices (fewer
   * when K is short: K is cut in multiples of the tile depth), 1 meaning unsplit.
   */
  splitK?: 'auto' | 'off' | number;
  /**
   * f32 scratch for split-K, owned by the caller: at least splitKWorkspaceBytes of the plan
   * (matmulSplitK says what a call will use). Without one, the matmul is not split.
   */
  splitKWorkspace?: GPUBuffer;
  /** Prefetch the next k-slice into registers in the tiled kernel; default per device (matmulPrefetch). */
  prefetch?: boolean;
}

export const MATMUL_KERNELS = ['tiled', 'reference'] as const;
export type MatmulKernel = (typeof MATMUL_KERNELS)[number];

/**
 * Tile sizes of the tiled kernel: a workgroup of wgx × wgy invocations computes a
 * (wgy·tm) × (wgx·tn) tile of out, each invocation tm × tn of it, staging tk-deep slices.
 */
export interface MatmulTiles {
  tm: number;
  tn: number;
  wgx: number;
  wgy: number;
  tk: number;
}

/** The tile sizes tuneMatmul tries, smallest tile first. */
export const MATMUL_TILE_CANDIDATES: readonly MatmulTiles[] = [
  { tm: 4, tn: 4, wgx: 8, wgy: 8, tk: 8 },
  { tm: 4, tn: 4, wgx: 8, wgy: 8, tk: 32 },
  { tm: 4, tn: 4, wgx: 16, wgy: 16, tk: 8 },
  { tm: 8, tn: 4, wgx: 16, wgy: 16, tk: 8 },
  { tm: 8, tn: 8, wgx: 16, wgy: 16, tk: 8 },
  { tm: 8, tn: 8, wgx: 16, wgy: 16, tk: 16 },
];

export function tileRows(t: MatmulTiles): number {
  return t.wgy * t.tm;
}

export function tileCols(t: MatmulTiles): number {
  return t.wgx * t.tn;
}

/** Why tiles cannot run on device, or null when they can. */
export function tilesProblem(device: GPUDevice, t: MatmulTiles): string | null {
  const l = device.limits;
  for (const [k, v] of Object.entries(t)) if (!Number.isInteger(v) || v < 1) return `${k} must be a positive integer, got ${v}`;
  if (t.tn % 4 !== 0) return `tn must be a multiple of 4 (B is read as vec4s), got ${t.tn}`;
  if (t.tk % 4 !== 0) return `tk must be a multiple of 4 (A is staged as vec4s along k), got ${t.tk}`;
  if (t.tm > 16 || t.tn > 16) return `tm and tn must be at most 16, got ${t.tm}×${t.tn}`;
  if (t.wgx * t.wgy > l.maxComputeInvocationsPerWorkgroup) return `${t.wgx}×${t.wgy} invocations exceed maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}`;
  if (t.wgx > l.maxComputeWorkgroupSizeX || t.wgy > l.maxComputeWorkgroupSizeY) return `workgroup ${t.wgx}×${t.wgy} exceeds maxComputeWorkgroupSize ${l.maxComputeWorkgroupSizeX}×${l.maxComputeWorkgroupSizeY}`;
  const bytes = 4 * t.tk * (tileRows(t) + tileCols(t));
  if (bytes > l.maxComputeWorkgroupStorageSize) return `${bytes} B of staged tiles exceed maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}`;
  return null;
}

const chosenTiles = new WeakMap<GPUDevice, MatmulTiles>();
const runnable = new WeakMap<GPUDevice, ReadonlySet<MatmulTiles>>();

/** The candidates the device's limits allow, worked out once per device (matmuls ask per dispatch). */
function runnableCandidates(device: GPUDevice): ReadonlySet<MatmulTiles> {
  let set = runnable.get(device);
  if (!set) {
    set = new Set(MATMUL_TILE_CANDIDATES.filter((t) => tilesProblem(device, t) === null));
    runnable.set(device, set);
  }
  return set;
}

/** Makes t the tiles of every later matmul on device (what tuneMatmul found, or a cached choice). */
export function setMatmulTiles(device: GPUDevice, t: MatmulTiles): void {
  const problem = tilesProblem(device, t);
  if (problem) throw new RangeError(`Matmul tiles ${JSON.stringify(t)}: ${problem}`);
  chosenTiles.set(device, { ...t });
}

/**
 * The tiles a CPU (fallback) adapter starts with: on SwiftShader (2 cores, 256³) the 32×32 tile
 * compiled in ≈ 180 ms and ran in ≈ 110 ms, where 128×128 (8×8 per invocation) took ≈ 620 ms
 * to compile for ≈ 85 ms of run: short lab runs and tests pay the compile for every shape.
 */
export const FALLBACK_MATMUL_TILES: MatmulTiles = MATMUL_TILE_CANDIDATES[0]!;

/**
 * The tiles for a large matmul on device: the ones set, else the largest candidate the
 * device's limits allow, from the 128×128 tile with tk 8 down (what fast WebGPU matmuls use on
 * discrete GPUs; the tk-16 variant after it is for tuning to pick).
 */
export function matmulTiles(device: GPUDevice): MatmulTiles {
  const set = chosenTiles.get(device);
  if (set) return set;
  const ok = runnableCandidates(device);
  for (let i = MATMUL_TILE_CANDIDATES.length - 2; i >= 0; i--) {
    const t = MATMUL_TILE_CANDIDATES[i]!;
    if (ok.has(t)) return t;
  }
  return MATMUL_TILE_CANDIDATES[0]!;
}

/**
 * The tiles for an M×N output: the device's, or for a small output the largest smaller
 * candidate whose tile is no taller than M and no wider than N (rounded up to 32, the smallest
 * tile), so small matmuls do not compute mostly padding.
 */
export function matmulTilesFor(device: GPUDevice, M: number, N: number): MatmulTiles {
  const base = matmulTiles(device);
  const rows = Math.max(32, M);
  const cols = Math.max(32, N);
  if (tileRows(base) <= rows && tileCols(base) <= cols) return base;
  const ok = runnableCandidates(device);
  let best = MATMUL_TILE_CANDIDATES[0]!;
  for (const t of MATMUL_TILE_CANDIDATES) {
    if (tileRows(t) > tileRows(base) || tileCols(t) > tileCols(base) || tileRows(t) > rows || tileCols(t) > cols || !ok.has(t)) continue;
    if (tileRows(t) * tileCols(t) > tileRows(best) * tileCols(best)) best = t;
  }
  return best;
}

/**
 * Per-device choices of the tiled kernel beyond its tiles. prefetch: load the next k-slice into
 * registers before computing on the current one (hides global-load latency on GPUs; on
 * SwiftShader, where a workgroup's loads and arithmetic run on one core in turn, the registers
 * are only extra copies, so CPU adapters start with it off). fillWorkgroups: how many
 * workgroups an output grid needs to keep the device busy, below which splitKPlan splits K.
 */
export interface MatmulTraits {
  prefetch: boolean;
  fillWorkgroups: number;
}

/**
 * A GPU's: WebGPU does not say how many compute units there are, so 128 workgroups, about
 * one or two per streaming multiprocessor (SM) of current discrete GPUs (80–144 SMs) and
 * several per core of integrated ones.
 */
export const GPU_MATMUL_TRAITS: MatmulTraits = { prefetch: true, fillWorkgroups: 128 };

/** A CPU (fallback) adapter's: one workgroup per core (SwiftShader runs a workgroup per thread). */
export function fallbackMatmulTraits(cores: number): MatmulTraits {
  return { prefetch: false, fillWorkgroups: Math.max(1, Math.floor(cores)) };
}

const chosenTraits = new WeakMap<GPUDevice, MatmulTraits>();

export function setMatmulTraits(device: GPUDevice, t: MatmulTraits): void {
  if (!Number.isInteger(t.fillWorkgroups) || t.fillWorkgroups < 1) throw new RangeError(`Matmul: fillWorkgroups must be a positive integer, got ${t.fillWorkgroups}`);
  chosenTraits.set(device, { ...t });
}

export function matmulTraits(device: GPUDevice): MatmulTraits {
  return chosenTraits.get(device) ?? GPU_MATMUL_TRAITS;
}

/**
 * Register slots per invocation the prefetching kernel needs for tiles t (A's and B's; the
 * kernel holds at most PREFETCH_REGS = 4 of each), and whether they fit.
 */
export function prefetchFits(t: MatmulTiles): boolean {
  const threads = t.wgx * t.wgy;
  const slotsA = Math.ceil((tileRows(t) * t.tk) / 4 / threads);
  const slotsB = Math.ceil((tileCols(t) * t.tk) / 4 / threads);
  return slotsA <= PREFETCH_REGS && slotsB <= PREFETCH_REGS;
}
const PREFETCH_REGS = 4;

/** How a matmul is split along K: S slices of kSlice (the last one K − (S − 1)·kSlice). */
export interface SplitKPlan {
  slices: number;
  kSlice: number;
}

/** Fewest k per slice splitKPlan makes: shorter slices spend more on the workspace than they win. */
export const SPLIT_K_MIN_SLICE = 256;
/** Most slices splitKPlan makes (the reduction reads S·M·N floats). */
export const SPLIT_K_MAX_SLICES = 32;

/**
 * Split-K for an M×N×K matmul on tiles of tileRows × tileCols, depth tk: unsplit (1 slice)
 * when the output grid has at least fillWorkgroups tiles or K is under two slices of
 * SPLIT_K_MIN_SLICE; else enough slices to bring the workgroups to fillWorkgroups, at most
 * SPLIT_K_MAX_SLICES and each at least SPLIT_K_MIN_SLICE deep. `force` (a slice count) skips
 * the decision. Slices are multiples of tk, so S is recomputed from the rounded slice and may
 * come out lower than asked.
 */
export function splitKPlan(p: { M: number; N: number; K: number; tileRows: number; tileCols: number; tk: number; fillWorkgroups: number; force?: number }): SplitKPlan {
  const { K, tk } = p;
  let want: number;
  if (p.force !== undefined) {
    if (!Number.isInteger(p.force) || p.force < 1) throw new RangeError(`Matmul: splitK must be 'auto', 'off' or a positive integer, got ${p.force}`);
    want = p.force;
  } else {
    const groups = Math.ceil(p.M / p.tileRows) * Math.ceil(p.N / p.tileCols);
    if (groups >= p.fillWorkgroups) return { slices: 1, kSlice: K };
    want = Math.min(Math.ceil(p.fillWorkgroups / groups), Math.floor(K / SPLIT_K_MIN_SLICE), SPLIT_K_MAX_SLICES);
  }
  if (want < 2) return { slices: 1, kSlice: K };
  const kSlice = Math.ceil(Math.ceil(K / want) / tk) * tk;
  const slices = Math.ceil(K / kSlice);
  return slices < 2 ? { slices: 1, kSlice: K } : { slices, kSlice };
}

/** Bytes of the f32 workspace a split-K plan needs for an M×N output (0 unsplit). */
export function splitKWorkspaceBytes(plan: SplitKPlan, M: number, N: number): number {
  return plan.slices > 1 ? 4 * plan.slices * M * N : 0;
}

/**
 * The split recordMatmul makes of an M×N×K tiled matmul on device with splitK ('auto' as
 * there, assuming a workspace is given): for a caller to size the workspace.
 */
export function matmulSplitK(device: GPUDevice, M: number, N: number, K: number, splitK: 'auto' | 'off' | number = 'auto'): SplitKPlan {
  if (splitK === 'off') return { slices: 1, kSlice: K };
  const t = matmulTilesFor(device, M, N);
  return splitKPlan({ M, N, K, tileRows: tileRows(t), tileCols: tileCols(t), tk: t.tk, fillWorkgroups: matmulTraits(device).fillWorkgroups, force: splitK === 'auto' ? undefined : splitK });
}

/** Invocations per workgroup: the WG override and the dispatch count both come from here. */
export const MATMUL_WORKGROUP_SIZE = 64;

/**
 * Elements per load or store of a tensor binding (the *_LANES consts of matmul.wgsl): 4 for
 * f32 bound as vec4<u32>, 2 words of a packed storage bound as vec2<u32> (4 halves), 1 for a
 * plain u32 array. Lanes need the tensor's contiguous dimension to be a multiple of 4, so a
 * quad that starts at a multiple of 4 along it never leaves its row.
 */
export type Lanes = 1 | 2 | 4;

/** The lanes of a tensor in storage s whose contiguous dimension has `inner` elements. */
export function lanesFor(s: Storage, inner: number): Lanes {
  if (inner % 4 !== 0) return 1;
  return s === 'f32' ? 4 : 2;
}

/** Lanes of the five tensor bindings of one tiled matmul. */
export interface MatmulLanes {
  a: Lanes;
  b: Lanes;
  out: Lanes;
  act: Lanes;
  pre: Lanes;
}

const PLAIN_LANES: MatmulLanes = { a: 1, b: 1, out: 1, act: 1, pre: 1 };

/** What recordMatmul's tiled kernel binds each tensor as (the reference kernel: all 1). */
export function matmulLanes(args: Pick<MatmulArgs, 'M' | 'N' | 'K' | 'aStorage' | 'aTransposed' | 'bStorage' | 'bTransposed' | 'outStorage' | 'epilogue'>): MatmulLanes {
  const aux: Storage = args.epilogue?.kind === 'activation' ? args.epilogue.actStorage : args.epilogue?.kind === 'activation-grad' ? args.epilogue.preStorage : 'f32';
  const outLanes = lanesFor(args.outStorage, args.N);
  const auxLanes = lanesFor(aux, args.N);
  return {
    a: lanesFor(args.aStorage, args.aTransposed ? args.M : args.K),
    b: lanesFor(args.bStorage, args.bTransposed ? args.K : args.N),
    out: outLanes,
    act: args.epilogue?.kind === 'activation' ? auxLanes : 1,
    pre: args.epilogue?.kind === 'activation-grad' ? auxLanes : 1,
  };
}

/** Binding index, access and storage-kind override of each tensor binding of matmul.wgsl. */
const TENSOR_BINDINGS = {
  a: { binding: 0, access: 'read', kind: 'A_KIND' },
  b: { binding: 1, access: 'read', kind: 'B_KIND' },
  out: { binding: 2, access: 'read_write', kind: 'OUT_KIND' },
  act: { binding: 4, access: 'read_write', kind: 'AUX_KIND' },
  pre: { binding: 5, access: 'read', kind: 'AUX_KIND' },
} as const satisfies Record<keyof MatmulLanes, { binding: number; access: 'read' | 'read_write'; kind: string }>;

/**
 * One tensor binding of matmul.wgsl with its accessors: `n_word(w)` (word w), `n_quad(q)`
 * (elements 4q … 4q + 3 as f32) and, when writable, `n_setWord(w, v)` and `n_storeQuad(q, v)`.
 * With lanes 1 the quad accessors go element by element (matmul.wgsl calls them only with lanes).
 */
function bindingWgsl(name: keyof MatmulLanes, lanes: Lanes): string {
  const { binding, access, kind } = TENSOR_BINDINGS[name];
  const type = lanes === 4 ? 'vec4<u32>' : lanes === 2 ? 'vec2<u32>' : 'u32';
  const word = lanes === 1 ? `${name}[w]` : `${name}[w / ${lanes}u][w % ${lanes}u]`;
  const lines = [
    `const ${name.toUpperCase()}_LANES: u32 = ${lanes}u;`,
    `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${type}>;`,
    `fn ${name}_word(w: u32) -> u32 { return ${word}; }`,
  ];
  if (lanes === 4) lines.push(`fn ${name}_quad(q: u32) -> vec4f { return bitcast<vec4f>(${name}[q]); }`);
  else if (lanes === 2) lines.push(`fn ${name}_quad(q: u32) -> vec4f { let v = ${name}[q]; return vec4f(decodeElement(v.x, 0u, ${kind}), decodeElement(v.x, 1u, ${kind}), decodeElement(v.y, 0u, ${kind}), decodeElement(v.y, 1u, ${kind})); }`);
  else lines.push(`fn ${name}_quad(q: u32) -> vec4f { var v: vec4f; for (var j = 0u; j < 4u; j++) { let i = 4u * q + j; v[j] = decodeElement(${name}_word(storageWord(i, ${kind})), i, ${kind}); } return v; }`);
  if (access === 'read_write') {
    lines.push(`fn ${name}_setWord(w: u32, v: u32) { ${word} = v; }`);
    if (lanes === 4) lines.push(`fn ${name}_storeQuad(q: u32, v: vec4f) { ${name}[q] = bitcast<vec4<u32>>(v); }`);
    else if (lanes === 2) lines.push(`fn ${name}_storeQuad(q: u32, v: vec4f) { ${name}[q] = vec2u(encodePair(v.x, v.y, ${kind}), encodePair(v.z, v.w, ${kind})); }`);
    else lines.push(`fn ${name}_storeQuad(q: u32, v: vec4f) { if (${kind} == STORAGE_F32) { for (var j = 0u; j < 4u; j++) { ${name}_setWord(4u * q + j, bitcast<u32>(v[j])); } } else { ${name}_setWord(2u * q, encodePair(v.x, v.y, ${kind})); ${name}_setWord(2u * q + 1u, encodePair(v.z, v.w, ${kind})); } }`);
  }
  return lines.join('\n');
}

/**
 * accumulateK4 of matmul.wgsl for register tile tm × tn: acc += tileA's 4 k of tm rows times
 * tileB's tn columns of those k, one statement per vec4 fma. Unrolled here because the compilers
 * of CPU adapters (SwiftShader) do not unroll loops: a register tile indexed by loop counters
 * stays in memory there, each fma a load and a store; with constant indices it is registers.
 * aAt is the tile row's first A vec4 (the next rows K4 apart), bAt the first B vec4 of k
 * (the next k N4 apart).
 */
function accumulateWgsl(tm: number, tn: number): string {
  const lines = ['fn accumulateK4(acc: ptr<function, array<vec4<f32>, TM * TN / 4>>, aAt: u32, K4: u32, bAt: u32, N4: u32) {'];
  for (let r = 0; r < tm; r++) lines.push(`  let a${r} = tileA[aAt + ${r}u * K4];`);
  for (let j = 0; j < 4; j++) for (let c = 0; c < tn / 4; c++) lines.push(`  let b${j}_${c} = tileB[bAt + ${j}u * N4 + ${c}u];`);
  for (let j = 0; j < 4; j++) {
    for (let r = 0; r < tm; r++) {
      for (let c = 0; c < tn / 4; c++) {
        const i = r * (tn / 4) + c;
        lines.push(`  (*acc)[${i}] = fma(vec4f(a${r}[${j}]), b${j}_${c}, (*acc)[${i}]);`);
      }
    }
  }
  lines.push('}');
  return lines.join('\n');
}

/**
 * The family's WGSL for register tile tm × tn and binding lanes: the two consts the tiled
 * kernels' function-scope arrays are sized by, the storage prelude, the tensor bindings with
 * their accessors, then shaders/matmul.wgsl. One shader module (and pipeline cache) per
 * register tile and lanes; the reference kernels use the smallest tile and lanes 1.
 */
function matmulCode(tm: number, tn: number, lanes: MatmulLanes): string {
  if (!Number.isInteger(tm) || !Number.isInteger(tn) || tm < 1 || tn < 4 || tn % 4 !== 0 || tm > 16 || tn > 16) {
    throw new RangeError(`Matmul: register tile ${tm}×${tn} must be 1..16 × a multiple of 4 up to 16`);
  }
  for (const [name, l] of Object.entries(lanes)) if (l !== 1 && l !== 2 && l !== 4) throw new RangeError(`Matmul: ${name} lanes must be 1, 2 or 4, got ${l}`);
  const bindings = (Object.keys(TENSOR_BINDINGS) as (keyof MatmulLanes)[]).map((n) => bindingWgsl(n, lanes[n]));
  return `const TM: u32 = ${tm}u;\nconst TN: u32 = ${tn}u;\n${withStorageWgsl(matmulWgsl)}\n${bindings.join('\n')}\n${accumulateWgsl(tm, tn)}\n`;
}

/** Per register tile and lanes ('4x4:a4b4o4x1p1', …): its code and its per-device module and pipelines. */
const families = new Map<string, { code: string; caches: WeakMap<GPUDevice, KernelCache> }>();

function family(tm: number, tn: number, lanes: MatmulLanes): { code: string; caches: WeakMap<GPUDevice, KernelCache> } {
  const key = `${tm}x${tn}:a${lanes.a}b${lanes.b}o${lanes.out}x${lanes.act}p${lanes.pre}`;
  let f = families.get(key);
  if (!f) {
    f = { code: matmulCode(tm, tn, lanes), caches: new WeakMap() };
    families.set(key, f);
  }
  return f;
}
const ACT_CODE = { relu: 0, gelu: 1 } as const satisfies Record<ActivationFn, number>;

/** Whether the tiled kernel prefetches with tiles t: as asked, else the device's choice; never where the registers do not fit. */
function prefetchFor(device: GPUDevice, t: MatmulTiles, asked: boolean | undefined): boolean {
  const fits = prefetchFits(t);
  if (asked && !fits) throw new RangeError(`Matmul: prefetch with tiles ${JSON.stringify(t)} needs more than ${PREFETCH_REGS} registers of A or B per invocation; use smaller tk or turn prefetch off`);
  return (asked ?? matmulTraits(device).prefetch) && fits;
}

/** The tiles of an M×N out on this device, and its grid: gx tiles per row of tiles, gy rows. */
function tileGrid(device: GPUDevice, M: number, N: number): { t: MatmulTiles; gx: number; gy: number } {
  const t = matmulTilesFor(device, M, N);
  return { t, gx: Math.ceil(N / tileCols(t)), gy: Math.ceil(M / tileRows(t)) };
}

export function recordMatmul(device: GPUDevice, encoder: GPUCommandEncoder, args: MatmulArgs): void {
  const { M, N, K, epilogue } = args;
  checkCount('Matmul', 'M', M);
  checkCount('Matmul', 'N', N);
  checkCount('Matmul', 'K', K);
  // Flat indices are u32: every tensor's element count must stay below 2^31.
  for (const [name, n] of [['M·N', M * N], ['M·K', M * K], ['K·N', K * N]] as const) checkCount('Matmul', name, n);
  checkBuffer('Matmul', 'a', args.a, storageBytes(M * K, args.aStorage));
  checkBuffer('Matmul', 'b', args.b, storageBytes(K * N, args.bStorage));
  checkBuffer('Matmul', 'out', args.out, storageBytes(M * N, args.outStorage));
  if (args.bias) checkBuffer('Matmul', 'bias', args.bias, 4 * N);
  if (epilogue?.kind === 'activation-grad' && args.bias) throw new TypeError('Matmul: a bias with the activation-grad epilogue is not supported');

  let entryPoint: 'forward' | 'forward_act' | 'backward_act' = 'forward';
  // Packed words of out (and of act) straddle rows when N is odd: only the reference kernel
  // writes those, a word per invocation.
  const packedOut = args.outStorage !== 'f32' || (epilogue?.kind === 'activation' && epilogue.actStorage !== 'f32');
  const tiled = (args.kernel ?? 'tiled') === 'tiled' && !(packedOut && N % 2 === 1);
  let auxStorage: Storage = 'f32';
  const buffers: Record<number, GPUBuffer> = { 0: args.a, 1: args.b, 2: args.out };
  if (epilogue?.kind === 'activation') {
    checkBuffer('Matmul', 'act', epilogue.act, storageBytes(M * N, epilogue.actStorage));
    entryPoint = 'forward_act';
    auxStorage = epilogue.actStorage;
    buffers[4] = epilogue.act;
  } else if (epilogue?.kind === 'activation-grad') {
    checkBuffer('Matmul', 'pre', epilogue.pre, storageBytes(M * N, epilogue.preStorage));
    entryPoint = 'backward_act';
    auxStorage = epilogue.preStorage;
    buffers[5] = epilogue.pre;
  }
  // The bias binding is used by the forward entry points; without a bias it gets `a`, never read.
  if (entryPoint !== 'backward_act') buffers[3] = args.bias ?? args.a;

  const constants: Record<string, number> = {
    M,
    N,
    K,
    A_T: Number(args.aTransposed),
    B_T: Number(args.bTransposed),
    A_KIND: STORAGE_CODE[args.aStorage],
    B_KIND: STORAGE_CODE[args.bStorage],
    OUT_KIND: STORAGE_CODE[args.outStorage],
    AUX_KIND: STORAGE_CODE[auxStorage],
    HAS_BIAS: Number(args.bias !== undefined),
    ACT: epilogue ? ACT_CODE[epilogue.fn] : 0,
  };
  const passLabel = args.label ? `Matmul.pass[${args.label}]` : 'Matmul.pass';
  const work = KERNEL_WORK.matmul(M, N, K, args.bias !== undefined, epilogue && { kind: epilogue.kind, fn: epilogue.fn });
  const splitK = args.splitK ?? 'auto';
  const plan = (args.kernel ?? 'tiled') === 'tiled' ? matmulSplitK(device, M, N, K, splitK) : { slices: 1, kSlice: K };
  const ws = args.splitKWorkspace;
  if (plan.slices > 1 && !ws && splitK !== 'auto') {
    throw new RangeError(`Matmul: splitK ${splitK} needs splitKWorkspace, an f32 buffer of ${splitKWorkspaceBytes(plan, M, N)} B (${plan.slices} slices × M·N); pass one or use splitK 'auto'`);
  }
  if (plan.slices > 1 && ws) {
    checkBuffer('Matmul', 'splitKWorkspace', ws, splitKWorkspaceBytes(plan, M, N));
    if (ws === args.a || ws === args.b || ws === args.out) throw new RangeError('Matmul: splitKWorkspace must be a buffer of its own, not a, b or out');
    const { t, gx, gy } = tileGrid(device, M, N);
    // The partial products read A and B with the unsplit kernel's lanes (its module); the
    // reduction writes out word by word as the reference kernel does, so an odd N is fine.
    const f = family(t.tm, t.tn, matmulLanes(args));
    const partial = cachedPipeline(f.caches, device, {
      family: 'Matmul',
      code: f.code,
      entryPoint: 'tiled_partial',
      constants: { M, N, K, A_T: constants.A_T!, B_T: constants.B_T!, A_KIND: constants.A_KIND!, B_KIND: constants.B_KIND!, WGX: t.wgx, WGY: t.wgy, TK: t.tk, GX: gx, GY: gy, PREFETCH: Number(prefetchFor(device, t, args.prefetch)), SLICES: plan.slices, K_SLICE: plan.kSlice },
    });
    const r = family(4, 4, PLAIN_LANES);
    const reduce = cachedPipeline(r.caches, device, {
      family: 'Matmul',
      code: r.code,
      entryPoint: `reduce_${entryPoint}`,
      constants: { M, N, OUT_KIND: constants.OUT_KIND!, AUX_KIND: constants.AUX_KIND!, HAS_BIAS: constants.HAS_BIAS!, ACT: constants.ACT!, WG: MATMUL_WORKGROUP_SIZE, SLICES: plan.slices },
    });
    const reduceBuffers: Record<number, GPUBuffer> = { ...buffers, 6: ws };
    delete reduceBuffers[0];
    delete reduceBuffers[1];
    const words = Math.ceil((M * N) / 2);
    recordPass(device, encoder, passLabel, [
      { pipeline: partial, buffers: { 0: args.a, 1: args.b, 6: ws }, groups: gx * gy * plan.slices, label: 'Matmul.bindGroup' },
      { pipeline: reduce, buffers: reduceBuffers, groups: Math.ceil(words / MATMUL_WORKGROUP_SIZE), label: 'Matmul.bindGroup' },
    ], { ...work, dispatches: 2 });
    return;
  }
  if (tiled) {
    const { t, gx, gy } = tileGrid(device, M, N);
    const f = family(t.tm, t.tn, matmulLanes(args));
    const pipeline = cachedPipeline(f.caches, device, {
      family: 'Matmul',
      code: f.code,
      entryPoint: `tiled_${entryPoint}`,
      constants: { ...constants, WGX: t.wgx, WGY: t.wgy, TK: t.tk, GX: gx, GY: gy, PREFETCH: Number(prefetchFor(device, t, args.prefetch)) },
    });
    recordPass(device, encoder, passLabel, [{ pipeline, buffers, groups: gx * gy, label: 'Matmul.bindGroup' }], work);
    return;
  }
  const f = family(4, 4, PLAIN_LANES);
  const pipeline = cachedPipeline(f.caches, device, {
    family: 'Matmul',
    code: f.code,
    entryPoint,
    constants: { ...constants, WG: MATMUL_WORKGROUP_SIZE },
  });
  const words = Math.ceil((M * N) / 2);
  recordPass(device, encoder, passLabel, [{ pipeline, buffers, groups: Math.ceil(words / MATMUL_WORKGROUP_SIZE), label: 'Matmul.bindGroup' }], work);
}
