"""Benchmark of frame rendering: our renderer vs a minimal pydicom+NumPy+Pillow render vs Orthanc.

Run from the repository root (a benchmark, not a test; about a minute on 2 cores):

    .venv/bin/python benchmarks/render.py [--repeat 30] [--with-endpoint] [--no-orthanc]

It writes a 512x512 CT instance (native) and the same pixels as JPEG 2000 Lossless into a temporary
directory, then for each file times, after a warm-up, the median and 90th percentile ms per frame:

- minimal: dcmread, pixel_array, rescale, window, uint8, PNG (Pillow defaults: zlib level 6), and
  the same with PNG level 1 (our encoder setting), so the ratio is shown against both;
- ours: `imaging.viewer.render.render_frame` with every cache emptied before each call (cold), with the
  frame cache off but the display table warm (scrolling through a series), and on a cached frame
  with a new window each call (dragging the window);
- endpoint (--with-endpoint): the Django frame endpoint through the test client. The lead provides
  `benchmarks/render_endpoint.py` with `measure(path: Path) -> Callable[[], bytes]`: it sets up
  whatever the request needs (instance row, user, logged-in client) and returns a callable doing
  one GET of that file's frame and returning the body; it is timed with the same harness. Django is
  set up here from DJANGO_SETTINGS_MODULE (default ictms.settings); the step is skipped with a
  message when that fails;
- orthanc: GET /instances/{id}/preview of the same file on a private Orthanc (Debian package
  `orthanc`, plus `orthanc-gdcm` for JPEG 2000) started on a free loopback port with a temporary
  configuration and storage; skipped with a message when the binary is missing.

Target from the issue: endpoint <= 1.5x minimal, and faster than Orthanc's preview.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from imaging.viewer.render import clear_frame_cache, load_frame, render, render_frame  # noqa: E402

GDCM_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancGdcm.so")


# --- test data ------------------------------------------------------------------------------


def ct_phantom(size: int = 512) -> np.ndarray:
    """Stored values (HU + 1024) of a noisy body section with lung, bone and air."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:size, :size]
    s = size / 512.0
    hu = np.full((size, size), -1000.0)
    hu[(x - 256 * s) ** 2 / (200 * s) ** 2 + (y - 256 * s) ** 2 / (160 * s) ** 2 < 1] = 40.0
    hu[(x - 190 * s) ** 2 + (y - 240 * s) ** 2 < (45 * s) ** 2] = -800.0
    hu[(x - 330 * s) ** 2 + (y - 300 * s) ** 2 < (15 * s) ** 2] = 900.0
    hu += rng.normal(0.0, 15.0, hu.shape)  # CT noise: it is what makes PNG work hard
    return np.round(hu + 1024.0).astype(np.int16)


def write_instances(directory: Path) -> dict[str, Path]:
    paths = {}
    for label, syntax in (("CT 512x512 native", None), ("CT 512x512 JPEG 2000", JPEG2000Lossless)):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.PatientName, ds.PatientID, ds.Modality = "Bench^Render", "BENCH", "CT"
        ds.set_pixel_data(ct_phantom(), "MONOCHROME2", 16)
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelSpacing = [0.7, 0.7]
        if syntax is not None:
            ds.compress(syntax)
        path = directory / f"{len(paths)}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths[label] = path
    return paths


# --- the contenders -------------------------------------------------------------------------


def minimal_render(path: Path, compress_level: int | None = None) -> bytes:
    """The plain way: decode everything, float32 arithmetic, Pillow's PNG."""
    ds = dcmread(path)
    values = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    pixels = np.clip((values - (center - width / 2)) / width * 255.0, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    if compress_level is None:
        Image.fromarray(pixels).save(buffer, "PNG")
    else:
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


def ours_cold(path: Path) -> bytes:
    clear_frame_cache()  # frame and display-table caches
    return render_frame(path)


def ours_scrolling(path: Path) -> bytes:
    """A new file each time (no frame cache), the same window (display table cached)."""
    return render(load_frame(path, use_cache=False)).data


def ours_window_drag(path: Path) -> Callable[[], bytes]:
    """The frame stays decoded (as in the frame cache); every call asks for a new window."""
    frame = load_frame(path, use_cache=False)
    step = iter(range(10**9))

    def call() -> bytes:  # -100..200 HU, never the same table twice in a row
        return render(frame, center=-100 + (next(step) * 37) % 300, width=400).data

    return call


def endpoint_callable(path: Path) -> tuple[Callable[[], bytes] | None, str]:
    """The lead's Django hook, or None and the reason it is skipped."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ictms.settings")
    try:
        import django

        django.setup()
        from benchmarks import render_endpoint  # type: ignore[attr-defined]
    except Exception as exc:
        return None, f"skipped ({type(exc).__name__}: {exc})"
    return render_endpoint.measure(path), ""


class Orthanc:
    """A throw-away Orthanc on a free loopback port, storage in a temporary directory."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.port = free_port()
        config = {
            "Name": "render-benchmark",
            "StorageDirectory": str(directory / "storage"),
            "IndexDirectory": str(directory / "index"),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": False,
            "DicomPort": free_port(),
            "StorageCompression": False,
            "SaveJobs": False,
            "Plugins": [str(GDCM_PLUGIN)] if GDCM_PLUGIN.exists() else [],
        }
        config_path = directory / "orthanc.json"
        config_path.write_text(json.dumps(config))
        self.log = (directory / "orthanc.log").open("wb")
        self.process = subprocess.Popen([binary, str(config_path)], stdout=self.log, stderr=self.log)
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.request("GET", "/system")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise RuntimeError(f"Orthanc did not start; see {directory / 'orthanc.log'}") from None
                self.connection.close()
                time.sleep(0.2)

    def request(self, method: str, url: str, body: bytes | None = None) -> bytes:
        try:
            self.connection.request(method, url, body=body)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # Orthanc closes idle keep-alive connections; reconnecting is not part of the timing
            # in steady state, so retry once on a fresh connection.
            self.connection.close()
            self.connection.request(method, url, body=body)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"Orthanc {method} {url}: HTTP {response.status} {data[:200]!r}")
        return data

    def upload(self, path: Path) -> str:
        return json.loads(self.request("POST", "/instances", path.read_bytes()))["ID"]

    def preview(self, instance_id: str) -> Callable[[], bytes]:
        return lambda: self.request("GET", f"/instances/{instance_id}/preview")

    def close(self) -> None:
        self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- harness --------------------------------------------------------------------------------


