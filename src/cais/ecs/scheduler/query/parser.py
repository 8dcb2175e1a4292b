"""A recursive-descent parser for the cluster query language.

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expression := conjunction (("or" | "||") conjunction)*
    conjunction := negation (("and" | "&&") negation)*
    negation   := ("not" | "!") negation | "(" expression ")" | comparison
    comparison := subject operator [argument]
    subject    := attribute:<name> | task:group | agentConnected | agentVersion
                | ec2InstanceId | registeredAt | runningTasksCount
    argument   := value | "[" value ("," value)* "]"      (a list for in / not_in)
    value      := bare-word | 'quoted' | "quoted"

Operators are written as symbols or words: ``==``/``equals``, ``!=``/``not_equals``,
``>``/``greater_than``, ``>=``/``greater_than_equal``, ``<``/``less_than``,
``<=``/``less_than_equal``, ``exists``, ``!exists``/``not_exists``, ``in``,
``!in``/``not_in``, ``=~``/``matches``, ``!~``/``not_matches``.
"""

from __future__ import annotations

from cais.ecs.scheduler.errors import ExpressionError
from cais.ecs.scheduler.query.lexer import Token, TokenKind, tokenize
from cais.ecs.scheduler.query.nodes import And, Comparison, Expression, Not, Operator, Or
from cais.ecs.scheduler.query.nodes import SubjectKind as Kind
from cais.ecs.scheduler.query.predicates import VALID_OPERATORS, Argument, build_predicate

MAX_LENGTH = 2000
"""ECS refuses constraint expressions longer than this."""

_SUBJECTS = {
    "agentConnected": Kind.AGENT_CONNECTED,
    "agentVersion": Kind.AGENT_VERSION,
    "ec2InstanceId": Kind.EC2_INSTANCE_ID,
    "registeredAt": Kind.REGISTERED_AT,
    "runningTasksCount": Kind.RUNNING_TASKS_COUNT,
    "task:group": Kind.TASK_GROUP,
}
_SUBJECT_LIST = "attribute:<name>, task:group, " + ", ".join(
    name for name in _SUBJECTS if name != "task:group"
)

_OPERATOR_SYMBOLS = {
    "==": Operator.EQUALS,
    "!=": Operator.NOT_EQUALS,
    ">": Operator.GREATER,
    ">=": Operator.GREATER_EQUAL,
    "<": Operator.LESS,
    "<=": Operator.LESS_EQUAL,
    "=~": Operator.MATCHES,
    "!~": Operator.NOT_MATCHES,
}
_OPERATOR_WORDS = {
    "equals": Operator.EQUALS,
    "not_equals": Operator.NOT_EQUALS,
    "greater_than": Operator.GREATER,
    "greater_than_equal": Operator.GREATER_EQUAL,
    "less_than": Operator.LESS,
    "less_than_equal": Operator.LESS_EQUAL,
    "exists": Operator.EXISTS,
    "not_exists": Operator.NOT_EXISTS,
    "in": Operator.IN,
    "not_in": Operator.NOT_IN,
    "matches": Operator.MATCHES,
    "not_matches": Operator.NOT_MATCHES,
}
_BANG_WORDS = {"in": Operator.NOT_IN, "exists": Operator.NOT_EXISTS}


