// BatchNorm2d family in training mode, NCHW, over the M = N·HW values of each channel c:
// mean, biased variance var, rstd = 1/√(var + EPS); y = γ[c]·(x − mean)·rstd + β[c], then
// optionally + res (a residual in its own storage) and ReLU. Driven by
// src/engine/kernels/batchnorm.ts; storage helpers from storage.wgsl.
//
// stats: one workgroup per channel (a tree sum over WG lanes, two passes: the mean, then the
// squared deviations), writes stats = [mean[C], rstd[C]] (f32, kept for backward) and, when
// UPDATE_RUNNING, running = [mean[C], var[C]] ← (1 − MOMENTUM)·running + MOMENTUM·(mean, var·M/(M − 1))
// as PyTorch does (the running variance is the unbiased one).
// normalize*: one invocation per output WORD (2w, 2w + 1), so a packed y is written whole even
// where a word straddles two channels (odd HW).
// backward_stats*: one workgroup per channel: dγ = Σ dz·x̂, dβ = Σ dz with dz = dy (or dy·[y > 0]
// after the ReLU, y the saved output), x̂ = (x − mean)·rstd.
// backward_input*: one invocation per element: dx = γ·rstd·(dz − dβ/M − x̂·dγ/M) (f32); with
// the residual also dres = dz. The variants are separate entry points so that each binds
// only the buffers it reads (an 'auto' layout takes every binding an entry point touches).

override N: u32;
override C: u32;
override HW: u32;
override X_KIND: u32 = 0u;
override Y_KIND: u32 = 0u;
override R_KIND: u32 = 0u;
override UPDATE_RUNNING: bool = true;
override EPS: f32 = 1e-5;
override MOMENTUM: f32 = 0.1;
// A power of two: the tree sums halve it.
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
// γ[C] then β[C], f32.
@group(0) @binding(1) var<storage, read> affine: array<f32>;
// mean[C] then rstd[C], f32: written by stats, read by the others.
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
// running mean[C] then running var[C], f32.
@group(0) @binding(5) var<storage, read_write> running: array<f32>;
// The output (Y_KIND); the backward of a ReLU variant reads it as the mask.
@group(0) @binding(6) var<storage, read_write> y: array<u32>;
@group(0) @binding(7) var<storage, read> res: array<u32>;
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
// dγ[C] then dβ[C], f32.
@group(0) @binding(10) var<storage, read_write> daffine: array<f32>;
@group(0) @binding(11) var<storage, read_write> dres: array<f32>;

var<workgroup> part: array<f32, WG>;

fn loadX(i: u32) -> f32 {
  return decodeElement(x[storageWord(i, X_KIND)], i, X_KIND);
}

fn loadY(i: u32) -> f32 {
  return decodeElement(y[storageWord(i, Y_KIND)], i, Y_KIND);
}

fn loadRes(i: u32) -> f32 {
  return decodeElement(res[storageWord(i, R_KIND)], i, R_KIND);
}

// Flat index of value j (0 ≤ j < N·HW) of channel c.
fn channelIndex(c: u32, j: u32) -> u32 {
  return ((j / HW) * C + c) * HW + j % HW;
}

fn channelOf(i: u32) -> u32 {
  return (i / HW) % C;
}

// Σ v over the workgroup, the same order every time; every lane gets the sum.
fn workgroupSum(v: f32, lid: u32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      part[lid] += part[lid + s];
    }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

fn flatIndex(wid: vec3u, groups: vec3u) -> u32 {
  return wid.y * groups.x + wid.x;
}

@compute @workgroup_size(WG)
fn forward_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Uniform per workgroup: the spare workgroups of a split grid leave before any barrier.
  let c = flatIndex(wid, groups);
  if (c >= C) {
    return;
  }
  let M = N * HW;
  var s = 0.0;
  for (var j = lid; j < M; j += WG) {
    s += loadX(channelIndex(c, j));
  }
  let mean = workgroupSum(s, lid) / f32(M);
  var q = 0.0;
  for (var j = lid; j < M; j += WG) {
    let d = loadX(channelIndex(c, j)) - mean;
    q += d * d;
  }
  let variance = workgroupSum(q, lid) / f32(M);
  if (lid == 0u) {
    stats[c] = mean;
    stats[C + c] = inverseSqrt(variance + EPS);
    if (UPDATE_RUNNING) {
      let unbiased = select(variance, variance * f32(M) / f32(M - 1u), M > 1u);
      running[c] = (1.0 - MOMENTUM) * running[c] + MOMENTUM * mean;
      running[C + c] = (1.0 - MOMENTUM) * running[C + c] + MOMENTUM * unbiased;
    }
  }
}

