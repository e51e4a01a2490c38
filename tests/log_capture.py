"""What mmengine's logger says: the messages of its current instance inside
a block (MMLogger does not propagate to the root logger, so pytest's
``caplog`` sees nothing)."""
import logging
from contextlib import contextmanager


@contextmanager
def captured_log():
    """Messages that mmengine's current logger emits inside the block."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
