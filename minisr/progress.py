"""A small progress display for long loops (evaluation, training, batch upscaling).

On a terminal it redraws one line on stderr (``label  12/200  6%  3.1 it/s  ETA 1:02``);
when stderr is not a terminal (a log file, CI) it stays silent unless ``always=True``,
in which case it prints a plain line now and then.
"""

import sys
import time


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``with Progress(total, "Set5 x3") as bar: ... bar.update(1, note="PSNR 33.1")``.

    ``initial``: work already done before this display started (a resumed training run
    shows ``2869/200000``, with the rate and ETA of this session's steps only).
    """

    def __init__(self, total: int, label: str = "", stream=None, always: bool = False,
                 min_interval: float = 0.1, disable: bool = False, initial: int = 0):
        self.total = total
        self.initial = initial
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = (self.interactive or always) and not disable
        self.min_interval = min_interval if self.interactive else 10.0
        self.done = initial
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, steps: int = 1, note: str = "") -> None:
        self.done += steps
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= self.min_interval or self.done >= self.total):
            self._last_draw = now
            self._draw(now, note)

    def _draw(self, now: float, note: str) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = (self.done - self.initial) / elapsed
        parts = [self.label, f"{self.done}/{self.total}"]
        if self.total:
            parts.append(f"{100 * self.done / self.total:3.0f}%")
        parts.append(f"{rate:.1f} it/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {format_seconds((self.total - self.done) / rate)}")
        if note:
            parts.append(note)
        line = "  ".join(p for p in parts if p)
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def say(self, text: str, stream=None) -> None:
        """Print one line (to ``stream``, default stdout) without mixing it into the bar's
        line: on a terminal the bar is wiped first and redrawn by the next update."""
        if self.enabled and self.interactive:
            self.stream.write("\r\033[K")
        print(text, file=sys.stdout if stream is None else stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.interactive:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
