"""Where CLIP weights come from: the local Hugging Face cache, the hub, or nowhere (offline).

``open_clip.create_model_and_transforms(name, pretrained=tag)`` asks the Hugging Face hub for the
weights and, when the network is down, retries for about a minute before it fails. OUR DESIGN
CHOICE: decide *before* calling it, in about a second:

1. weights already in the local cache (``huggingface_hub.try_to_load_from_cache``, or open_clip's
   own URL cache ``~/.cache/clip``) -> load that file, no network at all;
2. ``HF_HUB_OFFLINE=1`` or ``KDTRACK_OFFLINE=1`` -> offline, no probe; an ``HF_ENDPOINT`` that is
   not an ``http(s)://host`` URL -> offline, saying so;
3. otherwise one HTTP request (``HEAD /``) to the hub (``HF_ENDPOINT``, default
   ``https://huggingface.co``) that must be *answered* within a short timeout, run in a daemon
   thread so that a stuck DNS lookup cannot hold us either. A TCP connect alone is not enough: a
   host that accepts connections and never answers would pass it, and the download behind it
   would then retry for about a minute.

The download itself then runs under a deadline too (:func:`run_with_deadline`), so the whole
load is bounded, not only the probe.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

T = TypeVar("T")

OFFLINE_ENVS: tuple[str, ...] = ("HF_HUB_OFFLINE", "KDTRACK_OFFLINE")
_TRUE = {"1", "true", "yes", "on"}
# open_clip's file names on the hub (open_clip.constants HF_WEIGHTS_NAME / HF_SAFE_WEIGHTS_NAME)
HF_WEIGHTS_NAMES: tuple[str, ...] = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class EndpointError(ValueError):
    """``HF_ENDPOINT`` is set but is not an ``http(s)://host[:port]`` URL."""


def hub_url() -> tuple[str, str, int]:
    """``(scheme, host, port)`` of the Hugging Face hub (honours ``HF_ENDPOINT``).

    Raises:
        EndpointError: ``HF_ENDPOINT`` is not an ``http://`` or ``https://`` URL with a host.
    """
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint.strip())
    try:
        port = url.port
    except ValueError:  # a port that is not a number
        port = -1
    if url.scheme not in ("http", "https") or not url.hostname or port == -1:
        raise EndpointError(f"HF_ENDPOINT={endpoint!r} is not a URL (expected http(s)://host[:port], "
                            f"e.g. https://huggingface.co)")
    return url.scheme, url.hostname, port or (80 if url.scheme == "http" else 443)


def hub_address() -> tuple[str, int]:
    """``(host, port)`` of the Hugging Face hub (honours ``HF_ENDPOINT``; :class:`EndpointError`
    when it is not a URL)."""
    _, host, port = hub_url()
    return host, port


def offline_env() -> str | None:
    """The name of the first offline environment variable that is set to true, else None."""
    for name in OFFLINE_ENVS:
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return name
    return None


def probe_hub(timeout: float = 1.0) -> str | None:
    """Ask the hub one ``HEAD /``; ``None`` when it answers (any HTTP status), else why not.

    The whole probe (DNS lookup, connect, TLS, request, status line) is bounded by ``timeout``
    seconds: it runs in a daemon thread and is abandoned when the deadline passes.
    """
    if timeout <= 0:
        raise ValueError(f"probe_hub: timeout must be > 0 seconds, got {timeout}")
    try:
        scheme, host, port = hub_url()
    except EndpointError as err:
        return str(err)
    result: list[str | None] = []

    def ask() -> None:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        # the socket waits longer than the join below, so a silent hub is always reported as
        # "no answer" (on a loaded machine the two timers would otherwise race)
        conn = cls(host, port, timeout=timeout + 1.0)
        try:
            conn.request("HEAD", "/")
            conn.getresponse()
            result.append(None)
        except OSError as err:
            result.append(f"{type(err).__name__}: {err}")
        except http.client.HTTPException as err:  # answered, but not in HTTP
            result.append(f"not an HTTP answer ({type(err).__name__}: {err})")
        finally:
            conn.close()

    worker = threading.Thread(target=ask, daemon=True, name="kdtrack-hub-probe")
    worker.start()
    worker.join(timeout)
    if not result:
        return f"no answer from {host}:{port} within {timeout:g} s"
    return None if result[0] is None else f"{host}:{port} unreachable ({result[0]})"


def run_with_deadline(work: Callable[[], T], timeout: float, what: str) -> T:
    """``work()`` in a daemon thread; its result, its exception, or ``TimeoutError`` after
    ``timeout`` seconds (the thread is then abandoned: a download left running may still fill
    the cache for the next call)."""
    if timeout <= 0:
        raise ValueError(f"run_with_deadline: timeout must be > 0 seconds, got {timeout}")
    result: list = []

    def run() -> None:
        try:
            result.append((True, work()))
        except BaseException as err:  # handed to the caller's thread
            result.append((False, err))

    worker = threading.Thread(target=run, daemon=True, name="kdtrack-hub-download")
    worker.start()
    worker.join(timeout)
    if not result:
        raise TimeoutError(f"{what} did not finish within {timeout:g} s")
    ok, value = result[0]
    if not ok:
        raise value
    return value


def offline_reason(timeout: float = 1.0) -> str | None:
    """Why the hub cannot be used (env variable set, or the probe failed), or None when it can."""
    env = offline_env()
    if env is not None:
        return f"{env}=1 is set"
    return probe_hub(timeout)


def weight_sources(pretrained_cfg: dict) -> list[tuple[str, str]]:
    """``[(repo_id, filename), ...]`` open_clip would download for a tag (safetensors first)."""
    hub = pretrained_cfg.get("hf_hub", "")
    if not hub:
        return []
    repo_id, filename = os.path.split(hub)  # open_clip: "org/name/" = default file names
    if not filename:
        names = list(HF_WEIGHTS_NAMES)
    else:
        names = [filename]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
    return [(repo_id, name) for name in names]


def cached_weights(pretrained_cfg: dict, cache_dir: str | None = None) -> str | None:
    """Path of the tag's weight file if it is already in a local cache, else None (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - open_clip depends on huggingface_hub
        try_to_load_from_cache = None
    if try_to_load_from_cache is not None:
        for repo_id, filename in weight_sources(pretrained_cfg):
            found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = pretrained_cfg.get("url", "")
    if url:  # open_clip's own download cache for URL-only weights
        path = os.path.join(cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        if os.path.isfile(path):
            return path
    return None


def download_hint(model_name: str, tag: str, pretrained_cfg: dict) -> str:
    """Where to fetch a tag's weight file by hand (for the error/fallback message)."""
    sources = weight_sources(pretrained_cfg)
    if sources:
        repo_id = sources[0][0]
        names = " or ".join(name for _, name in sources)
        return f"https://huggingface.co/{repo_id} (file {names})"
    url = pretrained_cfg.get("url", "")
    return url or f"the open_clip release that provides {model_name!r} / {tag!r}"
