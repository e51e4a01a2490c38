from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS


@HOOKS.register_module()
class PlainParamGroupsHook(Hook):
    """Turn the optimizer's parameter groups into plain dicts before
    training, so that ``compile=True`` works.

    mmengine's ``compile`` option compiles the whole ``train_step``, the
    optimizer step included, and mmengine's (and mmpretrain's layer-decay)
    optimizer constructors hand the optimizer its groups through a
    ``ConfigDict``, so every group is a ``ConfigDict``: torch 2.14's
    dynamo cannot trace an optimizer step over dict-subclass groups
    (``InternalTorchDynamoError: 'UserDefinedDictVariable' object has no
    attribute 'items'``). The groups keep their keys, values and parameter
    objects; without ``compile`` the hook changes nothing that matters.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        wrapper = getattr(runner, 'optim_wrapper', None)
        if wrapper is None or isinstance(wrapper, dict):  # not built
            return
        wrappers = (wrapper.values() if isinstance(wrapper, OptimWrapperDict)
                    else [wrapper])
        for w in wrappers:
            groups = w.optimizer.param_groups
            groups[:] = [dict(g) for g in groups]
