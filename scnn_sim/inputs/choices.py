"""The open modelling choices: what the SCNN and granularity papers leave open, declared once.

[SCNN] (Parashar et al., ISCA 2017) and [GRAN] (Mao et al., 2017) leave several rules and
constants unpublished; scnn-sim picks a default for each and exposes the others as ordinary
configuration. This module is the one list of them (``scnn-sim sensitivity`` and
``scnn-sim granularity --sensitivity`` vary them; ``docs/sensitivity.md`` explains the
method). Each :class:`Choice` has a kind:

``simulation``
    an architecture rule that changes counts or cycles: every alternative is an override of
    architecture fields (dotted paths of :func:`scnn_sim.inputs.arch.arch_fields`) and is
    simulated;
``pricing``
    an energy-table value: every alternative is a shipped table or entries of the table
    (pJ per access at the entry's width, or the entry copied from a shipped table); the
    counts do not change, so results are re-priced, never re-simulated;
``reading``
    how a published figure is read from a result: every alternative names the reading of
    one metric (e.g. barrier idle over all PEs or over the PEs that hold pixels).

For numeric assumptions the alternatives span the justified range (``range``). The first
alternative of every choice is scnn-sim's default. Architecture fields that look like
modelling rules but are not open choices are listed in :data:`NOT_CHOICES` with the reason;
``tests/test_sensitivity.py`` checks that every enum-valued or boolean architecture field,
and every field the README's "Modelling choices" section names, is in one list or the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scnn_sim.errors import ConfigError

Kind = Literal["simulation", "pricing", "reading"]
KINDS: tuple[str, ...] = ("simulation", "pricing", "reading")
#: Simulate every combination of the simulation choices up to this many (else one at a time).
MAX_SIMULATIONS = 16


class ChoiceError(ConfigError):
    """An unknown or repeated modelling choice (``--choices``)."""


@dataclass(frozen=True)
class Alternative:
    """One way of settling a choice, as ordinary configuration.

    Exactly one of ``arch``, ``energy_table`` / ``energy`` and ``reading`` is used, by the
    kind of its choice.

    Attributes
    ----------
    name
        Short label (printed in tables and plots).
    source
        The source or the argument for this alternative.
    arch
        Architecture overrides, dotted path -> value (``simulation`` choices).
    energy_table
        A shipped energy table replacing the run's table (``pricing``).
    energy
        Energy-table entries: action -> pJ per access at the entry's width (a number), or
        the name of a shipped table whose entry is copied (``pricing``).
    reading
        Metric -> the name of its reading (``reading`` choices; see
        :data:`scnn_sim.studies.sensitivity.READINGS`).
    """

    name: str
    source: str
    arch: Mapping[str, Any] = field(default_factory=dict)
    energy_table: str | None = None
    energy: Mapping[str, float | str] = field(default_factory=dict)
    reading: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the name, the source and the configuration it sets."""
        out: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.arch:
            out["arch"] = dict(self.arch)
        if self.energy_table:
            out["energy_table"] = self.energy_table
        if self.energy:
            out["energy"] = dict(self.energy)
        if self.reading:
            out["reading"] = dict(self.reading)
        return out


