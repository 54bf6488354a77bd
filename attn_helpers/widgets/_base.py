"""The machinery every explorer shares: a figure drawn once and updated in place, fast.

An explorer is an ``ipywidgets.VBox``: a title, the controls, a message line (empty unless the
input was bad), the figure, and a one-line readout of the numbers. When a control changes:

1. ``_compute()`` does the numpy work and validates the input. It raises :class:`InputProblem`
   for bad input; the message line shows it and the figure keeps its last good picture (nothing
   has been touched yet). No other exception reaches the learner either.
2. ``_apply(data, art)`` updates the artists in place (``set_data``, ``set_height``, ...) and
   returns the readout text and a *static key*: a hashable naming the state of the static part
   of the figure (tick labels, limits, titles), ``None`` if that never changes. The readout
   is plain text; it is escaped as HTML here, once for every explorer, so a token such as
   ``<pad>`` or ``<bos>`` shows as written instead of vanishing as an unknown HTML tag.
3. The figure is rendered **once** per change. Artists that change are registered as
   *dynamic*; the static background (axes, ticks, labels) is rendered once per static key and
   cached, and an update restores that background and draws the dynamic artists over it
   (blitting). The layout is computed once and frozen, so cached backgrounds stay valid. With
   ipympl the render happens when the browser asks for the frame after ``draw_idle()``, so
   several quick changes cost one render; without ipympl's frontend the picture is rendered
   straight into an ``ipywidgets.Image`` of fixed size, and the widget says so.

Figures are plain ``matplotlib.figure.Figure`` objects, never registered with pyplot, so
building an explorer never displays anything by itself (whatever ``%matplotlib`` says).
"""

from __future__ import annotations

import html
import io
import itertools
import os
from collections import OrderedDict
from contextlib import contextmanager
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["Explorer", "InputProblem", "largest_weight", "number", "relayout", "tied_for_max"]

#: Environment variable forcing the drawing mode: "ipympl" or "static" (default: detect).
MODE_ENV = "ATTN_HELPERS_WIDGETS"

STATIC_NOTE = (
    "Static mode: the interactive canvas (ipympl) was not found, so every change redraws a "
    "picture. For smoother updates install ipympl (it is in requirements.txt) and restart "
    "JupyterLab."
)


class InputProblem(ValueError):
    """Bad input from the learner: shown as a short message in the widget, never a traceback."""


def number(x, fmt: str = ".2f") -> str:
    """``x`` formatted for a readout, without a minus sign on a value that rounds to zero.

    ``f"{-0.001:.2f}"`` is ``"-0.00"``: true to the float, puzzling to a learner.
    """
    text = format(float(x), fmt)
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


#: Weights closer than this to the largest count as tied: half the readouts' last digit, so two
#: weights that print the same are never called a win for one of them.
TIE_TOLERANCE = 0.005


def tied_for_max(weights, tol: float = TIE_TOLERANCE) -> np.ndarray:
    """Indices of the weights within ``tol`` of the largest (one index: a clear winner)."""
    w = np.asarray(weights, dtype=float)
    return np.flatnonzero(w >= w.max() - tol)


def largest_weight(weights, labels) -> str:
    """``"largest weight 0.88 on 'trophy'"``, or the tie when several share it.

    All equal: ``"all 4 weights equal (a tie): 0.25 each"``; some equal:
    ``"a tie: 0.40 each on 'a' and 'b'"``.
    """
    w = np.asarray(weights, dtype=float)
    top = tied_for_max(w)
    if len(top) == 1:
        return f"largest weight {w[top[0]]:.2f} on '{labels[top[0]]}'"
    if len(top) == len(w):
        return f"all {len(w)} weights equal (a tie): {w.mean():.2f} each"
    names = [f"'{labels[i]}'" for i in top]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"a tie for the largest weight: {w[top].mean():.2f} each on {listed}"


