"""Python values for PostgreSQL types that have no built-in Python equivalent (``asyncpg.types``).

Same names, constructors, properties, reprs, equality and hashing as asyncpg 0.32, so values
round-trip between the two drivers and user code that inspects them keeps working.
"""

from __future__ import annotations

import operator
import typing

__all__ = (
    "Attribute",
    "BitString",
    "Box",
    "Circle",
    "Line",
    "LineSegment",
    "Path",
    "Point",
    "Polygon",
    "Range",
    "ServerVersion",
    "Type",
)


class Type(typing.NamedTuple):
    """Database data type."""

    oid: int
    name: str
    kind: str
    schema: str


Type.oid.__doc__ = "OID of the type."
Type.name.__doc__ = "Type name.  For example, 'int2'."
Type.kind.__doc__ = 'Type kind: "scalar", "array", "composite" or "range".'
Type.schema.__doc__ = "Name of the schema the type is defined in."


class Attribute(typing.NamedTuple):
    """Database relation attribute."""

    name: str
    type: Type


Attribute.name.__doc__ = "Attribute name."
Attribute.type.__doc__ = "Attribute data type :class:`asyncpg_rs.types.Type`."


class ServerVersion(typing.NamedTuple):
    """PostgreSQL server version tuple."""

    major: int
    minor: int
    micro: int
    releaselevel: str
    serial: int


_RV = typing.TypeVar("_RV")


class Range(typing.Generic[_RV]):
    """Immutable representation of PostgreSQL `range` type."""

    __slots__ = ("_empty", "_lower", "_lower_inc", "_upper", "_upper_inc")

    def __init__(
        self,
        lower: _RV | None = None,
        upper: _RV | None = None,
        *,
        lower_inc: bool = True,
        upper_inc: bool = False,
        empty: bool = False,
    ) -> None:
        self._empty = empty
        if empty:
            # An empty range has no bounds at all.
            self._lower = self._upper = None
            self._lower_inc = self._upper_inc = False
        else:
            self._lower = lower
            self._upper = upper
            # An infinite bound is never inclusive.
            self._lower_inc = lower_inc if lower is not None else False
            self._upper_inc = upper_inc if upper is not None else False

    @property
    def lower(self) -> _RV | None:
        return self._lower

    @property
    def lower_inc(self) -> bool:
        return self._lower_inc

    @property
    def lower_inf(self) -> bool:
        return self._lower is None and not self._empty

    @property
    def upper(self) -> _RV | None:
        return self._upper

    @property
    def upper_inc(self) -> bool:
        return self._upper_inc

    @property
    def upper_inf(self) -> bool:
        return self._upper is None and not self._empty

    @property
    def isempty(self) -> bool:
        return self._empty

    def _lower_within(self, other: Range[_RV]) -> bool:
        # Does our lower bound start no earlier than `other`'s?
        if other._lower is None:
            return True
        if self._lower is None:
            return False
        if self._lower == other._lower:
            return bool(other._lower_inc) or not self._lower_inc
        return bool(self._lower > other._lower)  # type: ignore[operator]  # bounds of one range type are comparable

    def _upper_within(self, other: Range[_RV]) -> bool:
        # Does our upper bound end no later than `other`'s?
        if other._upper is None:
            return True
        if self._upper is None:
            return False
        if self._upper == other._upper:
            return bool(other._upper_inc) or not self._upper_inc
        return bool(self._upper < other._upper)  # type: ignore[operator]  # bounds of one range type are comparable

    def issubset(self, other: Range[_RV]) -> bool:
        """True if every value of this range is in `other` (bounds compared, not normalised)."""
        if self._empty:
            return True
        if other._empty:
            return False
        return self._lower_within(other) and self._upper_within(other)

    def issuperset(self, other: Range[_RV]) -> bool:
        """True if every value of `other` is in this range."""
        return other.issubset(self)

    def __bool__(self) -> bool:
        return not self._empty

    def _key(self) -> tuple[typing.Any, ...]:
        return (self._lower, self._upper, self._lower_inc, self._upper_inc, self._empty)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self._empty:
            return "<Range empty>"
        lower = "" if self._lower is None else repr(self._lower)
        upper = "" if self._upper is None else repr(self._upper)
        opening = "[" if self._lower_inc else "("
        closing = "]" if self._upper_inc else ")"
        return f"<Range {opening}{lower}, {upper}{closing}>"

    __str__ = __repr__


