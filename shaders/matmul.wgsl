// Matmul family: out[M×N] = A[M×K] · B[K×N] (+ bias[N]), row-major, then an optional
// epilogue. Driven by src/engine/kernels/matmul.ts; storage helpers from storage.wgsl.
//
// One invocation computes one output WORD: elements 2w and 2w + 1 of out in row-major
// order, so a packed (f16/bf16) output is always written whole, with no atomics. When N is
// odd the two elements of a word can sit on two rows; each has its own dot product. An f32
// output is written as the same two elements, two words.
//
// GELU is the tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): GPT-2's
// NewGELU and PyTorch's GELU(approximate='tanh'), the one the planner models.

override M: u32;
override N: u32;
override K: u32;
// A is stored M×K, or K×M when A_T; B is stored K×N, or N×K when B_T.
override A_T: bool = false;
override B_T: bool = false;
// Storage of each tensor binding: STORAGE_F32, STORAGE_F16 or STORAGE_BF16.
override A_KIND: u32 = 0u;
override B_KIND: u32 = 0u;
override OUT_KIND: u32 = 0u;
override AUX_KIND: u32 = 0u;
// Adds bias[col] to every product (forward and forward_act).
override HAS_BIAS: bool = false;
// Activation of the epilogues: 0 relu, 1 gelu (tanh approximation).
override ACT: u32 = 0u;
override WG: u32 = 64u;

// Bindings 0 a, 1 b, 2 out, 4 act and 5 pre come from matmul.ts, in front of this file (see
// "Lanes" below): each as an array of u32, vec2<u32> or vec4<u32>, with n_word(w) reading its
// word w and n_quad / n_storeQuad reading and writing its elements 4q … 4q + 3.
// forward: out = A·B + bias; forward_act: out = pre; backward_act: out = (A·B) ⊙ fn'(pre).
// act: forward_act only, act = fn(pre), storage AUX_KIND. pre: backward_act only, the
// pre-activation the forward stored, storage AUX_KIND.
// f32, N values. When HAS_BIAS is false the caller binds any read-only buffer here (a).
@group(0) @binding(3) var<storage, read> bias: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

fn loadA(row: u32, k: u32) -> f32 {
  let i = select(row * K + k, k * M + row, A_T);
  return decodeElement(a_word(storageWord(i, A_KIND)), i, A_KIND);
}

fn loadB(k: u32, col: u32) -> f32 {
  let i = select(k * N + col, col * K + k, B_T);
  return decodeElement(b_word(storageWord(i, B_KIND)), i, B_KIND);
}

fn loadPre(i: u32) -> f32 {
  return decodeElement(pre_word(storageWord(i, AUX_KIND)), i, AUX_KIND);
}

// tanh from exp, clamped where tanh is ±1 in f32 already, so no exp overflows to inf.
fn tanhClamped(u: f32) -> f32 {
  let e = exp(2.0 * clamp(u, -15.0, 15.0));
  return 1.0 - 2.0 / (e + 1.0);
}

