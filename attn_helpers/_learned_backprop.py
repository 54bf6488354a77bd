"""Forward and backward passes of the tiny pronoun transformer, written out by hand (numpy only).

The model (used by :mod:`attn_helpers.learned`), for a batch of ``B`` padded sentences of
``T`` tokens::

    x0 = tok_emb[ids] + pos_emb[:T]                      token + position embeddings  (B, T, d)
    h1 = x0 + MHA_1(q=x0, k=x0, v=x0) @ w_o1              layer 1, with a residual     (B, T, d)
    o2 = MHA_2(q=h1, k=h1, v=tok_emb[ids])                layer 2: NO residual, values
                                                          from the token embeddings    (B, T, d)
    logits[b, c] = o2[b, it_pos[b]] . (tok_emb[candidates[b, c]] @ w_v2)               (B, 2)
    loss = mean cross-entropy(logits, target)

Layer 2 has no residual and takes its values from the token embeddings, so the only way for
"it"'s output to say *which* noun is through layer 2's attention weights (notebook 06 ablates
them to show it). The readout compares that output with each candidate noun's own value vector:
"which noun does what 'it' gathered look most like?". Because it compares a mix of values with
those same values, moving weight from the other noun to a noun always raises that noun's logit
against the other's (by the weight moved times the squared distance of the two value vectors in that head);
weight on other words (say "was") can tip the answer either way. A readout with its own free
weights could learn to point *away* from the answer and invert it. Every attention call is the
course's :func:`~attn_helpers.core.scaled_dot_product_attention`; its returned ``weights`` are
all the backward pass needs.

Private: the public entry points are in :mod:`attn_helpers.learned`.
"""

from __future__ import annotations

import math

import numpy as np

from .core import merge_heads, padding_mask, scaled_dot_product_attention, split_heads

PARAM_NAMES = (
    "tok_emb", "pos_emb",
    "w_q1", "w_k1", "w_v1", "w_o1",
    "w_q2", "w_k2", "w_v2",
)  # fmt: skip


def init_params(vocab_size: int, max_len: int, d_model: int, rng: np.random.Generator) -> dict:
    """Random float64 parameters: embeddings ~ N(0, 0.5**2), matrices ~ N(0, 1/d_model).

    Small embeddings keep the first attention weights close to uniform, so every token gets a
    share of the gradient at the start (with N(0, 1) some seeds stalled on a plateau).
    """
    std = 1.0 / math.sqrt(d_model)
    params = {
        "tok_emb": rng.normal(0.0, 0.5, (vocab_size, d_model)),  # (V, d)
        "pos_emb": rng.normal(0.0, 0.5, (max_len, d_model)),  # (T_max, d)
    }
    for name in PARAM_NAMES:
        if name.startswith("w_"):
            params[name] = rng.normal(0.0, std, (d_model, d_model))  # (d, d), used as x @ w
    return {name: params[name] for name in PARAM_NAMES}


