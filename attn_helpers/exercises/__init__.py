"""Exercise checkers for the course notebooks.

Every exercise has a checker, hints and a worked solution::

    from attn_helpers.exercises import check_softmax, hint, solution
    check_softmax(softmax)   # your function, passed in (not called)
    hint("softmax")          # gentle first, then more specific
    solution("softmax")      # the worked answer, when you are ready

A check has three outcomes: not attempted (your stub still raises NotImplementedError),
incorrect (the first failing case, with a diagnosis of common mistakes) or correct.
"""

from ._framework import check, hint, list_exercises, reference_solution, solution
from .heads_masks import *  # noqa: F403
from .learned_ex import *  # noqa: F403
from .pitfalls import *  # noqa: F403
from .qkv_softmax import *  # noqa: F403
from .real_model import *  # noqa: F403
from .warmup import *  # noqa: F403

__all__ = ["check", "hint", "list_exercises", "reference_solution", "solution"] + [
    n for n in dir() if n.startswith("check_")
]
