// Loss family: loss = mean(y²) over N values of y, and its gradient dy = 2·y / N · scale,
// where scale is the dynamic loss scale (1.0 in fp32 training). Driven by
// src/engine/kernels/loss.ts; storage helpers from storage.wgsl.

override N: u32;
// Storage of y: STORAGE_F32, STORAGE_F16 or STORAGE_BF16.
override Y_KIND: u32 = 0u;
// A power of two: the tree sum halves it.
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> y: array<u32>;
// value: loss[0], f32, unscaled.
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
// grad: dy, f32, N values, multiplied by the loss scale.
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;
// grad: the loss scale in word 0 (f32); the lossState buffer of the optimizer fits as is.
@group(0) @binding(3) var<storage, read> lossScale: array<f32>;

var<workgroup> sums: array<f32, WG>;

fn loadY(i: u32) -> f32 {
  return decodeElement(y[storageWord(i, Y_KIND)], i, Y_KIND);
}

// One workgroup: each invocation sums a strided share, then a tree sum in workgroup memory.
@compute @workgroup_size(WG)
fn value(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < N; i += WG) {
    let v = loadY(i);
    s += v * v;
  }
  sums[lid] = s;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      sums[lid] += sums[lid + half];
    }
  }
  if (lid == 0u) {
    loss[0] = sums[0] / f32(N);
  }
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i >= N) {
    return;
  }
  dy[i] = loadY(i) * (2.0 * lossScale[0] / f32(N));
}