def _attention_backward(d_out, q, k, v, weights):
    """Gradients of ``output = softmax(q @ k.T / sqrt(d_k)) @ v`` (masked entries have weight 0).

    All arrays are (B, h, T, .); returns (dq, dk, dv) with the shapes of q, k, v.
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    dv = weights.swapaxes(-1, -2) @ d_out  # (B, h, T_k, T_q) @ (B, h, T_q, d_v)
    d_weights = d_out @ v.swapaxes(-1, -2)  # (B, h, T_q, T_k)
    # Softmax Jacobian, row by row: d_scores = w * (d_w - sum_j w_j d_w_j).
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True))
    dq = d_scores @ k * scale  # (B, h, T_q, d_k)
    dk = d_scores.swapaxes(-1, -2) @ q * scale  # (B, h, T_k, d_k)
    return dq, dk, dv


def _outer(x, dy):
    """Gradient of ``y = x @ w`` with respect to ``w``, summed over batch and tokens: (d_in, d_out)."""
    return x.reshape(-1, x.shape[-1]).T @ dy.reshape(
        -1, dy.shape[-1]
    )  # (B*T, d_in).T @ (B*T, d_out)


def _make_uniform(heads, weights, v, mask, lengths, uniform_heads, layer):
    """Replace the weights of the heads ``(layer, h)`` in ``uniform_heads`` by uniform weights."""
    chosen = [h for lay, h in uniform_heads if lay == layer]
    if not chosen:
        return heads, weights
    weights = weights.copy()  # (B, h, T, T)
    uniform = np.broadcast_to(mask / lengths[:, None, None, None], weights.shape)  # (B, h, T, T)
    weights[:, chosen] = uniform[:, chosen]
    return weights @ v, weights  # (B, h, T, T) @ (B, h, T, head_dim)


def forward(
    params, ids, lengths, it_pos, candidates, num_heads, *,
    uniform_last=False, residual_last=False, uniform_heads=(),
):  # fmt: skip
    """Run the model; return ``(logits, cache)``.

    Parameters
    ----------
    ids : int array of shape (B, T), padded with 0 after ``lengths``.
    lengths : int array of shape (B,)
    it_pos : int array of shape (B,), the position of "it".
    candidates : int array of shape (B, 2), the vocabulary ids of the two nouns.
    uniform_last : bool
        Ablation: replace layer 2's weights by uniform weights over the real tokens.
    residual_last : bool
        The design NOT to use: add a residual around layer 2 (``o2 = h1 + attention``), which
        opens a path for the answer that bypasses layer 2's weights.
    uniform_heads : iterable of (layer, head) pairs
        Ablation of single heads: these heads' weights (layers numbered 1 and 2, heads from 0)
        become uniform over the real tokens; ``()`` (the default) changes nothing.

    Returns
    -------
    logits : ndarray of shape (B, 2)
    cache : dict with everything backward needs, including ``weights1`` and ``weights2`` of
        shape (B, num_heads, T, T).
    """
    batch, seq_len = ids.shape
    mask = padding_mask(lengths, seq_len)[:, None]  # (B, 1, T) -> (B, 1, 1, T): every head, query
    emb = params["tok_emb"][ids]  # (B, T, d)
    x0 = emb + params["pos_emb"][:seq_len]  # (B, T, d)

    q1 = split_heads(x0 @ params["w_q1"], num_heads)  # (B, T, d) -> (B, h, T, head_dim)
    k1 = split_heads(x0 @ params["w_k1"], num_heads)
    v1 = split_heads(x0 @ params["w_v1"], num_heads)
    heads1, weights1 = scaled_dot_product_attention(q1, k1, v1, mask=mask)  # (B, h, T, head_dim)
    uniform_heads = set(uniform_heads)
    if uniform_heads:
        heads1, weights1 = _make_uniform(heads1, weights1, v1, mask, lengths, uniform_heads, 1)
    merged1 = merge_heads(heads1)  # (B, h, T, head_dim) -> (B, T, d)
    h1 = x0 + merged1 @ params["w_o1"]  # residual around layer 1 only

    q2 = split_heads(h1 @ params["w_q2"], num_heads)  # (B, h, T, head_dim)
    k2 = split_heads(h1 @ params["w_k2"], num_heads)
    v2 = split_heads(emb @ params["w_v2"], num_heads)  # values from the token embeddings
    if uniform_last:
        weights2 = np.broadcast_to(mask / lengths[:, None, None, None], q2.shape[:-1] + (seq_len,))
        heads2 = weights2 @ v2
    else:
        heads2, weights2 = scaled_dot_product_attention(q2, k2, v2, mask=mask)
        if uniform_heads:
            heads2, weights2 = _make_uniform(heads2, weights2, v2, mask, lengths, uniform_heads, 2)
    merged2 = merge_heads(heads2)  # (B, T, d)
    o_it = merged2[np.arange(batch), it_pos]  # (B, d): layer 2's output at "it", no residual
    if residual_last:
        o_it = o_it + h1[np.arange(batch), it_pos]
    cand_emb = params["tok_emb"][candidates]  # (B, 2, d)
    read = cand_emb @ params["w_v2"]  # (B, 2, d): each candidate noun's value vector
    logits = (read @ o_it[:, :, None])[:, :, 0]  # (B, 2, d) @ (B, d, 1) -> (B, 2)
    cache = dict(
        ids=ids, it_pos=it_pos, candidates=candidates, emb=emb, x0=x0,
        q1=q1, k1=k1, v1=v1, weights1=weights1, merged1=merged1, h1=h1,
        q2=q2, k2=k2, v2=v2, weights2=weights2, o_it=o_it, cand_emb=cand_emb, read=read,
        residual_last=residual_last,
    )  # fmt: skip
    return logits, cache


def loss_and_probs(logits, target):
    """Mean cross-entropy and the softmax probabilities; ``target`` (B,) is 0 or 1."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # (B, 2)
    loss = -log_probs[np.arange(len(target)), target].mean()
    return float(loss), np.exp(log_probs)


