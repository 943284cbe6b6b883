"""The shipped ``data_samples/`` sequences, their manifest, and the ``kdtrack data`` command.

Every sample is made by one ``kdtrack data ...`` command (seeded, so the files are the same
bytes each time with the same OpenCV build); ``MANIFEST.json`` lists each file's size and
SHA-256 and the command that regenerates it::

    kdtrack data mot --seed 11 --name mot-clean --frames 60 --out data_samples/mot
    kdtrack data samples     # regenerate every sample and MANIFEST.json
    kdtrack data check       # files on disk vs MANIFEST.json (add --regenerate to rebuild in a temp dir)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import tempfile
from pathlib import Path

from ..cli import add_command, nonneg_int, positive_int
from ..fileio import write_text_atomic
from ..paths import samples_dir

JPEG_QUALITY = 90

SAMPLES: tuple[tuple[str, str], ...] = (  # (folder relative to data_samples/, command)
    ("mot/mot-clean", "kdtrack data mot --seed 11 --name mot-clean --frames 60 --out data_samples/mot"),
    ("mot/mot-lowq", "kdtrack data mot --seed 12 --name mot-lowq --frames 60 --degrade mixed --out data_samples/mot"),
    ("sot/sot-attr", "kdtrack data sot --seed 13 --name sot-attr --frames 80 --attributes FOC,FM,MB,SV,BC "
                     "--out data_samples/sot"),
)


def _generate(args: argparse.Namespace) -> Path:
    """Run one ``kdtrack data mot|sot`` request; returns the sequence folder."""
    from .degrade import DegradationConfig, degrade_sequence
    profile = "fast" if args.fast else "full"
    overrides = {"num_frames": args.frames} if args.frames is not None else {}
    if args.kind == "mot":
        from .mot_synth import MOTSceneConfig, generate_mot_sequence
        from .motchallenge import write_mot_sequence
        from .detections import simulate_detections
        seq = generate_mot_sequence(MOTSceneConfig.preset(args.preset, profile, **overrides), args.seed, args.name)
        seq.det = simulate_detections(seq, seed=args.seed)
    else:
        from .sot_synth import SOTConfig, generate_sot_sequence
        attrs = [a.strip() for a in args.attributes.split(",") if a.strip()] if args.attributes else None
        seq = generate_sot_sequence(SOTConfig.make(profile, **overrides), args.seed, args.name, attrs)
    if args.degrade:
        seq = degrade_sequence(seq, DegradationConfig(spec=args.degrade), args.seed)
    seq.meta["command"] = _command_of(args)
    if args.kind == "mot":
        return write_mot_sequence(seq, args.out, quality=JPEG_QUALITY)
    from .lasot import write_sot_sequence
    return write_sot_sequence(seq, args.out, layout=args.layout, quality=JPEG_QUALITY)


def _command_of(args: argparse.Namespace) -> str:
    parts = ["kdtrack", "data", args.kind, "--seed", str(args.seed), "--name", args.name]
    if args.frames is not None:
        parts += ["--frames", str(args.frames)]
    if getattr(args, "preset", "street") != "street":
        parts += ["--preset", args.preset]
    if args.degrade:
        parts += ["--degrade", args.degrade]
    if getattr(args, "attributes", None):
        parts += ["--attributes", args.attributes]
    if getattr(args, "layout", "lasot") != "lasot":
        parts += ["--layout", args.layout]
    if args.fast:
        parts += ["--fast"]
    return shlex.join(parts)


def file_digests(folder: Path, root: Path) -> dict[str, dict]:
    """``{relative path: {"bytes", "sha256"}}`` of every file under ``folder`` (sorted)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = {"bytes": p.stat().st_size,
                                                   "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    return out


def regenerate_sample(rel: str, command: str, root: Path) -> Path:
    """Run a sample's command with ``data_samples/`` replaced by ``root``; returns its folder."""
    argv = shlex.split(command)[2:]
    argv = [a.replace("data_samples", str(root), 1) if a.startswith("data_samples") else a for a in argv]
    args = build_data_parser().parse_args(argv)
    return _generate(args)


def regenerate_samples(root: Path | None = None) -> dict:
    """Rebuild every sample in a temp folder, then swap each into ``root`` and write the manifest."""
    from ..runtime import progress
    root = Path(root) if root is not None else samples_dir()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".regen-") as tmp:
        tmp = Path(tmp)
        for rel, command in progress(SAMPLES, desc="samples"):
            regenerate_sample(rel, command, tmp)
        for rel, _ in SAMPLES:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                old = tmp / ".old"
                dest.rename(old)
                shutil.rmtree(old)
            (tmp / rel).rename(dest)
    manifest = build_manifest(root)
    write_text_atomic(root / "MANIFEST.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def _read_manifest(root: Path) -> dict:
    path = root / "MANIFEST.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def register_checkpoint(path: str | Path, command: str, root: Path | None = None) -> dict:
    """List a trained checkpoint under ``data_samples/`` in MANIFEST.json (size, SHA-256, command).

    Checkpoints are regenerated by their ``kdtrack train ...`` command (tens of minutes on a CPU),
    so ``kdtrack data check --regenerate`` verifies their bytes but does not retrain them.
    """
    root = Path(root) if root is not None else samples_dir()
    path = Path(path).resolve()
    rel = path.relative_to(root.resolve()).as_posix()
    manifest = _read_manifest(root) or build_manifest(root)
    entries = {c["path"]: c for c in manifest.get("checkpoints", [])}
    entries[rel] = {"path": rel, "command": command, **file_digests(path.parent, root)[rel]}
    manifest["checkpoints"] = [entries[k] for k in sorted(entries)]
    manifest["total_bytes"] = _total_bytes(manifest.get("samples", []), manifest["checkpoints"])
    write_text_atomic(root / "MANIFEST.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def register_if_shipped(out: str | Path, command: list[str], options: list[tuple[str, object]],
                        fast: bool = False) -> bool:
    """List ``out`` in MANIFEST.json when it was written inside ``data_samples/``.

    Args:
        out: the checkpoint just written.
        command: the command's leading words (``["kdtrack", "train", "mot", "--role", "teacher"]``);
            ``--out data_samples/<rel>`` is appended.
        options: ``(flag, value)`` pairs appended when the value is not None (``--seed 0`` is left
            out as the default); threads belong here, since they change float summation order.
        fast: append ``--fast``.

    Returns:
        Whether the checkpoint was registered.
    """
    try:
        root = samples_dir().resolve()
    except FileNotFoundError:
        return False
    path = Path(out).resolve()
    if root not in path.parents:
        return False
    parts = [*command, "--out", f"data_samples/{path.relative_to(root).as_posix()}"]
    for flag, value in options:
        if value is not None and not (flag == "--seed" and value == 0):
            parts += [flag, str(value)]
    if fast:
        parts.append("--fast")
    register_checkpoint(path, " ".join(parts), root)
    return True


def build_manifest(root: Path) -> dict:
    samples = []
    for rel, command in SAMPLES:
        files = file_digests(root / rel, root)
        samples.append({"path": rel, "command": command, "files": files,
                        "bytes": sum(f["bytes"] for f in files.values())})
    import cv2
    # JPEG bytes are stable for one OpenCV build; another build may encode differently
    checkpoints = [{**c, **file_digests(root / Path(c["path"]).parent, root).get(c["path"], {})}
                   for c in _read_manifest(root).get("checkpoints", []) if (root / c["path"]).is_file()]
    return {"jpeg_quality": JPEG_QUALITY, "opencv": cv2.__version__, "samples": samples,
            "checkpoints": checkpoints,
            "total_bytes": _total_bytes(samples, checkpoints)}


def _total_bytes(samples: list[dict], checkpoints: list[dict]) -> int:
    """Bytes of every listed sample and checkpoint (MANIFEST.json's ``total_bytes``)."""
    return sum(s["bytes"] for s in samples) + sum(c["bytes"] for c in checkpoints)


def check_samples(root: Path | None = None, regenerate: bool = False) -> list[str]:
    """Differences between the manifest and the files (or a fresh regeneration); [] = all good."""
    root = Path(root) if root is not None else samples_dir()
    path = root / "MANIFEST.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `kdtrack data samples` to create it")
    manifest = json.loads(path.read_text())
    problems = []
    if regenerate:
        import cv2
        if manifest.get("opencv") != cv2.__version__:
            problems.append(f"note: samples were encoded with OpenCV {manifest.get('opencv')}, this is "
                            f"{cv2.__version__}; JPEG bytes may differ even though the frames are the same")
    for sample in manifest["samples"]:
        if regenerate:
            with tempfile.TemporaryDirectory() as tmp:
                regenerate_sample(sample["path"], sample["command"], Path(tmp))
                found = file_digests(Path(tmp) / sample["path"], Path(tmp))
        else:
            found = file_digests(root / sample["path"], root) if (root / sample["path"]).is_dir() else {}
        want = sample["files"]
        for name in sorted(set(want) | set(found)):
            if name not in found:
                problems.append(f"{name}: listed in MANIFEST.json but missing")
            elif name not in want:
                problems.append(f"{name}: not listed in MANIFEST.json")
            elif found[name] != want[name]:
                problems.append(f"{name}: sha256 {found[name]['sha256'][:12]}.. differs from the manifest's "
                                f"{want[name]['sha256'][:12]}..")
    for ckpt in manifest.get("checkpoints", []):
        found = file_digests(root / Path(ckpt["path"]).parent, root).get(ckpt["path"])
        if found is None:
            problems.append(f"{ckpt['path']}: listed in MANIFEST.json but missing (regenerate: {ckpt['command']})")
        elif (found["bytes"], found["sha256"]) != (ckpt["bytes"], ckpt["sha256"]):
            problems.append(f"{ckpt['path']}: sha256 {found['sha256'][:12]}.. differs from the manifest's "
                            f"{ckpt['sha256'][:12]}..")
    return problems


