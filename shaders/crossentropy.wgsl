// Cross-entropy family: loss = mean over ROWS rows of −log softmax(logits[r])[targets[r]],
// and dLogits = (softmax − onehot)/ROWS · scale, scale the dynamic loss scale (1.0 in fp32
// training). Logits are stored in LOGITS_KIND and computed in f32 with the row max
// subtracted, so exp never overflows whatever their size. Driven by
// src/engine/kernels/crossentropy.ts; storage helpers from storage.wgsl.
//
// grad   GROUPS workgroups, workgroup g taking rows g, g + GROUPS, …: per row a cooperative
//        max and Σexp over the vocabulary, every dLogits of the row, and the row's loss
//        (max − logit[target]) + log Σexp added to the workgroup's running sum, which it
//        writes to loss[1 + g].
// value  one workgroup sums the GROUPS partial sums in a fixed order: loss[0] = Σ / ROWS.
// Row max and sums are rowMax and rowSum of rowreduce-*.wgsl (subgroup operations where the
// device has them), which crossentropy.ts puts in front of this file.
// The same rows, order and tree every run, so the mean is deterministic, with no float
// atomics; and the logits are read by the grad pass only.
//
// A target ≥ VOCAB (e.g. a padding id 0xffffffff) marks a row that contributes 0 to the sum
// and gets an all-zero dLogits row; the mean still divides by ROWS.

override ROWS: u32;
override VOCAB: u32;
override LOGITS_KIND: u32 = 0u;
// Workgroups of grad, min(ROWS, CROSS_ENTROPY_PARTIALS): one partial sum each.
override GROUPS: u32;
// A power of two: the tree reductions halve it.
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<u32>;
// u32, ROWS.
@group(0) @binding(1) var<storage, read> targets: array<u32>;
// f32, 1 + GROUPS: loss[0] the mean, unscaled (written by value); loss[1 + g] workgroup g's
// sum of row losses (written by grad).
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
// grad: f32, ROWS×VOCAB, multiplied by the loss scale.
@group(0) @binding(3) var<storage, read_write> dLogits: array<f32>;
// grad: the loss scale in word 0 (f32); the optimizer's lossState buffer fits as is.
@group(0) @binding(4) var<storage, read> lossScale: array<f32>;

// The lowest finite f32: the identity of max that WGSL can hold (it may assume no infinities).
const LOWEST: f32 = -3.4028234663852886e38;

fn loadLogit(r: u32, j: u32) -> f32 {
  let i = r * VOCAB + j;
  return decodeElement(logits[storageWord(i, LOGITS_KIND)], i, LOGITS_KIND);
}

// (row max, Σ_j exp(logit_j − max)) of row r, by the whole workgroup.
fn rowStats(r: u32, grp: RowGroup, inv: RowInvocation) -> vec2f {
  let lid = inv.lid;
  var m = LOWEST;
  for (var j = lid; j < VOCAB; j += WG) {
    m = max(m, loadLogit(r, j));
  }
  let rowMaxValue = rowMax(m, grp, inv);
  var s = 0.0;
  for (var j = lid; j < VOCAB; j += WG) {
    s += exp(loadLogit(r, j) - rowMaxValue);
  }
  return vec2f(rowMaxValue, rowSum(vec2f(s, 0.0), grp, inv).x);
}

@compute @workgroup_size(WG)
fn grad(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  // Uniform per workgroup: the spare workgroups of a split dispatch leave together.
  let g = grp.wid.y * grp.groups.x + grp.wid.x;
  if (g >= GROUPS) {
    return;
  }
  let k = lossScale[0] / f32(ROWS);
  var total = 0.0;
  for (var r = g; r < ROWS; r += GROUPS) {
    let st = rowStats(r, grp, inv);
    let t = targets[r];
    let valid = t < VOCAB;
    let invSum = 1.0 / st.y;
    for (var j = lid; j < VOCAB; j += WG) {
      let p = exp(loadLogit(r, j) - st.x) * invSum;
      let dl = (p - select(0.0, 1.0, j == t)) * k;
      dLogits[r * VOCAB + j] = select(0.0, dl, valid);
    }
    if (lid == 0u && valid) {
      // −log p_t = log Σexp − (logit_t − max), both terms ≥ 0: no cancellation.
      total += log(st.y) + (st.x - loadLogit(r, t));
    }
  }
  if (lid == 0u) {
    loss[1u + g] = total;
  }
}

@compute @workgroup_size(WG)
fn value(grp: RowGroup, inv: RowInvocation) {
  var s = 0.0;
  for (var i = inv.lid; i < GROUPS; i += WG) {
    s += loss[1u + i];
  }
  let total = rowSum(vec2f(s, 0.0), grp, inv).x;
  if (inv.lid == 0u) {
    loss[0] = total / f32(ROWS);
  }
}
