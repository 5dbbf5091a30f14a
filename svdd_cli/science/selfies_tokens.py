"""Ring-first grouped SELFIES: token rows of a molecule that a masked diffusion model learns more easily.

Plain SELFIES (selfies.split_selfies of RDKit's canonical SMILES) makes two things hard to learn:
- overloaded symbols: after [Ring1] or [Branch1] the next symbol is read as a number (its index), so [=Branch1]
  is a branch in one place and "6" in another. `group` makes a ring or branch symbol and its index symbols one
  token ([Ring1][=Branch1]: "ring bond to the atom 5 atoms back").
- long-range counting: a ring bond's index counts every atom written since the ring opened, substituents
  included, so a benzene's closing token depends on what hangs off it (canonical "c1ccc(C)cc1"). `ring_first_smiles`
  writes each ring before the substituents of its atoms ("C1C=CC(=CC=1)C"): almost every ring closes with the token
  of its size.
Both only choose the string: the joined tokens are plain SELFIES, decoded by selfies.decoder.
Fragments (`learn_fragments`, `fragment`) go one step further: frequent runs of those tokens (a kekulé benzene's
alternating bonds, an amide) become one token each, learned by byte-pair merging on training rows and applied by
greedy longest match, so the joined tokens are still plain SELFIES.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection

import selfies as sf
from rdkit import Chem

RING_OR_BRANCH = re.compile(r"\[[=#]?(?:Ring|Branch)(\d)\]")  # the digit = how many index symbols follow
ORGANIC_VALENCES = {"B": (3,), "C": (4,), "N": (3,), "O": (2,), "P": (3, 5), "S": (2, 4, 6), "F": (1,), "Cl": (1,),
                    "Br": (1,), "I": (1,)}
BOND_SYMBOL = {Chem.BondType.SINGLE: "", Chem.BondType.DOUBLE: "=", Chem.BondType.TRIPLE: "#"}


def group(symbols: list[str]) -> list[str]:
    """SELFIES symbols -> tokens: each ring or branch symbol joined with the index symbols that follow it."""
    tokens, i = [], 0
    while i < len(symbols):
        match = RING_OR_BRANCH.fullmatch(symbols[i])
        width = 1 + (int(match.group(1)) if match else 0)
        tokens.append("".join(symbols[i:i + width]))
        i += width
    return tokens


def atom_text(atom: Chem.Atom) -> str:
    """An atom of a kekulized molecule in SMILES: bare when SMILES's default valence gives its hydrogens."""
    symbol, hydrogens, charge = atom.GetSymbol(), atom.GetTotalNumHs(), atom.GetFormalCharge()
    valence = int(sum(bond.GetBondTypeAsDouble() for bond in atom.GetBonds()))
    if charge == 0 and atom.GetIsotope() == 0 and symbol in ORGANIC_VALENCES:
        implied = next((v - valence for v in ORGANIC_VALENCES[symbol] if v >= valence), 0)
        if implied == hydrogens:
            return symbol
    h = "" if hydrogens == 0 else "H" if hydrogens == 1 else f"H{hydrogens}"
    sign = "+" if charge > 0 else "-"
    c = "" if charge == 0 else sign if abs(charge) == 1 else f"{sign}{abs(charge)}"
    return f"[{atom.GetIsotope() or ''}{symbol}{h}{c}]"


