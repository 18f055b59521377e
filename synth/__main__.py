from . import progress

progress.install()  # first: a signal during the imports below is an interruption too, with its message

from .cli import run  # noqa: E402

run()
