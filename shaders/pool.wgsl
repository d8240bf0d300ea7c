// Pooling family, NCHW. Driven by src/engine/kernels/pool.ts; storage helpers from storage.wgsl.
//
// max_forward: 2×2 windows, stride 2, no padding, floor mode (OH = ⌊H/2⌋: an odd last row or
// column is in no window): y[n, c, oh, ow] = max of x[n, c, 2oh..2oh+1, 2ow..2ow+1].
// max_backward keeps no indices: it finds the window's argmax again from the saved input x,
// the first maximum in row-major order winning as in PyTorch's kernels (strict >), and gives it
// the whole dy; the other three get 0. One invocation per element of dx (f32, no atomics).
// avg_forward (global average pool): y[n, c] = mean of x[n, c, ·, ·]; avg_backward:
// dx[n, c, h, w] = dy[n, c]/HW. Outputs are written one word (two elements) per invocation.

override N: u32;
override C: u32;
override H: u32;
override W: u32;
override X_KIND: u32 = 0u;
override Y_KIND: u32 = 0u;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn flatIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

fn loadX(i: u32) -> f32 {
  return decodeElement(x[storageWord(i, X_KIND)], i, X_KIND);
}

fn storeY(wd: u32, total: u32, lo: f32, hi: f32) {
  let e0 = 2u * wd;
  if (Y_KIND == STORAGE_F32) {
    y[e0] = bitcast<u32>(lo);
    if (e0 + 1u < total) {
      y[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    y[wd] = encodePair(lo, hi, Y_KIND);
  }
}

// Flat index in x of the first element of output (plane, oh, ow)'s window; plane = n·C + c.
fn windowBase(plane: u32, oh: u32, ow: u32) -> u32 {
  return (plane * H + 2u * oh) * W + 2u * ow;
}

// Offset (0..3, row-major) of the window's first maximum.
fn argmaxOf(base: u32) -> u32 {
  var best = loadX(base);
  var arg = 0u;
  for (var k = 1u; k < 4u; k++) {
    let v = loadX(base + (k / 2u) * W + k % 2u);
    if (v > best) {
      best = v;
      arg = k;
    }
  }
  return arg;
}

fn maxAt(e: u32) -> f32 {
  let OW = W / 2u;
  let OH = H / 2u;
  let ow = e % OW;
  let oh = (e / OW) % OH;
  let base = windowBase(e / (OW * OH), oh, ow);
  let k = argmaxOf(base);
  return loadX(base + (k / 2u) * W + k % 2u);
}

@compute @workgroup_size(WG)
fn max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let total = N * C * (H / 2u) * (W / 2u);
  let wd = flatIndex(wid, groups, lid);
  if (2u * wd >= total) {
    return;
  }
  let hi = select(0.0, maxAt(min(2u * wd + 1u, total - 1u)), 2u * wd + 1u < total);
  storeY(wd, total, maxAt(2u * wd), hi);
}

@compute @workgroup_size(WG)
fn max_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= N * C * H * W) {
    return;
  }
  let OW = W / 2u;
  let OH = H / 2u;
  let iw = i % W;
  let ih = (i / W) % H;
  let plane = i / (W * H);
  let oh = ih / 2u;
  let ow = iw / 2u;
  var g = 0.0;
  if (oh < OH && ow < OW) {
    let k = argmaxOf(windowBase(plane, oh, ow));
    if (k == (ih % 2u) * 2u + iw % 2u) {
      g = dy[(plane * OH + oh) * OW + ow];
    }
  }
  dx[i] = g;
}

fn meanAt(plane: u32) -> f32 {
  var s = 0.0;
  for (var j = 0u; j < H * W; j++) {
    s += loadX(plane * H * W + j);
  }
  return s / f32(H * W);
}

@compute @workgroup_size(WG)
fn avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let total = N * C;
  let wd = flatIndex(wid, groups, lid);
  if (2u * wd >= total) {
    return;
  }
  let hi = select(0.0, meanAt(min(2u * wd + 1u, total - 1u)), 2u * wd + 1u < total);
  storeY(wd, total, meanAt(2u * wd), hi);
}

@compute @workgroup_size(WG)
fn avg_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, groups, lid);
  if (i >= N * C * H * W) {
    return;
  }
  dx[i] = dy[i / (H * W)] / f32(H * W);
}
