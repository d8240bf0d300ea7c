// Conv2d family, NCHW: y[n, co, oh, ow] = bias[co] + Σ_{ci, kh, kw} x[n, ci, oh·S − P + kh, ow·S − P + kw]
// · w[co, ci, kh, kw] (zero outside the image), and its three backward products. Driven by
// src/engine/kernels/conv.ts; storage helpers from storage.wgsl.
//
// forward: one invocation per output WORD (elements 2w, 2w + 1 in flat NCHW order), so a
// packed 16-bit y is written whole with no atomics; each element has its own sum (the two may
// sit in two channels or images). The backward entry points write f32, one element each:
// backward_input dx[n, ci, ih, iw] = Σ dy[n, co, oh, ow]·w[co, ci, kh, kw] over the outputs
// whose window covers (ih, iw) (oh·S = ih + P − kh), overwriting dx or adding to it (ACCUMULATE:
// a tensor read by two convs, the block input of a residual block);
// backward_weight dw[co, ci, kh, kw] = Σ_{n, oh, ow} dy·x; backward_bias db[co] = Σ_{n, oh, ow} dy.
// Every sum runs in a fixed order: results are deterministic run to run.

override N: u32;
override CIN: u32;
override H: u32;
override W: u32;
override COUT: u32;
override OH: u32;
override OW: u32;
override K: u32;
override STRIDE: u32 = 1u;
override PAD: u32 = 0u;
// Storage of x, w and (forward) y: STORAGE_F32, STORAGE_F16 or STORAGE_BF16.
override X_KIND: u32 = 0u;
override W_KIND: u32 = 0u;
override OUT_KIND: u32 = 0u;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

// forward and backward_weight: the conv input.
@group(0) @binding(0) var<storage, read> x: array<u32>;
// forward and backward_input: the weights, COUT×CIN×K×K.
@group(0) @binding(1) var<storage, read> w: array<u32>;
// forward: y (OUT_KIND); backward_input: dx, backward_weight: dw, backward_bias: db (f32 bits).
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
// forward with HAS_BIAS: f32, COUT values (without a bias the caller binds w here, never read).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// backward: the gradient of y, f32, N×COUT×OH×OW.
@group(0) @binding(4) var<storage, read> dy: array<f32>;

fn flatIndex(wid: vec3u, groups: vec3u, lid: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * WG + lid;
}

fn loadX(i: u32) -> f32 {
  return decodeElement(x[storageWord(i, X_KIND)], i, X_KIND);
}

fn loadW(i: u32) -> f32 {
  return decodeElement(w[storageWord(i, W_KIND)], i, W_KIND);
}

// Output element e of y, bias included.
fn convAt(e: u32) -> f32 {
  let ow = e % OW;
  let oh = (e / OW) % OH;
  let co = (e / (OW * OH)) % COUT;
  let n = e / (OW * OH * COUT);
  var s = 0.0;
  if (HAS_BIAS) {
    s = bias[co];
  }
  for (var ci = 0u; ci < CIN; ci++) {
    for (var kh = 0u; kh < K; kh++) {
      // Signed: the window starts P rows above the image.
      let ih = i32(oh * STRIDE + kh) - i32(PAD);
      if (ih < 0 || ih >= i32(H)) {
        continue;
      }
      for (var kw = 0u; kw < K; kw++) {
        let iw = i32(ow * STRIDE + kw) - i32(PAD);
        if (iw < 0 || iw >= i32(W)) {
          continue;
        }
        s += loadX(((n * CIN + ci) * H + u32(ih)) * W + u32(iw)) * loadW(((co * CIN + ci) * K + kh) * K + kw);
      }
    }
  }
  return s;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let total = N * COUT * OH * OW;
  let wd = flatIndex(wid, groups, lid);
  let e0 = 2u * wd;
  if (e0 >= total) {
    return;
  }
  let hasHi = e0 + 1u < total;
  let lo = convAt(e0);
  let hi = select(0.0, convAt(min(e0 + 1u, total - 1u)), hasHi);
  if (OUT_KIND == STORAGE_F32) {
    out[e0] = bitcast<u32>(lo);
    if (hasHi) {
      out[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    out[wd] = encodePair(lo, hi, OUT_KIND);
  }
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = flatIndex(wid, groups, lid);
  if (e >= N * CIN * H * W) {
    return;
  }
  let iw = e % W;
  let ih = (e / W) % H;
  let ci = (e / (W * H)) % CIN;
  let n = e / (W * H * CIN);
  var s = 0.0;
  for (var co = 0u; co < COUT; co++) {
    for (var kh = 0u; kh < K; kh++) {
      // oh·S = ih + P − kh, a whole output row inside y.
      let th = i32(ih + PAD) - i32(kh);
      if (th < 0 || u32(th) % STRIDE != 0u || u32(th) / STRIDE >= OH) {
        continue;
      }
      let oh = u32(th) / STRIDE;
      for (var kw = 0u; kw < K; kw++) {
        let tw = i32(iw + PAD) - i32(kw);
        if (tw < 0 || u32(tw) % STRIDE != 0u || u32(tw) / STRIDE >= OW) {
          continue;
        }
        let ow = u32(tw) / STRIDE;
        s += dy[((n * COUT + co) * OH + oh) * OW + ow] * loadW(((co * CIN + ci) * K + kh) * K + kw);
      }
    }
  }
  if (ACCUMULATE) {
    s += bitcast<f32>(out[e]);
  }
  out[e] = bitcast<u32>(s);
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = flatIndex(wid, groups, lid);
  if (e >= COUT * CIN * K * K) {
    return;
  }
  let kw = e % K;
  let kh = (e / K) % K;
  let ci = (e / (K * K)) % CIN;
  let co = e / (K * K * CIN);
  var s = 0.0;
  for (var n = 0u; n < N; n++) {
    for (var oh = 0u; oh < OH; oh++) {
      let ih = i32(oh * STRIDE + kh) - i32(PAD);
      if (ih < 0 || ih >= i32(H)) {
        continue;
      }
      for (var ow = 0u; ow < OW; ow++) {
        let iw = i32(ow * STRIDE + kw) - i32(PAD);
        if (iw < 0 || iw >= i32(W)) {
          continue;
        }
        s += dy[((n * COUT + co) * OH + oh) * OW + ow] * loadX(((n * CIN + ci) * H + u32(ih)) * W + u32(iw));
      }
    }
  }
  out[e] = bitcast<u32>(s);
}

@compute @workgroup_size(WG)
fn backward_bias(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let co = flatIndex(wid, groups, lid);
  if (co >= COUT) {
    return;
  }
  var s = 0.0;
  for (var n = 0u; n < N; n++) {
    let base = (n * COUT + co) * OH * OW;
    for (var i = 0u; i < OH * OW; i++) {
      s += dy[base + i];
    }
  }
  out[co] = bitcast<u32>(s);
}
