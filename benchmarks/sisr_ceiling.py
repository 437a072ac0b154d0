"""How far capacity, training compute and training data move SISR on unseen window positions.

``python benchmarks/sisr_ceiling.py [--out docs/results] [--budget 300] [--device auto]``

Issue 13 asks the bundled ``sisr`` for +1.5 dB over bicubic on MRUNet's protocol at window
positions never trained on (``benchmarks/sisr_cube.py`` measures +0.41 dB with the shipped
detail gain, +0.66 as trained). This script asks whether anything within reach closes that gap:
networks 1x to 120x the default's parameters, trained to their validation optimum, with the
metric itself as the loss, and on 1/4, 1/2, all and all + 22 more cube positions.

Data and split: exactly ``sisr_cube.py``'s (the recipe's ``cube_split`` by window position,
``cube_samples`` read from the STAC cube, the Croatia MOD11A2 windows as extra training
ground); training pairs 4 x 4 radiometric mean -> x4, whole 64 x 64 windows flipped and
rotated at random; the weights kept are those of the best pooled gain on the validation
positions (checked every 2 epochs); scored once on the test positions and on the held-out
windows apart from every training pair (``held_apart``). Nothing of this ships: a reading.

Three stages, so that the training can run where the geo stack is not installed (a GPU
machine with torch and numpy only):

- ``--export SETS.npz``: the sets as the stored MOD11A1 integers (K / 0.02, exact), then stop;
- ``--train SETS.npz --results RESULTS.json``: every configuration of ``CONFIGS`` (or
  ``--configs``), each given ``--budget`` seconds: all at once, one process each, on a CUDA
  device; one after the other on the CPU (the large ones then stop far short of their optimum);
- ``--report RESULTS.json``: writes ``sisr_ceiling.md`` in ``--out``.

``--out`` defaults to ``docs/results`` for the published measurement only (every configuration
of ``CONFIGS``, ``--budget 300``, not ``--smoke``), judged for ``--report`` by what the results
file holds; any other run writes ``./heldback_results`` unless ``--out`` says so.

Without any of them, the three in turn on this machine. ``--smoke``: 5 dates, one small
configuration, 2 epochs (a test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
FACTOR = 4
CROP = 4
#: MOD11A1 LST is stored as K / 0.02 in uint16: the sets travel as those integers, exactly
DN_SCALE = 0.02
GROUPS = ("train", "val", "test", "held_out", "held_apart")
RESNET = {"arch": "rescnn"}
#: name -> settings (arch, config, lr; frac: share of the training positions kept, cube and
#: Croatia alike; croatia: the Croatia windows; plus_held_out: the 22 held-out positions too)
CONFIGS: dict[str, dict[str, Any]] = {
    "rescnn32x4": {**RESNET, "config": {"channels": 32, "n_blocks": 4}, "lr": 1e-3},
    "rescnn64x16": {**RESNET, "config": {"channels": 64, "n_blocks": 16}, "lr": 5e-4},
    "rescnn128x32": {**RESNET, "config": {"channels": 128, "n_blocks": 32}, "lr": 2e-4},
    "rescnn128x32_psnr": {**RESNET, "config": {"channels": 128, "n_blocks": 32}, "lr": 2e-4,
                          "loss": "psnr"},
    "mrunet32x3": {"arch": "mrunet", "config": {"base": 32, "levels": 3}, "lr": 5e-4},
    "rescnn64x16_f25": {**RESNET, "config": {"channels": 64, "n_blocks": 16}, "lr": 5e-4,
                        "frac": 0.25},
    "rescnn64x16_f50": {**RESNET, "config": {"channels": 64, "n_blocks": 16}, "lr": 5e-4,
                        "frac": 0.5},
    "rescnn64x16_nocro": {**RESNET, "config": {"channels": 64, "n_blocks": 16}, "lr": 5e-4,
                          "croatia": False},
    "rescnn64x16_plusheld": {**RESNET, "config": {"channels": 64, "n_blocks": 16}, "lr": 5e-4,
                             "plus_held_out": True},
}
SMOKE = {"smoke": {**RESNET, "config": {"channels": 8, "n_blocks": 1}, "lr": 1e-3,
                   "max_epochs": 2}}
TARGET_DB = 1.5
#: seconds per configuration of the published page
BUDGET = 300.0


# ----------------------------------------------------------------------------------------------
# export (the full xlstsr stack)


def export(path: Path, smoke: bool = False) -> Path:
    """The split's images (every window-date, day and night; Croatia) as stored integers."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sisr_cube  # the benchmark whose split and protocol this one keeps

    from xlstsr.datasets import data_root

    data = data_root(None)
    rec = sisr_cube.recipe()
    split = rec.cube_split(data)
    samples = rec.cube_samples(data, max_dates=5 if smoke else None)
    pos = samples.position.values
    groups = {"train": split.train, "val": split.val, "test": split.test,
              "held_out": split.held_out,
              "held_apart": sisr_cube.held_out_apart_from_pairs(data, split.held_out, None)}
    out: dict[str, np.ndarray] = {}
    for g, p in groups.items():
        keep = np.isin(pos, list(p))
        t = np.concatenate([samples[a].values[keep] for a in rec.CUBE_ASSETS])
        out[f"{g}_dn"] = _to_dn(t)
        out[f"{g}_pos"] = np.tile(pos[keep], len(rec.CUBE_ASSETS)).astype(str)
        out[f"{g}_kind"] = np.repeat(np.array([a.split("_")[1].lower() for a in rec.CUBE_ASSETS]),
                                     int(keep.sum()))
    cro = rec.croatia_samples(data)
    n_cro = 8 if smoke else None
    out["croatia_dn"] = _to_dn(cro["lst"].values[:n_cro])
    out["croatia_pos"] = cro.position.values[:n_cro].astype(str)
    out["smoke"] = np.array(smoke)  # carried to --train's results, so --report can tell
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return path