def ring_first_smiles(mol: Chem.Mol) -> str:
    """Kekulé SMILES of `mol` (no stereo) from a depth-first walk that enters ring bonds before other bonds, so
    a ring is closed before the walk leaves it; ties by RDKit's canonical atom ranks, root = the lowest-ranked
    atom of degree <= 1. The same molecule always gives the same string."""
    mol = Chem.Mol(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    ranks = list(Chem.CanonicalRankAtoms(mol))
    n = mol.GetNumAtoms()
    ends = [a.GetIdx() for a in mol.GetAtoms() if a.GetDegree() <= 1]
    root = min(ends or range(n), key=lambda i: ranks[i])
    children: list[list[tuple[int, Chem.Bond]]] = [[] for _ in range(n)]
    opens: list[list[Chem.Bond]] = [[] for _ in range(n)]
    closes: list[list[Chem.Bond]] = [[] for _ in range(n)]
    seen: set[int] = set()
    used: set[int] = set()

    def walk(v: int) -> None:
        seen.add(v)
        bonds = sorted(mol.GetAtomWithIdx(v).GetBonds(),
                       key=lambda b: (not b.IsInRing(), ranks[b.GetOtherAtomIdx(v)]))
        for bond in bonds:
            if bond.GetIdx() in used:
                continue
            used.add(bond.GetIdx())
            u = bond.GetOtherAtomIdx(v)
            if u in seen:  # a ring bond back to an atom already written: opened there, closed here
                opens[u].append(bond)
                closes[v].append(bond)
            else:
                children[v].append((u, bond))
                walk(u)

    walk(root)
    free, digit_of, out = list(range(1, 100)), {}, []

    def label(d: int) -> str:
        return str(d) if d < 10 else f"%{d}"

    def write(v: int) -> None:
        out.append(atom_text(mol.GetAtomWithIdx(v)))
        for bond in closes[v]:
            d = digit_of.pop(bond.GetIdx())
            out.append(BOND_SYMBOL[bond.GetBondType()] + label(d))
            free.append(d)
            free.sort()
        for bond in opens[v]:
            digit_of[bond.GetIdx()] = free.pop(0)
            out.append(label(digit_of[bond.GetIdx()]))
        for k, (u, bond) in enumerate(children[v]):
            branch = k < len(children[v]) - 1  # every child but the last is a branch
            out.append("(" if branch else "")
            out.append(BOND_SYMBOL[bond.GetBondType()])
            write(u)
            out.append(")" if branch else "")

    write(root)
    return "".join(out)


def parsed(smiles: str) -> Chem.Mol:
    """RDKit's molecule of a SMILES; ValueError naming it when there is none."""
    mol = Chem.MolFromSmiles(smiles) if smiles.strip() else None
    if mol is None:
        raise ValueError(f"{smiles[:40]!r} is not a valid SMILES")
    return mol


def selfies_symbols(smiles: str) -> list[str]:
    """A SMILES -> the symbols of its SELFIES (plain, unpadded); ValueError when RDKit or SELFIES cannot read it."""
    parsed(smiles)
    try:
        return list(sf.split_selfies(sf.encoder(smiles)))
    except sf.EncoderError as err:
        raise ValueError(f"{smiles[:40]!r} has no SELFIES encoding: {err}") from None


def ring_first_tokens(smiles: str) -> list[str]:
    """A SMILES -> its ring-first grouped SELFIES tokens (unpadded); ValueError when RDKit or SELFIES cannot
    read it."""
    mol = parsed(smiles)
    try:
        return group(list(sf.split_selfies(sf.encoder(ring_first_smiles(mol)))))
    except (sf.EncoderError, KeyError) as err:  # KeyError: a bond order SMILES cannot write (aromatic left over)
        raise ValueError(f"{smiles[:40]!r} has no ring-first SELFIES: {err}") from None


def merged(row: list[str], pair: tuple[str, str]) -> list[str]:
    """`row` with every non-overlapping occurrence of `pair` (left to right) joined into one token."""
    out, i = [], 0
    while i < len(row):
        if i + 1 < len(row) and (row[i], row[i + 1]) == pair:
            out.append(row[i] + row[i + 1])
            i += 2
        else:
            out.append(row[i])
            i += 1
    return out


def learn_fragments(rows: list[list[str]], merges: int) -> dict[str, int]:
    """Byte-pair merging over token rows: up to `merges` new tokens (each the join of the most frequent adjacent
    pair at its turn, seen at least twice), in the order learned -> how many of the rows' tokens each joins."""
    learned: dict[str, int] = {}
    for _ in range(merges):
        pairs = Counter(pair for row in rows for pair in zip(row, row[1:]))
        if not pairs or pairs.most_common(1)[0][1] < 2:
            break
        (a, b), _count = pairs.most_common(1)[0]
        learned[a + b] = learned.get(a, 1) + learned.get(b, 1)
        rows = [merged(row, (a, b)) for row in rows]
    return learned


def fragment(row: list[str], vocab: set[str], width: int) -> list[str]:
    """Greedy longest match: from the left, the longest run of at most `width` tokens whose join is in `vocab`
    becomes one token (a single token always matches). The join of the result is the join of `row`."""
    out, i = [], 0
    while i < len(row):
        w = next(w for w in range(min(width, len(row) - i), 0, -1) if w == 1 or "".join(row[i:i + w]) in vocab)
        out.append("".join(row[i:i + w]))
        i += w
    return out


TOKENIZERS = {"selfies": selfies_symbols, "ring-first": ring_first_tokens}  # a checkpoint's "tokens" -> SMILES -> row
FRAGMENTS = "+fragments"  # a scheme's suffix: its rows rewritten in the fragments of the model's vocabulary


def scheme_tokens(smiles: str, scheme: str, vocab: Collection[str] = ()) -> list[str]:
    """A SMILES -> its unpadded row in `scheme` (a checkpoint's "tokens": a TOKENIZERS key, optionally + FRAGMENTS,
    which matches the fragments of `vocab`); KeyError for an unknown scheme, ValueError for an unreadable SMILES."""
    row = TOKENIZERS[scheme.removesuffix(FRAGMENTS)](smiles)
    if not scheme.endswith(FRAGMENTS):
        return row
    # a fragment's SELFIES symbols bound the tokens it joins (a symbol string splits into tokens one way only)
    return fragment(row, set(vocab), max((token.count("[") for token in vocab), default=1))
