"""Secret-masking constants of StackStorm's `st2common.constants.secrets`.

Owns: these values. Must not: hold logic.
"""

# attribute names whose values StackStorm masks in logs and API output
MASKED_ATTRIBUTES_BLACKLIST = ["password", "auth_token", "token", "secret", "credentials", "st2_auth_token"]
MASKED_ATTRIBUTE_VALUE = "********"