def _import_ipympl():
    """Import ipympl's backend module without letting it switch the learner's matplotlib backend.

    ``import ipympl`` calls ``matplotlib.use("module://ipympl.backend_nbagg")``; left alone, every
    later ``plt.figure`` in the notebook would become an interactive canvas. The explorers build
    their canvases directly, so the backend the learner chose (inline, say) is put back.
    """
    import matplotlib

    before = matplotlib.rcParams._get_backend_or_none()  # None: not chosen yet, leave it so
    import ipympl.backend_nbagg

    after = matplotlib.rcParams._get_backend_or_none()
    if before is not None and after != before:
        matplotlib.use(before)
    return ipympl.backend_nbagg


#: The canvas internals the fast ipympl canvas below relies on. They are private (matplotlib's
#: ``FigureCanvasWebAggCore`` and ipympl's ``Canvas``, as in ipympl 0.10 with matplotlib 3.10
#: and 3.11, the versions pinned in requirements.txt and tested); if a later release renames
#: one, the explorers fall back to static mode instead of breaking.
IPYMPL_INTERNALS = {
    "Canvas": ("_png_is_old", "_force_full", "set_image_mode", "get_diff_image", "get_renderer"),
    "FigureManager": ("refresh_all",),
}


def ipympl_internals_missing() -> list[str]:
    """The private ipympl/matplotlib attributes our canvas overrides that this install lacks."""
    backend = _import_ipympl()
    return [
        f"{cls}.{name}"
        for cls, names in IPYMPL_INTERNALS.items()
        for name in names
        if not hasattr(getattr(backend, cls), name)
    ]


def ipympl_available() -> bool:
    """True when ipympl's kernel side imports, has the internals we use (see
    ``IPYMPL_INTERNALS``), and its JupyterLab extension is installed. ``ATTN_HELPERS_WIDGETS``
    set to "static" or "ipympl" skips the extension check, never the internals check."""
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced == "static":
        return False
    try:
        if ipympl_internals_missing():  # an untested ipympl: static mode, never a traceback
            return False
        from jupyter_core.paths import jupyter_path
    except Exception:  # a broken install must not break the explorer: fall back
        return False
    if forced == "ipympl":
        return True
    return any(
        os.path.isdir(os.path.join(p, "jupyter-matplotlib")) for p in jupyter_path("labextensions")
    )


class _BlitMixin:
    """Render = a cached static background + the dynamic artists drawn over it.

    The static part (axes, ticks, labels, titles) is rendered once per *static key* (a hashable
    the explorer derives from whatever changes it, e.g. the tokens) and kept in a small LRU
    cache, so moving a slider back to an earlier state is a blit too. The layout is computed
    once and then frozen (see :func:`relayout`), so every cached background shares the same
    axes positions. A change of canvas size (HiDPI screens) empties the cache.
    """

    dynamic_artists: list = []
    static_key = None
    full_renders = 0  # counters, read by tests and the benchmark
    blit_renders = 0
    _cache = None
    _cache_size = None
    CACHE_ENTRIES = 12

    def _render(self) -> None:
        if self._cache is None:
            self._cache = OrderedDict()
        size = self.get_width_height(physical=True)
        if size != self._cache_size:
            self._cache.clear()
            self._cache_size = size
        background = self._cache.get(self.static_key)
        if background is None:
            FigureCanvasAgg.draw(self)  # skips the dynamic (animated) artists
            self._cache[self.static_key] = self.copy_from_bbox(self.figure.bbox)
            while len(self._cache) > self.CACHE_ENTRIES:
                self._cache.popitem(last=False)
            self.full_renders += 1
        else:
            self.restore_region(background)
            self._cache.move_to_end(self.static_key)
            self.blit_renders += 1
        for artist in self.dynamic_artists:
            if artist.get_visible():
                self.figure.draw_artist(artist)

    def forget_backgrounds(self) -> None:
        """Drop every cached background (after a change of layout)."""
        if self._cache is not None:
            self._cache.clear()


def relayout(figure) -> None:
    """Recompute the constrained layout once (no pixels), then freeze it."""
    figure.set_layout_engine("constrained")
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    figure.canvas.forget_backgrounds()


class _AggCanvas(_BlitMixin, FigureCanvasAgg):
    """Headless canvas used in static mode and to measure rebuilds."""

    def draw(self):
        self._render()


