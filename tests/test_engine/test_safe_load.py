"""mmengine's own checkpoints load under torch's weights_only loading (what
--resume needs); code-running pickles are still refused."""
import pytest
import torch

import cvt_backbone  # noqa: F401  (applies the allow-list)

from hostile_pickle import CodeRunningPickle


def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    import numpy as np
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('safe-load-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('extra', np.arange(3))
    ckpt = dict(meta=dict(epoch=2, seed=np.int64(7)),
                message_hub=hub.state_dict(),
                state_dict={'w': torch.ones(2)})
    torch.save(ckpt, tmp_path / 'epoch_2.pth')
    loaded = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 0.5
    assert loaded['meta']['seed'] == 7


class _GetattrAttack:
    """A pickle that reaches through the allowed HistoryBuffer for anything
    other than its statistics methods."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_code_running_pickles_are_still_refused(tmp_path):
    import pickle
    torch.save({'x': _GetattrAttack()}, tmp_path / 'a.pth')
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        torch.load(tmp_path / 'a.pth', weights_only=True)
    marker = tmp_path / 'pwned'
    torch.save({'x': CodeRunningPickle(marker)}, tmp_path / 'b.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 'b.pth', weights_only=True)
    assert not marker.exists()
    # mmengine's own loader (used by --resume) refuses it as well
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(str(tmp_path / 'b.pth'), map_location='cpu')
    assert not marker.exists()


