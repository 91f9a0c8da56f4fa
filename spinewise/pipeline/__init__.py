"""The live service (``spinewise pipeline``): MQTT -> per-device Analyzer -> events, state,
coaching and storage. See service.py for threads and topics, device.py for one sensor's state."""
from spinewise.pipeline.service import Pipeline

__all__ = ["Pipeline"]
