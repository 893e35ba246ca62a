"""Files the kernel sends to the host over its log (hermitcore/kernel/blob.c,
hermit/blob.h): a core dump (`run --core FILE`). Lines "[blob] NAME @HEX"
(where the next bytes go), "[blob] NAME BASE64" (bytes) and "[blob] NAME
end HEX" (the file's size; what was skipped stays a hole). Standard
library only, as launch.py."""

from __future__ import annotations

import base64
import binascii


class Blobs:
    """The files of one run: NAME -> the host path it goes to. A file is
    created only when the kernel sends it; ``done`` names those complete."""

    def __init__(self, targets: dict[str, str]):
        self.targets = dict(targets)
        self.files: dict = {}
        self.done: list[str] = []
        self.errors: list[str] = []

    def line(self, text: str) -> bool:
        """Take one kernel log line: True when it was a blob's (not to be
        shown or logged)."""
        if not text.startswith("[blob] "):
            return False
        name, _, rest = text[7:].partition(" ")
        path = self.targets.get(name)
        if path is None or name in self.errors:
            return True
        try:
            f = self.files.get(name)
            if f is None:
                f = self.files[name] = open(path, "w+b")
            if rest.startswith("@"):
                f.seek(int(rest[1:], 16))
            elif rest.startswith("end "):
                f.truncate(int(rest[4:], 16))
                f.close()
                del self.files[name]
                self.done.append(name)
            else:
                f.write(base64.b64decode(rest, validate=True))
        except (OSError, ValueError, binascii.Error) as exc:
            self.errors.append(name)
            self.files.pop(name, None)
            raise BlobError(f"{name} {path}: {getattr(exc, 'strerror', None) or exc}") from None
        return True

    def close(self) -> list[str]:
        """Files the run ended in the middle of (their names); closes them."""
        cut = list(self.files)
        for f in self.files.values():
            f.close()
        self.files.clear()
        return cut


class BlobError(Exception):
    pass
