"""The cascade language: tokenizer, recursive-descent parser and structural checks.

A cascade text is what an architect writes to say what a workload computes, stage by stage,
before saying how it is laid on hardware. One statement per line (or separated by ``;``),
``#`` starts a comment::

    rank E, F, M, P, M0 = 64          # ranks, optionally with a default size
    partition M into M1, M0           # m = m1*M0 + m0, M1 = ceil(M / M0)
    iterate m1 until m1 >= M1         # an iterative rank and its stop condition
    init RM[0,p] = -inf               # initial value of an iterative tensor
    QK[m,p] = Q[e,p] * K[e,m]         # classical Einsum: e is summed implicitly
    GM[p]   = max[m] QK[m,p]          # explicit reduction over m
    SN[m,p] = exp(QK[m,p] - GM[p])    # element-wise operators
    O[k,p] = I[c,2*p+r] * W[k,c,r]    # affine index: a strided 1D convolution
    pad I = 0                         # reads of I outside its stored extent give 0

Grammar (EBNF)::

    cascade   = { [statement] (NEWLINE | ";") } ;
    statement = "rank" rankdecl {"," rankdecl} | "partition" RANK "into" RANK "," RANK
              | "iterate" var "until" var ("<="|">="|">"|"==") index | "init" ref "=" number
              | "pad" TENSOR "=" number
              | ref "=" [ ("sum"|"max") "[" var {"," var} "]" ] expr ;
    expr      = term {("+"|"-") term} ;   term = unary {("*"|"/") unary} ;
    unary     = "-" (NUMBER | "inf") | atom ;
    atom      = NUMBER | "inf" | ref | op "(" expr {"," expr} ")" | "(" expr ")" ;
    ref       = TENSOR "[" [index {"," index}] "]" ;
    index     = product {"+" product | "-" INT} ;   product = factor {"*" factor} ;
    factor    = var | RANK | INT ;

Tensor and rank names are upper case, index variables and operators lower case. Parentheses
and operator calls nest at most ``MAX_DEPTH`` levels, and so do the operators of one
right-hand side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mappings.einsum import (MAP_OPS, MAX_DEPTH, REDUCE_OPS, Cascade, CascadeError, Const, Einsum,
                             Index, Init, Iteration, Op, Partition, Ref, Term, check_depth,
                             rank_of, walk)

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+) | (?P<comment>\#[^\n]*) | (?P<nl>\n|;)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>>=|<=|==|[\[\](),=+\-*/<>])
""", re.VERBOSE)
_KEYWORDS = ("rank", "ranks", "partition", "iterate", "init", "pad")


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "nl", "eof"
    text: str
    line: int
    column: int


def tokenize(text: str) -> list[Token]:
    """Split cascade text into tokens with 1-based line and column numbers."""
    tokens, pos, line, start = [], 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CascadeError(f"line {line}, column {pos - start + 1}: unexpected character "
                               f"{text[pos]!r}", line=line, column=pos - start + 1)
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), line, pos - start + 1))
        if m.group() == "\n":
            line, start = line + 1, m.end()
        pos = m.end()
    tokens.append(Token("eof", "", line, pos - start + 1))
    return tokens


