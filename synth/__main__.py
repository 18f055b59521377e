import sys

from . import progress

progress.install()  # first: a signal during the imports below is an interruption too, with its message

try:
    from .cli import run  # noqa: E402
except (KeyboardInterrupt, progress.Terminated) as exc:
    # Interrupted while importing: nothing of ours ran, so nothing was written.
    print("inference-fleet: interrupted before writing; the output folder is as it was", file=sys.stderr)
    sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 143)

run()
