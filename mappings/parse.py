"""The cascade language: tokenizer, recursive-descent parser and printer.

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
    format A[M,K] = U, C              # A stored rank M then K: M uncompressed, K compressed (CSR)

Grammar (EBNF)::

    cascade   = { [statement] (NEWLINE | ";") } ;
    statement = "rank" rankdecl {"," rankdecl} | "partition" RANK "into" RANK "," RANK
              | "iterate" var "until" var ("<="|">="|">"|"==") index | "init" ref "=" number
              | "pad" TENSOR "=" number
              | "format" TENSOR "[" RANK {"," RANK} "]" "=" FMT {"," FMT}
              | ref "=" [ ("sum"|"max") "[" var {"," var} "]" ] expr ;
    expr      = term {("+"|"-") term} ;   term = unary {("*"|"/") unary} ;
    unary     = "-" (NUMBER | "inf") | atom ;
    atom      = NUMBER | "inf" | ref | op "(" expr {"," expr} ")" | "(" expr ")" ;
    ref       = TENSOR "[" [index {"," index}] "]" ;
    index     = product {"+" product | "-" INT} ;   product = factor {"*" factor} ;
    factor    = var | RANK | INT ;   FMT = "U" | "C" ;

The structural rules a parsed cascade must also satisfy live in :mod:`mappings.structure`.
Tensor and rank names are upper case, index variables and operators lower case. Parentheses
and operator calls nest at most ``MAX_DEPTH`` levels, and so do the operators of one
right-hand side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mappings.einsum import (MAP_OPS, MAX_DEPTH, RANK_FORMATS, REDUCE_OPS, Cascade, CascadeError, Const, Einsum,
                             Index, Init, Iteration, Op, Partition, Ref, Term, check_depth,
                             format_cascade, walk)  # format_cascade: parse's inverse, re-exported

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+) | (?P<comment>\#[^\n]*) | (?P<nl>\n|;)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>>=|<=|==|[\[\](),=+\-*/<>])
""", re.VERBOSE)
_KEYWORDS = ("rank", "ranks", "partition", "iterate", "init", "pad", "format")


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
        self.formats: dict[str, tuple] = {}
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

    def st_format(self) -> None:
        tok = self.name("a tensor name (upper case)", "upper")
        if tok.text in self.formats:
            raise self.fail(f"tensor {tok.text!r} has two formats", tok)
        self.expect("[")
        ranks = [self.name("a rank name (upper case)", "upper").text]
        while self.accept(","):
            ranks.append(self.name("a rank name (upper case)", "upper").text)
        self.expect("]")
        self.expect("=")
        kinds = [self.name("a rank format (U or C)").text]
        while self.accept(","):
            kinds.append(self.name("a rank format (U or C)").text)
        bad = [k for k in kinds if k not in RANK_FORMATS]
        if bad:
            raise self.fail(f"format of {tok.text!r}: a rank format is U (uncompressed) or C "
                            f"(compressed), not {bad[0]!r}", tok)
        if len(kinds) != len(ranks):
            raise self.fail(f"format of {tok.text!r}: {len(ranks)} ranks need {len(ranks)} "
                            f"rank formats, not {len(kinds)}", tok)
        self.formats[tok.text] = tuple(zip(ranks, kinds))

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
                   inits=p.inits, defaults=defaults, pads=p.pads, formats=p.formats, name=name)
