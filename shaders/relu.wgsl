// ReLU family: y = max(x, 0) in any storage, and dx = dy·[y > 0] in f32 from the saved OUTPUT
// (PyTorch's threshold_backward on the result, as an in-place ReLU saves it). Driven by
// src/engine/kernels/relu.ts; storage helpers from storage.wgsl.
// forward: one invocation per output word (2w, 2w + 1); backward: one per element.

override COUNT: u32;
override X_KIND: u32 = 0u;
override Y_KIND: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
// forward: written; backward: read as the mask.
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn flatIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

fn reluAt(i: u32) -> f32 {
  return max(decodeElement(x[storageWord(i, X_KIND)], i, X_KIND), 0.0);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wd = flatIndex(wid, groups, lid);
  let e0 = 2u * wd;
  if (e0 >= COUNT) {
    return;
  }
  let hasHi = e0 + 1u < COUNT;
  let lo = reluAt(e0);
  let hi = select(0.0, reluAt(min(e0 + 1u, COUNT - 1u)), hasHi);
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
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= COUNT) {
    return;
  }
  dx[i] = select(0.0, dy[i], decodeElement(y[storageWord(i, Y_KIND)], i, Y_KIND) > 0.0);
}
