// LayerNorm family over ROWS rows of COLS values: y = (x − mean)·rstd·gamma + beta with
// rstd = 1/sqrt(var + EPS), var the biased variance (PyTorch's LayerNorm), and its backward.
// Driven by src/engine/kernels/layernorm.ts; storage helpers from storage.wgsl.
//
// forward, two dispatches of one pass:
//   stats            one workgroup per row: mean, then Σ(x − mean)² (two passes over the
//                    row, so no cancellation of E[x²] − mean²); writes mean[r], rstd[r].
//   normalize_words  one invocation per output WORD (elements 2w, 2w + 1), so a packed y
//                    is written whole even where a word straddles two rows (odd COLS).
// backward, two dispatches of one pass, with xhat = (x − mean)·rstd and g = dy ⊙ gamma:
//   input_grad   one workgroup per row: dx = rstd·(g − mean(g) − xhat·mean(g ⊙ xhat)).
//   param_grad   column sums, WG_X columns × WG_Y lanes per workgroup as in reduce.wgsl:
//                dGamma[j] = Σ_r dy·xhat, dBeta[j] = Σ_r dy, in a fixed order, no atomics.
// RMSNorm (Zhang & Sennrich 2019; Llama's LlamaRMSNorm): y = x·rstd·gamma with
// rstd = 1/sqrt(mean(x²) + EPS), no mean and no beta; entry points rms_* mirror the four
// above, keep only rstd (4 B per row) and, with xhat = x·rstd and g = dy ⊙ gamma, compute
// dx = rstd·(g − xhat·mean(g ⊙ xhat)) and dGamma[j] = Σ_r dy·xhat. They bind no mean, beta
// or dBeta.
// Every sum is in f32 and runs in a fixed order: results are deterministic run to run. The
// row sums are rowSum of rowreduce-*.wgsl (subgroup operations where the device has them),
// which layernorm.ts puts in front of this file.

override ROWS: u32;
override COLS: u32;
// Storage of x and y: STORAGE_F32, STORAGE_F16 or STORAGE_BF16.
override X_KIND: u32 = 0u;
override Y_KIND: u32 = 0u;
override EPS: f32 = 1e-5;
// Row workgroups (stats, input_grad); a power of two for the tree sums.
override WG: u32 = 128u;
// normalize_words: invocations per workgroup, one output word each.
override WG_FLAT: u32 = 256u;
// param_grad: columns per workgroup (contiguous loads) and lanes per column.
override WG_X: u32 = 32u;
override WG_Y: u32 = 8u;
override WG_XY: u32 = WG_X * WG_Y;

@group(0) @binding(0) var<storage, read> x: array<u32>;
// f32, COLS each.
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
// forward: y, storage Y_KIND, ROWS×COLS.
@group(0) @binding(3) var<storage, read_write> y: array<u32>;
// forward: f32, ROWS each, kept for the backward (stats writes them, normalize_words reads them).
@group(0) @binding(4) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstdOut: array<f32>;
// backward: the forward's mean and rstd.
@group(0) @binding(6) var<storage, read> meanIn: array<f32>;
@group(0) @binding(7) var<storage, read> rstdIn: array<f32>;
// backward: f32, ROWS×COLS.
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
// backward: f32, COLS each, overwritten.
@group(0) @binding(10) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(11) var<storage, read_write> dBeta: array<f32>;

var<workgroup> partial: array<vec2f, WG_XY>;

fn loadX(i: u32) -> f32 {
  return decodeElement(x[storageWord(i, X_KIND)], i, X_KIND);
}

fn workgroupIndex(wid: vec3u, groups: vec3u) -> u32 {
  return wid.y * groups.x + wid.x;
}

@compute @workgroup_size(WG)
fn stats(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  // Uniform per workgroup: the spare workgroups of a split dispatch leave together.
  let row = workgroupIndex(grp.wid, grp.groups);
  if (row >= ROWS) {
    return;
  }
  let base = row * COLS;
  var s = 0.0;
  for (var j = lid; j < COLS; j += WG) {
    s += loadX(base + j);
  }
  let mean = rowSum(vec2f(s, 0.0), grp, inv).x / f32(COLS);
  var q = 0.0;
  for (var j = lid; j < COLS; j += WG) {
    let d = loadX(base + j) - mean;
    q += d * d;
  }
  let variance = rowSum(vec2f(q, 0.0), grp, inv).x / f32(COLS);
  if (lid == 0u) {
    meanOut[row] = mean;
    rstdOut[row] = 1.0 / sqrt(variance + EPS);
  }
}

fn affine(i: u32) -> f32 {
  let row = i / COLS;
  let col = i % COLS;
  return (loadX(i) - meanOut[row]) * rstdOut[row] * gamma[col] + beta[col];
}