class _Parser:
    """Recursive-descent parser over the token list; one method per grammar rule."""

    def __init__(self, text: str):
        self.toks, self.i = tokenize(text), 0
        self.einsums, self.inits, self.partitions, self.iterations = [], [], [], []
        self.pads: dict[str, float] = {}
        self.declared: dict[str, int | None] | None = None
        self.current: str | None = None  # Einsum being parsed, for messages
        self.depth = 0  # parentheses and operator calls open at the current token

    # -- token helpers ----------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def error(self, what: str, tok: Token | None = None) -> CascadeError:
        tok = tok or self.tok
        found = {"eof": "end of text", "nl": "end of statement"}.get(tok.kind, repr(tok.text))
        return self.fail(f"expected {what}, found {found}", tok)

    def fail(self, message: str, tok: Token) -> CascadeError:
        """A :class:`CascadeError` at ``tok``, naming the Einsum being parsed."""
        where = f"Einsum {self.current!r}, " if self.current else ""
        return CascadeError(f"{where}line {tok.line}, column {tok.column}: {message}",
                            einsum=self.current, line=tok.line, column=tok.column)

    def accept(self, text: str) -> Token | None:
        if self.tok.text == text and self.tok.kind != "eof":
            self.i += 1
            return self.toks[self.i - 1]
        return None

    def expect(self, text: str) -> Token:
        tok = self.accept(text)
        if tok is None:
            raise self.error(repr(text))
        return tok

    def name(self, what: str, case: str | None = None) -> Token:
        tok = self.tok
        if tok.kind != "name" or (case == "upper" and tok.text != tok.text.upper()) or \
                (case == "lower" and tok.text != tok.text.lower()):
            raise self.error(what)
        self.i += 1
        return tok

    # -- statements -------------------------------------------------------------------------
    def cascade(self) -> None:
        while self.tok.kind != "eof":
            if self.tok.kind != "nl":
                self.statement()
            if self.tok.kind == "eof":
                break
            if self.tok.kind != "nl":
                raise self.error("end of statement")
            self.i += 1

    def statement(self) -> None:
        self.current = None
        word = self.tok.text if self.tok.kind == "name" else ""
        if word in _KEYWORDS and self.peek().text != "[":
            self.i += 1
            getattr(self, "st_" + ("rank" if word == "ranks" else word))()
        else:
            self.einsum()

    def st_rank(self) -> None:
        self.declared = {} if self.declared is None else self.declared
        while True:
            tok = self.name("a rank name (upper case)", "upper")
            size = None
            if self.accept("="):
                size = self.integer()
            if tok.text in self.declared:
                raise CascadeError(f"line {tok.line}, column {tok.column}: rank {tok.text!r} is "
                                   f"declared twice", rank=tok.text, line=tok.line,
                                   column=tok.column)
            self.declared[tok.text] = size
            if not self.accept(","):
                return

    def st_partition(self) -> None:
        parent = self.name("a rank name (upper case)", "upper").text
        if self.name("'into'").text != "into":
            raise self.error("'into'", self.toks[self.i - 1])
        outer = self.name("a rank name (upper case)", "upper").text
        self.expect(",")
        inner = self.name("a rank name (upper case)", "upper").text
        self.partitions.append(Partition(parent, outer, inner))

    def st_iterate(self) -> None:
        var = self.name("an index variable (lower case)", "lower").text
        if self.name("'until'").text != "until":
            raise self.error("'until'", self.toks[self.i - 1])
        tok = self.name("the index variable " + repr(var), "lower")
        if tok.text != var:
            raise self.error(f"the index variable {var!r}", tok)
        cmp = self.tok.text
        if cmp not in (">=", ">", "=="):
            raise self.error("'>=', '>' or '=='")
        self.i += 1
        self.iterations.append(Iteration(var, cmp, self.index()))

    def st_init(self) -> None:
        line = self.tok.line
        ref = self.ref()
        self.expect("=")
        self.inits.append(Init(ref, self.number(), line))

    def st_pad(self) -> None:
        tok = self.name("a tensor name (upper case)", "upper")
        self.expect("=")
        if tok.text in self.pads:
            raise self.fail(f"tensor {tok.text!r} is padded twice", tok)
        self.pads[tok.text] = self.number()

    def number(self) -> float:
        """A number or ``inf``, optionally negated."""
        neg = bool(self.accept("-"))
        if self.tok.text == "inf" or self.tok.kind == "number":
            value = math.inf if self.tok.text == "inf" else float(self.tok.text)
            self.i += 1
        else:
            raise self.error("a number or inf")
        return -value if neg else value

    def integer(self) -> int:
        if self.tok.kind != "number" or not self.tok.text.isdigit():
            raise self.error("an integer")
        self.i += 1
        return int(self.toks[self.i - 1].text)

    def einsum(self) -> None:
        line = self.tok.line
        if self.tok.kind == "name" and self.tok.text != self.tok.text.upper():
            raise self.error("a statement (rank, partition, iterate, init) or an Einsum "
                             "(upper-case tensor name)")
        out = self.ref()
        self.current = out.name
        self.expect("=")
        reduce_op, reduced = None, ()
        if self.tok.kind == "name" and self.tok.text.islower() and self.peek().text == "[":
            op = self.tok
            if op.text not in REDUCE_OPS:
                raise CascadeError(f"Einsum {out.name!r}: unknown reduction operator "
                                   f"{op.text!r} (known: {', '.join(REDUCE_OPS)})",
                                   einsum=out.name, line=op.line, column=op.column)
            self.i += 2
            reduced = [self.name("an index variable (lower case)", "lower").text]
            while self.accept(","):
                reduced.append(self.name("an index variable (lower case)", "lower").text)
            self.expect("]")
            reduce_op, reduced = op.text, tuple(reduced)
        expr = self.expr()
        check_depth(expr, out.name)
        implicit = False
        if reduce_op is None and _is_product(expr):
            outs = set(out.variables)
            dropped = tuple(dict.fromkeys(v for n in walk(expr) if isinstance(n, Ref)
                                          for v in n.variables if v not in outs))
            if dropped:
                reduce_op, reduced, implicit = "sum", dropped, True
        self.einsums.append(Einsum(out, expr, reduce_op, reduced, line, implicit_sum=implicit))

    # -- expressions ------------------------------------------------------------------------
    def expr(self):
        node = self.term()
        while self.tok.text in ("+", "-") and self.tok.kind == "op":
            op = "add" if self.tok.text == "+" else "sub"
            self.i += 1
            node = Op(op, (node, self.term()))
        return node

    def term(self):
        node = self.unary()
        while self.tok.text in ("*", "/") and self.tok.kind == "op":
            op = "mul" if self.tok.text == "*" else "div"
            self.i += 1
            node = Op(op, (node, self.unary()))
        return node

    def unary(self):
        if self.accept("-"):
            if self.tok.kind == "number" or self.tok.text == "inf":
                return Const(-self.atom().value)
            raise self.error("a number or inf after unary '-' (write 0 - X for a tensor)")
        return self.atom()

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return Const(float(tok.text))
        if tok.text == "inf":
            self.i += 1
            return Const(math.inf)
        if self.accept("("):
            self.nest(tok)
            node = self.expr()
            self.expect(")")
            self.depth -= 1
            return node
        if tok.kind == "name" and self.peek().text == "(":
            if tok.text not in MAP_OPS:
                raise CascadeError(f"Einsum {self.current!r}: unknown operator {tok.text!r} "
                                   f"(known: {', '.join(sorted(MAP_OPS))})", einsum=self.current,
                                   line=tok.line, column=tok.column)
            self.i += 2
            self.nest(tok)
            args = [self.expr()]
            while self.accept(","):
                args.append(self.expr())
            self.expect(")")
            self.depth -= 1
            if len(args) != MAP_OPS[tok.text]:
                raise CascadeError(f"Einsum {self.current!r}: operator {tok.text!r} takes "
                                   f"{MAP_OPS[tok.text]} operand(s), not {len(args)}",
                                   einsum=self.current, line=tok.line, column=tok.column)
            return Op(tok.text, tuple(args))
        if tok.kind == "name" and tok.text == tok.text.upper():
            return self.ref()
        raise self.error("a tensor reference, a number, an operator call or '('")

    def nest(self, tok: Token) -> None:
        """Enter one more level of parentheses or operator call; refuse past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"parentheses and operator calls nest deeper than {MAX_DEPTH} "
                            f"levels", tok)

    def ref(self) -> Ref:
        name = self.name("a tensor name (upper case)", "upper").text
        self.expect("[")
        indices = []
        if not self.accept("]"):
            indices.append(self.index())
            while self.accept(","):
                indices.append(self.index())
            self.expect("]")
        return Ref(name, tuple(indices))

    def index(self) -> Index:
        start = self.tok
        terms = [self.index_term()]
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            if self.accept("+"):
                terms.append(self.index_term())
                continue
            self.i += 1
            tok = self.tok
            if tok.kind != "number" or not tok.text.isdigit() or self.peek().text == "*":
                raise self.fail("an index may subtract only an integer offset (q+s-1)", tok)
            self.i += 1
            terms.append(Term(-int(tok.text)))
        if any(t is None for t in terms):
            raise self.fail("an index term may hold at most one index variable", start)
        return Index(tuple(terms))

    def index_term(self) -> Term | None:
        const, var, shapes, start = 1, None, [], self.tok
        while True:
            tok = self.tok
            if tok.kind == "number" and tok.text.isdigit():
                const *= int(tok.text)
            elif tok.kind == "name" and tok.text == tok.text.lower():
                if var is not None:
                    var = ""  # two variables: not affine
                else:
                    var = tok.text
            elif tok.kind == "name":
                shapes.append(tok.text)
            else:
                raise self.error("an index (variable, rank size or integer)")
            self.i += 1
            if not self.accept("*"):
                break
        if var and const == 0:
            raise self.fail(f"the coefficient of index variable {var!r} must be a positive "
                            f"integer, not 0", start)
        return None if var == "" else Term(const, var, tuple(shapes))


def _is_product(expr) -> bool:
    """True for a classical Einsum body: one reference or a product of references."""
    if isinstance(expr, Ref):
        return True
    return isinstance(expr, Op) and expr.op == "mul" and all(_is_product(a) for a in expr.args)


def parse(text: str, *, name: str = "cascade") -> Cascade:
    """Parse cascade text (one or many statements) into a validated :class:`Cascade`.

    Parameters
    ----------
    text : str
        The cascade (syntax in ``docs/cascades.md``). Without any ``rank`` statement every
        rank used is declared implicitly; with one, every rank must be declared.
    name : str
        A label for the cascade (reports, messages).

    Raises
    ------
    CascadeError
        Syntax errors (with line and column) and every structural error.
    """
    p = _Parser(text)
    p.cascade()
    if not p.einsums:
        raise CascadeError("a cascade must contain at least one Einsum, not none")
    ranks = None
    if p.declared is not None:
        ranks = list(p.declared)
        for part in p.partitions:
            ranks += [r for r in (part.outer, part.inner) if r not in ranks]
    defaults = {k: v for k, v in (p.declared or {}).items() if v is not None}
    return Cascade(p.einsums, ranks=ranks, partitions=p.partitions, iterations=p.iterations,
                   inits=p.inits, defaults=defaults, pads=p.pads, name=name)


# ----------------------------------------------------------------------------- structural checks
def ranks_used(einsums, inits, partitions, iterations) -> tuple[str, ...]:
    """Every rank a cascade mentions, in order of first use (for implicit declaration)."""
    seen: dict[str, None] = {}
    for p in partitions:
        for r in (p.parent, p.outer, p.inner):
            seen.setdefault(r)
    for it in iterations:
        seen.setdefault(rank_of(it.var))
        for t in it.bound.terms:
            for s in t.shapes:
                seen.setdefault(s)
    refs = [i.ref for i in inits] + [r for e in einsums for r in (e.output, *e.inputs)]
    for r in refs:
        for ix in r.indices:
            for t in ix.terms:
                if t.var is not None:
                    seen.setdefault(rank_of(t.var))
                for s in t.shapes:
                    seen.setdefault(s)
    for e in einsums:
        for v in e.reduced:
            seen.setdefault(rank_of(v))
    return tuple(seen)


_WRITTEN_FORMS = "a rank variable (m), an offset (m1+1), a partition (m1*M0+m0) or a constant " \
                 "(M1, 0)"
_READ_FORMS = "a rank variable (m), an offset (m1+1, p-1), an affine sum (p+r, 2*p+r-1), a " \
              "partition (m1*M0+m0) or a constant (M1, 0)"


def index_rank(ix: Index, space, where: str, tensor: str, written: bool = False) -> str | None:
    """The rank an index expression ranges over (None for a bare integer).

    An affine sum of several index variables (``p+r``, ``2*p+r``) ranges over a *derived
    dimension*, named by its ranks and coefficients (``'P+R'``, ``'2*P+R'``); a tensor may be
    read through one (``written`` False) but not written through one, nor written at a
    negative offset.
    """
    for t in ix.terms:
        for r in ([rank_of(t.var)] if t.var else []) + list(t.shapes):
            if r not in space.ranks:
                raise CascadeError(f"{where}: rank {r!r} is not declared (declared: "
                                   f"{', '.join(space.ranks)})", einsum=_einsum_of(where), rank=r)
    var_terms = [t for t in ix.terms if t.var is not None]
    shaped = [t for t in ix.terms if t.shapes]
    names = [t.var for t in var_terms]
    twice = next((v for v in names if names.count(v) > 1), None)
    if twice:
        raise CascadeError(f"{where}: index '{ix}' of tensor {tensor!r} uses index variable "
                           f"{twice!r} twice", einsum=_einsum_of(where), rank=rank_of(twice))
    negative = written and sum(t.const for t in ix.terms if t.var is None and not t.shapes) < 0
    if not var_terms:
        if len(ix.terms) == 1 and shaped and len(shaped[0].shapes) == 1 and shaped[0].const == 1:
            return shaped[0].shapes[0]
        if not shaped and not negative:
            return None
    elif not shaped and not negative:
        if len(var_terms) == 1 and var_terms[0].const == 1:
            return rank_of(var_terms[0].var)
        if not written:
            return "+".join(rank_of(t.var) if t.const == 1 else f"{t.const}*{rank_of(t.var)}"
                            for t in var_terms)
    elif len(var_terms) == 2 and len(ix.terms) == 2:
        for p in space.partitions:
            if set(ix.terms) == {Term(var=p.outer.lower(), shapes=(p.inner,)),
                                 Term(var=p.inner.lower())}:
                return p.parent
    forms = _WRITTEN_FORMS if written else _READ_FORMS
    raise CascadeError(f"{where}: index '{ix}' of tensor {tensor!r} must be {forms}, not '{ix}'",
                       einsum=_einsum_of(where))


def _einsum_of(where: str) -> str | None:
    return where.split("'")[1] if where.startswith("Einsum '") else None


def assign_ranks(space, einsums, inits):
    """Give every tensor axis a rank and check that all references of a tensor agree.

    References agree when their declared ranks agree axis by axis; a constant index (None)
    or a derived dimension (``'P+R'``) agrees with anything, so a convolution may read a
    tensor that another Einsum writes by plain ranks. An axis keeps the declared rank of any
    reference, else the first derived dimension.

    Returns ``(tensor_ranks, annotate)``: tensor -> ranks, and a function that fills
    ``Ref.ranks`` in.
    """
    def differ(a, b) -> bool:
        return a in space.ranks and b in space.ranks and a != b

    tensor_ranks: dict[str, list] = {}
    first_seen: dict[str, str] = {}
    items = [(f"init of {i.ref.name!r} (line {i.line})", i.ref, True) for i in inits]
    items += [(f"Einsum {e.name!r}", r, r is e.output) for e in einsums
              for r in (e.output, *e.inputs)]
    for where, ref, written in items:
        ranks = [index_rank(ix, space, where, ref.name, written) for ix in ref.indices]
        known = tensor_ranks.get(ref.name)
        if known is None:
            tensor_ranks[ref.name], first_seen[ref.name] = ranks, where
            continue
        clash = len(known) != len(ranks) or any(differ(a, b) for a, b in zip(known, ranks))
        if clash:
            fmt = lambda rs: "[" + ", ".join(r or "?" for r in rs) + "]"  # noqa: E731
            bad = next((b for a, b in zip(known, ranks) if differ(a, b)), None)
            raise CascadeError(f"{where}: tensor {ref.name!r} is indexed by ranks {fmt(ranks)} "
                               f"here but {fmt(known)} in {first_seen[ref.name]}",
                               einsum=_einsum_of(where), rank=bad)
        tensor_ranks[ref.name] = [a if a in space.ranks else b if b in space.ranks else a or b
                                  for a, b in zip(known, ranks)]
    frozen = {k: tuple(v) for k, v in tensor_ranks.items()}

    def annotate(ref: Ref) -> Ref:
        return Ref(ref.name, ref.indices, frozen[ref.name])

    return frozen, annotate


def validate(c: Cascade) -> None:
    """Check a cascade's structure; raise :class:`CascadeError` on the first problem."""
    sp = c.space
    for p in sp.partitions:
        if len({p.parent, p.outer, p.inner}) != 3:
            raise CascadeError(f"partition of {p.parent!r}: the outer and inner ranks must be "
                               f"two new ranks, not {p.outer!r} and {p.inner!r}", rank=p.parent)
        if p.parent not in sp.ranks:
            raise CascadeError(f"partition: rank {p.parent!r} is not declared (declared: "
                               f"{', '.join(sp.ranks)})", rank=p.parent)
    for it in sp.iterations:
        if rank_of(it.var) not in sp.ranks:
            raise CascadeError(f"iterate {it.var}: rank {rank_of(it.var)!r} is not declared "
                               f"(declared: {', '.join(sp.ranks)})", rank=rank_of(it.var))
        index_rank(it.bound, sp, f"iterate {it.var}", "stop condition")
        if it.bound.variables:
            raise CascadeError(f"iterate {it.var}: the stop bound must be a constant (M1, 8), "
                               f"not '{it.bound}'", rank=rank_of(it.var))
    producer: dict[str, int] = {}
    for k, e in enumerate(c.einsums):
        if e.name in producer:
            raise CascadeError(f"Einsum {e.name!r}: tensor {e.name!r} is produced twice "
                               f"(lines {c.einsums[producer[e.name]].line} and {e.line})",
                               einsum=e.name)
        producer[e.name] = k
    initialised = {i.ref.name for i in c.inits}
    for name in c.pads:
        if name not in c.tensor_ranks:
            raise CascadeError(f"pad of {name!r}: no Einsum reads or writes {name!r}")
    for i in c.inits:
        if i.ref.name not in producer:
            raise CascadeError(f"init of {i.ref.name!r}: no Einsum produces {i.ref.name!r}")
    for k, e in enumerate(c.einsums):
        _check_einsum(e)
        for r in e.inputs:
            p = producer.get(r.name)
            if p is not None and p >= k and r.name not in initialised:
                raise CascadeError(f"Einsum {e.name!r}: tensor {r.name!r} is used before it is "
                                   f"produced (by Einsum {r.name!r}, line "
                                   f"{c.einsums[p].line})", einsum=e.name)


