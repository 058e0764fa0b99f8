"""Error handlers that clean up never raise again: removing a partial file while handling an error
must not replace that error (a folder that is a file, a read-only root, no network) with its own."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from zoo.data.download import download_file
from zoo.errors import ZooError
from zoo.files import atomic_write_text


def test_writing_into_a_folder_that_is_a_file_is_one_message_naming_it(tmp_path):
    (tmp_path / "report").write_text("a user's file, given as out=")
    with pytest.raises(
        ZooError, match=r"could not write comparison report .*report/report.md: .*/report is a file, not a folder"
    ):
        atomic_write_text(tmp_path / "report" / "report.md", "# table", "comparison report")
    assert (tmp_path / "report").read_text() == "a user's file, given as out="


def test_no_network_on_a_read_only_root_is_still_the_no_network_message(tmp_path, monkeypatch):
    """The partial file's removal fails too (a read-only folder); the user is told what failed first."""
    with socket.socket() as s:  # a port nothing listens on: the connection is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    original = Path.unlink

    def read_only(self, missing_ok=False):
        if self.name.endswith(".part"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return original(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(ZooError, match=r"could not download http://127.0.0.1:\d+/cat.npy to .*Connection refused"):
        download_file(f"http://127.0.0.1:{port}/cat.npy", tmp_path / "cat.npy", timeout=5, progress=False)
