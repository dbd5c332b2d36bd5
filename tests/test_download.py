"""Downloads for real, over HTTP, from a server this file starts on 127.0.0.1.

The server (http.server in a thread, ephemeral port) serves whatever a test puts in its
``routes``: good gzipped IDX files, corrupted ones, a response that stops half-way, a 404.
Small IDX files are built here and their checksums passed in; two tests serve the real files
of MNIST (../shared/data/mnist) and Fashion-MNIST (../shared/data/fashion-mnist) and check them
against the real checksums. Where a test needs Fashion-MNIST's upstream URLs, urlopen is
replaced by a recorder: the network here reaches no dataset host.
"""
import gzip
import hashlib
import http.server
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from numpyvae.datasets import (FASHION_MNIST, FASHION_MNIST_CLASSES, MNIST_FILES,
                               DownloadError, download_fashion_mnist, download_file,
                               download_mnist, load_dataset, load_fashion_mnist, read_idx,
                               resolve_mirrors)
from numpyvae.datasets.mnist import load_mnist

REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
REAL_FASHION = REAL_MNIST.parent / "fashion-mnist"
NAMES = [name for pair in MNIST_FILES.values() for name in pair]


# ---------------------------------------------------------------- the server

class Handler(http.server.BaseHTTPRequestHandler):
    """Looks the path up in ``server.routes``: a function of the handler; else 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
        else:
            route(self)

    def log_message(self, *args):
        pass   # keep the test output clean


class Server(http.server.HTTPServer):
    def handle_error(self, request, client_address):
        pass   # a client that gave up (the timeout test) is expected, not an error


def send_body(body):
    """A route answering 200 with ``body``."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return route


