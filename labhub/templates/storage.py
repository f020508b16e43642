"""Where a new notebook goes: a shared filesystem, or straight back as a download.

Every backend takes a destination already checked by `naming` (relative,
no `..`, no leading dots) and promises never to overwrite: the first free
name among `name.ipynb`, `name-1.ipynb`, `name-2.ipynb`, ... is taken
atomically. The `contents` backend (the user's Jupyter server) lives in
`contents.py`; the outcome types below are shared by all three.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from labhub.templates.naming import NameError_, candidates, check_segment


@dataclass(frozen=True)
class Saved:
    """The notebook exists at `path`, relative to the user's folder."""

    path: str


@dataclass(frozen=True)
class Download:
    """The notebook is handed back to the browser as an attachment."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Waiting:
    """Storage is not ready yet (the user's server is starting); try the same request again soon."""

    message: str


Outcome = Saved | Download | Waiting


class StorageError(Exception):
    """Storage refused or failed; `status` is the HTTP status to show with the one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DownloadStorage:
    """`--storage download`: nothing is stored; the browser gets the file."""

    kind = "download"

    async def save(self, user: str, destination: str, data: bytes) -> Outcome:
        return Download(destination.rsplit("/", 1)[-1], data)


class FilesystemStorage:
    """`--storage filesystem:/home/{username}`: write into each user's folder on a shared filesystem.

    The user's folder is the pattern with `{username}` filled in (the user
    name checked as a single safe path segment) and opened as it is (the
    homes mount may be reached through links); below it every folder is
    opened with O_NOFOLLOW relative to its parent's descriptor, so a symlink
    planted anywhere below the user's folder can never redirect the write.
    The file is created with O_CREAT|O_EXCL under the first free name (the
    kernel refuses a name that exists, so nothing is ever overwritten, even
    by concurrent creates) and removed again if the write fails, so no
    truncated notebook is left behind.
    """

    kind = "filesystem"

    def __init__(self, pattern: str, file_mode: int = 0o644, dir_mode: int = 0o755) -> None:
        if not pattern.startswith("/") or pattern.count("{username}") != 1:
            raise ValueError("a filesystem storage path must be absolute and contain {username} once, e.g. /home/{username}")
        stripped = pattern.replace("{username}", "")
        if "{" in stripped or "}" in stripped:
            raise ValueError("a filesystem storage path may only use the {username} field")
        self.pattern = pattern
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        self._next_number: dict[tuple[str, str], int] = {}

    def _open_user_folder(self, user: str) -> tuple[str, int]:
        """The user's folder and an open descriptor for it, the folder made first if it does not exist yet (see `_make_home`)."""
        try:
            check_segment(user, what="user name")
        except NameError_ as error:
            raise StorageError(400, f"cannot map this user to a folder: {error}") from error
        folder = self.pattern.replace("{username}", user)
        try:
            return folder, self._open_folder(user, folder)
        except FileNotFoundError:
            self._make_home(user)
        return folder, self._open_folder(user, folder)

    @staticmethod
    def _open_folder(user: str, folder: str) -> int:
        """A descriptor for `folder`; FileNotFoundError passes (the caller makes it), any other failure is a 503."""
        try:
            return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise StorageError(503, f"cannot open the folder of user {user}: {error.strerror}; ask an administrator") from error

    def _make_home(self, user: str) -> None:
        """Create the missing folders below the homes mount, as the user's own server would.

        Why create rather than refuse: a lab member who never started a server
        and clicks "Create Notebook" should get the notebook. In filesystem mode
        this process runs as the uid and gid single-user servers run as
        (`filesUid`), so what it makes has the owner a server gives its files;
        the mode is 0755, what a server's mkdir gives under the usual umask 022
        (set explicitly, whatever this process's umask). Only the part of the
        pattern from `{username}` on is created, one checked segment at a time
        and never through a symlink; the homes mount itself must exist.
        """
        fixed, rest = self.pattern.split("{username}", 1)
        root, head = fixed.rsplit("/", 1)  # the folder above the segment holding {username}
        root = root or "/"
        if not os.path.isdir(root):
            raise StorageError(503, f"the shared homes folder {root} is not there (is the homes volume mounted?); ask an administrator")
        path = head + user + rest
        dir_fd = os.open(os.path.realpath(root), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for segment in [part for part in path.split("/") if part]:
                try:
                    os.mkdir(segment, self.dir_mode, dir_fd=dir_fd)
                    created = True
                except FileExistsError:
                    created = False
                except OSError as error:
                    raise StorageError(503, f"cannot create the folder for user {user} under {root}: {error.strerror}; ask an administrator") from error
                child = self._enter(dir_fd, segment, path)
                os.close(dir_fd)
                dir_fd = child
                if created:
                    os.fchmod(dir_fd, self.dir_mode)  # exactly dir_mode, whatever this process's umask
        finally:
            os.close(dir_fd)

    async def save(self, user: str, destination: str, data: bytes) -> Outcome:
        return Saved(self.write(user, destination, data))

    def write(self, user: str, destination: str, data: bytes) -> str:
        """Write `data` at the first free name for `destination`; return the path used."""
        folder, dir_fd = self._open_user_folder(user)
        *parents, filename = destination.split("/")
        try:
            for segment in parents:
                child = self._enter(dir_fd, segment, destination)
                os.close(dir_fd)
                dir_fd = child
            name = self._place(dir_fd, folder, destination, filename, data)
        finally:
            os.close(dir_fd)
        return "/".join([*parents, name])

    def _enter(self, dir_fd: int, segment: str, destination: str) -> int:
        try:
            os.mkdir(segment, self.dir_mode, dir_fd=dir_fd)
        except FileExistsError:
            pass
        except OSError as error:
            raise StorageError(409, f"cannot create folder {segment!r} for {destination}: {error.strerror}") from error
        try:
            child = os.open(segment, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as error:
            raise StorageError(409, f"{segment!r} in {destination} is a symlink or not a folder; refusing to follow it") from error
        return child

    def _place(self, dir_fd: int, folder: str, destination: str, filename: str, data: bytes) -> str:
        key = (folder, destination)
        for name in candidates(filename, start=self._next_number.get(key, 0)):
            if self._create_exclusive(dir_fd, name, data):
                self._remember(key, name, filename)
                return name
        raise StorageError(409, f"no free name left for {destination}")

    def _create_exclusive(self, dir_fd: int, name: str, data: bytes) -> bool:
        """Create `name` with O_EXCL (fails if anything, even a dangling symlink, has that name) and write it."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, self.file_mode, dir_fd=dir_fd)
        except FileExistsError:
            return False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as error:
            os.unlink(name, dir_fd=dir_fd)  # never leave a truncated notebook behind
            raise StorageError(507 if error.errno == errno.ENOSPC else 500, f"writing {name} failed: {error.strerror}") from error
        finally:
            os.close(fd)
        return True

    def _remember(self, key: tuple[str, str], name: str, filename: str) -> None:
        # A hint only (the link is what guarantees no overwrite): start the next
        # search after the last number used, so repeats stay O(1).
        if len(self._next_number) > 10000:
            self._next_number.clear()
        number = 0 if name == filename else int(name[len(filename.rsplit(".", 1)[0]) + 1 :].split(".", 1)[0])
        self._next_number[key] = number + 1
