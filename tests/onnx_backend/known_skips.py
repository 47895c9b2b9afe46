"""Node cases of supported ops that irc does not run, each with the reason.

Keys are regular expressions over test names (without the `_cpu` suffix); values are reasons.
Keep this list short and every reason specific: a case here is a gap, not a pass.
"""

KNOWN_SKIPS: dict[str, str] = {
}
