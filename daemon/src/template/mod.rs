//! Jinja templating as StackStorm renders it (ST2-COMPAT.md 2.2, 5.2).