def parse_expression(text: str) -> Expression:
    """Parse a cluster query language expression; raises ExpressionError naming the column."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is longer than {MAX_LENGTH} characters", expression=text, position=0
        )
    if not text.strip():
        raise ExpressionError("expression is empty", expression=text, position=0)
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- token helpers ------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def at_symbol(self, *symbols: str) -> bool:
        return self.token.kind is TokenKind.SYMBOL and self.token.text in symbols

    def at_word(self, *words: str) -> bool:
        return self.token.kind is TokenKind.WORD and self.token.text in words

    def error(self, detail: str, token: Token | None = None) -> ExpressionError:
        where = token or self.token
        return ExpressionError(detail, expression=self.text, position=where.position)

    # -- grammar ------------------------------------------------------------------------

    def parse(self) -> Expression:
        expression = self.disjunction()
        if self.token.kind is not TokenKind.END:
            closing = " or ')'" if self.depth else ""
            if self.at_symbol(")"):
                raise self.error("unbalanced ')': no '(' to close")
            raise self.error(
                f"expected 'and', 'or'{closing} or end of expression, found {self.token.describe()}"
            )
        return expression

    def disjunction(self) -> Expression:
        expression = self.conjunction()
        while self.at_word("or") or self.at_symbol("||"):
            self.advance()
            expression = Or(expression, self.conjunction())
        return expression

    def conjunction(self) -> Expression:
        expression = self.negation()
        while self.at_word("and") or self.at_symbol("&&"):
            self.advance()
            expression = And(expression, self.negation())
        return expression

    def negation(self) -> Expression:
        if self.at_word("not") or self.at_symbol("!"):
            self.advance()
            return Not(self.negation())
        if self.at_symbol("("):
            opening = self.advance()
            self.depth += 1
            expression = self.disjunction()
            if not self.at_symbol(")"):
                if self.token.kind is TokenKind.END:
                    raise self.error("unbalanced '(': missing ')'", opening)
                raise self.error(f"expected 'and', 'or' or ')', found {self.token.describe()}")
            self.advance()
            self.depth -= 1
            return expression
        return self.comparison()

    def comparison(self) -> Comparison:
        start = self.token
        kind, attribute = self.subject()
        operator_token = self.token
        operator = self.operator(start)
        if operator not in VALID_OPERATORS[kind]:
            valid = ", ".join(op.value for op in Operator if op in VALID_OPERATORS[kind])
            raise self.error(
                f"operator '{operator.value}' cannot be used with {start.text}; use one of {valid}",
                operator_token,
            )
        arguments = self.arguments(operator)
        test = build_predicate(kind, attribute, operator, arguments, expression=self.text)
        return Comparison(
            subject=kind,
            operator=operator,
            arguments=tuple(a.text for a in arguments),
            attribute=attribute,
            position=start.position,
            test=test,
        )

    def subject(self) -> tuple[Kind, str | None]:
        token = self.token
        if token.kind is not TokenKind.WORD:
            raise self.error(f"expected a subject ({_SUBJECT_LIST}), found {token.describe()}")
        self.advance()
        if token.text.startswith("attribute:"):
            name = token.text.removeprefix("attribute:")
            if not name:
                raise self.error("attribute: needs a name, as in attribute:stack", token)
            return Kind.ATTRIBUTE, name
        kind = _SUBJECTS.get(token.text)
        if kind is None:
            raise self.error(f"unknown subject '{token.text}'; use one of {_SUBJECT_LIST}", token)
        return kind, None

    def operator(self, subject: Token) -> Operator:
        token = self.token
        if token.kind is TokenKind.SYMBOL and token.text in _OPERATOR_SYMBOLS:
            self.advance()
            return _OPERATOR_SYMBOLS[token.text]
        if token.kind is TokenKind.SYMBOL and token.text == "!":
            after = self.peek()
            if after.kind is TokenKind.WORD and after.text in _BANG_WORDS:
                self.advance()
                self.advance()
                return _BANG_WORDS[after.text]
        if token.kind is TokenKind.WORD and token.text in _OPERATOR_WORDS:
            self.advance()
            return _OPERATOR_WORDS[token.text]
        raise self.error(f"expected an operator after '{subject.text}', found {token.describe()}")

    def arguments(self, operator: Operator) -> list[Argument]:
        if not operator.takes_argument:
            return []
        if operator.takes_list:
            return self.value_list(operator)
        if self.at_symbol("["):
            raise self.error(f"operator '{operator.value}' takes one value, not a list")
        return [self.value(operator)]

    def value_list(self, operator: Operator) -> list[Argument]:
        if not self.at_symbol("["):
            raise self.error(
                f"operator '{operator.value}' takes a list such as [a, b], "
                f"found {self.token.describe()}"
            )
        opening = self.advance()
        values = [self.value(operator)]
        while self.at_symbol(","):
            self.advance()
            values.append(self.value(operator))
        if not self.at_symbol("]"):
            if self.token.kind is TokenKind.END:
                raise self.error("unbalanced '[': missing ']'", opening)
            raise self.error(f"expected ',' or ']' in the list, found {self.token.describe()}")
        self.advance()
        return values

    def value(self, operator: Operator) -> Argument:
        token = self.token
        if token.kind in (TokenKind.WORD, TokenKind.STRING):
            self.advance()
            return Argument(token.text, token.position)
        raise self.error(f"expected a value after '{operator.value}', found {token.describe()}")
