"""`Sensor` and `PollingSensor`, the base classes StackStorm sensors extend.

Owns: the pack-author sensor API. Must not: talk to st2d (the sensor service does).
"""
import abc
import time

__all__ = ["Sensor", "PollingSensor"]


class Sensor(metaclass=abc.ABCMeta):
    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self):
        pass

    @abc.abstractmethod
    def run(self):
        pass

    @abc.abstractmethod
    def cleanup(self):
        pass

    @abc.abstractmethod
    def add_trigger(self, trigger):
        pass

    @abc.abstractmethod
    def update_trigger(self, trigger):
        pass

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        pass


class PollingSensor(Sensor):
    def __init__(self, sensor_service, config=None, poll_interval=5):
        super(PollingSensor, self).__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        pass

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
