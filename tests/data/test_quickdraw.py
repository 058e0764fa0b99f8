"""The Quick, Draw! source: official file format, local file names, category names, deterministic
split, downloads (against a local HTTP server on 127.0.0.1) and every kind of bad file."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import doodles
from zoo.data import build_data
from zoo.data.quickdraw import official_categories, resolve_category
from zoo.errors import ZooError


def load(root: Path, **options):
    defaults = dict(name="quickdraw", root=str(root), categories=["cat", "smiley_face"], progress=False)
    return build_data("quickdraw", **(defaults | options))


# -- category names ---------------------------------------------------------------------------
def test_ships_the_345_official_categories():
    names = official_categories()
    assert len(names) == 345 == len(set(names))
    assert {"cat", "smiley face", "The Eiffel Tower", "aircraft carrier", "zigzag"} <= set(names)


def test_underscores_and_case_resolve_to_the_official_spelling():
    assert resolve_category("smiley_face") == "smiley face"
    assert resolve_category("the_eiffel_tower") == "The Eiffel Tower"


def test_an_unknown_category_fails_with_close_matches():
    with pytest.raises(ZooError, match=r"'smiley_fase' is not a Quick, Draw! category. Close matches: smiley face"):
        resolve_category("smiley_fase")


# -- loading local files ----------------------------------------------------------------------
def test_local_files_in_both_official_names_are_used_with_labels_in_category_order(quickdraw_root):
    data = load(quickdraw_root)
    assert data.info.class_names == ("cat", "smiley face")
    assert data.info.channels == 1 and data.info.image_size == 32 and data.info.binary
    assert len(data.train) + len(data.test) == 500
    assert data.train.images.shape[1:] == (1, 32, 32) and data.train.images.dtype == torch.uint8
    assert set(data.train.labels.tolist()) == {0, 1}
    assert (data.test.labels == 1).sum() == 20 and (data.test.labels == 0).sum() == 30  # 10% per category


def test_images_are_the_file_bitmaps_padded_to_32(quickdraw_root):
    data = load(quickdraw_root, categories=["cat"], test_fraction=0.5)
    originals = {row.tobytes() for row in doodles(300, 0)}
    inner = data.train.images[:, 0, 2:30, 2:30].reshape(-1, 784).numpy()
    assert all(row.tobytes() in originals for row in inner)
    assert data.train.images[:, :, :2].sum() == 0


def test_native_28_when_asked(quickdraw_root):
    assert load(quickdraw_root, image_size=28).train.images.shape[-1] == 28


def test_split_is_deterministic_and_follows_split_seed(quickdraw_root):
    a, b = load(quickdraw_root), load(quickdraw_root)
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.train.images, b.train.images)
    c = load(quickdraw_root, split_seed=1)
    assert not torch.equal(a.test.images, c.test.images)


def test_max_per_category_caps_each_category(quickdraw_root):
    data = load(quickdraw_root, max_per_category=100)
    labels = torch.cat([data.train.labels, data.test.labels])
    assert (labels == 0).sum() == 100 and (labels == 1).sum() == 100


def test_real_quickdraw_files(real_data):
    data = build_data("quickdraw", name="quickdraw", root=str(real_data), categories=["cat", "star"], progress=False)
    assert data.info.num_classes == 2
    total = len(data.train) + len(data.test)
    assert total > 5000
    ink = data.train.images.float().mean() / 255
    assert 0.02 < ink < 0.5, "doodles are mostly background with some ink"


# -- bad files --------------------------------------------------------------------------------
@pytest.fixture
def one_category(tmp_path) -> Path:
    (tmp_path / "quickdraw").mkdir()
    return tmp_path


def test_wrong_shape_is_named(one_category):
    np.save(one_category / "quickdraw" / "cat.npy", np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(ZooError, match=r"cat.npy holds an array of shape \(10, 28, 28\).*expected.*\(N, 784\)"):
        load(one_category, categories=["cat"])


def test_wrong_dtype_is_named(one_category):
    np.save(one_category / "quickdraw" / "cat.npy", np.zeros((10, 784), np.float32))
    with pytest.raises(ZooError, match=r"dtype float32; expected .* uint8"):
        load(one_category, categories=["cat"])


def test_truncated_file_is_named(one_category):
    path = one_category / "quickdraw" / "cat.npy"
    buffer = io.BytesIO()
    np.save(buffer, doodles(50, 0))
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ZooError, match=r"cat.npy is not a readable .npy file.*truncated"):
        load(one_category, categories=["cat"])


def test_an_npz_archive_or_a_web_page_saved_as_npy_is_named_for_what_it_is(one_category):
    path = one_category / "quickdraw" / "cat.npy"
    with open(path, "wb") as f:
        np.savez(f, doodles(10, 0))  # an archive under the .npy name
    with pytest.raises(ZooError, match=r"cat.npy is a .npz archive \(a zip of arrays\), not a .npy array"):
        load(one_category, categories=["cat"])
    path.write_text("<!DOCTYPE html><html><body>Sign in to continue</body></html>")
    with pytest.raises(ZooError, match=r"cat.npy is not a .npy file \(it begins b'<!DOCT': a web page") as err:
        load(one_category, categories=["cat"])
    assert "pickled" not in str(err.value)


def test_missing_file_without_download_says_where_it_looked_and_how_to_get_it(one_category):
    with pytest.raises(ZooError) as err:
        load(one_category, categories=["cat"], download=False)
    message = str(err.value)
    assert "'cat' not found" in message and "full_numpy_bitmap_cat.npy" in message
    assert "numpy_bitmap/cat.npy" in message  # the URL to fetch by hand


# -- downloads ----------------------------------------------------------------------------------
class _Server:
    """Serves ``files`` on 127.0.0.1; a name in ``cut`` gets its full Content-Length but half its bytes."""

    def __init__(self, files: dict[str, bytes], cut: tuple[str, ...] = (), trickle: tuple[str, ...] = ()):
        files_, cut_, trickle_ = files, cut, trickle
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                if name not in files_:
                    self.send_error(404)
                    return
                body = files_[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in trickle_:  # one byte every 0.2 s
                    for byte in body[:50]:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                self.wfile.write(body[: len(body) // 2] if name in cut_ else body)
                if name in cut_:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/numpy_bitmap"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def server():
    servers = []

    def start(files, cut=(), trickle=()):
        servers.append(_Server(files, cut, trickle))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_missing_category_is_downloaded_into_root_under_its_official_url(server, tmp_path):
    srv = server({"smiley%20face.npy": _npy(doodles(40, 5))})
    data = load(tmp_path, categories=["smiley_face"], base_url=srv.url)
    assert srv.requests == ["/numpy_bitmap/smiley%20face.npy"]
    saved = tmp_path / "quickdraw" / "smiley_face.npy"
    assert np.array_equal(np.load(saved), doodles(40, 5))
    assert len(data.train) + len(data.test) == 40
    assert not list((tmp_path / "quickdraw").glob("*.part"))
    load(tmp_path, categories=["smiley_face"], base_url=srv.url)  # second time: read from disk
    assert len(srv.requests) == 1


def test_a_download_cut_off_half_way_leaves_no_file_that_looks_valid(server, tmp_path):
    srv = server({"cat.npy": _npy(doodles(400, 0))}, cut=("cat.npy",))
    with pytest.raises(ZooError, match=r"download of .*cat.npy was cut off after \d+ of \d+ bytes; nothing was saved"):
        load(tmp_path, categories=["cat"], base_url=srv.url)
    assert list((tmp_path / "quickdraw").iterdir()) == []


def test_a_download_that_trickles_is_given_up_and_leaves_nothing(server, tmp_path, monkeypatch):
    import zoo.data.download

    monkeypatch.setattr(zoo.data.download, "GRACE_S", 1.0)  # 30 s by default
    srv = server({"cat.npy": _npy(doodles(400, 0))}, trickle=("cat.npy",))
    with pytest.raises(ZooError, match=r"download of .*cat.npy is too slow to finish \(\d+ bytes/s after \d+ s"):
        load(tmp_path, categories=["cat"], base_url=srv.url)
    assert list((tmp_path / "quickdraw").iterdir()) == []


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_every_missing_file_is_named_at_once(tmp_path):
    port = closed_port()
    with pytest.raises(ZooError) as err:
        load(tmp_path, categories=["cat", "star", "smiley_face"], base_url=f"http://127.0.0.1:{port}/x")
    message = str(err.value)
    assert "3 categories have no file" in message
    for name in ("cat.npy", "star.npy", "smiley%20face.npy"):
        assert f"127.0.0.1:{port}/x/{name} -> " in message, message


def test_http_error_is_reported_with_the_url(server, tmp_path):
    srv = server({})
    with pytest.raises(ZooError, match=r"could not download http://127.0.0.1:\d+/numpy_bitmap/cat.npy: HTTP 404"):
        load(tmp_path, categories=["cat"], base_url=srv.url)
    assert list((tmp_path / "quickdraw").iterdir()) == []


def test_no_network_is_one_clear_message(tmp_path):
    port = closed_port()
    with pytest.raises(ZooError, match=r"could not download .* Download it by hand"):
        load(tmp_path, categories=["cat"], base_url=f"http://127.0.0.1:{port}/x")


def test_a_downloaded_file_that_is_not_a_bitmap_array_is_removed(server, tmp_path):
    srv = server({"cat.npy": _npy(np.zeros((5, 3), np.uint8))})
    with pytest.raises(ZooError, match=r"shape \(5, 3\)"):
        load(tmp_path, categories=["cat"], base_url=srv.url)
    assert not (tmp_path / "quickdraw" / "cat.npy").exists()
