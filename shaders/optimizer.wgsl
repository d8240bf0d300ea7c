// Optimizer family: a fused, in-place update over N f32 values, PyTorch semantics
// (torch.optim.SGD with dampening 0 and no Nesterov, Adam and AdamW with amsgrad off).
// f32 params, grads and states: one tensor, or a whole arena of them laid out alike (the
// padding between tensors is zero in all four and stays zero). Driven by
// src/engine/kernels/optimizer.ts; behind the storage prelude (shaders/storage.wgsl).
//
// The *_half entry points also write the 16-bit copy (HALF_KIND, packed two per u32) of what
// they update: one invocation per pair of values, so each packed word is written whole; half
// word w holds values 2w and 2w + 1 (an arena's half copy is laid out at half its offsets).
//
// hyper (f32, HYPER_FLOATS values, written by the host before the step is submitted):
//   [0] lr  [1] momentum or beta1  [2] beta2  [3] eps  [4] weight decay
//   [5] 1 - beta1^t  [6] 1 - beta2^t  [7] 1 / loss scale  [8] skip (non-zero: skip the step)
// lossState (4 words, see loss-scale.wgsl): when USE_LOSS_STATE, the grads are divided by
// its scale (word 0, f32) instead of hyper[7], and a set found-inf flag (word 2) skips the step.

override N: u32;
override WG: u32 = 256u;
// adam only: AdamW's decoupled weight decay (p *= 1 - lr·wd) instead of Adam's L2 on the grad.
override DECOUPLED: bool = false;
override USE_LOSS_STATE: bool = false;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read> hyper: array<f32>;
// Without USE_LOSS_STATE the caller binds hyper here; it is not read.
@group(0) @binding(3) var<storage, read> lossState: array<u32>;
// sgd_momentum: the momentum buffer; adam: the first moment.
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
// adam: the second moment.
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
// *_half: the packed 16-bit copy, ceil(N / 2) words.
@group(0) @binding(6) var<storage, read_write> halfCopy: array<u32>;
override HALF_KIND: u32 = 1u;

fn elementIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

fn skipStep() -> bool {
  if (USE_LOSS_STATE && lossState[2] != 0u) {
    return true;
  }
  return hyper[8] != 0.0;
}

// The gradient of element i, unscaled.
fn grad(i: u32) -> f32 {
  if (USE_LOSS_STATE) {
    return grads[i] / bitcast<f32>(lossState[0]);
  }
  return grads[i] * hyper[7];
}

// p -= lr · (g + wd·p)
fn sgdAt(i: u32) -> f32 {
  let p = params[i];
  let g = grad(i) + hyper[4] * p;
  let out = p - hyper[0] * g;
  params[i] = out;
  return out;
}

// buf = μ·buf + (g + wd·p); p -= lr·buf. buf starts at 0, which equals PyTorch's buf = g on step 1.
fn sgdMomentumAt(i: u32) -> f32 {
  let p = params[i];
  let g = grad(i) + hyper[4] * p;
  let buf = hyper[1] * m[i] + g;
  m[i] = buf;
  let out = p - hyper[0] * buf;
  params[i] = out;
  return out;
}

// m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p -= lr/(1-β1^t) · m / (√v / √(1-β2^t) + eps)
fn adamAt(i: u32) -> f32 {
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let wd = hyper[4];
  var p = params[i];
  var g = grad(i);
  if (DECOUPLED) {
    p *= 1.0 - lr * wd;
  } else {
    g += wd * p;
  }
  let mi = beta1 * m[i] + (1.0 - beta1) * g;
  let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / sqrt(hyper[6]) + hyper[3];
  let out = p - (lr / hyper[5]) * mi / denom;
  params[i] = out;
  return out;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = elementIndex(wid, groups, lid);
  if (i >= N || skipStep()) {
    return;
  }
  sgdAt(i);
}

@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = elementIndex(wid, groups, lid);
  if (i >= N || skipStep()) {
    return;
  }
  sgdMomentumAt(i);
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = elementIndex(wid, groups, lid);
  if (i >= N || skipStep()) {
    return;
  }
  adamAt(i);
}

// Pair w: values 2w and 2w + 1 (the second past N reads as 0, as an odd tensor's last half word holds).
@compute @workgroup_size(WG)
fn sgd_half(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = elementIndex(wid, groups, lid);
  let i = 2u * w;
  if (i >= N || skipStep()) {
    return;
  }
  let lo = sgdAt(i);
  var hi = 0.0;
  if (i + 1u < N) {
    hi = sgdAt(i + 1u);
  }
  halfCopy[w] = encodePair(lo, hi, HALF_KIND);
}

@compute @workgroup_size(WG)
fn sgd_momentum_half(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = elementIndex(wid, groups, lid);
  let i = 2u * w;
  if (i >= N || skipStep()) {
    return;
  }
  let lo = sgdMomentumAt(i);
  var hi = 0.0;
  if (i + 1u < N) {
    hi = sgdMomentumAt(i + 1u);
  }
  halfCopy[w] = encodePair(lo, hi, HALF_KIND);
}

@compute @workgroup_size(WG)
fn adam_half(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = elementIndex(wid, groups, lid);
  let i = 2u * w;
  if (i >= N || skipStep()) {
    return;
  }
  let lo = adamAt(i);
  var hi = 0.0;
  if (i + 1u < N) {
    hi = adamAt(i + 1u);
  }
  halfCopy[w] = encodePair(lo, hi, HALF_KIND);
}
