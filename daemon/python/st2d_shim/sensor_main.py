"""Entry point of a sensor process: connect to st2d, build the sensor class, run it.

Sensors run green, as StackStorm's sensor wrapper runs them: when eventlet is importable (from
st2d's base libraries or the pack's virtualenv) it monkey-patches os, select, socket, thread and
time before anything else is imported, the shim's own connection included.

Owns: the sensor life cycle (setup, trigger replay, run, cleanup, exit status). Must not: write
the protocol anywhere but the shim connection; stdout is the sensor's own.
"""


def _run_green():
    try:
        import eventlet
    except ImportError:
        return False
    eventlet.monkey_patch(os=True, select=True, socket=True, thread=True, time=True)
    return True


GREEN = _run_green()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from st2d_shim.connection import Connection  # noqa: E402
from st2d_shim.loader import load_module  # noqa: E402
from st2d_shim.sensor_service import SensorService  # noqa: E402


def load_class(path, class_name):
    module = load_module(path)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ImportError("%s has no class %s" % (path, class_name))
    return cls


def main():
    connection = Connection(os.environ["ST2D_SHIM_SOCKET"], os.environ["ST2D_SHIM_TOKEN"])
    welcome = connection.welcome
    service = SensorService(connection, welcome["pack"], welcome["class_name"], welcome["local_prefix"])
    cleaned = threading.Lock()
    sensor_box = []

    def cleanup():
        if not cleaned.acquire(False):
            return
        if sensor_box:
            try:
                sensor_box[0].cleanup()
            except Exception:  # noqa: BLE001
                traceback.print_exc()

    def on_sigterm(signum, frame):
        cleanup()
        connection.drain()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        cls = load_class(welcome["file"], welcome["class_name"])
        kwargs = {"sensor_service": service, "config": welcome.get("config") or {}}
        from st2reactor.sensor.base import PollingSensor
        if isinstance(cls, type) and issubclass(cls, PollingSensor) and welcome.get("poll_interval") is not None:
            kwargs["poll_interval"] = welcome["poll_interval"]
        sensor = cls(**kwargs)
        sensor_box.append(sensor)

        def on_trigger_event(op, trigger):
            getattr(sensor, op)(trigger)

        for trigger in welcome.get("triggers") or []:
            sensor.add_trigger(trigger)
        connection.on_trigger_event = on_trigger_event
        sensor.setup()
        sensor.run()
    except Exception:  # noqa: BLE001 - the traceback is the operator's diagnosis
        traceback.print_exc()
        connection.drain()
        cleanup()
        sys.stderr.flush()
        os._exit(1)
    connection.drain()
    cleanup()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