fn activation(x: f32) -> f32 {
  if (ACT == 0u) {
    return max(x, 0.0);
  }
  let t = tanhClamped(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
  return 0.5 * x * (1.0 + t);
}

// d fn / dx. relu: 1 where x > 0, else 0 (PyTorch's threshold_backward).
fn activationGrad(x: f32) -> f32 {
  if (ACT == 0u) {
    return select(0.0, 1.0, x > 0.0);
  }
  let t = tanhClamped(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
}

fn wordIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

// The two products of word w (no bias). The second is 0 past the end of out.
fn products(w: u32) -> vec2f {
  let e0 = 2u * w;
  let r0 = e0 / N;
  let c0 = e0 % N;
  // Clamped to a valid row past the end, so every load stays in bounds.
  let r1 = min((e0 + 1u) / N, M - 1u);
  let c1 = (e0 + 1u) % N;
  var s = vec2f(0.0);
  for (var k = 0u; k < K; k++) {
    s.x += loadA(r0, k) * loadB(k, c0);
    s.y += loadA(r1, k) * loadB(k, c1);
  }
  if (e0 + 1u >= M * N) {
    s.y = 0.0;
  }
  return s;
}

fn withBias(s: vec2f, w: u32) -> vec2f {
  if (!HAS_BIAS) {
    return s;
  }
  return s + vec2f(bias[(2u * w) % N], bias[(2u * w + 1u) % N]);
}

// Writes elements 2w and 2w + 1 of a tensor of M×N values in storage `kind`.
fn storeOut(w: u32, v: vec2f) {
  if (OUT_KIND == STORAGE_F32) {
    out_setWord(2u * w, bitcast<u32>(v.x));
    if (2u * w + 1u < M * N) {
      out_setWord(2u * w + 1u, bitcast<u32>(v.y));
    }
  } else {
    out_setWord(w, encodePair(v.x, select(0.0, v.y, 2u * w + 1u < M * N), OUT_KIND));
  }
}

fn storeAct(w: u32, v: vec2f) {
  if (AUX_KIND == STORAGE_F32) {
    act_setWord(2u * w, bitcast<u32>(v.x));
    if (2u * w + 1u < M * N) {
      act_setWord(2u * w + 1u, bitcast<u32>(v.y));
    }
  } else {
    act_setWord(w, encodePair(v.x, select(0.0, v.y, 2u * w + 1u < M * N), AUX_KIND));
  }
}

// The epilogues of the kernels with one invocation per word of out (these reference kernels
// and split-K's reduction): word w of out (and act) from the two f32 sums s of its elements.
fn finishForward(w: u32, s: vec2f) {
  storeOut(w, withBias(s, w));
}

fn finishForwardAct(w: u32, s: vec2f) {
  let p = withBias(s, w);
  storeOut(w, p);
  // From the f32 pre-activation, not from its rounded copy in out.
  storeAct(w, vec2f(activation(p.x), activation(p.y)));
}

fn finishBackwardAct(w: u32, s: vec2f) {
  let e1 = min(2u * w + 1u, M * N - 1u);
  storeOut(w, s * vec2f(activationGrad(loadPre(2u * w)), activationGrad(loadPre(e1))));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishForward(w, products(w));
  }
}

@compute @workgroup_size(WG)
fn forward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishForwardAct(w, products(w));
  }
}

@compute @workgroup_size(WG)
fn backward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishBackwardAct(w, products(w));
  }
}

// ---- Tiled kernels ---------------------------------------------------------------------
// The same three products for large shapes: a workgroup computes a BM×BN tile of out
// (BM = WGY·TM rows, BN = WGX·TN columns), staging TK-deep slices of A and B in workgroup
// memory as f32 vec4s (decoded once, whatever their storage), and each invocation accumulates
// a TM×TN register tile: per staged k, one broadcast A value per row times a vec4 of B per
// four columns (vec4 fma). TM and TN size function-scope arrays, so they are consts: matmul.ts
// puts `const TM` and `const TN` in front of this file, one shader module per register tile.
// WGX, WGY and TK are overrides, TK the depth of a staged slice; TN and TK are multiples of 4.
//
// Invocation (tx, ty) owns rows ty·TM + r (r < TM) and columns tx·TN + c (c < TN) of the tile:
// a row of invocations reads consecutive vec4s of the staged B and one broadcast vec4 of the
// staged A. With an even N and a packed output, columns c, c + 1 (c even) are one whole u32
// word, so no two invocations write one word (matmul.ts sends packed outputs with an odd N to
// the untiled kernels).
// Workgroups are numbered linearly (dispatchGrid may split them over x and y): GX of them
// per row of tiles.
//
// Lanes. A tensor whose contiguous dimension (A: K, or M when A_T; B: N, or K when B_T; out,
// act and pre: N) is a multiple of 4 is bound as vec4<u32> (f32: four values) or vec2<u32>
// (packed: four halves in two words), and matmul.ts sets its *_LANES const to 4 or 2; else
// 1 (u32). With lanes, 4 elements that start at a multiple of 4 along that dimension are one
// load (n_quad) or one store (n_storeQuad), each word read once, and since the dimension is a
// multiple of 4 such a quad lies wholly inside the tensor or wholly outside: one bounds test
// per quad instead of one per element. Without lanes, elements are read one by one as before.
// Only edge tiles test at all: a staged slice wholly inside A (or B), and an output tile wholly
// inside out, load and store without tests (a flag uniform per workgroup).

