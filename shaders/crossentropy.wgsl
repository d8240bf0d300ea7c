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
// value  one workgroup sums the GROUPS partial sums in a fixed tree: loss[0] = Σ / ROWS.
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

var<workgroup> scratch: array<f32, WG>;

fn loadLogit(r: u32, j: u32) -> f32 {
  let i = r * VOCAB + j;
  return decodeElement(logits[storageWord(i, LOGITS_KIND)], i, LOGITS_KIND);
}

// Tree reduction of v over the workgroup, max when isMax else sum; every invocation gets the
// result. Call in uniform control flow; the closing barrier lets scratch be reused at once.
fn workgroupReduce(v: f32, lid: u32, isMax: bool) -> f32 {
  scratch[lid] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      let o = scratch[lid + half];
      scratch[lid] = select(scratch[lid] + o, max(scratch[lid], o), isMax);
    }
  }
  workgroupBarrier();
  let total = scratch[0];
  workgroupBarrier();
  return total;
}

// (row max, Σ_j exp(logit_j − max)) of row r, by the whole workgroup.
fn rowStats(r: u32, lid: u32) -> vec2f {
  var m = LOWEST;
  for (var j = lid; j < VOCAB; j += WG) {
    m = max(m, loadLogit(r, j));
  }
  let rowMax = workgroupReduce(m, lid, true);
  var s = 0.0;
  for (var j = lid; j < VOCAB; j += WG) {
    s += exp(loadLogit(r, j) - rowMax);
  }
  return vec2f(rowMax, workgroupReduce(s, lid, false));
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Uniform per workgroup: the spare workgroups of a split dispatch leave together.
  let g = wid.y * groups.x + wid.x;
  if (g >= GROUPS) {
    return;
  }
  let k = lossScale[0] / f32(ROWS);
  var total = 0.0;
  for (var r = g; r < ROWS; r += GROUPS) {
    let st = rowStats(r, lid);
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
fn value(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < GROUPS; i += WG) {
    s += loss[1u + i];
  }
  let total = workgroupReduce(s, lid, false);
  if (lid == 0u) {
    loss[0] = total / f32(ROWS);
  }
}