def _ipympl_canvas_class():
    Canvas = _import_ipympl().Canvas  # noqa: N806 - a class

    class _IpymplCanvas(_BlitMixin, Canvas):
        """ipympl's canvas widget, rendering with the cached background when it can."""

        def draw(self):
            self._png_is_old = True
            try:
                self._render()
            finally:
                self.manager.refresh_all()  # sends the (diff) frame to the browser

        def get_diff_image(self):
            # matplotlib's FigureCanvasWebAggCore.get_diff_image with a faster PNG setting
            # (compress_level=1: diff frames are mostly zeros, so they stay small anyway).
            if not self._png_is_old:
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            buff = pixels.view(np.uint32).squeeze(2)
            if (
                self._force_full
                or buff.shape != self._last_buff.shape
                or (pixels[:, :, 3] != 255).any()
            ):
                self.set_image_mode("full")
                output = buff
            else:
                self.set_image_mode("diff")
                output = np.where(buff != self._last_buff, buff, 0)
            self._last_buff = buff.copy()
            self._force_full = False
            self._png_is_old = False
            return png_bytes(output.view(dtype=np.uint8).reshape((*output.shape, 4)))

    return _IpymplCanvas


_figure_numbers = itertools.count(1)


def png_bytes(pixels) -> bytes:
    """Encode RGBA pixels (an array, or a canvas: what it last rendered) as a PNG, quickly."""
    if hasattr(pixels, "buffer_rgba"):
        pixels = pixels.buffer_rgba()
    with io.BytesIO() as buf:
        Image.fromarray(np.asarray(pixels)).save(buf, format="png", compress_level=1)
        return buf.getvalue()


