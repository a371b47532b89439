"""``scnn-sim import``: an ONNX model, a torchvision model with its checkpoint, or a SCALE-Sim
topology CSV in (as .h5 or workload YAML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scnn_sim.workload.importers import ModelImportError

YAML_SUFFIXES = (".yaml", ".yml")
H5_SUFFIXES = (".h5", ".hdf5")


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(v) for v in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N,C,H,W (e.g. 1,3,224,224), got {text!r}") \
            from None
    if len(dims) != 4 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected 4 positive sizes N,C,H,W, got {text!r}")
    return dims


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``import`` sub-command."""
    from scnn_sim.workload.importers.onnx_model import DEFAULT_ACT_DENSITY

    p = sub.add_parser(
        "import", help="import an ONNX model, a torchvision model or a SCALE-Sim topology CSV",
        description="MODEL.onnx -> exported-layer .h5 (Conv weights from the initializers, "
        "activations from --images or synthetic), or with --shapes-only a workload .yaml; "
        "torchvision:NAME (e.g. torchvision:resnet18) with --weights FILE.pth -> "
        "exported-layer .h5; topology.csv (SCALE-Sim) -> workload .yaml. Ops that are not "
        "modelled are listed on stderr.")
    p.add_argument("model", metavar="MODEL.onnx|torchvision:NAME|topology.csv")
    p.add_argument("-o", "--output", required=True, metavar="NET.h5|NET.yaml",
                   help="output: .h5 (ONNX) or .yaml (--shapes-only, SCALE-Sim CSV)")
    p.add_argument("--images", default=None, metavar="FILE.npy",
                   help="ONNX, torchvision: N x C x H x W inputs run through the model to "
                   "capture each conv's real input activations")
    p.add_argument("--weights", default=None, metavar="FILE.pth",
                   help="torchvision: your checkpoint of that architecture (a state dict, or "
                   "one under 'state_dict' / 'model'); without it, random initialisation")
    p.add_argument("--act-density", type=float, default=None, metavar="D",
                   help=f"density of synthetic input activations (ONNX default "
                   f"{DEFAULT_ACT_DENSITY:g}, 1.0 for a conv on the model input; CSV default "
                   f"1.0)")
    p.add_argument("--weight-density", type=float, default=None, metavar="D",
                   help="CSV: weight density of every layer (default 1.0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of synthetic activations (ONNX) or images (torchvision)")
    p.add_argument("--shapes-only", action="store_true",
                   help="ONNX: write a workload YAML of shapes and densities, no tensors")
    p.add_argument("--input-shape", type=_input_shape, default=None, metavar="N,C,H,W",
                   help="ONNX: fix a symbolic input shape; torchvision: the synthetic "
                   "images' shape (default 1,3,224,224); without --images")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``scnn-sim import``."""
    from scnn_sim.outputs import check_output_path

    check_output_path(args.output, "-o")  # the output gate, before reading the model
    src, out = Path(args.model), Path(args.output)
    if args.model.startswith("torchvision:"):
        return _torchvision(args, out)
    if args.weights is not None:
        raise ModelImportError("--weights: only for torchvision:NAME models (an ONNX model "
                               "carries its weights)")
    kind = src.suffix.lower()
    if kind == ".csv":
        if out.suffix.lower() not in YAML_SUFFIXES:
            raise ModelImportError(f"{out}: -o: a SCALE-Sim topology becomes a workload "
                                   f"(.yaml)")
        for opt in ("images", "input_shape"):
            if getattr(args, opt) is not None:
                raise ModelImportError(f"--{opt.replace('_', '-')}: only for ONNX models")
        from scnn_sim.workload.importers.scalesim import import_scalesim_csv

        wl = import_scalesim_csv(src, out, weight_density=1.0 if args.weight_density is None
                                 else args.weight_density,
                                 act_density=1.0 if args.act_density is None
                                 else args.act_density)
        print(f"wrote {out}: {len(wl.layers)} conv layers of {src.name}")
        return 0
    if kind != ".onnx":
        raise ModelImportError(f"{src}: unknown model type {kind or '(none)'!r}; expected "
                               f".onnx or a SCALE-Sim topology .csv")
    want = YAML_SUFFIXES if args.shapes_only else H5_SUFFIXES
    if out.suffix.lower() not in want:
        raise ModelImportError(f"{out}: -o: " + (
            "--shapes-only writes a workload (.yaml)" if args.shapes_only else
            "an ONNX import writes an exported-layer file (.h5); use --shapes-only for .yaml"))
    if args.weight_density is not None:
        raise ModelImportError("--weight-density: only for SCALE-Sim CSVs (ONNX weight "
                               "densities are measured on the initializers)")
    if args.images is not None and args.input_shape is not None:
        raise ModelImportError("--input-shape: not with --images (the images fix the shape)")
    from scnn_sim.workload.importers.onnx_model import DEFAULT_ACT_DENSITY, import_onnx

    info, written = import_onnx(
        src, out, images=args.images, seed=args.seed, shapes_only=args.shapes_only,
        act_density=DEFAULT_ACT_DENSITY if args.act_density is None else args.act_density,
        input_shape=args.input_shape)
    for op, n in sorted(info.not_modelled.items()):
        print(f"scnn-sim: not modelled: {op} x{n}", file=sys.stderr)
    convs, fcs = len(info.convs), len(info.fcs)
    what = f"{convs} conv layer(s)" + (f" + {fcs} fc" if args.shapes_only and fcs else "")
    print(f"wrote {out}: {what} of {src.name}; activations "
          f"{'from --images' if args.images else 'synthetic'}")
    if fcs and not args.shapes_only:
        print(f"note: {fcs} fc layer(s) ({', '.join(lay.name for lay, _ in info.fcs)}) "
              f"recorded in the file's fc_layers attribute, not stored: exported-layer files "
              f"hold conv layers")
    if info.pools:
        where = "as the pool: of the conv they follow" if args.shapes_only \
            else "in the pooling attribute"
        print(f"note: {len(info.pools)} pooling node(s) recorded ({where}): "
              + "; ".join(f"{pn.node} after {pn.after}" for pn in info.pools[:4])
              + (" ..." if len(info.pools) > 4 else ""))
    return 0


def _torchvision(args: argparse.Namespace, out: Path) -> int:
    """``scnn-sim import torchvision:NAME [--weights FILE.pth] -o NET.h5``."""
    name = args.model.split(":", 1)[1]
    if out.suffix.lower() not in H5_SUFFIXES:
        raise ModelImportError(f"{out}: -o: a torchvision import writes an exported-layer "
                               f"file (.h5)")
    for opt in ("shapes_only", "weight_density", "act_density"):
        if getattr(args, opt) not in (None, False):
            raise ModelImportError(f"--{opt.replace('_', '-')}: not for torchvision models "
                                   f"(their weights and activations are real)")
    from scnn_sim.workload.importers.torchvision_model import import_torchvision

    names = import_torchvision(name, out, weights=args.weights, images=args.images,
                               input_shape=args.input_shape, seed=args.seed)
    print(f"wrote {out}: {len(names)} conv layer(s) of torchvision {name}; weights "
          f"{'from ' + args.weights if args.weights else 'randomly initialised'}, activations "
          f"{'from --images' if args.images else 'of synthetic images'}")
    return 0
