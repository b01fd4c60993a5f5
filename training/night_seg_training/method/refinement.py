"""The transfer of static classes: the night pseudo-label refined by the day reference's prediction (as Refign).

Where the day reference reaches a night pixel and predicts a static class, and the night teacher predicts a static
class too (or a dynamic one it is unsure of), the refined prediction is the convex mix
(1 - e) p_night + e p_day, e = `reference_weight`; elsewhere the teacher's own. So a confident day "sky" overrules a
confident night "building" in the dark sky, a car parked by day never enters the night label, and a confident night
car stays. The day prediction reaches the night pixels through cross_attention.py (or the identity copy).
"""
from __future__ import annotations

import torch


class ReferenceRefinement:
    """The night softmax refined by the day prediction on static classes (`reference_gate`, then `refine`).

    static bool (K,): the static classes (class_masks.static_class_mask); reference_weight: the reference's share e
    inside the gate; overrule_dynamic_below: a dynamic night label this unsure or less may be overruled.
    """

    def __init__(self, static: torch.Tensor, reference_weight: float, overrule_dynamic_below: float) -> None:
        self.static = static
        self.reference_weight = reference_weight
        self.overrule_dynamic_below = overrule_dynamic_below

    def __call__(self, night_probabilities: torch.Tensor,
                 day_probabilities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """night_probabilities float (N, K, H, W): the teacher's night softmax; day_probabilities float (N, K, H, W):
        the day prediction at night positions (zeros where the reference does not reach). Returns (the refined
        softmax float (N, K, H, W), the teacher's own night labels int64 (N, H, W), the gate bool (N, H, W))."""
        night_confidence, teacher_labels = night_probabilities.max(1)  # (N, H, W) each
        gate = reference_gate(night_confidence, teacher_labels, day_probabilities, self.static,
                              self.overrule_dynamic_below)
        return refine(night_probabilities, day_probabilities, gate, self.reference_weight), teacher_labels, gate


def reference_gate(night_confidence: torch.Tensor, night_labels: torch.Tensor, day_probabilities: torch.Tensor,
                   static_classes: torch.Tensor, overrule_dynamic_below: float = 0.0) -> torch.Tensor:
    """Where the day reference may refine the night pseudo-label: bool (N, H, W).

    night_confidence float (N, H, W) and night_labels int64 (N, H, W): the max and argmax of the teacher's night
    softmax (taken once by the caller: a full-resolution argmax is dear on a CPU); day_probabilities float
    (N, K, H, W) (the day prediction at night positions; all zeros where the reference does not reach);
    static_classes bool (K,). True where the reference reaches and predicts a static class and the night prediction
    is a static class too, or a dynamic one with confidence below `overrule_dynamic_below` (0: a dynamic night label
    is never overruled; 1: always). So a car parked by day never enters the night label and a confident night car
    stays.
    """
    static = static_classes.to(night_labels.device)
    reaches = day_probabilities.sum(1) > 0.5  # (N, H, W): zeros outside the day image
    night_allows = static[night_labels] | (night_confidence < overrule_dynamic_below)
    day_labels = day_probabilities.argmax(1)  # (N, H, W)
    return night_allows & static[day_labels] & reaches


def refine(night_probabilities: torch.Tensor, day_probabilities: torch.Tensor, gate: torch.Tensor,
           mix: torch.Tensor | float) -> torch.Tensor:
    """Convex mix of the night pseudo-label with the day reference where `gate` allows it (as Refign).

    night_probabilities float (N, K, H, W) (the teacher's softmax on the night image); day_probabilities float
    (N, K, H, W); gate bool (N, H, W) from `reference_gate`; mix: float or float (N, H, W) in [0, 1] (the
    reference's share). refined = (1 - e) p_night + e p_day with e = mix inside the gate, 0 outside: a confidently
    wrong static night label (the night sky called "building") is overruled by a confident reference. Returns
    float (N, K, H, W), summing to 1 over K.
    """
    share = (gate * mix).unsqueeze(1)  # (N, 1, H, W)
    return night_probabilities + share * (day_probabilities - night_probabilities)
