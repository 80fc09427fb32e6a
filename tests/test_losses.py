"""The training losses: hand-computed values, direct re-computations of the SPEC §5 / §8.1
formulas, and Cox coefficients equal to scikit-survival's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sleepfm import registry


def loss_of(name: str, **params):
    return registry.get("losses", name).from_config(params)


def _log_softmax_rows(m: np.ndarray) -> np.ndarray:
    shifted = m - m.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def _ce_sum(logits: np.ndarray) -> float:
    """Σ_i -log softmax(logits[i])[i]: cross-entropy with labels arange(B), summed."""
    return float(-np.trace(_log_softmax_rows(logits)))


def reference_contrastive(embeddings: list[np.ndarray], t: float, mode: str) -> float:
    """SPEC §5 written out with loops in float64."""
    e = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in embeddings]
    m, b, scale = len(e), e[0].shape[0], math.exp(t)
    total = 0.0
    if mode == "leave_one_out":
        for i in range(m):
            others = np.mean([e[j] for j in range(m) if j != i], axis=0)
            logits = e[i] @ others.T * scale
            total += _ce_sum(logits) + _ce_sum(logits.T)
        return total / (2 * m) / b
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    for i, j in pairs:
        logits = e[i] @ e[j].T * scale
        total += _ce_sum(logits) + _ce_sum(logits.T)
    return total / (2 * len(pairs)) / b


def test_contrastive_hand_value() -> None:
    identity = torch.eye(2)
    loss = loss_of("contrastive", mode="leave_one_out")
    # Cosine logits = I: each row's CE is log(1 + e^-1), every direction the same.
    assert loss([identity, identity]).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    scaled = loss_of("contrastive", mode="pairwise", temperature=math.log(2.0))
    assert scaled([identity, identity * 5]).item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)


@pytest.mark.parametrize("mode", ["leave_one_out", "pairwise"])
def test_contrastive_equals_the_spec_formula(mode: str) -> None:
    rng = np.random.default_rng(1)
    embeddings = [rng.standard_normal((6, 5)) * rng.uniform(0.5, 3) for _ in range(4)]
    loss = loss_of("contrastive", mode=mode, temperature=0.3)
    ours = loss([torch.tensor(e, dtype=torch.float32) for e in embeddings]).item()
    assert ours == pytest.approx(reference_contrastive(embeddings, 0.3, mode), rel=1e-5)
    assert 0.0 <= loss.last_metrics["retrieval_accuracy"] <= 1.0
    assert loss.last_metrics["logit_scale"] == pytest.approx(math.exp(0.3), rel=1e-6)


def test_contrastive_temperature_learns_and_is_clamped_at_zero() -> None:
    loss = loss_of("contrastive")
    embeddings = [torch.randn(4, 8, requires_grad=True) for _ in range(4)]
    loss(embeddings).backward()
    assert loss.temperature.grad is not None and loss.temperature.grad.abs() > 0
    with torch.no_grad():
        loss.temperature.fill_(-0.7)
    loss.after_optimizer_step()
    assert loss.temperature.item() == 0.0
    fixed = loss_of("contrastive", learn_temperature=False, clamp_min=None)
    assert not fixed.temperature.requires_grad


def test_cross_entropy_hand_value_divides_by_scored_tokens() -> None:
    loss = loss_of("cross-entropy", class_weights=[1.0, 4.0])
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, 1.0], [0.0, 2.0]]])
    targets = torch.tensor([[1, 0, -1, 1]])
    mask = torch.tensor([[False, False, False, True]])
    # token 0: w=4, p=.5 ; token 1: w=1, p=.75 ; token 2 unscored ; token 3 masked
    expected = (4 * math.log(2) + -math.log(0.75)) / 2
    assert loss(logits, targets, mask).item() == pytest.approx(expected, rel=1e-6)
    by_weight = loss_of("cross-entropy", class_weights=[1.0, 4.0], normalize="weights")
    assert by_weight(logits, targets, mask).item() == pytest.approx(expected * 2 / 5, rel=1e-6)


def test_cross_entropy_without_weights_is_torch_mean_and_empty_batch_is_zero() -> None:
    loss = loss_of("cross-entropy")
    logits, targets, mask = loss.example_inputs(3)
    keep = ~mask & (targets >= 0)
    expected = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    assert loss(logits, targets, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    logits = torch.randn(1, 3, 5, requires_grad=True)
    value = loss(logits, torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.bool))
    value.backward()
    assert value.item() == 0.0 and logits.grad is not None


def test_cross_entropy_refuses_wrong_number_of_weights() -> None:
    loss = loss_of("cross-entropy", class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="class weights"):
        loss(*loss.example_inputs())


def reference_sorted_cox(h: np.ndarray, t: np.ndarray, e: np.ndarray) -> float:
    """SPEC §8.1 written out: per label, sort by time descending, log-cum-sum-exp, mean over labels."""
    losses = []
    for k in range(h.shape[1]):
        order = np.argsort(-t[:, k], kind="stable")
        hk, ek = h[order, k], e[order, k]
        running = np.logaddexp.accumulate(hk)
        losses.append(-np.sum(ek * (hk - running)) / (ek.sum() + 1e-9))
    return float(np.mean(losses))


def test_sorted_cox_equals_the_published_formula() -> None:
    rng = np.random.default_rng(2)
    h = rng.standard_normal((12, 4))
    t = rng.integers(1, 6, (12, 4)).astype(float)  # ties included: resolved by a stable sort
    e = (rng.random((12, 4)) < 0.5).astype(float)
    e[:, 3] = 0  # a label without events counts as 0 in the mean, as published
    ours = loss_of("coxph", ties="sorted")(torch.tensor(h), torch.tensor(t), torch.tensor(e)).item()
    assert ours == pytest.approx(reference_sorted_cox(h, t, e), rel=1e-10)


def test_breslow_and_efron_hand_values() -> None:
    a, b, c = 0.3, -0.2, 0.9
    h = torch.tensor([[a], [b], [c]], dtype=torch.float64)
    t = torch.tensor([[1.0], [1.0], [2.0]], dtype=torch.float64)
    e = torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64)
    risk = math.exp(a) + math.exp(b) + math.exp(c)
    breslow = -(a + b - 2 * math.log(risk)) / 2
    efron = -(a + b - math.log(risk) - math.log(risk - 0.5 * (math.exp(a) + math.exp(b)))) / 2
    assert loss_of("coxph", ties="breslow")(h, t, e).item() == pytest.approx(breslow, rel=1e-12)
    assert loss_of("coxph", ties="efron")(h, t, e).item() == pytest.approx(efron, rel=1e-12)


def test_without_ties_all_three_agree() -> None:
    rng = np.random.default_rng(3)
    h, t = torch.tensor(rng.standard_normal((20, 3))), torch.tensor(rng.permutation(60)[:60].reshape(20, 3) + 1.0)
    e = torch.tensor((rng.random((20, 3)) < 0.6).astype(float))
    values = [loss_of("coxph", ties=ties)(h, t, e).item() for ties in ("efron", "breslow", "sorted")]
    assert values[0] == pytest.approx(values[1], rel=1e-12) and values[0] == pytest.approx(values[2], rel=1e-8)


def test_unknown_entries_are_left_out_of_events_and_risk_sets() -> None:
    rng = np.random.default_rng(4)
    h = torch.tensor(rng.standard_normal((10, 2)), requires_grad=True)
    t = torch.tensor(rng.integers(1, 5, (10, 2)).astype(float))
    e = torch.tensor((rng.random((10, 2)) < 0.6).astype(float))
    e[0] = 1.0
    t_masked, e_masked = t.clone(), e.clone()
    t_masked[2, 0] = float("nan")  # unknown time
    e_masked[5, 1] = float("nan")  # unknown event status
    loss = loss_of("coxph", ties="efron")
    masked = loss(h, t_masked, e_masked)
    keep0, keep1 = [i for i in range(10) if i != 2], [i for i in range(10) if i != 5]
    label0 = loss(h[keep0, :1], t[keep0, :1], e[keep0, :1])
    label1 = loss(h[keep1, 1:], t[keep1, 1:], e[keep1, 1:])
    assert masked.item() == pytest.approx(((label0 + label1) / 2).item(), rel=1e-12)
    masked.backward()
    assert torch.isfinite(h.grad).all() and h.grad[2, 0] == 0 and h.grad[5, 1] == 0


def test_labels_without_events_do_not_dilute_efron_and_all_missing_is_zero() -> None:
    h = torch.randn(4, 2, dtype=torch.float64)
    t = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]], dtype=torch.float64)
    e = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    loss = loss_of("coxph", ties="efron")
    assert loss(h, t, e).item() == pytest.approx(loss(h[:, :1], t[:, :1], e[:, :1]).item(), rel=1e-12)
    hazards = torch.randn(3, 2, requires_grad=True)
    value = loss(hazards, torch.full((3, 2), float("nan")), torch.ones(3, 2))
    value.backward()
    assert value.item() == 0.0 and torch.equal(hazards.grad, torch.zeros(3, 2))


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_linear_cox_model_reaches_scikit_survival_coefficients(ties: str) -> None:
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 3))
    times = np.ceil(rng.exponential(np.exp(-x @ np.array([0.8, -0.5, 0.3]))) * 4)  # integer times: many ties
    events = rng.random(80) < 0.7
    assert len(np.unique(times)) < 40
    expected = CoxPHSurvivalAnalysis(ties=ties).fit(x, Surv.from_arrays(events, times)).coef_

    weights = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    loss = loss_of("coxph", ties=ties)
    xt, tt, et = torch.tensor(x), torch.tensor(times)[:, None], torch.tensor(events, dtype=torch.float64)[:, None]
    optimizer = torch.optim.LBFGS([weights], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss((xt @ weights)[:, None], tt, et)
        value.backward()
        return value

    optimizer.step(closure)
    np.testing.assert_allclose(weights.detach().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["contrastive", "cross-entropy", "coxph"])
def test_registered_losses_run_their_example_inputs(name: str) -> None:
    cls = registry.get("losses", name)
    loss = cls.from_config(cls.test_config())
    value = loss(*loss.example_inputs(3))
    assert value.ndim == 0 and torch.isfinite(value)
    assert cls.task in {"contrastive", "staging", "diagnosis"}
