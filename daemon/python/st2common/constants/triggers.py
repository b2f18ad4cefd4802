"""Trigger constants of StackStorm's `st2common.constants.triggers`: the built-in `core`
trigger types (name, pack, description), their refs, and the trigger instance statuses.

Owns: these names. Must not: define the trigger types (st2d's built-in `core` pack does, with
their schemas, which are left out here).
"""
from st2common.constants.pack import SYSTEM_PACK_NAME


def _trigger_type(name, description):
    return {"name": name, "pack": SYSTEM_PACK_NAME, "description": description}


def _ref(trigger_type):
    return "%s.%s" % (trigger_type["pack"], trigger_type["name"])


ACTION_SENSOR_TRIGGER = _trigger_type("st2.generic.actiontrigger",
                                      "Trigger encapsulating the completion of an action execution.")
NOTIFY_TRIGGER = _trigger_type("st2.generic.notifytrigger", "Notification trigger.")
ACTION_FILE_WRITTEN_TRIGGER = _trigger_type("st2.action.file_written",
                                            "Trigger encapsulating action file being written on disk.")
INQUIRY_TRIGGER = _trigger_type("st2.generic.inquiry", "Trigger indicating a new Inquiry has entered pending status.")
SENSOR_SPAWN_TRIGGER = _trigger_type("st2.sensor.process_spawn", "Trigger indicating sensor process is started up.")
SENSOR_EXIT_TRIGGER = _trigger_type("st2.sensor.process_exit", "Trigger indicating sensor process is stopped.")
KEY_VALUE_PAIR_CREATE_TRIGGER = _trigger_type("st2.key_value_pair.create",
                                              "Trigger encapsulating datastore item creation.")
KEY_VALUE_PAIR_UPDATE_TRIGGER = _trigger_type("st2.key_value_pair.update",
                                              "Trigger encapsulating datastore set action.")
KEY_VALUE_PAIR_VALUE_CHANGE_TRIGGER = _trigger_type("st2.key_value_pair.value_change",
                                                    "Trigger encapsulating a change of datastore item value.")
KEY_VALUE_PAIR_DELETE_TRIGGER = _trigger_type("st2.key_value_pair.delete",
                                              "Trigger encapsulating datastore item deletion.")

INTERNAL_TRIGGER_TYPES = {
    "action": [ACTION_SENSOR_TRIGGER, NOTIFY_TRIGGER, ACTION_FILE_WRITTEN_TRIGGER, INQUIRY_TRIGGER],
    "sensor": [SENSOR_SPAWN_TRIGGER, SENSOR_EXIT_TRIGGER],
    "key_value_pair": [KEY_VALUE_PAIR_CREATE_TRIGGER, KEY_VALUE_PAIR_UPDATE_TRIGGER,
                       KEY_VALUE_PAIR_VALUE_CHANGE_TRIGGER, KEY_VALUE_PAIR_DELETE_TRIGGER],
}

_WEBHOOK = _trigger_type("st2.webhook", "Trigger type for registering webhooks that can consume arbitrary payload.")
WEBHOOK_TRIGGER_TYPE = _ref(_WEBHOOK)
WEBHOOK_TRIGGER_TYPES = {WEBHOOK_TRIGGER_TYPE: _WEBHOOK}

_INTERVAL = _trigger_type("st2.IntervalTimer", "Triggers on specified intervals. e.g. every 30s, 1week etc.")
_DATE = _trigger_type("st2.DateTimer", "Triggers exactly once when the current time matches the specified time.")
_CRON = _trigger_type("st2.CronTimer", "Triggers whenever current time matches the specified time constaints "
                                       "like a UNIX cron scheduler.")
INTERVAL_TIMER_TRIGGER_REF = _ref(_INTERVAL)
DATE_TIMER_TRIGGER_REF = _ref(_DATE)
CRON_TIMER_TRIGGER_REF = _ref(_CRON)
TIMER_TRIGGER_TYPES = {INTERVAL_TIMER_TRIGGER_REF: _INTERVAL, DATE_TIMER_TRIGGER_REF: _DATE,
                       CRON_TIMER_TRIGGER_REF: _CRON}

SYSTEM_TRIGGER_TYPES = dict(WEBHOOK_TRIGGER_TYPES, **TIMER_TRIGGER_TYPES)

TRIGGER_INSTANCE_PENDING = "pending"
TRIGGER_INSTANCE_PROCESSING = "processing"
TRIGGER_INSTANCE_PROCESSED = "processed"
TRIGGER_INSTANCE_PROCESSING_FAILED = "processing_failed"
TRIGGER_INSTANCE_STATUSES = [TRIGGER_INSTANCE_PENDING, TRIGGER_INSTANCE_PROCESSING, TRIGGER_INSTANCE_PROCESSED,
                             TRIGGER_INSTANCE_PROCESSING_FAILED]
TRIGGER_INSTANCE_COMPLETED_STATES = [TRIGGER_INSTANCE_PROCESSED, TRIGGER_INSTANCE_PROCESSING_FAILED]