override WGX: u32 = 8u;
override WGY: u32 = 8u;
override TK: u32 = 8u;
override GX: u32 = 1u;
override GY: u32 = 1u;
// Prefetch the next k-slice into registers (see tiledProducts).
override PREFETCH: bool = false;

// A as [m][k / 4] (a vec4 holds 4 consecutive k of one row), B as [k][n / 4].
var<workgroup> tileA: array<vec4<f32>, WGY * TM * TK / 4>;
var<workgroup> tileB: array<vec4<f32>, TK * WGX * TN / 4>;

// A(row, k), 0 outside A.
fn loadAOrZero(row: u32, k: u32) -> f32 {
  if (row < M && k < K) {
    return loadA(row, k);
  }
  return 0.0;
}

fn loadBOrZero(k: u32, col: u32) -> f32 {
  if (col < N && k < K) {
    return loadB(k, col);
  }
  return 0.0;
}

// Stages A[tileRow0 .. + BM][k0 .. + TK] into tileA, 0 outside A. Consecutive invocations
// take consecutive addresses of A.
fn stageA(tileRow0: u32, k0: u32, li: u32) {
  let BM = WGY * TM;
  let K4 = TK / 4u;
  let threads = WGX * WGY;
  // An interior slice (uniform per workgroup) needs no bounds tests: only edge tiles test.
  let inside = tileRow0 + BM <= M && k0 + TK <= K;
  if (A_LANES > 1u && !A_T) {
    // K is a multiple of 4: quad (row, k .. k + 3) is element row·K + k onwards.
    for (var s = li; s < BM * K4; s += threads) {
      let m = s / K4;
      let k4 = s % K4;
      let row = tileRow0 + m;
      let k = k0 + 4u * k4;
      var v = vec4f(0.0);
      if (inside || (row < M && k < K)) {
        v = a_quad((row * K + k) / 4u);
      }
      tileA[m * K4 + k4] = v;
    }
  } else if (A_LANES > 1u) {
    // A_T, M a multiple of 4: quad (row .. row + 3, k) is element k·M + row onwards; its four
    // values go to four rows of tileA.
    let BM4 = BM / 4u;
    for (var s = li; s < BM4 * TK; s += threads) {
      let m = 4u * (s % BM4);
      let kk = s / BM4;
      let row = tileRow0 + m;
      let k = k0 + kk;
      var v = vec4f(0.0);
      if (inside || (row < M && k < K)) {
        v = a_quad((k * M + row) / 4u);
      }
      let at = m * K4 + kk / 4u;
      let j = kk % 4u;
      tileA[at][j] = v.x;
      tileA[at + K4][j] = v.y;
      tileA[at + 2u * K4][j] = v.z;
      tileA[at + 3u * K4][j] = v.w;
    }
  } else {
    for (var s = li; s < BM * K4; s += threads) {
      var m: u32;
      var k4: u32;
      if (A_T) {
        m = s % BM;
        k4 = s / BM;
      } else {
        m = s / K4;
        k4 = s % K4;
      }
      let row = tileRow0 + m;
      let k = k0 + 4u * k4;
      if (inside) {
        tileA[m * K4 + k4] = vec4f(loadA(row, k), loadA(row, k + 1u), loadA(row, k + 2u), loadA(row, k + 3u));
      } else {
        tileA[m * K4 + k4] = vec4f(loadAOrZero(row, k), loadAOrZero(row, k + 1u), loadAOrZero(row, k + 2u), loadAOrZero(row, k + 3u));
      }
    }
  }
}

