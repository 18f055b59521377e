import sys

try:
    from . import progress

    progress.install()  # first: a signal during the imports below is an interruption too, with its message
    from .cli import run
except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt before or after the handlers exist, or Terminated
    if not isinstance(exc, KeyboardInterrupt) and type(exc).__name__ != "Terminated":
        raise
    # Interrupted while starting: nothing of ours ran, so nothing was written.
    print("inference-fleet: interrupted before writing; the output folder is as it was", file=sys.stderr)
    sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 143)

run()