@compute @workgroup_size(WG_FLAT)
fn normalize_words(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = workgroupIndex(wid, groups) * WG_FLAT + lid;
  let n = ROWS * COLS;
  let e0 = 2u * w;
  if (e0 >= n) {
    return;
  }
  let hasHi = e0 + 1u < n;
  let lo = affine(e0);
  // Clamped, so the element past the end of an odd n stays in bounds; its value is dropped.
  let hi = select(0.0, affine(min(e0 + 1u, n - 1u)), hasHi);
  if (Y_KIND == STORAGE_F32) {
    y[e0] = bitcast<u32>(lo);
    if (hasHi) {
      y[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    y[w] = encodePair(lo, hi, Y_KIND);
  }
}

@compute @workgroup_size(WG)
fn input_grad(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  let row = workgroupIndex(grp.wid, grp.groups);
  if (row >= ROWS) {
    return;
  }
  let base = row * COLS;
  let mean = meanIn[row];
  let rstd = rstdIn[row];
  // (Σ g, Σ g·xhat) over the row.
  var s = vec2f(0.0);
  for (var j = lid; j < COLS; j += WG) {
    let g = dy[base + j] * gamma[j];
    let xhat = (loadX(base + j) - mean) * rstd;
    s += vec2f(g, g * xhat);
  }
  let m = rowSum(s, grp, inv) / f32(COLS);
  for (var j = lid; j < COLS; j += WG) {
    let g = dy[base + j] * gamma[j];
    let xhat = (loadX(base + j) - mean) * rstd;
    dx[base + j] = rstd * (g - m.x - xhat * m.y);
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn param_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let col = workgroupIndex(wid, groups) * WG_X + lid.x;
  // (Σ dy·xhat, Σ dy) over this lane's rows lid.y, lid.y + WG_Y, …
  var s = vec2f(0.0);
  if (col < COLS) {
    for (var row = lid.y; row < ROWS; row += WG_Y) {
      let i = row * COLS + col;
      let d = dy[i];
      s += vec2f(d * (loadX(i) - meanIn[row]) * rstdIn[row], d);
    }
  }
  partial[lid.y * WG_X + lid.x] = s;
  // Every invocation reaches the barrier: the column test above does not return early.
  workgroupBarrier();
  if (lid.y == 0u && col < COLS) {
    var total = vec2f(0.0);
    for (var k = 0u; k < WG_Y; k++) {
      total += partial[k * WG_X + lid.x];
    }
    dGamma[col] = total.x;
    dBeta[col] = total.y;
  }
}

// ---- RMSNorm --------------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn rms_stats(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  let row = workgroupIndex(grp.wid, grp.groups);
  if (row >= ROWS) {
    return;
  }
  let base = row * COLS;
  var q = 0.0;
  for (var j = lid; j < COLS; j += WG) {
    let v = loadX(base + j);
    q += v * v;
  }
  let ms = rowSum(vec2f(q, 0.0), grp, inv).x / f32(COLS);
  if (lid == 0u) {
    rstdOut[row] = 1.0 / sqrt(ms + EPS);
  }
}

fn rmsScale(i: u32) -> f32 {
  return loadX(i) * rstdOut[i / COLS] * gamma[i % COLS];
}

@compute @workgroup_size(WG_FLAT)
fn rms_normalize_words(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = workgroupIndex(wid, groups) * WG_FLAT + lid;
  let n = ROWS * COLS;
  let e0 = 2u * w;
  if (e0 >= n) {
    return;
  }
  let hasHi = e0 + 1u < n;
  let lo = rmsScale(e0);
  let hi = select(0.0, rmsScale(min(e0 + 1u, n - 1u)), hasHi);
  if (Y_KIND == STORAGE_F32) {
    y[e0] = bitcast<u32>(lo);
    if (hasHi) {
      y[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    y[w] = encodePair(lo, hi, Y_KIND);
  }
}

@compute @workgroup_size(WG)
fn rms_input_grad(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  let row = workgroupIndex(grp.wid, grp.groups);
  if (row >= ROWS) {
    return;
  }
  let base = row * COLS;
  let rstd = rstdIn[row];
  var s = 0.0;
  for (var j = lid; j < COLS; j += WG) {
    s += dy[base + j] * gamma[j] * loadX(base + j) * rstd;
  }
  let m = rowSum(vec2f(s, 0.0), grp, inv).x / f32(COLS);
  for (var j = lid; j < COLS; j += WG) {
    let xhat = loadX(base + j) * rstd;
    dx[base + j] = rstd * (dy[base + j] * gamma[j] - xhat * m);
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn rms_param_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let col = workgroupIndex(wid, groups) * WG_X + lid.x;
  var s = vec2f(0.0);
  if (col < COLS) {
    for (var row = lid.y; row < ROWS; row += WG_Y) {
      let i = row * COLS + col;
      s.x += dy[i] * loadX(i) * rstdIn[row];
    }
  }
  partial[lid.y * WG_X + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && col < COLS) {
    var total = 0.0;
    for (var k = 0u; k < WG_Y; k++) {
      total += partial[k * WG_X + lid.x].x;
    }
    dGamma[col] = total;
  }
}