// Stages B[k0 .. + TK][tileCol0 .. + BN] into tileB, 0 outside B.
fn stageB(tileCol0: u32, k0: u32, li: u32) {
  let BN = WGX * TN;
  let N4 = BN / 4u;
  let threads = WGX * WGY;
  // As in stageA: bounds tests on edge tiles only.
  let inside = tileCol0 + BN <= N && k0 + TK <= K;
  if (B_LANES > 1u && !B_T) {
    // N is a multiple of 4: quad (k, col .. col + 3) is element k·N + col onwards.
    for (var s = li; s < TK * N4; s += threads) {
      let n4 = s % N4;
      let kk = s / N4;
      let col = tileCol0 + 4u * n4;
      let k = k0 + kk;
      var v = vec4f(0.0);
      if (inside || (col < N && k < K)) {
        v = b_quad((k * N + col) / 4u);
      }
      tileB[kk * N4 + n4] = v;
    }
  } else if (B_LANES > 1u) {
    // B_T, K a multiple of 4: quad (k .. k + 3, col) is element col·K + k onwards; its four
    // values go to four rows of tileB.
    let K4 = TK / 4u;
    for (var s = li; s < BN * K4; s += threads) {
      let k4 = s % K4;
      let n = s / K4;
      let col = tileCol0 + n;
      let k = k0 + 4u * k4;
      var v = vec4f(0.0);
      if (inside || (col < N && k < K)) {
        v = b_quad((col * K + k) / 4u);
      }
      let at = 4u * k4 * N4 + n / 4u;
      let j = n % 4u;
      tileB[at][j] = v.x;
      tileB[at + N4][j] = v.y;
      tileB[at + 2u * N4][j] = v.z;
      tileB[at + 3u * N4][j] = v.w;
    }
  } else {
    for (var s = li; s < TK * N4; s += threads) {
      var n4: u32;
      var k: u32;
      if (B_T) {
        n4 = s / TK;
        k = s % TK;
      } else {
        n4 = s % N4;
        k = s / N4;
      }
      let col = tileCol0 + 4u * n4;
      let kk = k0 + k;
      if (inside) {
        tileB[k * N4 + n4] = vec4f(loadB(kk, col), loadB(kk, col + 1u), loadB(kk, col + 2u), loadB(kk, col + 3u));
      } else {
        tileB[k * N4 + n4] = vec4f(loadBOrZero(kk, col), loadBOrZero(kk, col + 1u), loadBOrZero(kk, col + 2u), loadBOrZero(kk, col + 3u));
      }
    }
  }
}

// The same staging for the prefetching loop, split in two. A staged slice of A (BM rows × TK k)
// or of B (TK k × BN columns) is TK·BM/4 or TK·BN/4 vec4 slots, slot s staged by invocation
// s % (WGX·WGY) as in stageA and stageB; fetchA(s) reads slot s from global memory (0 outside
// A) and putA(s, v) stores it into tileA, so the next slice's slots can wait in registers while
// the current slice is computed on. (stageA and stageB stay whole for the loop without
// prefetch: written as fetch-then-put, SwiftShader ran that loop 1.3–1.4× slower.)

// Slot s of A[tileRow0 .. + BM][k0 .. + TK], 0 outside A.
fn fetchA(tileRow0: u32, k0: u32, s: u32) -> vec4f {
  let BM = WGY * TM;
  let K4 = TK / 4u;
  let inside = tileRow0 + BM <= M && k0 + TK <= K;
  if (A_LANES > 1u && !A_T) {
    // K is a multiple of 4: quad (row, k .. k + 3) is element row·K + k onwards.
    let row = tileRow0 + s / K4;
    let k = k0 + 4u * (s % K4);
    if (inside || (row < M && k < K)) {
      return a_quad((row * K + k) / 4u);
    }
    return vec4f(0.0);
  } else if (A_LANES > 1u) {
    // A_T, M a multiple of 4: quad (row .. row + 3, k) is element k·M + row onwards (putA
    // spreads its four values over four rows of tileA).
    let BM4 = BM / 4u;
    let row = tileRow0 + 4u * (s % BM4);
    let k = k0 + s / BM4;
    if (inside || (row < M && k < K)) {
      return a_quad((k * M + row) / 4u);
    }
    return vec4f(0.0);
  }
  var m: u32;
  var k4: u32;
  if (A_T) {
    m = s % BM;
    k4 = s / BM;
  } else {
    m = s / K4;
    k4 = s % K4;
  }
  let row = tileRow0 + m;
  let k = k0 + 4u * k4;
  if (inside) {
    return vec4f(loadA(row, k), loadA(row, k + 1u), loadA(row, k + 2u), loadA(row, k + 3u));
  }
  return vec4f(loadAOrZero(row, k), loadAOrZero(row, k + 1u), loadAOrZero(row, k + 2u), loadAOrZero(row, k + 3u));
}