def _check_einsum(e: Einsum) -> None:
    where = f"Einsum {e.name!r}"
    for n in walk(e.expr):
        if isinstance(n, Op) and (n.op not in MAP_OPS or len(n.args) != MAP_OPS[n.op]):
            raise CascadeError(f"{where}: unknown operator {n.op!r} with {len(n.args)} "
                               f"operand(s) (known: {', '.join(sorted(MAP_OPS))})", einsum=e.name)
    if e.reduce_op is not None and e.reduce_op not in REDUCE_OPS:
        raise CascadeError(f"{where}: unknown reduction operator {e.reduce_op!r} (known: "
                           f"{', '.join(REDUCE_OPS)})", einsum=e.name)
    out = e.output.variables
    rhs = tuple(dict.fromkeys(v for r in e.inputs for v in r.variables))
    for v in out:
        if v not in rhs:
            raise CascadeError(f"{where}: output rank {rank_of(v)!r} does not appear on the "
                               f"right-hand side", einsum=e.name, rank=rank_of(v))
    for v in e.reduced:
        if v in out:
            raise CascadeError(f"{where}: rank {rank_of(v)!r} is both reduced and in the "
                               f"output", einsum=e.name, rank=rank_of(v))
        if v not in rhs:
            raise CascadeError(f"{where}: reduced rank {rank_of(v)!r} does not appear on the "
                               f"right-hand side", einsum=e.name, rank=rank_of(v))
    if e.reduced and e.reduce_op is None:
        raise CascadeError(f"{where}: ranks {', '.join(e.reduced_ranks)} are reduced without an "
                           f"operator", einsum=e.name)
    for v in rhs:
        if v not in out and v not in e.reduced:
            raise CascadeError(f"{where}: rank {rank_of(v)!r} is dropped from the output without "
                               f"a reduction; write sum[{v}] or max[{v}]", einsum=e.name,
                               rank=rank_of(v))


def format_cascade(c: Cascade) -> str:
    """Cascade text that :func:`parse` reads back into an equal cascade."""
    d = c.space.defaults
    implied = {r for p in c.space.partitions for r in (p.outer, p.inner) if r not in d}
    decl = [r + (f" = {d[r]}" if r in d else "") for r in c.space.ranks if r not in implied]
    lines = [f"# {c.name}", "rank " + ", ".join(decl)]
    lines += [f"partition {p.parent} into {p.outer}, {p.inner}" for p in c.space.partitions]
    lines += [str(it) for it in c.space.iterations]
    lines += [f"init {i.ref} = {Const(i.value)}" for i in c.inits]
    lines += [f"pad {n} = {Const(v)}" for n, v in c.pads.items()]
    lines += [str(e) for e in c.einsums]
    return "\n".join(lines) + "\n"
