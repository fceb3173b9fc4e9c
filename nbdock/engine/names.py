"""Container names: checking the ones users choose, inventing the ones they don't.

Docker names an unnamed container "<adjective>_<surname>", the surname of a
scientist or engineer, and retries with a number when the pair is taken.
"""

from __future__ import annotations

import re
import secrets

from ..errors import InvalidArgument

VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold boring brave busy "
    "charming clever compassionate competent condescending confident cool cranky crazy dazzling determined "
    "distracted dreamy eager ecstatic elastic elated elegant eloquent epic exciting fervent festive flamboyant "
    "focused friendly frosty funny gallant gifted goofy gracious great happy hardcore heuristic hopeful hungry "
    "infallible inspiring intelligent interesting jolly jovial keen kind laughing loving lucid magical modest "
    "musing mystifying naughty nervous nice nifty nostalgic objective optimistic peaceful pedantic pensive "
    "practical priceless quirky quizzical recursing relaxed reverent romantic sad serene sharp silly sleepy "
    "stoic strange stupefied suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant "
    "vigorous wizardly wonderful xenodochial youthful zealous zen"
).split()

SURNAMES = (
    "agnesi albattani allen almeida archimedes ardinghelli aryabhata austin babbage banach bardeen bartik "
    "bassi bell bhabha bhaskara black blackwell bohr booth borg bose boyd brahmagupta brattain brown buck "
    "burnell cannon carson cartwright cerf chandrasekhar chaplygin chatelet chatterjee chaum clarke colden "
    "cori cray curie darwin davinci dewdney dhawan diffie dijkstra dirac driscoll dubinsky easley edison "
    "einstein elion ellis engelbart euclid euler faraday feistel fermat fermi feynman franklin gagarin "
    "galileo galois gates gauss germain goldberg goldstine goldwasser golick goodall gould greider grothendieck "
    "haibt hamilton haslett hawking hellman heisenberg hermann herschel hertz heyrovsky hodgkin hofstadter "
    "hoover hopper hugle hypatia jackson jang jemison jennings jepsen johnson joliot jones kalam kapitsa kare "
    "keldysh keller kepler khayyam khorana kilby kirch knuth kowalevski lalande lamarr lamport leakey "
    "leavitt lederberg lehmann lewin lichterman liskov lovelace lumiere mahavira margulis matsumoto maxwell "
    "mayer mccarthy mcclintock mclaren mclean mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani "
    "moore morse murdock napier nash neumann newton nightingale nobel noether northcutt noyce panini pare "
    "pascal pasteur payne perlman pike poincare poitras proskuriakova ptolemy raman ramanujan ride ritchie "
    "rhodes robinson roentgen rosalind rubin saha sammet sanderson satoshi shamir shannon shaw shirley "
    "shockley shtern sinoussi snyder solomon spence stonebraker sutherland swanson swartz swirles taussig "
    "tesla tharp thompson torvalds tu turing varahamihira vaughan villani visvesvaraya volhard wescoff "
    "wilbur wiles williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky"
).split()


def check(name: str) -> str:
    """The name without its leading "/", or InvalidArgument with Docker's message."""
    if not VALID_NAME.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def generate(taken) -> str:
    """A fresh "<adjective>_<surname>" not in ``taken``."""
    for attempt in range(10):
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if attempt:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    while True:
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}{secrets.randbelow(1000)}"
        if name not in taken:
            return name