def send_half_then_hang_up(body):
    """A route that announces all of ``body`` but sends half of it and closes."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
    return route


def send_nothing_for(seconds):
    def route(handler):
        time.sleep(seconds)
    return route


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.routes, httpd.requests = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield httpd
    httpd.shutdown()
    thread.join()
    httpd.server_close()


@pytest.fixture
def dead_url():
    """An http URL on which nothing listens (a port just freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


# ---------------------------------------------------------------- small IDX files

def idx_bytes(array):
    """The IDX bytes of a uint8 array, written out from the format (independent of idx.py)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist():
    """Four small valid MNIST-like files: name -> (array, raw bytes, sha256)."""
    rng = np.random.default_rng(7)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    out = {}
    for name, array in arrays.items():
        raw = idx_bytes(array)
        out[name] = (array, raw, hashlib.sha256(raw).hexdigest())
    return out


def checksums_of(files):
    return {name: sha for name, (_, _, sha) in files.items()}


def serve_all(server, files, prefix="/m/"):
    for name, (_, raw, _) in files.items():
        server.routes[prefix + name + ".gz"] = send_body(gzip.compress(raw))
    return server.url + prefix


# ---------------------------------------------------------------- tests

def test_good_files_land_gzipped_and_load(server, tiny_mnist, tmp_path):
    mirror = serve_all(server, tiny_mnist)
    data = load_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist),
                      progress=False)
    assert sorted(os.listdir(tmp_path)) == sorted(name + ".gz" for name in NAMES)
    for name in NAMES:
        assert gzip.decompress((tmp_path / (name + ".gz")).read_bytes()) == tiny_mnist[name][1]
    np.testing.assert_array_equal(data["train_images"], tiny_mnist["train-images-idx3-ubyte"][0])
    np.testing.assert_array_equal(data["test_labels"], tiny_mnist["t10k-labels-idx1-ubyte"][0])
    # A second load finds the files and asks the server for nothing.
    n_requests = len(server.requests)
    load_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist), progress=False)
    assert len(server.requests) == n_requests


def test_only_missing_files_are_downloaded(server, tiny_mnist, tmp_path):
    mirror = serve_all(server, tiny_mnist)
    name = "t10k-labels-idx1-ubyte"
    (tmp_path / name).write_bytes(tiny_mnist[name][1])          # present, raw
    download_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist),
                   progress=False)
    assert sorted(server.requests) == sorted(f"/m/{n}.gz" for n in NAMES if n != name)


def test_file_served_uncompressed_is_kept_raw(server, tiny_mnist, tmp_path):
    name = "train-labels-idx1-ubyte"
    _, raw, sha = tiny_mnist[name]
    server.routes[f"/m/{name}.gz"] = send_body(raw)
    path = download_file(name, tmp_path, sha, mirrors=[server.url + "/m/"], progress=False)
    assert path == tmp_path / name and path.read_bytes() == raw
    assert os.listdir(tmp_path) == [name]


def test_corrupted_file_is_rejected_and_nothing_is_left(server, tiny_mnist, tmp_path):
    name = "train-images-idx3-ubyte"
    _, raw, sha = tiny_mnist[name]
    damaged = bytearray(raw)
    damaged[500] ^= 0xFF                       # one pixel changed: still a valid gzip of IDX
    server.routes[f"/m/{name}.gz"] = send_body(gzip.compress(bytes(damaged)))
    with pytest.raises(DownloadError) as info:
        download_file(name, tmp_path, sha, mirrors=[server.url + "/m/"], progress=False)
    message = str(info.value)
    assert name in message and f"{server.url}/m/{name}.gz" in message
    assert "checksum mismatch" in message and sha in message
    assert hashlib.sha256(bytes(damaged)).hexdigest() in message
    assert os.listdir(tmp_path) == []


def test_server_dying_mid_transfer_leaves_nothing(server, tiny_mnist, tmp_path):
    name = "train-images-idx3-ubyte"
    _, raw, sha = tiny_mnist[name]
    body = gzip.compress(raw)
    server.routes[f"/m/{name}.gz"] = send_half_then_hang_up(body)
    with pytest.raises(DownloadError) as info:
        download_file(name, tmp_path, sha, mirrors=[server.url + "/m/"], progress=False)
    message = str(info.value)
    assert name in message and f"{server.url}/m/{name}.gz" in message
    assert f"connection closed after {len(body) // 2} of {len(body)} bytes" in message
    assert os.listdir(tmp_path) == []


def test_fallback_to_the_next_mirror(server, tiny_mnist, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    array, raw, sha = tiny_mnist[name]
    server.routes[f"/second/{name}.gz"] = send_body(gzip.compress(raw))
    mirrors = [server.url + "/first/", server.url + "/second"]     # with and without slash
    path = download_file(name, tmp_path, sha, mirrors=mirrors, progress=False)
    assert server.requests == [f"/first/{name}.gz", f"/second/{name}.gz"]
    np.testing.assert_array_equal(read_idx(path), array)
    assert os.listdir(tmp_path) == [name + ".gz"]


def test_every_mirror_failing_names_each_failure(server, tiny_mnist, tmp_path, dead_url):
    name = "train-labels-idx1-ubyte"
    _, raw, _ = tiny_mnist[name]
    server.routes[f"/bad/{name}.gz"] = send_body(gzip.compress(raw))
    mirrors = [server.url + "/missing/", dead_url, server.url + "/bad/"]
    with pytest.raises(DownloadError) as info:
        download_file(name, tmp_path, "0" * 64, mirrors=mirrors, progress=False)
    lines = str(info.value).splitlines()
    assert name in lines[0] and "3 mirrors" in lines[0]
    assert f"{server.url}/missing/{name}.gz" in lines[1] and "404" in lines[1]
    assert f"{dead_url}{name}.gz" in lines[2] and "refused" in lines[2].lower()
    assert f"{server.url}/bad/{name}.gz" in lines[3] and "checksum mismatch" in lines[3]
    assert os.listdir(tmp_path) == []


def test_silent_server_times_out(server, tiny_mnist, tmp_path):
    name = "train-labels-idx1-ubyte"
    server.routes[f"/slow/{name}.gz"] = send_nothing_for(0.5)
    with pytest.raises(DownloadError, match="timed out") as info:
        download_file(name, tmp_path, tiny_mnist[name][2], mirrors=[server.url + "/slow/"],
                      progress=False, timeout=0.1)
    assert "0.1 s" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_mirrors_from_the_environment(server, tiny_mnist, tmp_path, monkeypatch):
    mirror = serve_all(server, tiny_mnist, prefix="/env/")
    monkeypatch.setenv("NUMPYVAE_MNIST_MIRRORS", f" {server.url}/nothing-here/ ,{mirror}")
    download_mnist(tmp_path, checksums=checksums_of(tiny_mnist), progress=False)
    assert sorted(os.listdir(tmp_path)) == sorted(name + ".gz" for name in NAMES)
    assert server.requests[:2] == ["/nothing-here/train-images-idx3-ubyte.gz",
                                   "/env/train-images-idx3-ubyte.gz"]


def test_mirror_argument_beats_the_environment(monkeypatch):
    monkeypatch.setenv("NUMPYVAE_MNIST_MIRRORS", "http://a.example/,http://b.example/")
    assert resolve_mirrors() == ["http://a.example/", "http://b.example/"]
    assert resolve_mirrors(["https://c.example/x/"]) == ["https://c.example/x/"]
    monkeypatch.delenv("NUMPYVAE_MNIST_MIRRORS")
    assert resolve_mirrors()[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


@pytest.mark.parametrize("mirrors", [[], ["", " "], ["ftp.example.com/mnist"], [3]])
def test_unusable_mirror_lists_are_refused(mirrors):
    with pytest.raises(ValueError, match="mirrors"):
        resolve_mirrors(mirrors)


def test_unusable_mirrors_in_the_environment_are_named(monkeypatch):
    monkeypatch.setenv("NUMPYVAE_MNIST_MIRRORS", "example.com/mnist")
    with pytest.raises(ValueError, match="NUMPYVAE_MNIST_MIRRORS.*example.com/mnist"):
        resolve_mirrors()


def test_progress_line_on_stderr(server, tiny_mnist, tmp_path, capsys):
    name = "train-images-idx3-ubyte"
    _, raw, sha = tiny_mnist[name]
    body = gzip.compress(raw)
    server.routes[f"/m/{name}.gz"] = send_body(body)
    download_file(name, tmp_path, sha, mirrors=[server.url + "/m/"], progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("\rdownloading ") and err.endswith("\n") and "\n" not in err[:-1]
    assert f"/m/{name}.gz" in err and "(100%)" in err.rsplit("\r", 1)[1]
    (tmp_path / (name + ".gz")).unlink()
    download_file(name, tmp_path, sha, mirrors=[server.url + "/m/"], progress=False)
    assert capsys.readouterr() == ("", "")


def test_progress_tells_when_a_mirror_fails(server, tiny_mnist, tmp_path, capsys):
    name = "t10k-labels-idx1-ubyte"
    _, raw, sha = tiny_mnist[name]
    server.routes[f"/second/{name}.gz"] = send_body(gzip.compress(raw))
    download_file(name, tmp_path, sha, mirrors=[server.url + "/first/", server.url + "/second/"],
                  progress=True)
    lines = capsys.readouterr().err.split("\n")
    assert lines[0] == f"{server.url}/first/{name}.gz: HTTP error 404 (Not Found); " \
                       "trying the next mirror"
    assert lines[1].startswith(f"\rdownloading {server.url}/second/{name}.gz: ")
    assert lines[1].endswith(f"{len(gzip.compress(raw)) / 1e3:.1f} kB (100%)")


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(DownloadError, match="cannot write into the data folder"):
        download_file("train-labels-idx1-ubyte", blocker / "sub", "0" * 64,
                      mirrors=["http://127.0.0.1:9/"], progress=False)


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"real MNIST not found at {REAL_MNIST}")
def test_real_mnist_downloads_and_verifies_end_to_end(server, tmp_path):
    for name in NAMES:
        server.routes[f"/mnist/{name}.gz"] = send_body(
            (REAL_MNIST / (name + ".gz")).read_bytes())
    ds = load_dataset("mnist", data_dir=tmp_path, mirrors=[server.url + "/mnist/"],
                      progress=False)
    assert (len(ds.train_x), len(ds.test_x)) == (60000, 10000)
    assert sorted(os.listdir(tmp_path)) == sorted(name + ".gz" for name in NAMES)
    with gzip.open(REAL_MNIST / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    np.testing.assert_array_equal(ds.test_y, labels)


# ---------------------------------------------------------------- Fashion-MNIST

S3 = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
GITHUB = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"


def test_fashion_files_land_in_their_subfolder_and_load(server, tiny_mnist, tmp_path):
    mirror = serve_all(server, tiny_mnist, prefix="/fashion/")
    data = load_fashion_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist),
                              progress=False)
    assert os.listdir(tmp_path) == ["fashion-mnist"]
    folder = tmp_path / "fashion-mnist"
    assert sorted(os.listdir(folder)) == sorted(name + ".gz" for name in NAMES)
    for name in NAMES:
        assert gzip.decompress((folder / (name + ".gz")).read_bytes()) == tiny_mnist[name][1]
    np.testing.assert_array_equal(data["test_images"], tiny_mnist["t10k-images-idx3-ubyte"][0])
    n_requests = len(server.requests)
    load_fashion_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist),
                       progress=False)
    assert len(server.requests) == n_requests


def test_only_missing_fashion_files_are_downloaded(server, tiny_mnist, tmp_path):
    mirror = serve_all(server, tiny_mnist, prefix="/fashion/")
    name = "train-labels-idx1-ubyte"
    (tmp_path / "fashion-mnist").mkdir()
    (tmp_path / "fashion-mnist" / name).write_bytes(tiny_mnist[name][1])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"an MNIST file: not Fashion-MNIST's")
    download_fashion_mnist(tmp_path, mirrors=[mirror], checksums=checksums_of(tiny_mnist),
                           progress=False)
    assert sorted(server.requests) == sorted(f"/fashion/{n}.gz" for n in NAMES if n != name)


def test_corrupted_fashion_file_is_rejected_and_nothing_is_left(server, tiny_mnist, tmp_path):
    name = "t10k-images-idx3-ubyte"
    _, raw, sha = tiny_mnist[name]
    damaged = bytearray(raw)
    damaged[100] ^= 0x01
    server.routes[f"/fashion/{name}.gz"] = send_body(gzip.compress(bytes(damaged)))
    folder = tmp_path / "fashion-mnist"
    with pytest.raises(DownloadError) as info:
        download_file(name, folder, sha, mirrors=[server.url + "/fashion/"], progress=False,
                      source=FASHION_MNIST)
    message = str(info.value)
    assert "checksum mismatch" in message and sha in message
    assert "$NUMPYVAE_FASHION_MNIST_MIRRORS" in message
    assert os.listdir(folder) == []


def test_fashion_mirrors_default_to_upstream(monkeypatch):
    monkeypatch.delenv("NUMPYVAE_FASHION_MNIST_MIRRORS", raising=False)
    monkeypatch.setenv("NUMPYVAE_MNIST_MIRRORS", "http://mnist-only.example/")
    assert resolve_mirrors(source=FASHION_MNIST) == [S3, GITHUB]
    monkeypatch.setenv("NUMPYVAE_FASHION_MNIST_MIRRORS", "http://a.example/, http://b.example/")
    assert resolve_mirrors(source=FASHION_MNIST) == ["http://a.example/", "http://b.example/"]
    assert resolve_mirrors() == ["http://mnist-only.example/"]
    assert resolve_mirrors(["https://c.example/"], source=FASHION_MNIST) == ["https://c.example/"]


def test_unusable_fashion_mirrors_in_the_environment_are_named(monkeypatch):
    monkeypatch.setenv("NUMPYVAE_FASHION_MNIST_MIRRORS", "example.com/fashion")
    with pytest.raises(ValueError, match="NUMPYVAE_FASHION_MNIST_MIRRORS.*example.com/fashion"):
        resolve_mirrors(source=FASHION_MNIST)


def test_fashion_download_asks_the_upstream_urls(tmp_path, monkeypatch):
    """Without mirrors, each file is asked of the S3 site, then of the GitHub repository."""
    monkeypatch.delenv("NUMPYVAE_FASHION_MNIST_MIRRORS", raising=False)
    asked = []

    def unreachable(request, timeout=None):
        asked.append(request.full_url)
        raise urllib.error.URLError("no route to host (test)")
    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DownloadError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path, progress=False)
    name = "train-images-idx3-ubyte.gz"
    assert asked == [S3 + name, GITHUB + name]
    lines = str(info.value).splitlines()
    assert "could not download train-images-idx3-ubyte into " \
           f"{tmp_path / 'fashion-mnist'}; tried 2 mirrors" in lines[0]
    assert lines[1].startswith(f"  {S3}{name}: ") and "no route to host (test)" in lines[1]
    assert lines[2].startswith(f"  {GITHUB}{name}: ") and "no route to host" in lines[2]
    assert os.listdir(tmp_path) == []                  # not even the empty subfolder


@pytest.mark.skipif(not REAL_FASHION.is_dir(),
                    reason=f"real Fashion-MNIST not found at {REAL_FASHION}")
def test_real_fashion_mnist_downloads_and_verifies_end_to_end(server, tmp_path, monkeypatch):
    for name in NAMES:
        server.routes[f"/data/fashion/{name}.gz"] = send_body(
            (REAL_FASHION / (name + ".gz")).read_bytes())
    monkeypatch.setenv("NUMPYVAE_FASHION_MNIST_MIRRORS", server.url + "/data/fashion/")
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, progress=False)
    assert (len(ds.train_x), len(ds.test_x)) == (60000, 10000)
    assert os.listdir(tmp_path) == ["fashion-mnist"]
    assert sorted(os.listdir(tmp_path / "fashion-mnist")) == sorted(n + ".gz" for n in NAMES)
    with gzip.open(REAL_FASHION / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    np.testing.assert_array_equal(ds.test_y, labels)
    assert ds.classes == FASHION_MNIST_CLASSES


def test_a_failed_download_leaves_no_folder_it_made(tmp_path):
    from numpyvae.datasets.download import download_fashion_mnist
    with pytest.raises(DownloadError):
        download_fashion_mnist(tmp_path / "data", mirrors=["http://127.0.0.1:9/"],
                               progress=False, timeout=2)
    assert not (tmp_path / "data" / "fashion-mnist").exists()
