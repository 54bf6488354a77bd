"""What each head attends to: one layers x heads grid per relation, on one fixed 0-1 colour scale."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .._validation import as_float_array, shape_str
from ..head_roles import RELATIONS

# --------------------------------------------------------------------------- head roles


def plot_head_roles(shares, *, uniform=None, relations=RELATIONS, cmap="viridis", suptitle=None,
                    figsize=None):  # fmt: skip
    """One layers x heads grid per relation, colour range fixed to 0-1, the strongest head marked.

    Parameters
    ----------
    shares : array_like of shape (num_relations, num_layers, num_heads)
        ``shares[r, layer, head]``, the share of attention on relation ``r``, as returned by
        :func:`attn_helpers.head_roles.head_role_shares`; values between 0 and 1.
    uniform : array_like of shape (num_relations,), optional
        The uniform-attention baseline of each relation; when given, each panel's title names it.
    relations : sequence of str of length num_relations, default ``RELATIONS``
        Panel names: "the previous token", "the next token", "itself", "[CLS]", "[SEP]".
    cmap : str or Colormap, default "viridis"
    suptitle : str, optional
        Defaults to a title saying what is shown; ``""`` for none.
    figsize : (float, float), optional
        Default 2.4 inches wide per relation, the height to match.

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of Axes of shape (num_relations,)
        ``axes[r].images[0]`` holds ``shares[r]`` (rows: layers from 0, columns: heads from 0), with
        colour limits 0 and 1; ``axes[r].texts[0]`` is the value written on the strongest head,
        which ``axes[r].patches[0]`` outlines. The shared colour bar is ``fig.axes[-1]``.
    """
    s = as_float_array(shares, "shares")
    if s.ndim != 3:
        raise ValueError(
            f"shares must have shape (num_relations, num_layers, num_heads); got shares.shape="
            f"{shape_str(s.shape)}. Hint: pass the first result of head_role_shares."
        )
    names = [str(r) for r in relations]
    if len(names) != s.shape[0]:
        raise ValueError(
            f"relations has {len(names)} names for shares.shape={shape_str(s.shape)} "
            f"({s.shape[0]} relations on axis 0). Hint: one name per relation."
        )
    base = None
    if uniform is not None:
        base = as_float_array(uniform, "uniform")
        if base.shape != (s.shape[0],):
            raise ValueError(
                f"uniform must have shape ({s.shape[0]},), one baseline per relation; got "
                f"uniform.shape={shape_str(base.shape)}. Hint: pass the second result of "
                "head_role_shares."
            )
    num_relations, num_layers, num_heads = s.shape
    if figsize is None:
        figsize = (2.4 * num_relations + 0.9, 2.4 * num_layers / num_heads + 1.8)
    fig, axes = plt.subplots(1, num_relations, figsize=figsize, squeeze=False, layout="constrained")
    axes = axes[0]
    for r, ax in enumerate(axes):
        ax.imshow(s[r], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        layer, head = divmod(int(s[r].argmax()), num_heads)
        best = float(s[r, layer, head])
        ax.add_patch(plt.Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, ec="white", lw=2))
        ax.text(head, layer, f"{best:.2f}", ha="center", va="center", fontsize=7,
                color="black" if best > 0.6 else "white")  # fmt: skip
        title = f"on {names[r]}"
        if base is not None:
            title += f"\n(uniform: {base[r]:.2f})"
        ax.set_title(title)
        ax.set_xticks(range(num_heads))
        ax.set_yticks(range(num_layers))
        ax.tick_params(labelsize=7)
        ax.set_xlabel("head")
        if r == 0:
            ax.set_ylabel("layer (from 0)")
        else:
            ax.tick_params(labelleft=False)
    fig.colorbar(axes[0].images[0], ax=list(axes), label="share of attention", shrink=0.9, pad=0.01)
    if suptitle is None:
        suptitle = (
            "Share of each head's attention that lands on each relation "
            "(strongest head outlined and labelled)"
        )
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes
