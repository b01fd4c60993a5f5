"""The shipped recipes and the config keys that say how a run is evaluated and trained on real data."""
from __future__ import annotations

import pytest

from night_seg_training.config import ConfigError, load_config

REAL_RECIPES = ('cityscapes_darkzurich_b0', 'cityscapes_darkzurich_b5')


@pytest.mark.parametrize('recipe', REAL_RECIPES)
def test_real_recipes_evaluate_dark_zurich_at_its_aspect(recipe: str) -> None:
    config = load_config(recipe)
    assert config.data.eval_sizes == {'dark_zurich_val': [540, 960]}  # 1080x1920 halved, not 512x1024
    assert config.data.eval_flip is False


@pytest.mark.parametrize(('override', 'message'), [
    ('data.eval_sizes.nowhere=[540, 960]', "data.eval_sizes names 'nowhere', not an evaluation set"),
    ('data.eval_sizes.night=[540]', 'data.eval_sizes.night is [540]; it must be [height, width]'),
    ('data.eval_sizes.night=[16, 960]', 'each an integer >= 32'),
])
def test_eval_sizes_are_checked(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace('[', r'\[').replace(']', r'\]')):
        load_config('synthetic_demo', [override])
