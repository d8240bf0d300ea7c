// Elementwise family: out = a + b over N values in any storages (the residual add of a
// pre-LayerNorm block), and into += x in f32 (summing the gradient branches that meet at a
// residual). Driven by src/engine/kernels/elementwise.ts; storage helpers from storage.wgsl.
//
// add: one invocation per PAIR of elements (2w, 2w + 1), so a packed out is written in whole
// words with no atomics; an f32 out gets the same two elements as two words.
// accumulate: one invocation per element (f32 only, nothing packed).

override N: u32;
// Storage of a, b and out: STORAGE_F32, STORAGE_F16 or STORAGE_BF16.
override A_KIND: u32 = 0u;
override B_KIND: u32 = 0u;
override OUT_KIND: u32 = 0u;
override WG: u32 = 256u;

// add: the two summands (they may be the same buffer) and the sum.
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
// accumulate: x (f32, N) is added into `into` (f32, N).
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> into: array<f32>;

fn flatIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

fn loadA(i: u32) -> f32 {
  return decodeElement(a[storageWord(i, A_KIND)], i, A_KIND);
}

fn loadB(i: u32) -> f32 {
  return decodeElement(b[storageWord(i, B_KIND)], i, B_KIND);
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = flatIndex(wid, groups, lid);
  let e0 = 2u * w;
  if (e0 >= N) {
    return;
  }
  let hasHi = e0 + 1u < N;
  // Clamped, so the load past the end of an odd N stays in bounds; its value is dropped.
  let e1 = min(e0 + 1u, N - 1u);
  let lo = loadA(e0) + loadB(e0);
  let hi = select(0.0, loadA(e1) + loadB(e1), hasHi);
  if (OUT_KIND == STORAGE_F32) {
    out[e0] = bitcast<u32>(lo);
    if (hasHi) {
      out[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    // An odd N leaves the last word's high half 0, as packHalf does.
    out[w] = encodePair(lo, hi, OUT_KIND);
  }
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= N) {
    return;
  }
  into[i] += x[i];
}