_BitOrder = typing.Literal["big", "little"]


def _reverse_bits(value: int, width: int) -> int:
    return int(format(value, f"0{width}b")[::-1], 2) if width else 0


class BitString:
    """Immutable representation of PostgreSQL `bit` and `varbit` types."""

    __slots__ = ("_bitlength", "_bytes")

    def __init__(self, bitstring: str | None = None) -> None:
        if bitstring is None:
            bitstring = ""
        bits = []
        for position, char in enumerate(bitstring):
            if char == " ":
                continue
            bit = int(char)
            if bit not in (0, 1):
                raise ValueError(f"invalid bit value at position {position}")
            bits.append(bit)
        value = int("".join(map(str, bits)) or "0", 2)
        self._bitlength = len(bits)
        nbytes = (self._bitlength + 7) // 8
        self._bytes = (value << (nbytes * 8 - self._bitlength)).to_bytes(nbytes, "big")

    @classmethod
    def frombytes(cls, bytes_: bytes | None = None, bitlength: int | None = None) -> BitString:
        """Make a BitString from bytes, the first `bitlength` bits of which are used."""
        if bitlength is None:
            if bytes_ is None:
                bytes_ = b""
            bitlength = len(bytes_) * 8
        elif bytes_ is None:
            # As asyncpg: zero bits in one more byte than whole bytes need.
            bytes_ = bytes(bitlength // 8 + 1)
        else:
            available = len(bytes_) * 8
            # The bits must end in the last byte (no whole unused byte), and be nonzero iff
            # there are bytes.
            if (available == 0) != (bitlength == 0) or not available - 8 <= bitlength <= available:
                raise ValueError("invalid bit length specified")
        result = cls()
        result._bytes = bytes_
        result._bitlength = bitlength
        return result

    @property
    def bytes(self) -> bytes:
        return self._bytes

    def as_string(self) -> str:
        """The bits as '0'/'1' characters, in groups of four separated by spaces."""
        bits = "".join(str(self._bit(i)) for i in range(self._bitlength))
        return " ".join(bits[i : i + 4] for i in range(0, len(bits), 4))

    def to_int(self, bitorder: _BitOrder = "big", *, signed: bool = False) -> int:
        """The bits as an integer (first bit most significant for 'big')."""
        if bitorder not in ("big", "little"):
            raise ValueError("bitorder must be either 'big' or 'little'")
        width = self._bitlength
        # Drop the padding of the last byte (as asyncpg, surplus leading bytes are kept).
        value = int.from_bytes(self._bytes, "big") >> (-width % 8)
        if bitorder == "little":
            value = _reverse_bits(value, width)
        if signed and width and value & (1 << (width - 1)):
            value -= 1 << width
        return value

    @classmethod
    def from_int(
        cls, x: int, length: int, bitorder: _BitOrder = "big", *, signed: bool = False
    ) -> BitString:
        """Make a `length`-bit BitString from the integer `x`."""
        if length < 0:
            raise ValueError("length argument must be non-negative")
        if x.bit_length() > length:
            raise OverflowError("int too big to convert")
        if x < 0:
            if not signed:
                raise OverflowError("can't convert negative int to unsigned")
            x &= (1 << length) - 1
        if bitorder not in ("big", "little"):
            raise ValueError("bitorder must be either 'big' or 'little'")
        if bitorder == "little":
            x = _reverse_bits(x, length)
        nbytes = (length + 7) // 8
        return cls.frombytes((x << (nbytes * 8 - length)).to_bytes(nbytes, "big"), length)

    def _bit(self, i: int) -> int:
        return (self._bytes[i >> 3] >> (7 - (i & 7))) & 1

    def __getitem__(self, i: int) -> int:
        if isinstance(i, slice):
            raise NotImplementedError("BitString does not support slices")
        i = operator.index(i)
        if i < 0:
            i += self._bitlength
        if not 0 <= i < self._bitlength:
            raise IndexError("index out of range")
        return self._bit(i)

    def __len__(self) -> int:
        return self._bitlength

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitString):
            return NotImplemented
        return self._bytes == other._bytes and self._bitlength == other._bitlength

    def __hash__(self) -> int:
        return hash((self._bytes, self._bitlength))

    def __repr__(self) -> str:
        return f"<BitString {self.as_string()}>"

    __str__ = __repr__