class Explorer(widgets.VBox):
    """Base of every explorer; subclasses define ``_build``, ``_compute`` and ``_apply``.

    Attributes
    ----------
    figure : matplotlib Figure
        Built once; its artists are updated in place.
    controls : dict of str -> ipywidgets.Widget
        The controls by name; setting ``controls[name].value`` updates the figure.
    message : ipywidgets.HTML
        Empty, or a short note about bad input (the figure then keeps its last good picture).
    readout : ipywidgets.HTML
        The numbers behind the picture, one line.
    static : bool
        True when drawing into an Image (no ipympl frontend) instead of ipympl's canvas.
    """

    title = "Explorer"
    figsize = (6.0, 3.0)

    def __init__(self, controls: dict, *, control_rows=None, caption: str = ""):
        self.controls = dict(controls)
        self.static = not ipympl_available()
        self.figure, self.art = self._new_figure(live=True)
        self.message = widgets.HTML(layout=widgets.Layout(min_height="1.4em"))
        self.readout = widgets.HTML()
        self._holding = False
        self._pending = False
        rows = control_rows if control_rows is not None else [list(self.controls.values())]
        header = f"<b>{html.escape(self.title)}</b>"
        if caption:
            header += f" · {html.escape(caption)}"
        children = [widgets.HTML(header)]
        children += [widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")) for row in rows]
        children += [self.message, self._figure_widget(), self.readout]
        if self.static:
            children.insert(1, widgets.HTML(f"<i>{html.escape(STATIC_NOTE)}</i>"))
        super().__init__(children)
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    # ------------------------------------------------------------------ subclass hooks
    def _build(self, figure) -> SimpleNamespace:
        """Create the axes and artists once; return them. Mark changing artists dynamic."""
        raise NotImplementedError

    def _compute(self):
        """Read the controls, validate, compute; raise InputProblem for bad input."""
        raise NotImplementedError

    def _apply(self, data, art) -> tuple[str, object]:
        """Update ``art`` from ``data``; return (readout text, static key).

        The static key is a hashable that identifies the static part of the picture (tick
        labels, limits, titles); ``None`` when that never changes. After changing tick labels
        that may need more room, call ``relayout(art.figure)``.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ machinery
    def _new_figure(self, *, live: bool):
        figure = Figure(figsize=self.figsize, dpi=100, layout="constrained")
        if live and not self.static:
            FigureManager = _import_ipympl().FigureManager  # noqa: N806 - a class

            canvas = _ipympl_canvas_class()(figure)
            FigureManager(canvas, next(_figure_numbers))
            canvas.header_visible = False
            canvas.footer_visible = False
            canvas.toolbar_visible = False
            canvas.resizable = False
        else:
            canvas = _AggCanvas(figure)
        canvas.dynamic_artists = []
        art = self._build(figure)
        art.figure = figure
        relayout(figure)  # the layout of the first picture is kept for every later one
        return figure, art

    def _figure_widget(self):
        canvas = self.figure.canvas
        if not self.static:
            return canvas
        width, height = (int(round(v * 100)) for v in self.figsize)
        self._image = widgets.Image(
            format="png", layout=widgets.Layout(width=f"{width}px", height=f"{height}px")
        )
        return self._image

    def dynamic(self, *artists):
        """Register artists that change on updates (drawn over the cached background)."""
        for artist in artists:
            artist.set_animated(True)
            artist.figure.canvas.dynamic_artists.append(artist)
        return artists[0] if len(artists) == 1 else artists

    def _on_change(self, change=None) -> None:
        if self._holding:
            self._pending = True
            return
        self.refresh()

    @contextmanager
    def hold(self):
        """Change several controls, then update once."""
        self._holding, self._pending = True, False
        try:
            yield self
        finally:
            self._holding = False
            if self._pending:
                self.refresh()

    @contextmanager
    def quietly(self):
        """Change controls without triggering updates (options that depend on the input)."""
        saved = self._holding, self._pending
        self._holding = True
        try:
            yield self
        finally:
            self._holding, self._pending = saved

    def show_message(self, text: str, *, suffix: str = "") -> None:
        """Show a short note above the figure (long texts are cut after a sentence)."""
        text = " ".join(str(text).split())
        if len(text) > 240:
            cut = text.rfind(". ", 0, 240)
            text = text[: cut + 1] if cut > 60 else text[:237] + "..."
        text = f"{text} {suffix}".strip()
        self.message.value = f'<span style="color:#b5400b">⚠ {html.escape(text)}</span>'

    def refresh(self) -> bool:
        """Recompute and redraw from the controls; return False if the input was bad."""
        try:
            data = self._compute()
        except InputProblem as problem:
            self.show_message(str(problem), suffix="The picture shows the last good input.")
            return False
        except Exception as err:  # never a traceback in the widget
            self.show_message(f"That did not work ({type(err).__name__}: {err}).")
            return False
        try:
            readout, key = self._apply(data, self.art)
        except Exception as err:
            self.show_message(f"Could not draw that ({type(err).__name__}: {err}).")
            self.figure.canvas.forget_backgrounds()
            return False
        note = data.get("note") if isinstance(data, dict) else None
        if note:  # the input is still bad, but another control changed: keep saying so
            self.show_message(note, suffix="The picture shows the last good input.")
        else:
            self.message.value = ""
        self.readout.value = html.escape(
            readout, quote=False
        )  # plain text: "<pad>" must show, not vanish
        self._request_render(key)
        return True

    def _request_render(self, key) -> None:
        canvas = self.figure.canvas
        canvas.static_key = key
        if self.static:
            canvas.draw()
            self._image.value = png_bytes(canvas)
        else:
            canvas.draw_idle()  # the browser asks for the frame; one render per change

    def render_now(self) -> None:
        """Render synchronously (tests and benchmarks; live callbacks use draw_idle)."""
        self.figure.canvas.draw()

    def rebuild_and_render(self) -> Figure:
        """Build a brand-new figure for the current controls and render it (the slow way).

        Only for the benchmark, which compares it with the in-place update.
        """
        figure, art = self._new_figure(live=False)
        figure.canvas.static_key = self._apply(self._compute(), art)[1]
        FigureCanvasAgg.draw(figure.canvas)
        for artist in figure.canvas.dynamic_artists:
            figure.draw_artist(artist)
        png_bytes(figure.canvas)
        return figure


def token_label(tokens, i: int) -> str:
    """``"8: it"``: a token with its position (tokens repeat, positions do not)."""
    return f"{i}: {tokens[i]}"
