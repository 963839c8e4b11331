// A word-level diff of two replies (longest common subsequence over words and the spaces between them).
// Small on purpose: replies of a few thousand words at most; beyond MAX_CELLS it falls back to a
// common prefix/suffix split so the page never stalls.

const MAX_CELLS = 4_000_000;

export function tokenize(text) {
  return (text || "").match(/\s+|[^\s]+/g) || [];
}

/** [{op: "same"|"del"|"ins", text}] turning a into b. */
export function wordDiff(a, b) {
  const x = tokenize(a);
  const y = tokenize(b);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start += 1;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) { endX -= 1; endY -= 1; }
  const ops = [];
  const push = (op, text) => {
    const last = ops[ops.length - 1];
    if (last && last.op === op) last.text += text;
    else ops.push({ op, text });
  };
  x.slice(0, start).forEach((t) => push("same", t));
  const mx = x.slice(start, endX);
  const my = y.slice(start, endY);
  if ((mx.length + 1) * (my.length + 1) > MAX_CELLS) {
    mx.forEach((t) => push("del", t));
    my.forEach((t) => push("ins", t));
  } else {
    // lcs[i][j]: the common length of mx[i:] and my[j:], in one flat array.
    const w = my.length + 1;
    const lcs = new Uint32Array((mx.length + 1) * w);
    for (let i = mx.length - 1; i >= 0; i -= 1) {
      for (let j = my.length - 1; j >= 0; j -= 1) {
        lcs[i * w + j] = mx[i] === my[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < mx.length && j < my.length) {
      if (mx[i] === my[j]) { push("same", mx[i]); i += 1; j += 1; }
      else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) { push("del", mx[i]); i += 1; }
      else { push("ins", my[j]); j += 1; }
    }
    mx.slice(i).forEach((t) => push("del", t));
    my.slice(j).forEach((t) => push("ins", t));
  }
  x.slice(endX).forEach((t) => push("same", t));
  return ops;
}