@dataclass(frozen=True)
class Choice:
    """An open modelling choice: what is open, the default (first) and its alternatives."""

    name: str
    kind: Kind
    question: str
    alternatives: tuple[Alternative, ...]
    range: str | None = None

    @property
    def default(self) -> Alternative:
        """scnn-sim's default alternative (the first)."""
        return self.alternatives[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the declaration."""
        return {"name": self.name, "kind": self.kind, "question": self.question,
                "default": self.default.name, "range": self.range,
                "alternatives": [a.to_dict() for a in self.alternatives]}


def _alt(name: str, source: str, **kw: Any) -> Alternative:
    return Alternative(name, source, **kw)


_SIM: Kind = "simulation"
_PRICE: Kind = "pricing"
_READ: Kind = "reading"

#: Every open modelling choice, in the order tables and plots show them.
CHOICES: tuple[Choice, ...] = (
    Choice("contention", _SIM, "what a bank conflict costs ([SCNN] section 4: 'bank contention "
           "stalls the array', no queueing rule published)", (
               _alt("queued", "per-bank queues behind the crossbar; an independent SCNN model "
                    "needs them to reach the paper's 0.8-0.97 utilisation",
                    arch={"accumulator.contention": "queued"}),
               _alt("lockstep", "a vector pair holds the array for its busiest bank: the "
                    "simplest reading of the paper (and DNNsim's)",
                    arch={"accumulator.contention": "lockstep"}))),
    Choice("queue_depth", _SIM, "entries of each bank's queue (not published)", (
        _alt("4", "an independent SCNN model: depth about 4 removes most stalls",
             arch={"accumulator.queue_depth": 4}),
        _alt("2", "half the default (a bracket, no source)", arch={"accumulator.queue_depth": 2}),
        _alt("8", "twice the default (a bracket, no source)",
             arch={"accumulator.queue_depth": 8})),
        range="2-8 entries around the default: no published value"),
    Choice("bank_mapping", _SIM, "output address -> accumulator bank (not published)", (
        _alt("linear", "address mod A: the plainest hash",
             arch={"accumulator.bank_mapping": "linear"}),
        _alt("xor", "xor-fold of the address (needs a power-of-two bank count)",
             arch={"accumulator.bank_mapping": "xor"}),
        _alt("dnnsim_xor", "DNNsim's hash of the absolute (k, row, col)",
             arch={"accumulator.bank_mapping": "dnnsim_xor"}))),
    Choice("bank_load", _SIM, "do products that land outside the output plane (discarded "
           "halo) load a bank? (not published)", (
               _alt("all_products", "[SCNN]'s buffer holds the (Wt + R - 1) x (Ht + S - 1) "
                    "tile with halos: every product is accumulated",
                    arch={"accumulator.bank_load": "all_products"}),
               _alt("on_plane", "DNNsim: only on-plane products reach a bank",
                    arch={"accumulator.bank_load": "on_plane"}))),
    Choice("access_model", _SIM, "what an accumulator bank receives ([SCNN]: one "
           "read-modify-write per product; [GRAN]'s counting model is not published)", (
               _alt("per_product", "[SCNN] as published",
                    arch={"accumulator.access_model": "per_product"}),
               _alt("same_address", "[GRAN] hypothesis: same-address products of a cycle "
                    "summed before the bank", arch={"accumulator.access_model": "same_address"}),
               _alt("wide", "[GRAN] hypothesis: one access per wide word of adjacent outputs",
                    arch={"accumulator.access_model": "wide"}))),
    Choice("weight_order", _SIM, "linear order of a (c, k') weight block ([SCNN]: the "
           "K x R x S volume is compressed per input channel; the order is not given)", (
               _alt("krs", "s fastest: a weight vector holds neighbours of one kernel row",
                    arch={"dataflow.weight_order": "krs"}),
               _alt("rsk", "k fastest (DNNsim's order)", arch={"dataflow.weight_order": "rsk"}))),
    Choice("tiling", _SIM, "how a plane that the PE grid does not divide is cut (13x13, "
           "14x14, 7x7 planes on 8x8 PEs; not published)", (
               _alt("ceil", "equal tiles of ceil(H / 8) rows; the last PEs short or idle",
                    arch={"dataflow.tiling": "ceil"}),
               _alt("balanced", "tiles differing by at most one row (np.array_split)",
                    arch={"dataflow.tiling": "balanced"}),
               _alt("padded", "DNNsim: equal tiles of the zero-padded plane",
                    arch={"dataflow.tiling": "padded"}))),
    Choice("kc_rule", _SIM, "output channels per group, Kc ([SCNN] gives one example, "
           "Kc = 8, no rule)", (
               _alt("scnn", "min(K, kc_max = 8, accumulator entries / buffer with halos), "
                    "with spatial sub-tiles so the early layers keep Kc = 8",
                    arch={"dataflow.kc_rule": "scnn"}),
               _alt("dnnsim", "DNNsim: accumulator entries // output tile, no cap, no "
                    "sub-tiles", arch={"dataflow.kc_rule": "dnnsim"}))),
    Choice("overflow", _SIM, "how activations that exceed the IARAM are tiled in time ([SCNN]: "
           "9 of 72 layers, energy penalty 5-62%; the rule is not published)", (
               _alt("fewest_passes", "the fewest passes whose hand-over fits the IARAM",
                    arch={"dataflow.overflow": "fewest_passes"}),
               _alt("half_iaram", "double-buffered halves of the IARAM",
                    arch={"dataflow.overflow": "half_iaram"}),
               _alt("channel_chunk", "whole tiles, input channels in chunks re-read per group",
                    arch={"dataflow.overflow": "channel_chunk"}))),
    Choice("energy_table", _PRICE, "the energy table ([SCNN] publishes no per-access "
           "energy)", (
               _alt("aladdin40", "Aladdin 40 nm logic via Accelergy, Horowitz 45 nm SRAM/DRAM",
                    energy_table="aladdin40"),
               _alt("horowitz45", "Horowitz ISSCC 2014 / Han et al. 45 nm anchors",
                    energy_table="horowitz45"),
               _alt("accelergy45", "the Sparseloop artifact's 45 nm Accelergy table",
                    energy_table="accelergy45"))),
    Choice("crossbar_energy", _PRICE, "pJ per 24-bit product through the scatter crossbar "
           "(no published anchor)", (
               _alt("0.324 pJ", "aladdin40: 1.5x a 24-bit register write (Aladdin reg.csv)",
                    energy={"crossbar_transfer": 0.324}),
               _alt("1.125 pJ", "horowitz45: 1.5x a 24-bit register-file access (Han 2015)",
                    energy={"crossbar_transfer": 1.125}),
               _alt("4.09 pJ", "the crossbar primitive of the Accelergy Aladdin plug-in at "
                    "16 x 32 (issue 23's audit)", energy={"crossbar_transfer": 4.09})),
        range="0.324-4.09 pJ per product: register-based estimate to the plug-in's crossbar"),
    Choice("dram_energy", _PRICE, "pJ per DRAM bit (SCNN's DRAM type is not published)", (
        _alt("20 pJ/bit", "Horowitz 2014: 640 pJ per 32-bit access", energy={"dram_bit": 20.0}),
        _alt("3.9 pJ/bit", "HBM2 (CACTI plug-in table used by Accelergy)",
             energy={"dram_bit": 3.9}),
        _alt("8 pJ/bit", "LPDDR4 (CACTI plug-in table)", energy={"dram_bit": 8.0}),
        _alt("14 pJ/bit", "GDDR5 (CACTI plug-in table)", energy={"dram_bit": 14.0}),
        _alt("70 pJ/bit", "DDR3 (CACTI plug-in table)", energy={"dram_bit": 70.0})),
        range="3.9-70 pJ/bit: the DRAM types of the cited tables"),
    Choice("sram_energy", _PRICE, "pJ per IARAM/OARAM entry (10 KB SRAMs; no published "
           "energy)", (
               _alt("8 KB SRAM", "Horowitz 2014: 5 pJ per 32-bit access of an 8 KB SRAM",
                    energy={"iaram_read": "horowitz45", "iaram_write": "horowitz45",
                            "oaram_write": "horowitz45"}),
               _alt("100 KB buffer", "the Sparseloop artifact's 100 KB global buffer (larger "
                    "than SCNN's RAMs: pessimistic)",
                    energy={"iaram_read": "accelergy45", "iaram_write": "accelergy45",
                            "oaram_write": "accelergy45"})),
        range="3.1-15.4 pJ per 20-bit read: SRAM pricing by table"),
    Choice("barrier_reading", _READ, "over which PEs [SCNN] counts barrier idle time", (
        _alt("all PEs", "every PE, empty ones included (issue 23's audit: fits the paper on 19 "
             "of 20 layers)", reading={"barrier": "all_pes"}),
        _alt("active PEs", "only the PEs that hold pixels", reading={"barrier": "active_pes"}))),
    Choice("penalty_baseline", _READ, "what the temporal-tiling energy penalty is measured "
           "against ([SCNN] does not say)", (
               _alt("DRAM once", "each input activation read from DRAM once",
                    reading={"temporal_tiling_penalty": "dram_once"}),
               _alt("on chip", "the activations kept on chip (no activation DRAM reads)",
                    reading={"temporal_tiling_penalty": "on_chip"}))),
)

#: Architecture fields that look like modelling rules but are not open choices, and why.
NOT_CHOICES: dict[str, str] = {
    "data.placeholders": "published: 4-bit zero runs with placeholder entries ([SCNN] 4)",
    "data.index_bits": "published: 4-bit indices ([SCNN] Table 3)",
    "accumulator.double_buffered": "published: double-buffered accumulators ([SCNN] Table 3)",
    "accumulator.drain_timing": "an idealisation switch to reproduce DNNsim, not a reading "
                                "of the paper (the PPU drain takes time)",
    "accumulator.wide_words": "a parameter of the wide access model (access_model choice)",
    "dram.timing": "an idealisation switch to reproduce DNNsim ([SCNN]: transfers pipelined "
                   "behind compute, which the timed model does)",
    "dram.latency_cycles": "not published; DRAM time hides behind compute except on streamed "
                           "layers (vary with --arch)",
    "dataflow.barrier": "published: a barrier per output-channel group ([SCNN] 4); "
                        "input_channel reproduces DNNsim",
    "dataflow.halo_model": "dnnsim reproduces DNNsim's halo time with its quirks (stride "
                           "ignored); scnn counts the halo the ownership rule implies",
    "dataflow.halo_words_per_cycle": "not published; halo time is reported apart "
                                     "(cycle_breakdown.halo; vary with --arch)",
    "dataflow.drain_words_per_cycle": "not published; the drain overlaps the next group "
                                      "(double-buffered; vary with --arch)",
    "dataflow.kc": "an explicit Kc replaces the rule (the kc_rule choice)",
    "dataflow.kc_max": "[SCNN]'s example Kc = 8 (part of the scnn Kc rule)",
    "dataflow.subtiles": "an explicit sub-tiling replaces the rule (the kc_rule choice)",
}


def choice_names() -> list[str]:
    """Names of every declared choice, in order."""
    return [c.name for c in CHOICES]


def get_choices(names: str | Sequence[str] | None = None) -> list[Choice]:
    """The declared choices named (comma-separated string or sequence), or all of them.

    Raises
    ------
    ChoiceError
        One line naming an unknown or repeated choice and the known ones.
    """
    if names is None:
        return list(CHOICES)
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [str(n).strip() for n in items if str(n).strip()]
    if not items:
        raise ChoiceError(f"--choices: give at least one of {', '.join(choice_names())}")
    by_name = {c.name: c for c in CHOICES}
    out: list[Choice] = []
    for n in items:
        if n not in by_name:
            raise ChoiceError(f"--choices: unknown choice {n!r} (known: "
                              f"{', '.join(choice_names())})")
        if by_name[n] in out:
            raise ChoiceError(f"--choices: {n!r} given twice")
        out.append(by_name[n])
    return out


__all__ = ["Alternative", "Choice", "ChoiceError", "CHOICES", "KINDS", "MAX_SIMULATIONS",
           "NOT_CHOICES", "choice_names", "get_choices"]
