// LoRA family: the elementwise steps a LoRA linear needs around its matmuls (Hu et al. 2021,
// arXiv 2106.09685): y = x·W + b + s·(x·A)·B. Driven by src/engine/kernels/lora.ts; storage
// helpers from storage.wgsl. N values; every entry point runs one invocation per PAIR of
// elements (2w, 2w + 1), so a packed word is read and written whole by one invocation.
//
// scale:     x ← s·x in place (storage X_KIND): the rank-r product x·A becomes s·(x·A), and
//            in backward dY·Bᵀ becomes s·dY·Bᵀ = d(x·A).
// add:       y ← y + t (y of storage X_KIND, t f32): the adapter's s·(x·A)·B added to the
//            frozen base's product. add_act also writes act = fn(y), from the f32 sum, as
//            matmul.wgsl's forward_act does (act of storage AUX_KIND).
// act_grad:  g ← g ⊙ fn'(pre) in place (g f32, pre of storage AUX_KIND): the activation's
//            backward once both products (base and adapter) are summed into g.
// GELU is the tanh approximation, as in matmul.wgsl.

override N: u32;
override X_KIND: u32 = 0u;
override AUX_KIND: u32 = 0u;
// add_act and act_grad: 1 relu, 2 gelu (tanh approximation).
override ACT: u32 = 0u;
override SCALE: f32 = 1.0;
override WG: u32 = 256u;

// scale: x; add: y; act_grad: g (f32).
@group(0) @binding(0) var<storage, read_write> x: array<u32>;
// add: t (f32).
@group(0) @binding(1) var<storage, read> t: array<f32>;
// add_act: act.
@group(0) @binding(2) var<storage, read_write> act: array<u32>;
// act_grad: pre.
@group(0) @binding(3) var<storage, read> pre: array<u32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

fn tanhClamped(u: f32) -> f32 {
  let e = exp(2.0 * clamp(u, -15.0, 15.0));
  return 1.0 - 2.0 / (e + 1.0);
}

fn activation(v: f32) -> f32 {
  if (ACT == 1u) {
    return max(v, 0.0);
  }
  let th = tanhClamped(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
  return 0.5 * v * (1.0 + th);
}

fn activationGrad(v: f32) -> f32 {
  if (ACT == 1u) {
    return select(0.0, 1.0, v > 0.0);
  }
  let th = tanhClamped(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
  return 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v);
}

fn pairIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

// Elements 2w and 2w + 1 of x in storage kind (the second is 0 past the end).
fn loadX(w: u32, kind: u32) -> vec2f {
  let e0 = 2u * w;
  if (kind == STORAGE_F32) {
    let hi = select(0.0, bitcast<f32>(x[min(e0 + 1u, N - 1u)]), e0 + 1u < N);
    return vec2f(bitcast<f32>(x[e0]), hi);
  }
  let word = x[w];
  return vec2f(decodeElement(word, e0, kind), decodeElement(word, e0 + 1u, kind));
}

fn storeX(w: u32, v: vec2f, kind: u32) {
  let e0 = 2u * w;
  if (kind == STORAGE_F32) {
    x[e0] = bitcast<u32>(v.x);
    if (e0 + 1u < N) {
      x[e0 + 1u] = bitcast<u32>(v.y);
    }
  } else {
    x[w] = encodePair(v.x, select(0.0, v.y, e0 + 1u < N), kind);
  }
}

fn storeAct(w: u32, v: vec2f) {
  let e0 = 2u * w;
  if (AUX_KIND == STORAGE_F32) {
    act[e0] = bitcast<u32>(v.x);
    if (e0 + 1u < N) {
      act[e0 + 1u] = bitcast<u32>(v.y);
    }
  } else {
    act[w] = encodePair(v.x, select(0.0, v.y, e0 + 1u < N), AUX_KIND);
  }
}

// y + t for pair w.
fn sumPair(w: u32) -> vec2f {
  let e0 = 2u * w;
  let hi = select(0.0, t[min(e0 + 1u, N - 1u)], e0 + 1u < N);
  return loadX(w, X_KIND) + vec2f(t[e0], hi);
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = pairIndex(wid, groups, lid);
  if (2u * w >= N) {
    return;
  }
  storeX(w, SCALE * loadX(w, X_KIND), X_KIND);
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = pairIndex(wid, groups, lid);
  if (2u * w >= N) {
    return;
  }
  storeX(w, sumPair(w), X_KIND);
}

@compute @workgroup_size(WG)
fn add_act(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = pairIndex(wid, groups, lid);
  if (2u * w >= N) {
    return;
  }
  let y = sumPair(w);
  storeX(w, y, X_KIND);
  storeAct(w, vec2f(activation(y.x), activation(y.y)));
}

@compute @workgroup_size(WG)
fn act_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = pairIndex(wid, groups, lid);
  if (2u * w >= N) {
    return;
  }
  let e0 = 2u * w;
  let e1 = min(e0 + 1u, N - 1u);
  let p = vec2f(decodeElement(pre[storageWord(e0, AUX_KIND)], e0, AUX_KIND), decodeElement(pre[storageWord(e1, AUX_KIND)], e1, AUX_KIND));
  storeX(w, loadX(w, STORAGE_F32) * vec2f(activationGrad(p.x), activationGrad(p.y)), STORAGE_F32);
}