// tileA as [m][k / 4]: slot s of fetchA.
fn putA(s: u32, v: vec4f) {
  let BM = WGY * TM;
  let K4 = TK / 4u;
  if (A_LANES > 1u && A_T) {
    let BM4 = BM / 4u;
    let kk = s / BM4;
    let at = 4u * (s % BM4) * K4 + kk / 4u;
    let j = kk % 4u;
    tileA[at][j] = v.x;
    tileA[at + K4][j] = v.y;
    tileA[at + 2u * K4][j] = v.z;
    tileA[at + 3u * K4][j] = v.w;
  } else if (A_T && A_LANES == 1u) {
    tileA[(s % BM) * K4 + s / BM] = v;
  } else {
    tileA[s] = v;
  }
}

// Slot s of B[k0 .. + TK][tileCol0 .. + BN], 0 outside B.
fn fetchB(tileCol0: u32, k0: u32, s: u32) -> vec4f {
  let N4 = WGX * TN / 4u;
  let K4 = TK / 4u;
  let inside = tileCol0 + WGX * TN <= N && k0 + TK <= K;
  if (B_LANES > 1u && !B_T) {
    // N is a multiple of 4: quad (k, col .. col + 3) is element k·N + col onwards.
    let col = tileCol0 + 4u * (s % N4);
    let k = k0 + s / N4;
    if (inside || (col < N && k < K)) {
      return b_quad((k * N + col) / 4u);
    }
    return vec4f(0.0);
  } else if (B_LANES > 1u) {
    // B_T, K a multiple of 4: quad (k .. k + 3, col) is element col·K + k onwards (putB
    // spreads its four values over four rows of tileB).
    let col = tileCol0 + s / K4;
    let k = k0 + 4u * (s % K4);
    if (inside || (col < N && k < K)) {
      return b_quad((col * K + k) / 4u);
    }
    return vec4f(0.0);
  }
  var n4: u32;
  var kk: u32;
  if (B_T) {
    n4 = s / TK;
    kk = s % TK;
  } else {
    n4 = s % N4;
    kk = s / N4;
  }
  let col = tileCol0 + 4u * n4;
  let k = k0 + kk;
  if (inside) {
    return vec4f(loadB(k, col), loadB(k, col + 1u), loadB(k, col + 2u), loadB(k, col + 3u));
  }
  return vec4f(loadBOrZero(k, col), loadBOrZero(k, col + 1u), loadBOrZero(k, col + 2u), loadBOrZero(k, col + 3u));
}

// tileB as [k][n / 4]: slot s of fetchB.
fn putB(s: u32, v: vec4f) {
  let N4 = WGX * TN / 4u;
  let K4 = TK / 4u;
  if (B_LANES > 1u && B_T) {
    let n = s / K4;
    let at = 4u * (s % K4) * N4 + n / 4u;
    let j = n % 4u;
    tileB[at][j] = v.x;
    tileB[at + N4][j] = v.y;
    tileB[at + 2u * N4][j] = v.z;
    tileB[at + 3u * N4][j] = v.w;
  } else if (B_T && B_LANES == 1u) {
    tileB[(s % TK) * N4 + s / TK] = v;
  } else {
    tileB[s] = v;
  }
}

// Registers per invocation for one prefetched slice of A and of B: matmul.ts prefetches only
// with tiles whose slots per invocation, TK·TM / (4·WGX) and TK·TN / (4·WGY), fit.
const PREFETCH_REGS: u32 = 4u;