fn normalized(i: u32) -> f32 {
  let c = channelOf(i);
  return affine[c] * (loadX(i) - stats[c]) * stats[C + c] + affine[C + c];
}

fn storeY(wd: u32, lo: f32, hi: f32, hasHi: bool) {
  let e0 = 2u * wd;
  if (Y_KIND == STORAGE_F32) {
    y[e0] = bitcast<u32>(lo);
    if (hasHi) {
      y[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    y[wd] = encodePair(lo, hi, Y_KIND);
  }
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wd = flatIndex(wid, groups) * WG + lid;
  let total = N * C * HW;
  if (2u * wd >= total) {
    return;
  }
  let hasHi = 2u * wd + 1u < total;
  let e1 = min(2u * wd + 1u, total - 1u);
  storeY(wd, normalized(2u * wd), select(0.0, normalized(e1), hasHi), hasHi);
}

@compute @workgroup_size(WG)
fn normalize_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wd = flatIndex(wid, groups) * WG + lid;
  let total = N * C * HW;
  if (2u * wd >= total) {
    return;
  }
  let hasHi = 2u * wd + 1u < total;
  let e1 = min(2u * wd + 1u, total - 1u);
  storeY(wd, max(normalized(2u * wd), 0.0), select(0.0, max(normalized(e1), 0.0), hasHi), hasHi);
}

@compute @workgroup_size(WG)
fn normalize_relu_res(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wd = flatIndex(wid, groups) * WG + lid;
  let total = N * C * HW;
  if (2u * wd >= total) {
    return;
  }
  let hasHi = 2u * wd + 1u < total;
  let e0 = 2u * wd;
  let e1 = min(e0 + 1u, total - 1u);
  let lo = max(normalized(e0) + loadRes(e0), 0.0);
  let hi = select(0.0, max(normalized(e1) + loadRes(e1), 0.0), hasHi);
  storeY(wd, lo, hi, hasHi);
}

fn xhat(i: u32) -> f32 {
  let c = channelOf(i);
  return (loadX(i) - stats[c]) * stats[C + c];
}

// dy after the ReLU: zero where the saved output is not positive (PyTorch's threshold_backward).
fn maskedDy(i: u32) -> f32 {
  return select(0.0, dy[i], loadY(i) > 0.0);
}

fn writeParamGrads(c: u32, lid: u32, sdz: f32, sdzx: f32) {
  let a = workgroupSum(sdzx, lid);
  let b = workgroupSum(sdz, lid);
  if (lid == 0u) {
    daffine[c] = a;
    daffine[C + c] = b;
  }
}

@compute @workgroup_size(WG)
fn backward_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flatIndex(wid, groups);
  if (c >= C) {
    return;
  }
  var sdz = 0.0;
  var sdzx = 0.0;
  for (var j = lid; j < N * HW; j += WG) {
    let i = channelIndex(c, j);
    let dz = dy[i];
    sdz += dz;
    sdzx += dz * xhat(i);
  }
  writeParamGrads(c, lid, sdz, sdzx);
}

@compute @workgroup_size(WG)
fn backward_stats_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flatIndex(wid, groups);
  if (c >= C) {
    return;
  }
  var sdz = 0.0;
  var sdzx = 0.0;
  for (var j = lid; j < N * HW; j += WG) {
    let i = channelIndex(c, j);
    let dz = maskedDy(i);
    sdz += dz;
    sdzx += dz * xhat(i);
  }
  writeParamGrads(c, lid, sdz, sdzx);
}

fn inputGrad(i: u32, dz: f32) -> f32 {
  let c = channelOf(i);
  let M = f32(N * HW);
  return affine[c] * stats[C + c] * (dz - daffine[C + c] / M - xhat(i) * daffine[c] / M);
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups) * WG + lid;
  if (i >= N * C * HW) {
    return;
  }
  dx[i] = inputGrad(i, dy[i]);
}

@compute @workgroup_size(WG)
fn backward_input_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups) * WG + lid;
  if (i >= N * C * HW) {
    return;
  }
  dx[i] = inputGrad(i, maskedDy(i));
}

@compute @workgroup_size(WG)
fn backward_input_relu_res(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups) * WG + lid;
  if (i >= N * C * HW) {
    return;
  }
  let dz = maskedDy(i);
  dx[i] = inputGrad(i, dz);
  dres[i] = dz;
}
