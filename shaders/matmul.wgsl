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

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
// forward: out = A·B + bias; forward_act: out = pre; backward_act: out = (A·B) ⊙ fn'(pre).
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
// f32, N values. When HAS_BIAS is false the caller binds any read-only buffer here (a).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// forward_act only: act = fn(pre), storage AUX_KIND.
@group(0) @binding(4) var<storage, read_write> act: array<u32>;
// backward_act only: the pre-activation the forward stored, storage AUX_KIND.
@group(0) @binding(5) var<storage, read> pre: array<u32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

fn loadA(row: u32, k: u32) -> f32 {
  let i = select(row * K + k, k * M + row, A_T);
  return decodeElement(a[storageWord(i, A_KIND)], i, A_KIND);
}

fn loadB(k: u32, col: u32) -> f32 {
  let i = select(k * N + col, col * K + k, B_T);
  return decodeElement(b[storageWord(i, B_KIND)], i, B_KIND);
}

fn loadPre(i: u32) -> f32 {
  return decodeElement(pre[storageWord(i, AUX_KIND)], i, AUX_KIND);
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
    out[2u * w] = bitcast<u32>(v.x);
    if (2u * w + 1u < M * N) {
      out[2u * w + 1u] = bitcast<u32>(v.y);
    }
  } else {
    out[w] = encodePair(v.x, select(0.0, v.y, 2u * w + 1u < M * N), OUT_KIND);
  }
}

fn storeAct(w: u32, v: vec2f) {
  if (AUX_KIND == STORAGE_F32) {
    act[2u * w] = bitcast<u32>(v.x);
    if (2u * w + 1u < M * N) {
      act[2u * w + 1u] = bitcast<u32>(v.y);
    }
  } else {
    act[w] = encodePair(v.x, select(0.0, v.y, 2u * w + 1u < M * N), AUX_KIND);
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w >= M * N) {
    return;
  }
  storeOut(w, withBias(products(w), w));
}

@compute @workgroup_size(WG)
fn forward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w >= M * N) {
    return;
  }
  let p = withBias(products(w), w);
  storeOut(w, p);
  // From the f32 pre-activation, not from its rounded copy in out.
  storeAct(w, vec2f(activation(p.x), activation(p.y)));
}

@compute @workgroup_size(WG)
fn backward_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wordIndex(wid, groups, lid);
  if (2u * w >= M * N) {
    return;
  }
  let s = products(w);
  let e1 = min(2u * w + 1u, M * N - 1u);
  storeOut(w, s * vec2f(activationGrad(loadPre(2u * w)), activationGrad(loadPre(e1))));
}
