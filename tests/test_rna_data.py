"""scripts/prepare_rna.py: the longest-ORF 5'UTR cutter on a small hand-made FASTA."""

from __future__ import annotations

import importlib.util

from svdd_cli.assets import asset_root

spec = importlib.util.spec_from_file_location("prepare_rna", asset_root() / "scripts" / "prepare_rna.py")
prepare_rna = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare_rna)

ORF = "ATG" + "GCT" * 100 + "TAA"  # 306 nt, stop included
SHORT_ORF = "ATG" + "GCT" * 30 + "TGA"  # 96 nt
UTR = "".join("ACGT"[(i * 7 + i // 3) % 4] for i in range(70)).replace("ATG", "ACG")  # 70 nt without ATG
OTHER_UTR = UTR.replace("A", "C")


def fasta(records: dict[str, str]) -> str:
    """FASTA text with the sequence wrapped at 60 columns, as RefSeq files are."""
    return "".join(f">{h}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n" for h, s in records.items())


def test_longest_orf_start_picks_the_longest_orf_in_any_frame():
    seq = "C" + SHORT_ORF + "CC" + ORF + "GGG"
    assert "ATG" not in UTR
    assert prepare_rna.longest_orf_start(seq) == 1 + len(SHORT_ORF) + 2
    assert prepare_rna.longest_orf_start("C" + SHORT_ORF) is None  # < 300 nt
    assert prepare_rna.longest_orf_start("ATG" + "GCT" * 120) is None  # no stop codon
    # An in-frame ATG upstream (no stop between) extends the ORF: its start is the first ATG.
    assert prepare_rna.longest_orf_start("CCATGAAA" + ORF) == 2


def test_cut_keeps_the_50_nt_before_the_start_codon_as_rna():
    text = fasta({
        "0100000,ACCNUM:NM_1,Gene_ID:11,Gene_Name:A": UTR + ORF + "TTTTTAAAAA",
        "0100001,ACCNUM:NM_2,Gene_ID:12,Gene_Name:B": UTR[:30] + ORF,  # UTR shorter than 50: dropped
        "0100002,ACCNUM:NM_3,Gene_ID:13,Gene_Name:C": UTR + SHORT_ORF,  # no ORF >= 300 nt: dropped
        "0100003,ACCNUM:NM_4,Gene_ID:14,Gene_Name:D": "g" * 10 + OTHER_UTR.lower() + ORF.lower(),  # lower case
        "0100004,ACCNUM:NM_5,Gene_ID:15,Gene_Name:E": UTR[:25] + "N" + UTR[26:] + ORF,  # N inside the window
        "0100005,ACCNUM:NM_6,Gene_ID:16,Gene_Name:F": "AAAA" + UTR + ORF,  # same 50 nt as gene 11: dropped
    })
    rows = prepare_rna.cut(text)
    expected = [(UTR[-50:].replace("T", "U"), "11"), (OTHER_UTR[-50:].replace("T", "U"), "14")]
    assert [(seq, gene) for _, seq, gene in rows] == expected
    assert all(len(seq) == 50 and set(seq) <= set("ACGU") for seq, _ in expected)
    assert {split for split, _, _ in rows} <= {"train", "valid", "test"}


def test_split_is_by_gene_and_deterministic():
    splits = [prepare_rna.split_of(str(g)) for g in range(2000)]
    assert splits == [prepare_rna.split_of(str(g)) for g in range(2000)]
    assert 0.05 < splits.count("test") / 2000 < 0.15 and 0.05 < splits.count("valid") / 2000 < 0.15
    assert prepare_rna.gene_id("0100000,ACCNUM:NM_001507,Gene_ID:2862,Gene_Name:MLNR") == "2862"
