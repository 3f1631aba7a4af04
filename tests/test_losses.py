"""The loss terms of eq. 1-5 against hand computations on tiny tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import pseudo_huber as scipy_pseudo_huber

from hyperseg_vfx.training.losses import (
    LossConfig, boundary_loss, cross_entropy_loss, diversity_weights, hyperseg_loss, interactive_context_loss,
    jaccard_loss, largest_outer_contour, pseudo_huber,
)

TRUTH = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
CANDIDATES = torch.tensor([[[0.5, 0.2], [1.0, 0.0]], [[1.0, 0.0], [1.0, 1.0]]])


def test_jaccard_is_one_minus_sum_min_over_sum_max():
    # candidate 1: sum min = 0.5 + 0 + 1 + 0 = 1.5, sum max = 1 + 0.2 + 1 + 1 = 3.2; candidate 2 is exact
    expected = torch.tensor([1 - 1.5 / 3.2, 0.0])
    torch.testing.assert_close(jaccard_loss(TRUTH, CANDIDATES), expected)


def test_jaccard_ignores_void_pixels_and_is_zero_when_both_are_empty():
    valid = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # the (1, 1) pixel is void
    # candidate 1 without (1, 1): min = 0.5 + 0 + 1, max = 1 + 0.2 + 1
    torch.testing.assert_close(jaccard_loss(TRUTH, CANDIDATES, valid)[0], torch.tensor(1 - 1.5 / 2.2))
    assert jaccard_loss(torch.zeros(2, 2), torch.zeros(1, 2, 2)).item() == 0.0


def test_interactive_context_loss_is_the_l1_at_the_clicked_pixels():
    positive = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    negative = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    # |1 - A(0,0)| + |1 - (1 - A(0,1))| = (1 - A00) + A01
    expected = torch.tensor([(1 - 0.5) + 0.2, (1 - 1.0) + 0.0])
    torch.testing.assert_close(interactive_context_loss(positive, negative, CANDIDATES), expected)


def test_diversity_weights_are_ranked_powers_of_two():
    expected = torch.tensor([0.32, 0.16, 0.08, 0.04, 0.02, 0.01])
    torch.testing.assert_close(diversity_weights(6), expected)
    torch.testing.assert_close(diversity_weights(3, scale=0.0025), torch.tensor([0.01, 0.005, 0.0025]))


@pytest.mark.parametrize("delta", [0.1, 1.0, 10.0])
def test_pseudo_huber_matches_scipy(delta):
    residual = np.linspace(-1.0, 1.0, 21)
    ours = pseudo_huber(torch.from_numpy(residual), delta).numpy()
    np.testing.assert_allclose(ours, scipy_pseudo_huber(delta, residual), rtol=1e-6, atol=1e-12)


def test_largest_outer_contour_takes_the_biggest_component_and_skips_holes():
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:8, 1:8] = True
    mask[3:6, 3:6] = False  # a hole: its rim is not an outer contour
    mask[9:11, 9:11] = True  # a smaller component
    contour = largest_outer_contour(mask)
    ring = np.zeros_like(mask)
    ring[1:8, 1:8] = True
    ring[2:7, 2:7] = False
    np.testing.assert_array_equal(contour, ring)
    assert not largest_outer_contour(np.zeros((4, 4), dtype=bool)).any()


def test_boundary_loss_sums_the_pseudo_huber_over_the_contour_pixels():
    truth = torch.zeros(5, 5)
    truth[1:4, 1:3] = 1.0  # the truth covers the left two columns of the candidate's square
    candidate = torch.full((5, 5), 0.1)
    candidate[1:4, 1:4] = 0.8  # thresholded: a 3x3 square whose contour is its 8 rim pixels
    delta = 2.0
    # rim pixels: 5 with truth 1 (residual 0.2) and 3 with truth 0 (residual -0.8); the centre
    # (1 vs 0.8) and the outside are not on the contour
    expected = 5 * scipy_pseudo_huber(delta, 0.2) + 3 * scipy_pseudo_huber(delta, -0.8)
    loss = boundary_loss(truth, candidate[None], delta)
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_total_loss_is_eq3_with_the_minimum_over_candidates():
    positive = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    negative = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    config = LossConfig(boundary=True, boundary_weight=1.0, boundary_delta=1.0)
    terms = hyperseg_loss(CANDIDATES, TRUTH, positive, negative, config)
    jaccard = jaccard_loss(TRUTH, CANDIDATES)
    matching = jaccard + interactive_context_loss(positive, negative, CANDIDATES)
    diversity = (diversity_weights(2) * jaccard).sum()
    boundary = boundary_loss(TRUTH, CANDIDATES, 1.0).sum()
    assert terms.best == 1  # the exact candidate wins the minimum
    torch.testing.assert_close(terms.jaccard_ic, matching.min())
    torch.testing.assert_close(terms.total, matching.min() + diversity + boundary)
    # the minimum switches when the order of the candidates does
    assert hyperseg_loss(CANDIDATES.flip(0), TRUTH, positive, negative, config).best == 0


def test_boundary_term_can_be_weighted_or_switched_off():
    truth = torch.zeros(5, 5)
    truth[1:4, 1:3] = 1.0
    candidates = torch.full((2, 5, 5), 0.1)
    candidates[:, 1:4, 1:4] = 0.8
    positive = negative = torch.zeros(5, 5)
    full = hyperseg_loss(candidates, truth, positive, negative, LossConfig(boundary_delta=1.0))
    half = hyperseg_loss(candidates, truth, positive, negative, LossConfig(boundary_weight=0.5, boundary_delta=1.0))
    off = hyperseg_loss(candidates, truth, positive, negative, LossConfig(boundary=False))
    assert full.boundary.item() > 0
    torch.testing.assert_close(half.boundary, 0.5 * full.boundary)
    assert off.boundary.item() == 0.0
    torch.testing.assert_close(off.total, full.total - full.boundary)


def test_loss_gradient_reaches_every_candidate():
    candidates = CANDIDATES.clone().clamp(0.05, 0.95).requires_grad_(True)
    positive = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    terms = hyperseg_loss(candidates, TRUTH, positive, torch.zeros(2, 2), LossConfig())
    terms.total.backward()
    assert (candidates.grad.abs().sum(dim=(1, 2)) > 0).all()  # diversity and boundary terms touch all


def test_cross_entropy_is_the_mean_binary_cross_entropy_over_valid_pixels():
    candidate = torch.tensor([[0.9, 0.2], [0.5, 0.99]])
    by_hand = -(np.log(0.9) + np.log(0.8) + np.log(0.5) + np.log(0.99)) / 4
    assert cross_entropy_loss(TRUTH, candidate).item() == pytest.approx(by_hand, rel=1e-5)
    valid = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # the 0.5 pixel is void
    by_hand_valid = -(np.log(0.9) + np.log(0.8) + np.log(0.99)) / 3
    assert cross_entropy_loss(TRUTH, candidate, valid).item() == pytest.approx(by_hand_valid, rel=1e-5)


def test_cross_entropy_term_is_off_by_default_and_weights_the_winning_candidate():
    positive = negative = torch.zeros(2, 2)
    candidates = CANDIDATES.clamp(0.01, 0.99)
    paper = hyperseg_loss(candidates, TRUTH, positive, negative, LossConfig(boundary=False))
    added = hyperseg_loss(candidates, TRUTH, positive, negative, LossConfig(boundary=False, cross_entropy_weight=0.5))
    assert paper.cross_entropy.item() == 0.0
    torch.testing.assert_close(added.cross_entropy, 0.5 * cross_entropy_loss(TRUTH, candidates[added.best]))
    torch.testing.assert_close(added.total, paper.total + added.cross_entropy)


def test_cross_entropy_keeps_a_gradient_where_the_jaccard_saturates():
    """A confidently missed pixel (logit -6, alpha 0.0025): through the sigmoid, the Jaccard's
    gradient on its logit is scaled by alpha (1 - alpha); the cross-entropy's is alpha - 1."""
    truth = torch.ones(2, 2)
    logits = torch.tensor([[[4.0, 4.0], [4.0, -6.0]]], requires_grad=True)
    positive = negative = torch.zeros(2, 2)
    jaccard = hyperseg_loss(torch.sigmoid(logits), truth, positive, negative, LossConfig(boundary=False))
    (jaccard_grad,) = torch.autograd.grad(jaccard.total, logits)
    cross_entropy = cross_entropy_loss(truth, torch.sigmoid(logits)[0])
    (cross_entropy_grad,) = torch.autograd.grad(cross_entropy, logits)
    alpha = torch.sigmoid(torch.tensor(-6.0)).item()
    assert abs(jaccard_grad[0, 1, 1].item()) < 0.005
    assert cross_entropy_grad[0, 1, 1].item() == pytest.approx((alpha - 1) / 4, rel=1e-4)


def test_cross_entropy_gradient_stays_finite_through_a_saturated_network_under_float16_autocast():
    """Training on CUDA runs the network under float16 autocast (here on the CPU's float16
    autocast): a confidently wrong pixel must still give a finite gradient."""
    from hyperseg_vfx.config import NetworkConfig
    from hyperseg_vfx.modeling.network import HyperSegNet

    net = HyperSegNet(NetworkConfig(width=4, dilations=(1,), candidates=2), feature_channels=3)
    with torch.no_grad():
        net.head.bias.fill_(12.0)  # every candidate says foreground with alpha 1 - 6e-6
    features, context = torch.rand(1, 3, 6, 6), torch.rand(1, 10, 6, 6)
    with torch.autocast("cpu", dtype=torch.float16):
        candidates = net(features, context)[0]
    truth = torch.ones(6, 6)
    truth[:, :2] = 0.0  # a third of the pixels are confident spills
    no_clicks = torch.zeros(6, 6)
    terms = hyperseg_loss(candidates, truth, no_clicks, no_clicks, LossConfig(boundary=False, cross_entropy_weight=1.0))
    terms.total.backward()
    assert torch.isfinite(net.head.bias.grad).all() and net.head.bias.grad[terms.best] > 0