class Point(tuple):
    """Immutable representation of PostgreSQL `point` type."""

    __slots__ = ()

    def __new__(cls, x: typing.SupportsFloat | str | bytes, y: typing.SupportsFloat | str | bytes):
        return super().__new__(cls, (float(x), float(y)))

    def __getnewargs__(self) -> tuple[float, float]:
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}({tuple(self)!r})"

    @property
    def x(self) -> float:
        return self[0]

    @property
    def y(self) -> float:
        return self[1]


class Box(tuple):
    """Immutable representation of PostgreSQL `box` type."""

    __slots__ = ()

    def __new__(cls, high: typing.Sequence[float], low: typing.Sequence[float]):
        return super().__new__(cls, (Point(*high), Point(*low)))

    def __getnewargs__(self) -> tuple[Point, Point]:
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}({tuple(self)!r})"

    @property
    def high(self) -> Point:
        return self[0]

    @property
    def low(self) -> Point:
        return self[1]


class Line(tuple):
    """Immutable representation of PostgreSQL `line` type."""

    __slots__ = ()

    def __new__(cls, A: float, B: float, C: float):
        return super().__new__(cls, (A, B, C))

    def __getnewargs__(self) -> tuple[float, float, float]:
        return (self[0], self[1], self[2])

    @property
    def A(self) -> float:
        return self[0]

    @property
    def B(self) -> float:
        return self[1]

    @property
    def C(self) -> float:
        return self[2]


class LineSegment(tuple):
    """Immutable representation of PostgreSQL `lseg` type."""

    __slots__ = ()

    def __new__(cls, p1: typing.Sequence[float], p2: typing.Sequence[float]):
        return super().__new__(cls, (Point(*p1), Point(*p2)))

    def __getnewargs__(self) -> tuple[Point, Point]:
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}({tuple(self)!r})"

    @property
    def p1(self) -> Point:
        return self[0]

    @property
    def p2(self) -> Point:
        return self[1]


class Circle(tuple):
    """Immutable representation of PostgreSQL `circle` type."""

    __slots__ = ()

    def __new__(cls, center: Point, radius: float):
        return super().__new__(cls, (center, radius))

    def __getnewargs__(self) -> tuple[Point, float]:
        return (self[0], self[1])

    @property
    def center(self) -> Point:
        return self[0]

    @property
    def radius(self) -> float:
        return self[1]


class Path:
    """Immutable representation of PostgreSQL `path` type."""

    __slots__ = ("_is_closed", "points")

    def __init__(self, *points: typing.Sequence[float], is_closed: bool = False) -> None:
        self.points = tuple(Point(*p) for p in points)
        self._is_closed = is_closed

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Path):
            return NotImplemented
        return self.points == other.points and self._is_closed == other._is_closed

    def __hash__(self) -> int:
        return hash((self.points, self._is_closed))

    def __iter__(self) -> typing.Iterator[Point]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int | slice) -> Point | tuple[Point, ...]:
        return self.points[i]

    def __contains__(self, point: object) -> bool:
        return point in self.points


class Polygon(Path):
    """Immutable representation of PostgreSQL `polygon` type."""

    __slots__ = ()

    def __init__(self, *points: typing.Sequence[float]) -> None:
        super().__init__(*points, is_closed=True)