def _to_dn(t: np.ndarray) -> np.ndarray:
    dn = np.round(np.asarray(t, np.float64) / DN_SCALE)
    if not (np.isfinite(dn).all() and np.allclose(dn * DN_SCALE, t, atol=1e-3)):
        raise ValueError("the windows are not whole MOD11A1 integers (K / 0.02): not this cube")
    return dn.astype(np.uint16)


# ----------------------------------------------------------------------------------------------
# train (torch and numpy, xlstsr.nn only)


def architectures() -> dict[str, Any]:
    """``xlstsr.nn``'s architectures; on a machine without the geo stack, ``xlstsr.nn`` alone
    (its modules need torch and numpy only)."""
    try:
        from xlstsr.nn.registry import ARCHITECTURES
    except ImportError:
        for name in [m for m in sys.modules if m == "xlstsr" or m.startswith("xlstsr.")]:
            del sys.modules[name]
        for name, sub in (("xlstsr", "xlstsr"), ("xlstsr.kernels", "xlstsr/kernels")):
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(ROOT / sub)]
            sys.modules[name] = pkg
        from xlstsr.nn.registry import ARCHITECTURES
    return ARCHITECTURES


def radiometric_mean(t: torch.Tensor, f: int = FACTOR) -> torch.Tensor:
    """(mean T^4)^(1/4) over f x f blocks (float64: the coarse input of the protocol)."""
    n, h, w = t.shape
    return (t.reshape(n, h // f, f, w // f, f) ** 4).mean(dim=(2, 4)) ** 0.25


def psnr(sr: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """MRUNet's PSNR per image: ``CROP`` px cropped, range = max - min of the cropped truth."""
    t, s = truth[..., CROP:-CROP, CROP:-CROP], sr[..., CROP:-CROP, CROP:-CROP]
    rng = t.amax(dim=(-2, -1)) - t.amin(dim=(-2, -1))
    return 10 * torch.log10(rng**2 / ((s - t) ** 2).mean(dim=(-2, -1)))


@torch.no_grad()
def scores(model: torch.nn.Module, truth: torch.Tensor, kinds: np.ndarray) -> dict[str, Any]:
    """Pooled and per-overpass gain over bicubic (the model's own, the library's Keys
    a = -0.5), mean PSNR, images."""
    coarse = radiometric_mean(truth)[:, None].float()
    base = psnr(model.upsample(coarse)[:, 0].double(), truth)
    sr = torch.cat([model(coarse[i : i + 256])[:, 0] for i in range(0, len(coarse), 256)])
    gain = (psnr(sr.double(), truth) - base).cpu().numpy()
    out = {"pooled_gain": float(gain.mean()), "bicubic_psnr": float(base.mean()), "n": len(gain)}
    for k in np.unique(kinds):
        out[f"gain_{k}"] = float(gain[kinds == k].mean())
    return out


def train_one(name: str, cfg: dict[str, Any], sets: dict[str, np.ndarray], budget: float,
              device: str) -> dict[str, Any]:
    """Train one configuration to its validation optimum within ``budget`` seconds; score it."""
    dev = torch.device(device)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def kelvin(dn: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(dn.astype(np.float64) * DN_SCALE, device=dev)

    frac = cfg.get("frac", 1.0)
    keep = rng.permutation(np.unique(sets["train_pos"]))
    keep = keep[: max(1, round(frac * len(keep)))]
    parts = [sets["train_dn"][np.isin(sets["train_pos"], keep)]]
    n_cro = 0
    if cfg.get("croatia", True) and len(sets["croatia_dn"]):
        cro = rng.permutation(np.unique(sets["croatia_pos"]))
        cro = cro[: max(1, round(frac * len(cro)))]
        n_cro = len(cro)
        parts.append(sets["croatia_dn"][np.isin(sets["croatia_pos"], cro)])
    if cfg.get("plus_held_out"):
        parts.append(sets["held_out_dn"])
    fine = kelvin(np.concatenate(parts))
    coarse = radiometric_mean(fine).float()
    fine = fine.float()
    val = kelvin(sets["val_dn"])
    model = architectures()[cfg["arch"]](FACTOR, **cfg["config"]).to(dev)
    model.set_normalisation(float(coarse.mean()), float(coarse.std()))
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    batch = min(32, len(fine))
    steps = max(1, len(fine) // batch)
    max_epochs = cfg.get("max_epochs", 2000)
    planned: int | None = None
    best, best_state, hist = -math.inf, None, []
    t0, epoch = time.perf_counter(), 0
    while True:
        model.train()
        perm = torch.randperm(len(fine), device=dev)
        for s in range(steps):
            idx = perm[s * batch : (s + 1) * batch]
            k, flip = int(torch.randint(4, (1,))), bool(torch.randint(2, (1,)))
            x, y = (torch.rot90(a[idx], k, dims=(-2, -1))[:, None] for a in (coarse, fine))
            if flip:
                x, y = x.flip(-1), y.flip(-1)
            sr = model(x)
            if cfg.get("loss") == "psnr":  # the metric itself: per-image log MSE over the range
                span = (y.amax(dim=(1, 2, 3)) - y.amin(dim=(1, 2, 3))).clamp_min(0.5)
                loss = torch.log10(((sr - y) ** 2).mean(dim=(1, 2, 3)) / span**2 + 1e-8).mean()
            else:  # the recipe's loss
                loss = F.huber_loss(sr, y, delta=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        epoch += 1
        if planned is None and epoch == 3:  # the epochs the budget holds, from the first three
            per = (time.perf_counter() - t0) / 3
            planned = int(min(max_epochs, max(10, 0.85 * budget / per)))
        if planned:  # cosine decay to 5 % of lr over the planned epochs
            for group in opt.param_groups:
                group["lr"] = cfg["lr"] * (0.05 + 0.475 * (1 + math.cos(math.pi * min(1.0, epoch / planned))))
        last = epoch >= (planned or max_epochs) or time.perf_counter() - t0 > budget
        if epoch % 2 == 0 or last:
            model.eval()
            v = scores(model, val, sets["val_kind"])["pooled_gain"]
            hist.append([epoch, round(v, 4), round(float(loss.detach()), 5)])
            if v > best:
                best = v
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        if last:
            break
    seconds = time.perf_counter() - t0
    model.load_state_dict(best_state)
    model.eval()
    res: dict[str, Any] = {
        "settings": cfg, "params": sum(p.numel() for p in model.parameters()),
        "train_images": len(fine), "train_cube_positions": len(keep),
        "train_croatia_positions": n_cro, "epochs": epoch,
        "best_epoch": max(hist, key=lambda h: h[1])[0], "seconds": round(seconds, 1),
        "budget_s": budget, "smoke": bool(sets.get("smoke", False)),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
        or platform.machine(), "history": hist,
    }
    for g in ("val", "test", "held_apart"):
        if g == "held_apart" and cfg.get("plus_held_out"):
            continue  # trained on
        if len(sets[f"{g}_dn"]):
            res[g] = scores(model, kelvin(sets[f"{g}_dn"]), sets[f"{g}_kind"])
    return res


def load_sets(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def train(sets_path: Path, results: Path, names: Sequence[str], budget: float, device: str,
          configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every configuration: all at once (one process each) on CUDA, one after the other else."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    out: dict[str, Any] = {}
    if device.startswith("cuda") and len(names) > 1:
        with tempfile.TemporaryDirectory() as tmp:
            procs = {n: subprocess.Popen(
                [sys.executable, __file__, "--train", str(sets_path), "--results",
                 f"{tmp}/{n}.json", "--configs", n, "--budget", str(budget), "--device", device])
                for n in names}
            failed = [n for n, p in procs.items() if p.wait()]
            if failed:
                raise RuntimeError(f"configurations {failed} failed (their output is above)")
            for n in names:
                out.update(json.loads(Path(f"{tmp}/{n}.json").read_text()))
    else:
        sets = load_sets(sets_path)
        for n in names:
            out[n] = train_one(n, configs[n], sets, budget, device)
            print(f"{n}: test gain {out[n]['test']['pooled_gain']:+.3f} dB, "
                  f"{out[n]['epochs']} epochs, {out[n]['seconds']:.0f} s", flush=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=1))
    return out


# ----------------------------------------------------------------------------------------------
# report


def run_kind(results: dict[str, Any]) -> tuple[bool, bool]:
    """``(smoke, partial)`` of a results file: smoke when any configuration was trained on a
    ``--smoke`` export (or is the smoke configuration); partial when it holds other
    configurations than ``CONFIGS``, settings or a budget other than the published page's
    (``--configs``, ``--budget``). Either keeps it off the published page (``results_dir``)."""
    smoke = any(r.get("smoke") or n in SMOKE for n, r in results.items())
    partial = (set(results) != set(CONFIGS)
               or any(r.get("budget_s") != BUDGET or r.get("settings") != CONFIGS.get(n)
                      for n, r in results.items()))
    return smoke, partial


def report(results: dict[str, Any], path: Path, command: str, budget: float | None) -> Path:
    """``sisr_ceiling.md``: one row per configuration, and what the rows say of the target."""
    rows = []
    for n, r in results.items():
        t, h = r["test"], r.get("held_apart")
        rows.append(
            f"| {n} | {r['params']:,} | {r['train_images']} ({r['train_cube_positions']} + "
            f"{r['train_croatia_positions']}{' + 22 held-out' if r['settings'].get('plus_held_out') else ''}) | "
            f"{r['epochs']} ({r['best_epoch']}) | {r['seconds']:.0f} | {r['val']['pooled_gain']:+.2f} | "
            f"{t.get('gain_day', float('nan')):+.2f} | {t.get('gain_night', float('nan')):+.2f} | "
            f"**{t['pooled_gain']:+.2f}** | {'-' if h is None else format(h['pooled_gain'], '+.2f')} |")
    best = max(results, key=lambda n: results[n]["test"]["pooled_gain"])
    full = {n: r for n, r in results.items() if not any(
        k in r["settings"] for k in ("frac", "plus_held_out")) and r["settings"].get("croatia", True)}
    lines = [
        "# SISR ceiling: capacity, training and data against the +1.5 dB target",
        "",
        f"Written by `{command}` ({len(results)} configurations trained "
        f"{'' if budget else '(`--train SETS --results JSON`) '}with a budget of "
        f"{sorted({r.get('budget_s', budget) for r in results.values()})} s each, all at once "
        f"on {sorted({r['device'] for r in results.values()})} where that is a GPU). Data, "
        "split and protocol: "
        "`benchmarks/sisr_cube.py`'s (MRUNet's protocol, gain = mean over images of the PSNR "
        "difference with bicubic, Keys a = -0.5); each network kept at its best pooled "
        "validation gain (checked every 2 epochs), scored once on the test positions and on the "
        "held-out windows apart from every training pair. Reporting only: no weights ship.",
        "",
        "| configuration | parameters | training images (cube + Croatia positions) | epochs "
        "(best) | s | val gain | test day | test night | **test pooled gain (dB)** | held-out "
        "apart |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "## Reading",
        "",
        f"- Best on the test positions: `{best}`, {results[best]['test']['pooled_gain']:+.2f} dB, "
        f"against the target of +{TARGET_DB} dB (issue 13).",
    ]
    if full:
        gains = [r["test"]["pooled_gain"] for r in full.values()]
        params = [r["params"] for r in full.values()]
        lines.append(
            f"- Capacity: on all training data, {min(params):,} to {max(params):,} parameters "
            f"give {min(gains):+.2f} to {max(gains):+.2f} dB; most reach their best validation "
            "gain early and then overfit (epochs vs best above).")
    scaled = sorted((r["train_images"], r["test"]["pooled_gain"], n) for n, r in results.items()
                    if r["settings"]["config"] == CONFIGS["rescnn64x16"]["config"]
                    and r["settings"]["arch"] == "rescnn")
    if len(scaled) >= 2:
        (n0, g0, _), (n1, g1, _) = scaled[0], scaled[-1]
        per = (g1 - g0) / math.log2(n1 / n0) if n1 > n0 else float("nan")
        lines.append(
            f"- Data (ResCNN 64 x 16): {n0} -> {n1} training images ({n1 / n0:.1f}x) move the "
            f"test gain from {g0:+.2f} to {g1:+.2f} dB, {per:+.3f} dB per doubling; at that rate "
            f"the target needs about 2^{(TARGET_DB - g1) / per:.0f} times today's data."
            if per > 0 else
            f"- Data (ResCNN 64 x 16): {n0} -> {n1} training images give {g0:+.2f} -> {g1:+.2f} dB.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------------------------


def _from_root(path: str) -> str:
    """A path as the page's reproduce line gives it: relative to the repository root, where
    every reproduce command runs (the bare file name failed there)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def device_arg(text: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, refused in one line when it is
    no device name or names a CUDA device this torch build or machine does not have (torch would
    fail later with a traceback).

    >>> device_arg("CPU")
    'cpu'
    """
    t = str(text).strip().lower()
    if t in ("auto", "cpu"):
        return t
    index = t.partition(":")[2]
    if t != "cuda" and not (t.startswith("cuda:") and index.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device: use auto (CUDA when present), cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r}: no CUDA device here (torch {torch.__version__}, "
            f"CUDA {torch.version.cuda or 'not compiled in'}): use --device cpu or auto")
    if index and int(index) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}: use one of them, or auto")
    return t


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder of sisr_ceiling.md (default: docs/results; "
                    "./heldback_results for --smoke, --configs or another --budget)")
    ap.add_argument("--export", default=None, metavar="SETS", help="write the sets, then stop")
    ap.add_argument("--train", default=None, metavar="SETS", help="train from these sets")
    ap.add_argument("--results", default=None, metavar="JSON", help="--train's output")
    ap.add_argument("--report", default=None, metavar="JSON", help="write the page from a results file")
    ap.add_argument("--configs", default=None, help="comma-separated names of CONFIGS (default: all)")
    ap.add_argument("--budget", type=float, default=BUDGET, help="seconds per configuration")
    ap.add_argument("--device", type=device_arg, default="auto",
                    help="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    ap.add_argument("--smoke", action="store_true", help="5 dates, one tiny configuration, 2 epochs")
    args = ap.parse_args(argv)
    configs = {**CONFIGS, **SMOKE}
    names = (args.configs.split(",") if args.configs else list(SMOKE if args.smoke else CONFIGS))
    unknown = [n for n in names if n not in configs]
    if unknown:
        ap.error(f"unknown configurations {unknown}; known: {', '.join(CONFIGS)}")
    from xlstsr.datasets.root import check_output

    # the files it writes, checked before any work (a folder there failed once computed)
    check_output(args.export, "--export", file_name="sets.npz")
    check_output(args.results, "--results", file_name="results.json")
    if args.export:
        export(Path(args.export), args.smoke)
        return 0
    if args.train:
        if not args.results:
            ap.error("--train needs --results JSON")
        train(Path(args.train), Path(args.results), names, args.budget, args.device, configs)
        return 0
    from xlstsr.datasets.root import results_dir

    published = ROOT / "docs" / "results"
    if args.report:
        # judged by what the results file holds (a subset, another budget, a smoke export)
        # one line, not a FileNotFoundError / JSONDecodeError traceback
        try:
            res = json.loads(Path(args.report).read_text())
        except FileNotFoundError:
            ap.error(f"--report {args.report}: no such file; pass the JSON that "
                     "--train SETS --results JSON wrote")
        except (IsADirectoryError, UnicodeDecodeError, json.JSONDecodeError) as err:
            ap.error(f"--report {args.report}: not a results JSON file ({err}); pass the JSON "
                     "that --train SETS --results JSON wrote")
        smoke, partial = run_kind(res)
        out = results_dir(args.out, published, smoke=smoke or args.smoke, partial=partial)
        print(f"writing to {out}", flush=True)
        report(res, out / "sisr_ceiling.md",
               f"python benchmarks/sisr_ceiling.py --report {_from_root(args.report)}", None)
        return 0
    # a subset of the configurations or another budget is not the published measurement
    out = results_dir(args.out, published, smoke=args.smoke,
                      partial=set(names) != set(CONFIGS) or args.budget != BUDGET)
    print(f"writing to {out}", flush=True)
    command = ("python benchmarks/sisr_ceiling.py" + (" --smoke" if args.smoke else "")
               + (f" --configs {args.configs}" if args.configs else "")
               + (f" --budget {args.budget:g}" if args.budget != BUDGET else ""))
    with tempfile.TemporaryDirectory() as tmp:
        sets = export(Path(tmp) / "sets.npz", args.smoke)
        res = train(sets, Path(tmp) / "results.json", names, args.budget, args.device, configs)
    report(res, out / "sisr_ceiling.md", command, args.budget)
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix
