"""What the benchmark measures: variants, defaults, size overrides."""
import pytest

from cvt_backbone.benchmark import DEFAULT_VARIANTS, applies, parse_size


def test_the_default_run_compares_ours_theirs_and_checkpointing():
    """``make benchmark`` (no --variants) measures these three; with_cp
    only where there is a backward pass to checkpoint."""
    assert DEFAULT_VARIANTS == ('ours', 'theirs', 'ours_cp')
    assert applies('ours_cp', 'train', 'fp32')
    assert not applies('ours_cp', 'infer', 'fp32')
    assert not applies('ours_cp', 'train_cls', 'fp32')


def test_size_overrides_parse_and_bad_ones_say_what_is_expected():
    assert parse_size('infer224=2x64x48') == (
        'infer224', dict(batch=2, h=64, w=48))
    with pytest.raises(ValueError, match='expected CASE=BxHxW'):
        parse_size('infer224=2x64')
    with pytest.raises(ValueError, match="unknown case 'infer999'"):
        parse_size('infer999=2x64x64')
