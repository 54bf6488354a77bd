"""No checker may accept a wrong answer (issue 22, A).

Every registered exercise declares plausible wrong answers next to itself: its ``mistakes`` (each
with its own diagnosis) and its ``wrong_variants`` (sign, min/max, abs/relu, off-by-one, wrong axis,
wrong dtype or number type, transposes, the package function where it is forbidden, ...). Here every
one of them, for every exercise, must be rejected, and the reference must pass. An exercise added
later is covered without touching this file; it must declare at least ``MIN_VARIANTS`` wrong
variants of its own.
"""

import pytest

import attn_helpers.exercises  # noqa: F401 - registers every exercise
from attn_helpers.exercises import _framework as fw

NAMES = fw.list_exercises()
MIN_VARIANTS = 3


def _variants():
    for name in NAMES:
        for v in fw.REGISTRY[name].wrong_variants:
            yield pytest.param(name, v, id=f"{name}-{v.name}")


def _mistakes():
    for name in NAMES:
        for m in fw.REGISTRY[name].mistakes:
            yield pytest.param(name, m, id=f"{name}-{m.name}")


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes(name):
    res = fw.check(name, fw.REGISTRY[name].reference)
    assert res.status == fw.CORRECT, res


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_declares_wrong_variants(name):
    ex = fw.REGISTRY[name]
    assert len(ex.wrong_variants) >= MIN_VARIANTS, (
        f"{name} declares {len(ex.wrong_variants)} wrong variants; at least {MIN_VARIANTS} are needed"
    )
    names = [v.name for v in ex.wrong_variants] + [m.name for m in ex.mistakes]
    assert len(names) == len(set(names)), f"{name}: duplicate variant names"


@pytest.mark.parametrize(("name", "variant"), list(_variants()))
def test_wrong_variant_is_rejected(name, variant):
    res = fw.check(name, variant.fn)
    assert res.status == fw.INCORRECT, f"{name} accepts the wrong variant {variant.name!r}"
    if variant.says is not None:
        assert variant.says in res.message, res.message


@pytest.mark.parametrize(("name", "mistake"), list(_mistakes()))
def test_mistake_is_rejected_with_its_diagnosis(name, mistake):
    res = fw.check(name, mistake.fn)
    assert res.status == fw.INCORRECT, f"{name} accepts the mistake {mistake.name!r}"
    assert res.mistake == mistake.name, res.message


@pytest.mark.parametrize(("name", "variant"), list(_variants()))
def test_some_case_separates_the_variant_from_the_reference(name, variant):
    """Rejected because a case tells them apart, not only because the variant crashes everywhere."""
    ex = fw.REGISTRY[name]
    if fw._forbidden_uses(variant.fn, ex.forbidden):
        return  # told apart by what it calls, not by its output
    separated = False
    for case in ex.cases:
        expected = fw._call(ex.reference, case)
        try:
            actual = fw._call(variant.fn, case)
        except Exception:  # noqa: BLE001 - a crash on one case separates it there
            separated = True
            continue
        try:
            if ex.differs(expected, actual) is not None:
                separated = True
        except Exception:  # noqa: BLE001
            separated = True
    assert separated