def _add_generate_args(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--seed", type=nonneg_int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True, help="parent folder; the sequence goes to OUT/NAME")
    p.add_argument("--frames", type=positive_int, default=None, help="number of frames (default: the profile's)")
    p.add_argument("--degrade", default=None, help="degradation preset or spec, e.g. 'noise:ramp:0:0.8'")
    p.add_argument("--fast", action="store_true", help="FAST profile (fewer frames)")
    if kind == "mot":
        p.add_argument("--preset", choices=("street", "near", "crossing"), default="street",
                       help="scene preset (data.mot_synth.SCENE_PRESETS): street = small far people, near = a "
                            "closer camera (48-120 px people), crossing = look-alike pairs meeting behind signs")
    if kind == "sot":
        p.add_argument("--attributes", default=None, help="comma-separated attributes the sequence must carry")
        p.add_argument("--layout", choices=("lasot", "got10k"), default="lasot")
    p.set_defaults(kind=kind, func=lambda a: print(_generate(a)))


def _register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="generate synthetic sequences; build or check data_samples/")
    dsub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    _add_generate_args(dsub.add_parser("mot", help="a synthetic MOT sequence in MOTChallenge layout"), "mot")
    _add_generate_args(dsub.add_parser("sot", help="a synthetic SOT sequence in LaSOT/GOT-10k layout"), "sot")
    s = dsub.add_parser("samples", help="regenerate every data_samples/ sequence and MANIFEST.json")
    s.add_argument("--root", default=None)
    s.set_defaults(func=lambda a: print(json.dumps({"total_bytes": regenerate_samples(a.root)["total_bytes"]})))
    c = dsub.add_parser("check", help="compare data_samples/ with MANIFEST.json")
    c.add_argument("--root", default=None)
    c.add_argument("--regenerate", action="store_true", help="rebuild each sample in a temp dir and compare")

    def check(a: argparse.Namespace) -> None:
        problems = check_samples(a.root and Path(a.root), a.regenerate)
        if problems:
            raise RuntimeError("data_samples/ differs from MANIFEST.json:\n  " + "\n  ".join(problems))
        print("data_samples/ matches MANIFEST.json")

    c.set_defaults(func=check)


add_command(_register)


def build_data_parser() -> argparse.ArgumentParser:
    """A parser for the words after ``kdtrack data`` (used to replay manifest commands)."""
    parser = argparse.ArgumentParser(prog="kdtrack data")
    sub = parser.add_subparsers(dest="kind_command", required=True)
    _add_generate_args(sub.add_parser("mot"), "mot")
    _add_generate_args(sub.add_parser("sot"), "sot")
    return parser
