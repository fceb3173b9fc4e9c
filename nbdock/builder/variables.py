"""Variables in a Dockerfile: ``$NAME`` substitution, and which ARG values are in scope.

Docker substitutes variables itself, before the instruction runs, in these
instructions only::

    ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR ARG

RUN, CMD and ENTRYPOINT are left alone: their text is handed to ``/bin/sh -c``
inside the container, and *that* shell expands ``$HOME``.  So in ::

    ENV DIR=/srv
    WORKDIR $DIR          # Docker substitutes: the builder mkdirs /srv
    RUN echo $DIR         # the container's shell substitutes, at run time

both lines see ``/srv``, but through two different programs.

The substitution follows moby/buildkit's ``shell.Lex`` (the small shell
lexer Docker's classic builder uses), not a real shell: ``$V``, ``${V}``,
``${V:-default}``, ``${V:+alternative}``, ``${V?message}``/``${V:?message}``,
single quotes suppress substitution, double quotes do not, and the escape
character (``\\`` or the backtick chosen with ``# escape=``) makes the next
character literal.  There is no command substitution, no arithmetic and no
globbing.

The environment a word is expanded in is the image's ENV values plus the
ARG values in scope (ENV wins when both define a name).  :class:`BuildArgs`
keeps track of which ARGs are in scope and which ``--build-arg`` values were
used, exactly as Docker does, including its warning about unused ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nbdock.errors import InvalidArgument

from ..goformat import go_quote, is_go_space

_EOF = ""  # what the scanner returns past the end of the word


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """``word`` with its variables substituted and its quotes and escapes removed.

    >>> expand('"$GREETING, ${NAME:-world}"', {"GREETING": "hello"})
    'hello, world'
    """
    result, _ = _Lexer(word, env, escape).process()
    return result


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``text`` substituted and then split into words, as EXPOSE needs.

    Splitting happens *after* substitution, so one variable can hold several
    words (``P="80 443"`` makes ``EXPOSE $P`` two ports), while quoted text
    stays one word.
    """
    _, words = _Lexer(text, env, escape).process()
    return words


