"""Exercise checkers for the course notebooks.

Every exercise has a checker, hints and a worked solution::

    from attn_helpers.exercises import check_softmax, hint, solution
    check_softmax(my_softmax)   # your function, passed in (not called)
    hint("softmax")             # the first, gentlest hint; it names the next: hint("softmax", 2)
    solution("softmax")         # the worked answer (code that runs as pasted), when you are ready

A check has three outcomes: not attempted (your stub still raises NotImplementedError),
incorrect (the first failing case, with a diagnosis of common mistakes) or correct. Where an
exercise asks you to write a step yourself, calling the package's function for it is incorrect.
"""

from ._framework import check, hint, list_exercises, reference_solution, solution

# Importing a module registers its exercises, and list_exercises() keeps that order: these imports
# are in the order the course has always registered them (not alphabetical).
# isort: off
from .self_attention_ex import *  # noqa: F403
from .multi_head_ex import *  # noqa: F403
from .masks_positions_ex import *  # noqa: F403
from .learned_ex import *  # noqa: F403
from .pitfalls import *  # noqa: F403
from .qkv_ex import *  # noqa: F403
from .softmax_ex import *  # noqa: F403
from .real_model import *  # noqa: F403
from .warmup import *  # noqa: F403
from .decoding_ex import *  # noqa: F403
from .smollm_ex import *  # noqa: F403
from .block_ex import *  # noqa: F403
# isort: on

__all__ = ["check", "hint", "list_exercises", "reference_solution", "solution"] + [
    n for n in dir() if n.startswith("check_")
]