// The unbiased TM×TN register tile of A·B over k in [kBegin, kEnd) (kBegin a multiple of TK)
// this invocation owns (rows ty·TM + r, columns tx·TN + 4·c4 + j as acc[r·TN/4 + c4][j]) in
// the BM×BN tile at (tileRow0, tileCol0). accumulateK4 (from matmul.ts) adds one k4 step of
// the staged slices, unrolled: per k, one broadcast A value per row times a vec4 of B per
// four columns.
//
// With PREFETCH, the next slice's slots are read from global memory into registers before the
// current slice is computed on, and stored to workgroup memory after the barrier that ends
// that computation: the loads' latency hides behind the arithmetic (double buffering through
// registers, one copy of the tiles in workgroup memory).
fn tiledProducts(tileRow0: u32, tileCol0: u32, tx: u32, ty: u32, li: u32, kBegin: u32, kEnd: u32) -> array<vec4<f32>, TM * TN / 4> {
  let K4 = TK / 4u;
  let N4 = WGX * TN / 4u;
  let threads = WGX * WGY;
  let slotsA = WGY * TM * K4;
  let slotsB = TK * N4;
  var acc: array<vec4<f32>, TM * TN / 4>;
  if (PREFETCH) {
    var ra: array<vec4<f32>, PREFETCH_REGS>;
    var rb: array<vec4<f32>, PREFETCH_REGS>;
    for (var j = 0u; j < PREFETCH_REGS; j++) {
      let s = li + j * threads;
      if (s < slotsA) {
        ra[j] = fetchA(tileRow0, kBegin, s);
      }
      if (s < slotsB) {
        rb[j] = fetchB(tileCol0, kBegin, s);
      }
    }
    for (var k0 = kBegin; k0 < kEnd; k0 += TK) {
      for (var j = 0u; j < PREFETCH_REGS; j++) {
        let s = li + j * threads;
        if (s < slotsA) {
          putA(s, ra[j]);
        }
        if (s < slotsB) {
          putB(s, rb[j]);
        }
      }
      workgroupBarrier();
      let next = k0 + TK;
      if (next < kEnd) {
        for (var j = 0u; j < PREFETCH_REGS; j++) {
          let s = li + j * threads;
          if (s < slotsA) {
            ra[j] = fetchA(tileRow0, next, s);
          }
          if (s < slotsB) {
            rb[j] = fetchB(tileCol0, next, s);
          }
        }
      }
      for (var k4 = 0u; k4 < K4; k4++) {
        accumulateK4(&acc, (ty * TM) * K4 + k4, K4, 4u * k4 * N4 + tx * (TN / 4u), N4);
      }
      workgroupBarrier();
    }
    return acc;
  }
  for (var k0 = kBegin; k0 < kEnd; k0 += TK) {
    stageA(tileRow0, k0, li);
    stageB(tileCol0, k0, li);
    workgroupBarrier();
    for (var k4 = 0u; k4 < K4; k4++) {
      accumulateK4(&acc, (ty * TM) * K4 + k4, K4, 4u * k4 * N4 + tx * (TN / 4u), N4);
    }
    workgroupBarrier();
  }
  return acc;
}

// bias[col .. col + 3] for each vec4 of columns this invocation owns, read once for all its
// rows; 0 without a bias. Columns past N repeat bias[N − 1] (their sums are not stored).
fn biasQuads(col0: u32) -> array<vec4<f32>, TN / 4> {
  var q: array<vec4<f32>, TN / 4>;
  if (HAS_BIAS) {
    for (var c4 = 0u; c4 < TN / 4u; c4++) {
      let c = col0 + 4u * c4;
      q[c4] = vec4f(bias[min(c, N - 1u)], bias[min(c + 1u, N - 1u)], bias[min(c + 2u, N - 1u)], bias[min(c + 3u, N - 1u)]);
    }
  }
  return q;
}

// Elements (row, col) and (row, col + 1) of out, col even; the second only when col + 1 < N.
// Packed storage: N is even here, so the two are the halves of one word.
fn storeOutPair(row: u32, col: u32, v: vec2f) {
  let e = row * N + col;
  if (OUT_KIND == STORAGE_F32) {
    out_setWord(e, bitcast<u32>(v.x));
    if (col + 1u < N) {
      out_setWord(e + 1u, bitcast<u32>(v.y));
    }
  } else {
    out_setWord(e >> 1u, encodePair(v.x, v.y, OUT_KIND));
  }
}