class _Words:
    """The words of the text being expanded, for :func:`expand_words`.

    Characters that came from a variable's value or from the text itself
    split words at spaces; characters that were quoted or escaped never do.
    """

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_go_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Lexer:
    """One pass over one word, reading it character by character."""

    def __init__(self, source: str, env: Mapping[str, str], escape: str):
        self.source = source
        self.pos = 0
        self.env = env
        self.escape = escape

    def process(self) -> tuple[str, list[str]]:
        try:
            return self.process_until(_EOF)
        except InvalidArgument as err:
            raise InvalidArgument(f"failed to process {go_quote(self.source)}: {err.message}") from None

    # -- the scanner ---------------------------------------------------

    def peek(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else _EOF

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    # -- the grammar ---------------------------------------------------

    def process_until(self, stop: str) -> tuple[str, list[str]]:
        """Read up to ``stop`` (or the end of the text when ``stop`` is ``_EOF``)."""
        result: list[str] = []
        words = _Words()
        while self.peek() != _EOF:
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.finish()
            if ch == "'":
                text = self.single_quoted()
                words.add_raw(text)
            elif ch == '"':
                text = self.double_quoted()
                words.add_raw(text)
            elif ch == "$":
                text = self.dollar()
                words.add_string(text)
            else:
                text = self.next()
                if text == self.escape:
                    text = self.next()  # the escaped character, taken literally
                    if text == _EOF:
                        break  # an escape at the very end is dropped
                    words.add_raw(text)
                else:
                    words.add_char(text)
            result.append(text)
        if stop:
            raise InvalidArgument(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quoted(self) -> str:
        """Everything up to the next ``'`` is literal: no variables, no escapes."""
        self.next()
        text = []
        while True:
            ch = self.next()
            if ch == _EOF:
                raise InvalidArgument("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(text)
            text.append(ch)

    def double_quoted(self) -> str:
        """Literal except ``$`` substitutions; the escape character only escapes ``"``, ``$`` and itself."""
        self.next()
        text = []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise InvalidArgument("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(text)
            if ch == "$":
                text.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if following == _EOF:
                    continue  # an escape at the very end is dropped
                if following in ('"', "$", self.escape):
                    ch = self.next()
            text.append(ch)

    def dollar(self) -> str:
        """``$NAME`` or one of the ``${...}`` forms."""
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"  # a lone dollar sign stays
            return self.env.get(name, "")

        self.next()
        if self.peek() == _EOF:
            raise InvalidArgument("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise InvalidArgument("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        if ch == "?":
            message = self.modifier_word()
            if name not in self.env:
                raise InvalidArgument(f"{name}: {message or 'is not allowed to be unset'}")
            return self.env[name]
        if ch == ":":
            return self.colon_modifier(name)
        raise InvalidArgument("missing ':' in substitution")

    def colon_modifier(self, name: str) -> str:
        """``${NAME:-word}``, ``${NAME:+word}`` and ``${NAME:?message}``."""
        modifier = self.next()
        word = self.modifier_word()
        value = self.env.get(name, "")
        if modifier == "-":
            return value or word
        if modifier == "+":
            return word if value else ""
        if modifier == "?":
            if name not in self.env:
                raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
            if not value:
                raise InvalidArgument(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        raise InvalidArgument(f"unsupported modifier ({modifier}) in substitution")

    def modifier_word(self) -> str:
        """The word after a modifier, up to ``}``; it may itself contain substitutions."""
        try:
            word, _ = self.process_until("}")
        except InvalidArgument:
            if self.peek() == _EOF:
                raise InvalidArgument("syntax error: missing '}'") from None
            raise
        return word

    def name(self) -> str:
        """A variable name: letters, digits and ``_``; or all-digit (``$1``); or one special character."""
        name = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not name and ch.isdecimal():
                while self.peek() != _EOF and self.peek().isdecimal():
                    name.append(self.next())
                return "".join(name)
            if not name and ch in "@*#?-$!0":  # the shell's special parameters
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(self.next())
        return "".join(name)


# ---------------------------------------------------------------------------
# Build arguments


#: ``--build-arg`` values Docker accepts without a matching ARG, and never
#: reports as unused (so that a proxy can be passed to every build).
BUILTIN_BUILD_ARGS = frozenset(
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"]
)


class BuildArgs:
    """Which ARG values a build step can see, and which ``--build-arg`` values were used.

    Three scopes, as in Docker's classic builder:

    * *meta args*: ARGs before the first FROM; they can be used in FROM lines only;
    * *allowed args*: ARGs declared in the current stage; they are what
      substitution and RUN's environment see.  A stage starts with none:
      ``ARG NAME`` (no value) inside the stage brings a meta arg's value in;
    * *options*: the user's ``--build-arg NAME=value``, which override the
      defaults, but only for names some ARG declares (or the proxy builtins).

    An option is *consumed* as soon as an ARG of that name is declared
    anywhere in the build; Docker warns about the others at the end.
    """

    def __init__(self, options: Mapping[str, str | None]):
        #: --build-arg values; None means the client named the arg without a value
        self.options = dict(options)
        #: ARG name -> default value (None: declared without one) in the current stage
        self.allowed: dict[str, str | None] = {}
        #: same, for the ARGs before the first FROM
        self.meta: dict[str, str | None] = {}
        #: every ARG name the Dockerfile declared so far
        self.referenced: set[str] = set()

    def for_new_stage(self) -> BuildArgs:
        """The arguments a new stage starts with: the meta args, but no allowed ones."""
        stage = BuildArgs(self.options)
        stage.meta = dict(self.meta)
        stage.referenced = set(self.referenced)
        return stage

    def merge_referenced(self, stage: BuildArgs) -> None:
        """Record that the ARGs a finished stage declared were used."""
        self.referenced |= stage.referenced

    def add_meta_arg(self, name: str, default: str | None) -> None:
        """An ARG before the first FROM (it is also in scope for the next meta args)."""
        self.add_arg(name, default)
        self.meta[name] = default

    def add_arg(self, name: str, default: str | None) -> None:
        """An ARG inside a stage."""
        self.allowed[name] = default
        self.referenced.add(name)

    def allowed_values(self) -> dict[str, str]:
        """The ARG values in scope in the current stage (builtins included when given)."""
        return self._values(self.allowed)

    def meta_values(self) -> dict[str, str]:
        """The values FROM lines are expanded with."""
        return self._values(self.meta)

    def environment(self, image_env: Iterable[str]) -> dict[str, str]:
        """What variables expand to in a step: the image's ``NAME=value`` ENV list, plus
        the ARG values in scope that ENV does not override."""
        env = dict(_split_env(item) for item in image_env)
        for name, value in self.allowed_values().items():
            env.setdefault(name, value)
        return env

    def run_environment(self, image_env: Iterable[str]) -> list[str]:
        """The ``NAME=value`` ARG values a RUN step gets on top of the image's ENV."""
        env_names = {_split_env(item)[0] for item in image_env}
        return [f"{name}={value}" for name, value in self.allowed_values().items() if name not in env_names]

    def is_referenced_or_not_builtin(self, name: str) -> bool:
        """Whether ``name`` may show in the image's history: proxy settings stay
        out of it unless the Dockerfile declared them with ARG."""
        return name in self.allowed or name not in BUILTIN_BUILD_ARGS

    def unused_warning(self) -> str | None:
        """Docker's end-of-build warning about --build-arg values no ARG declared."""
        unused = sorted(name for name in self.options if name not in self.referenced and name not in BUILTIN_BUILD_ARGS)
        if not unused:
            return None
        return f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n"

    def _values(self, declared: Mapping[str, str | None]) -> dict[str, str]:
        values = {}
        for name in [*declared, *sorted(BUILTIN_BUILD_ARGS)]:
            value = self._value(name, declared)
            if value is not None:
                values[name] = value
        return values

    def _value(self, name: str, declared: Mapping[str, str | None]) -> str | None:
        """The value of one arg, or None when it has none.

        The user's --build-arg wins; an ARG declared without a default takes
        the meta arg's value; otherwise the ARG's own default applies.
        """
        if self.options.get(name) is not None:
            return self.options[name]
        if declared.get(name) is None:
            return self.meta.get(name)
        return declared[name]


def _split_env(item: str) -> tuple[str, str]:
    name, _, value = item.partition("=")
    return name, value