def race(
    contenders: dict[str, Callable[[], bytes]], repeat: int, warmup: int = 3
) -> dict[str, tuple[float, float, int] | str]:
    """Median and 90th percentile ms and output size per contender, or why it failed.

    Contenders run round-robin, one call each per round, so that load from other processes on
    the machine drifts over all of them alike; the first `warmup` rounds are not timed.
    """
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    sizes: dict[str, int] = {}
    failed: dict[str, str] = {}
    for round_number in range(warmup + repeat):
        for name, call in contenders.items():
            if name in failed:
                continue
            start = time.perf_counter()
            try:
                sizes[name] = len(call())
            except RuntimeError as exc:  # e.g. Orthanc cannot decode this transfer syntax
                failed[name] = f"failed: {exc}"
                continue
            if round_number >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000.0)
    results: dict[str, tuple[float, float, int] | str] = {}
    for name, timings in samples.items():
        if name in failed:
            results[name] = failed[name]
            continue
        timings.sort()
        results[name] = (statistics.median(timings), timings[int(0.9 * (len(timings) - 1))], sizes[name])
    return results


MINIMAL = "minimal (PNG default level 6)"
MINIMAL_L1 = "minimal (PNG level 1)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per measurement")
    parser.add_argument("--with-endpoint", action="store_true", help="time the Django endpoint too")
    parser.add_argument("--no-orthanc", action="store_true", help="skip Orthanc even if installed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ictms-render-bench-") as tmp:
        directory = Path(tmp)
        paths = write_instances(directory)
        orthanc: Orthanc | None = None
        orthanc_note = ""
        binary = shutil.which("Orthanc")
        if args.no_orthanc:
            orthanc_note = "skipped (--no-orthanc)"
        elif binary is None:
            orthanc_note = "skipped (Orthanc not installed: apt-get install orthanc orthanc-gdcm)"
        else:
            try:
                orthanc = Orthanc(binary, directory)
            except RuntimeError as exc:
                orthanc_note = f"skipped ({exc})"

        try:
            for label, path in paths.items():
                contenders: dict[str, Callable[[], bytes]] = {
                    MINIMAL: lambda p=path: minimal_render(p),
                    MINIMAL_L1: lambda p=path: minimal_render(p, 1),
                    "ours render_frame, cold (no caches)": lambda p=path: ours_cold(p),
                    "ours, scrolling (new file, same window)": lambda p=path: ours_scrolling(p),
                    "ours, window drag (decoded frame, new window)": ours_window_drag(path),
                }
                skipped: dict[str, str] = {}
                endpoint = "endpoint via Django test client"
                if args.with_endpoint:
                    call, note = endpoint_callable(path)
                    if call is None:
                        skipped[endpoint] = note
                    else:
                        contenders[endpoint] = call
                else:
                    skipped[endpoint] = "skipped (pass --with-endpoint)"
                preview = "Orthanc /instances/{id}/preview"
                if orthanc is not None:
                    contenders[preview] = orthanc.preview(orthanc.upload(path))
                else:
                    skipped[preview] = orthanc_note

                results = race(contenders, args.repeat)
                print(f"\n{label}  ({path.stat().st_size // 1024} KiB, {args.repeat} rounds)")
                print(f"  {'method':<48}{'median ms':>10}{'p90 ms':>9}{'KiB':>6}"
                      f"{'x minimal':>11}{'x min. L1':>11}")
                baseline = results[MINIMAL]
                baseline_l1 = results[MINIMAL_L1]
                for name in [*contenders, *skipped]:
                    outcome = results.get(name, skipped.get(name, ""))
                    if isinstance(outcome, str):
                        print(f"  {name:<48}{outcome}")
                        continue
                    median, p90, size = outcome
                    ratios = "".join(
                        f"{median / base[0]:>11.2f}" if isinstance(base, tuple) else f"{'':>11}"
                        for base in (baseline, baseline_l1)
                    )
                    print(f"  {name:<48}{median:>10.2f}{p90:>9.2f}{size / 1024:>6.0f}{ratios}")

                ours = np.asarray(Image.open(io.BytesIO(render_frame(path))), dtype=int)
                plain = np.asarray(Image.open(io.BytesIO(minimal_render(path))), dtype=int)
                print(f"  max |ours - minimal| pixel difference: {np.abs(ours - plain).max()}"
                      " (PS3.3 LINEAR formula vs the naive one)")
        finally:
            if orthanc is not None:
                orthanc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
