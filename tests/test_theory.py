"""slt_ppl.theory against worked examples from its sources (Aoyagi-Watanabe RRR, Aoyagi DLN, Watanabe) and its identities."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt_ppl import theory


@pytest.mark.parametrize(
    "args, lam, m",
    [
        ((5, 3, 5, 0), Fraction(13, 2), 2),
        ((5, 4, 5, 0), Fraction(8), 1),
        ((4, 3, 8, 0), Fraction(6), 1),
    ],
)
def test_rrr_reference_examples(args, lam, m):
    c = theory.rrr(*args)
    assert c.lam == lam and c.m == m
    assert isinstance(c.lam, Fraction)


@pytest.mark.parametrize(
    "widths, r, lam, m",
    [
        ([2, 2, 2, 2], 0, Fraction(3, 2), 3),
        ([4, 6, 6, 4], 2, Fraction(8), None),
        ([5, 4, 3, 4, 5], 1, Fraction(7), None),
        ([10, 5, 5, 5, 10], 0, Fraction(19, 2), 2),
    ],
)
def test_dln_reference_examples(widths, r, lam, m):
    c = theory.dln(widths, r)
    assert c.lam == lam
    if m is not None:
        assert c.m == m


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.data())
def test_dln_with_one_hidden_layer_is_rrr(M, H, N, data):
    r = data.draw(st.integers(0, min(M, H, N)))
    assert theory.dln([M, H, N], r) == theory.rrr(M, H, N, r)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=6), st.data())
def test_dln_lambda_at_most_half_the_parameter_count(widths, data):
    r = data.draw(st.integers(0, min(widths)))
    d = sum(a * b for a, b in zip(widths, widths[1:]))
    c = theory.dln(widths, r)
    assert 0 <= c.lam <= Fraction(d, 2)
    assert c.m >= 1


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.data())
def test_rrr_lambda_at_most_half_the_parameter_count(M, H, N, data):
    r = data.draw(st.integers(0, min(M, H, N)))
    assert theory.rrr(M, H, N, r).lam <= Fraction(H * (M + N), 2)


def test_regular_and_normal_crossing_identities():
    assert theory.regular(7) == (Fraction(7, 2), 1)
    assert theory.normal_crossing([1]) == theory.regular(1)
    assert theory.normal_crossing([1, 1, 1]).lam == Fraction(1, 2)
    assert theory.normal_crossing([1, 1, 1]).m == 3
    assert theory.normal_crossing([1, 2]) == (Fraction(1, 4), 1)
    assert theory.normal_crossing([1, 2], h=[0, 1]) == (Fraction(1, 2), 2)
    assert theory.normal_crossing([0, 3]) == (Fraction(1, 6), 1)


def test_tanh_and_mixture():
    assert theory.tanh(1).m == 2
    assert [theory.tanh(h).lam for h in range(1, 6)] == [
        Fraction(1, 2), Fraction(2, 3), Fraction(5, 6), Fraction(1), Fraction(11, 10)
    ]
    assert theory.gaussian_mixture() == (Fraction(1, 2), 2)


def test_regular_finite_llc_tends_to_half_d():
    assert theory.regular_finite_llc([1.0] * 4, nbeta=1e9, localization=1.0) == pytest.approx(2.0, rel=1e-8)
    assert theory.regular_finite_llc([1.0], nbeta=1.0, localization=1.0) == pytest.approx(0.25)


def test_preferred_rank_switches_where_the_free_energies_cross():
    # rank 1 against rank 0: F_1 = lambda_1 log t, F_0 = t s^2 / 2 + lambda_0 log t, equal at
    # s^2 = 2 (lambda_1 - lambda_0) log t / t
    widths, t = (4, 3, 5), 1000.0
    lams = [theory.dln(widths, k).lam for k in (0, 1)]
    s_cross = np.sqrt(2 * float(lams[1] - lams[0]) * np.log(t) / t)
    assert theory.preferred_rank(lams, [1.01 * s_cross], t) == 1
    assert theory.preferred_rank(lams, [0.99 * s_cross], t) == 0
    # a large n beta resolves any nonzero singular value; a strong teacher is resolved at any n beta > 1
    lams3 = [theory.dln((6, 5, 6), k).lam for k in range(4)]
    assert theory.preferred_rank(lams3, [1.0, 0.3, 0.02], 1e9) == 3
    assert theory.preferred_rank(lams3, [1.0, 0.3, 0.02], 1e4) == 2
    assert theory.preferred_rank(lams3, [50.0, 40.0, 30.0], 2.0) == 3
    with pytest.raises(ValueError, match="one value per rank"):
        theory.preferred_rank(lams3, [1.0, 0.3], 1e4)


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.rrr(3, 2, 3, 4),
        lambda: theory.rrr(-1, 2, 3, 0),
        lambda: theory.dln([3], 0),
        lambda: theory.normal_crossing([0, 0]),
        lambda: theory.normal_crossing([1, 2], h=[0]),
        lambda: theory.tanh(0),
    ],
)
def test_theory_rejects_meaningless_input(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    "K, values",
    [
        (lambda a, b: a**2 * b**2, (0.361, 0.391, 0.425)),
        (lambda a, b: a**2 * b**4, (0.210, 0.225, 0.241)),
        (lambda a, b: (a**2 + b**2) ** 2, (0.488, 0.496, 0.4995)),
        (lambda a, b: a**2 + b**4, (0.741, 0.747, 0.750)),
    ],
)
def test_quadrature_reproduces_the_reference_table(K, values):
    """Reference sheet 4b: n beta E[K] at gamma = 1 on [-3, 3]^2 for n beta = 145, 1086, 72382."""
    got = [theory.finite_llc_quadrature(K, 2, nb, 1.0) for nb in (145, 1086, 72382)]
    np.testing.assert_allclose(got, values, atol=6e-4)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_one_dimensional_normal_crossing_is_exact_at_every_nbeta(k):
    for nb in (50.0, 1086.0):
        assert theory.finite_llc_quadrature(lambda w: w ** (2 * k), 1, nb, 0.0) == pytest.approx(1 / (2 * k), rel=2e-3)


def test_three_dimensional_quadrature_matches_closed_forms_and_the_two_dimensional_one():
    """3-D (slice by slice): a regular K = |w|^2 against its Gaussian closed form 3 n beta / (2 n beta + gamma),
    and a K that ignores w3 against the 2-D quadrature of the same K (the third axis integrates out)."""
    for nb in (145.0, 1086.0):
        regular = theory.finite_llc_quadrature(lambda a, b, c: a**2 + b**2 + c**2, 3, nb, 1.0, num=301)
        assert regular == pytest.approx(3 * nb / (2 * nb + 1.0), rel=1e-4)
    flat = theory.finite_llc_quadrature(lambda a, b, c: a**2 * b**4 + 0 * c, 3, 1086.0, 1.0, num=301)
    assert flat == pytest.approx(theory.finite_llc_quadrature(lambda a, b: a**2 * b**4, 2, 1086.0, 1.0), rel=1e-3)
    with pytest.raises(ValueError, match="dim 1, 2 or 3"):
        theory.finite_llc_quadrature(lambda *w: w[0], 4, 100.0, 1.0)