fn storeActPair(row: u32, col: u32, v: vec2f) {
  let e = row * N + col;
  if (AUX_KIND == STORAGE_F32) {
    act_setWord(e, bitcast<u32>(v.x));
    if (col + 1u < N) {
      act_setWord(e + 1u, bitcast<u32>(v.y));
    }
  } else {
    act_setWord(e >> 1u, encodePair(v.x, v.y, AUX_KIND));
  }
}

// Where this workgroup's tile starts; valid is false for the spare workgroups of a split grid.
// Uniform per workgroup (from workgroup_id), so returning early skips no barrier for only some
// invocations. slice: which k-slice of split-K (tiled_partial; 0 otherwise), GX·GY workgroups
// per slice.
struct TileOrigin {
  valid: bool,
  row0: u32,
  col0: u32,
  slice: u32,
  // The whole BM×BN tile lies inside out: its stores need no bounds tests.
  inside: bool,
}

fn tileOrigin(wid: vec3u, groups: vec3u) -> TileOrigin {
  let linear = wid.y * groups.x + wid.x;
  let tiles = GX * GY;
  let t = linear % tiles;
  let row0 = (t / GX) * WGY * TM;
  let col0 = (t % GX) * WGX * TN;
  return TileOrigin(linear < tiles * SLICES, row0, col0, linear / tiles, row0 + WGY * TM <= M && col0 + WGX * TN <= N);
}

// The epilogues, per vec4 of columns (col a multiple of 4, inside out) of a row: p the
// products (biased in the forward ones). With lanes (N a multiple of 4) the 4 columns are one
// store; else pairs, the second of each only where inside. One function per entry point, so
// each uses only its own bindings.
fn storeOutQuad(row: u32, col: u32, p: vec4f) {
  if (OUT_LANES > 1u) {
    out_storeQuad((row * N + col) / 4u, p);
    return;
  }
  storeOutPair(row, col, p.xy);
  if (col + 2u < N) {
    storeOutPair(row, col + 2u, p.zw);
  }
}

// From the f32 pre-activation, not from its rounded copy in out.
fn storeActQuad(row: u32, col: u32, p: vec4f) {
  let f = vec4f(activation(p.x), activation(p.y), activation(p.z), activation(p.w));
  if (ACT_LANES > 1u) {
    act_storeQuad((row * N + col) / 4u, f);
    return;
  }
  storeActPair(row, col, f.xy);
  if (col + 2u < N) {
    storeActPair(row, col + 2u, f.zw);
  }
}

// fn'(pre) for columns col .. col + 3; past the row's end, clamped to its last element (those
// products are not stored).
fn preGradQuad(row: u32, col: u32) -> vec4f {
  var g: vec4f;
  if (PRE_LANES > 1u) {
    g = pre_quad((row * N + col) / 4u);
  } else {
    let e = row * N;
    g = vec4f(loadPre(e + col), loadPre(e + min(col + 1u, N - 1u)), loadPre(e + min(col + 2u, N - 1u)), loadPre(e + min(col + 3u, N - 1u)));
  }
  return vec4f(activationGrad(g.x), activationGrad(g.y), activationGrad(g.z), activationGrad(g.w));
}

