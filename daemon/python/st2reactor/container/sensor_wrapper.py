"""StackStorm's import path of `SensorService`."""
from st2d_shim.sensor_service import SensorService  # noqa: F401