def backward(params, cache, probs, target, num_heads):
    """Gradients of the mean cross-entropy with respect to every parameter (a dict like params)."""
    batch, seq_len = cache["ids"].shape
    rows = np.arange(batch)
    grads = {name: np.zeros_like(p) for name, p in params.items()}

    d_logits = probs.copy()
    d_logits[rows, target] -= 1.0
    d_logits /= batch  # (B, 2)
    # logits = read . o_it, with read = tok_emb[candidates] @ w_v2
    d_read = d_logits[:, :, None] * cache["o_it"][:, None, :]  # (B, 2, d)
    grads["w_v2"] += _outer(cache["cand_emb"], d_read)
    d_cand_emb = d_read @ params["w_v2"].T  # (B, 2, d)
    d_o_it = (d_logits[:, :, None] * cache["read"]).sum(axis=1)  # (B, d)

    # Layer 2 (only the "it" row of its output is used).
    d_merged2 = np.zeros((batch, seq_len, d_o_it.shape[-1]))  # (B, T, d)
    d_merged2[rows, cache["it_pos"]] = d_o_it
    d_heads2 = split_heads(d_merged2, num_heads)  # (B, h, T, head_dim)
    dq2, dk2, dv2 = _attention_backward(
        d_heads2, cache["q2"], cache["k2"], cache["v2"], cache["weights2"]
    )
    dq2, dk2, dv2 = merge_heads(dq2), merge_heads(dk2), merge_heads(dv2)  # (B, T, d) each
    h1, emb, x0 = cache["h1"], cache["emb"], cache["x0"]
    grads["w_q2"] = _outer(h1, dq2)  # b: batch, t: token, d/e: features
    grads["w_k2"] = _outer(h1, dk2)
    grads["w_v2"] += _outer(emb, dv2)
    d_h1 = dq2 @ params["w_q2"].T + dk2 @ params["w_k2"].T  # (B, T, d)
    if cache["residual_last"]:
        d_h1[rows, cache["it_pos"]] += d_o_it
    d_emb = dv2 @ params["w_v2"].T  # (B, T, d)

    # Layer 1, with its residual: h1 = x0 + merged1 @ w_o1.
    grads["w_o1"] = _outer(cache["merged1"], d_h1)
    d_heads1 = split_heads(d_h1 @ params["w_o1"].T, num_heads)  # (B, h, T, head_dim)
    dq1, dk1, dv1 = _attention_backward(
        d_heads1, cache["q1"], cache["k1"], cache["v1"], cache["weights1"]
    )
    dq1, dk1, dv1 = merge_heads(dq1), merge_heads(dk1), merge_heads(dv1)
    grads["w_q1"] = _outer(x0, dq1)
    grads["w_k1"] = _outer(x0, dk1)
    grads["w_v1"] = _outer(x0, dv1)
    d_x0 = d_h1 + dq1 @ params["w_q1"].T + dk1 @ params["w_k1"].T + dv1 @ params["w_v1"].T

    # Embeddings: x0 = tok_emb[ids] + pos_emb[:T], and layer 2's values use tok_emb[ids] again.
    grads["pos_emb"][:seq_len] = d_x0.sum(axis=0)
    np.add.at(grads["tok_emb"], cache["ids"], d_x0 + d_emb)  # padded positions add exact zeros
    np.add.at(grads["tok_emb"], cache["candidates"], d_cand_emb)
    return grads


def adam_step(params, grads, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update, in place on ``params``; ``state`` holds the moments and the step count."""
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    for name, g in grads.items():
        m = state.setdefault(("m", name), np.zeros_like(g))
        v = state.setdefault(("v", name), np.zeros_like(g))
        m *= beta1
        m += (1 - beta1) * g  # running mean of the gradient
        v *= beta2
        v += (1 - beta2) * g * g  # running mean of its square
        m_hat = m / (1 - beta1**t)  # bias correction: both start at zero
        v_hat = v / (1 - beta2**t)
        params[name] -= lr * m_hat / (np.sqrt(v_hat) + eps)
