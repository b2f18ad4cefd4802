"""Pack constants of StackStorm's `st2common.constants.pack`: file names, reserved and system
pack names, and the patterns pack names and versions follow.

Owns: these values. Must not: hold logic.
"""

MANIFEST_FILE_NAME = "pack.yaml"
CONFIG_SCHEMA_FILE_NAME = "config.schema.yaml"
COMMON_LIB_DIR = "lib"

PACK_CONFIG_CONTEXT_KV_PREFIX = "config_context"

PACK_REF_WHITELIST_REGEX = r"^[a-z0-9_]+$"
RESERVED_PACK_LIST = ["_global"]
PACK_RESERVED_CHARACTERS = ["."]
# "<pack>=<version>" in an install request, e.g. "libcloud=1.0.1"
PACK_VERSION_SEPARATOR = "="
# semantic version: MAJOR.MINOR.PATCH[-prerelease][+build]
PACK_VERSION_REGEX = (r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
                      r"(?:-[\da-z\-]+(?:\.[\da-z\-]+)*)?(?:\+[\da-z\-]+(?:\.[\da-z\-]+)*)?$")
# the "stackstorm_version" requirement of pack.yaml, e.g. ">=3.0.0, <4.0.0"
ST2_VERSION_REGEX = r"^((>?>|>=|=|<=|<?<)\s*[0-9]+\.[0-9]+\.[0-9]+?(\s*,)?\s*)+$"

SYSTEM_PACK_NAME = "core"
PACKS_PACK_NAME = "packs"
LINUX_PACK_NAME = "linux"
DEFAULT_PACK_NAME = "default"
CHATOPS_PACK_NAME = "chatops"
SYSTEM_PACK_NAMES = [CHATOPS_PACK_NAME, SYSTEM_PACK_NAME, PACKS_PACK_NAME, LINUX_PACK_NAME]
USER_PACK_NAME_BLACKLIST = [SYSTEM_PACK_NAME, PACKS_PACK_NAME]

BASE_PACK_REQUIREMENTS = ["six>=1.9.0,<2.0"]
