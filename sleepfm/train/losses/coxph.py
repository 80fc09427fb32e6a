"""Cox proportional-hazards loss over many outcomes at once (SPEC §8.1, fixed per §10.8).

Inputs: log-hazards ``h`` (B, K), times ``t`` (B, K), event indicators ``e`` (B, K). An
entry whose time or event is NaN is unknown: it is neither an event nor in any risk set of
that outcome. Each outcome k gets the negative log partial likelihood of the batch,

    ``-Σ_{events i} [h_i - log D_i]``,

with the risk-set term ``D_i`` set by ``ties``:

``breslow``
    ``log Σ_{t_j ≥ t_i} exp(h_j)``, the same for every event of a tied group.
``efron``
    the l-th of d tied events subtracts ``l/d`` of the tied events' own hazard mass.
``sorted``
    the published loss: after a descending sort by time, the risk set of position i is the
    positions before it, so tied events see a sort-order-dependent part of each other.

``breslow``/``efron`` divide each outcome by its number of events and average over the
outcomes that have at least one; ``sorted`` divides by (events + 1e-9) and averages over
all K, events or not, as published. Under DDP the batch is gathered from every rank first,
so risk sets span the global batch.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.loss import Loss
from sleepfm.train.distributed import gather_with_grad


class CoxPHConfig(ConfigModel):
    ties: Literal["efron", "breslow", "sorted"] = Field(
        "efron", description="Tie handling; 'sorted' reproduces the published loss exactly."
    )
    gather: bool = Field(True, description="Under DDP, build risk sets over the global batch of all ranks.")


class CoxPHLoss(Loss):
    """Negative Cox partial log-likelihood per outcome (Efron, Breslow or the published sorted form)."""

    task = "diagnosis"
    Config = CoxPHConfig

    def __init__(self, config: CoxPHConfig) -> None:
        super().__init__()
        self.config = config
        self.last_metrics: dict[str, float] = {}

    def forward(self, hazards: torch.Tensor, times: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
        if hazards.ndim == 1:
            hazards, times, events = hazards[:, None], times[:, None], events[:, None]
        if not hazards.shape == times.shape == events.shape:
            raise ValueError(f"hazards {tuple(hazards.shape)}, times {tuple(times.shape)} and events "
                             f"{tuple(events.shape)} must have the same (batch, outcomes) shape")
        dtype = torch.promote_types(hazards.dtype, torch.float32)
        h, t, e = hazards.to(dtype), times.to(dtype), events.to(dtype)
        if self.config.gather:
            h, t, e = gather_with_grad(h), gather_with_grad(t), gather_with_grad(e)
        log_likelihood, n_events = partial_log_likelihood(h, t, e, self.config.ties)
        self.last_metrics = {"events": float(n_events.sum())}
        if self.config.ties == "sorted":
            return (-log_likelihood / (n_events + 1e-9)).mean()
        has_events = n_events > 0
        if not bool(has_events.any()):
            return hazards.sum() * 0.0
        return (-log_likelihood[has_events] / n_events[has_events]).mean()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(0)
        n = max(batch_size, 2)
        hazards = torch.randn(n, 3, generator=generator)
        times = torch.randint(1, 5, (n, 3), generator=generator).float()
        events = (torch.rand(n, 3, generator=generator) < 0.6).float()
        events[0] = 1.0
        return hazards, times, events


def partial_log_likelihood(
    h: torch.Tensor, t: torch.Tensor, e: torch.Tensor, ties: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-outcome log partial likelihood (K,) and event counts (K,) of a (B, K) batch."""
    n = h.shape[0]
    valid = ~(torch.isnan(t) | torch.isnan(e))
    is_event = valid & (torch.nan_to_num(e) > 0)
    # Unknown entries sort after every known time, so they never enter a known entry's risk set.
    sort_key = torch.where(valid, t, torch.full_like(t, -torch.inf))
    order = torch.argsort(sort_key, dim=0, descending=True, stable=True)
    h_s = torch.where(valid, h, torch.zeros_like(h)).gather(0, order)
    t_s = sort_key.gather(0, order)
    e_s = is_event.gather(0, order)
    cumulative = torch.logcumsumexp(h_s, dim=0)
    positions = torch.arange(n, device=h.device)[:, None].expand_as(h_s)

    if ties == "sorted":
        log_risk = cumulative
    else:
        # Risk sets of tied times include the whole tie group: read the cumulative sum at the
        # group's last position.
        is_last = torch.ones_like(e_s)
        is_last[:-1] = t_s[1:] != t_s[:-1]
        group_end = torch.where(is_last, positions, torch.full_like(positions, n))
        group_end = group_end.flip(0).cummin(0).values.flip(0)
        log_risk = cumulative.gather(0, group_end)
        if ties == "efron":
            log_risk = log_risk + _efron_correction(h_s, t_s, e_s, log_risk, positions)
        elif ties != "breslow":
            raise ValueError(f"unknown ties {ties!r}")
    terms = torch.where(e_s, h_s - log_risk, torch.zeros_like(h_s))
    return terms.sum(0), e_s.sum(0).to(h.dtype)


def _efron_correction(
    h_s: torch.Tensor, t_s: torch.Tensor, e_s: torch.Tensor, log_risk: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """``log(1 - (l/d)·S/R)`` for the l-th of d tied events, S their hazard mass, R the risk set's."""
    is_first = torch.ones_like(e_s)
    is_first[1:] = t_s[1:] != t_s[:-1]
    group = is_first.long().cumsum(0) - 1
    first = torch.where(is_first, positions, torch.zeros_like(positions)).cummax(0).values
    events = e_s.to(h_s.dtype)
    # exp(h - log R) ≤ 1 for a member of its own risk set: no overflow whatever the scale.
    share = torch.where(e_s, torch.exp(h_s - log_risk), torch.zeros_like(h_s))
    group_events = torch.zeros_like(h_s).scatter_add(0, group, events).gather(0, group)
    group_share = torch.zeros_like(h_s).scatter_add(0, group, share).gather(0, group)
    cum_events = events.cumsum(0)
    before_group = (cum_events - events).gather(0, first)
    rank_in_group = cum_events - 1 - before_group
    fraction = torch.where(e_s, rank_in_group / group_events.clamp(min=1), torch.zeros_like(h_s))
    return torch.log1p(-fraction * group_share)