@compute @workgroup_size(WGX, WGY)
fn tiled_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = tileOrigin(wid, groups);
  if (!o.valid) {
    return;
  }
  let acc = tiledProducts(o.row0, o.col0, lid.x, lid.y, li, 0u, K);
  let col0 = o.col0 + lid.x * TN;
  let bq = biasQuads(col0);
  for (var r = 0u; r < TM; r++) {
    let row = o.row0 + lid.y * TM + r;
    for (var c4 = 0u; c4 < TN / 4u; c4++) {
      let col = col0 + 4u * c4;
      if (o.inside || (row < M && col < N)) {
        storeOutQuad(row, col, acc[r * (TN / 4u) + c4] + bq[c4]);
      }
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn tiled_forward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = tileOrigin(wid, groups);
  if (!o.valid) {
    return;
  }
  let acc = tiledProducts(o.row0, o.col0, lid.x, lid.y, li, 0u, K);
  let col0 = o.col0 + lid.x * TN;
  let bq = biasQuads(col0);
  for (var r = 0u; r < TM; r++) {
    let row = o.row0 + lid.y * TM + r;
    for (var c4 = 0u; c4 < TN / 4u; c4++) {
      let col = col0 + 4u * c4;
      if (o.inside || (row < M && col < N)) {
        let p = acc[r * (TN / 4u) + c4] + bq[c4];
        storeOutQuad(row, col, p);
        storeActQuad(row, col, p);
      }
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn tiled_backward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = tileOrigin(wid, groups);
  if (!o.valid) {
    return;
  }
  let acc = tiledProducts(o.row0, o.col0, lid.x, lid.y, li, 0u, K);
  let col0 = o.col0 + lid.x * TN;
  for (var r = 0u; r < TM; r++) {
    let row = o.row0 + lid.y * TM + r;
    for (var c4 = 0u; c4 < TN / 4u; c4++) {
      let col = col0 + 4u * c4;
      if (o.inside || (row < M && col < N)) {
        storeOutQuad(row, col, acc[r * (TN / 4u) + c4] * preGradQuad(row, col));
      }
    }
  }
}

// ---- Split-K ---------------------------------------------------------------------------
// For outputs with too few tiles to fill the device and a long K (weight gradients, Xᵀ·dY
// with K = batch·seq): tiled_partial splits K into SLICES slices of K_SLICE (a multiple of
// TK; the last one shorter), one grid of GX·GY workgroups per slice, each writing its f32
// partial tile to slice `slice` of the workspace; then reduce_* (one invocation per word of
// out, as the reference kernels) adds the slices in order 0, 1, … SLICES − 1, and applies the
// bias and epilogue and stores out (and act) exactly as the unsplit entry points do. A fixed
// order and no atomics: the result is the same bits on every run.

override SLICES: u32 = 1u;
override K_SLICE: u32 = 0u;

// f32, SLICES × M × N: slice i's partial products of element e at i·M·N + e. Bound by the
// caller (the kernels create no buffers).
@group(0) @binding(6) var<storage, read_write> ws: array<f32>;

@compute @workgroup_size(WGX, WGY)
fn tiled_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = tileOrigin(wid, groups);
  if (!o.valid) {
    return;
  }
  let kBegin = o.slice * K_SLICE;
  let acc = tiledProducts(o.row0, o.col0, lid.x, lid.y, li, kBegin, min(kBegin + K_SLICE, K));
  let col0 = o.col0 + lid.x * TN;
  let base = o.slice * M * N;
  for (var r = 0u; r < TM; r++) {
    let row = o.row0 + lid.y * TM + r;
    if (row >= M) {
      break;
    }
    for (var c = 0u; c < TN; c++) {
      let col = col0 + c;
      if (col < N) {
        ws[base + row * N + col] = acc[r * (TN / 4u) + c / 4u][c % 4u];
      }
    }
  }
}

// The products of word w (elements 2w and 2w + 1 of out, as products(w)): the slices' sums.
fn slicesSum(w: u32) -> vec2f {
  let e0 = 2u * w;
  let e1 = min(e0 + 1u, M * N - 1u);
  var s = vec2f(0.0);
  for (var i = 0u; i < SLICES; i++) {
    s += vec2f(ws[i * M * N + e0], ws[i * M * N + e1]);
  }
  if (e0 + 1u >= M * N) {
    s.y = 0.0;
  }
  return s;
}

@compute @workgroup_size(WG)
fn reduce_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishForward(w, slicesSum(w));
  }
}

@compute @workgroup_size(WG)
fn reduce_forward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishForwardAct(w, slicesSum(w));
  }
}

@compute @workgroup_size(WG)
fn reduce_backward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w < M * N) {
    finishBackwardAct(w, slicesSum(w));
  }
}
