"""What a simulated Dropbox team is made of: catalogues, id generators and the internal records.

Pure data and small functions of a ``random.Random``; no module state changes. The records are
``__slots__`` dataclasses holding compact values (epoch seconds, catalogue indexes) so a team of
100,000 members stays small; :mod:`streamer.simulator.world_wire` turns them into Dropbox JSON
on demand.
Records are never mutated once an audit record may point at them: a changed session is a new
``SessionRec`` (the audit log keeps the old one as its snapshot), and ``Who`` is a tuple.
"""

from __future__ import annotations

import base64
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")

# ── people ────────────────────────────────────────────────────────────────────────────────

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Sharon",
    "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob", "Kathleen", "Gary", "Angela",
    "Nicholas", "Shirley", "Eric", "Brenda", "Jonathan", "Emma", "Stephen", "Anna", "Larry",
    "Pamela", "Justin", "Nicole", "Scott", "Samantha", "Brandon", "Katherine", "Benjamin",
    "Christine", "Samuel", "Helen", "Gregory", "Debra", "Alexander", "Rachel", "Patrick",
    "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather",
    "Jerry", "Diane", "Tyler", "Julie", "Aaron", "Joyce", "Jose", "Victoria", "Adam", "Ruth",
    "Nathan", "Virginia", "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter",
    "Joan", "Kyle", "Evelyn", "Noah", "Judith", "Ethan", "Andrea", "Jeremy", "Hannah", "Walter",
    "Megan", "Christian", "Cheryl", "Keith", "Jacqueline", "Roger", "Martha", "Terry", "Madison",
    "Austin", "Teresa", "Sean", "Gloria", "Gerald", "Sara", "Carl", "Janice", "Harold", "Ann",
    "Dylan", "Kathryn", "Arthur", "Abigail", "Lawrence", "Sophia", "Jordan", "Frances", "Jesse",
    "Jean", "Bryan", "Alice", "Bruce", "Isabella", "Gabriel", "Julia", "Logan", "Amber", "Alan",
    "Denise", "Juan", "Danielle", "Albert", "Marilyn", "Elijah", "Charlotte", "Wayne", "Natalie",
    "Vincent", "Diana", "Mason", "Brittany", "Roy", "Doris", "Ralph", "Kayla", "Russell", "Alexis",
    "Bradley", "Marie", "Philip", "Priya", "Wei", "Hiroshi", "Aisha", "Mohammed", "Fatima",
    "Carlos", "Sofia", "Lucas", "Ingrid", "Lars", "Anika", "Ravi", "Mei", "Kenji", "Yuki", "Omar",
    "Leila", "Diego", "Camila", "Mateo", "Valentina", "Arjun", "Ananya", "Ling", "Sven", "Astrid",
    "Pierre", "Chloé", "Hans", "Greta", "Luca", "Giulia", "Tomasz", "Zofia", "Oluwaseun", "Amara",
    "Kwame", "Nia", "José", "Zoë", "Søren", "Łukasz", "Renée", "Björn", "Siobhán", "Nuno", "Inês",
)
# fmt: on
# fmt: off
SURNAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton",
    "Graham", "Reynolds", "Griffin", "Wallace", "West", "Cole", "Hayes", "Bryant", "Herrera",
    "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro",
    "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy",
    "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford",
    "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason",
    "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza",
    "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne",
    "Grant", "Dunn", "Spencer", "Hawkins", "Arnold", "Pierce", "Hansen", "Peters", "Santos",
    "Hart", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane",
    "Riley", "Andrews", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews", "Pena", "Richards",
    "Contreras", "Willis", "Carpenter", "Sandoval", "Yamamoto", "Tanaka", "Sato", "Suzuki", "Wang",
    "Zhang", "Liu", "Singh", "Kumar", "Sharma", "Müller", "Schneider", "Fischer", "Weber",
    "Dubois", "Lefebvre", "Rossi", "Russo", "Ferrari", "Kowalski", "Nowak", "Jensen", "Nielsen",
    "Larsen", "Andersson", "Johansson", "Okafor", "Mensah", "Haddad", "Khan", "O'Brien", "Núñez",
    "Jørgensen", "Gauthier",
)
# fmt: on
TEAM_NAMES: tuple[str, ...] = (
    "Northwind Traders",
    "Contoso",
    "Fabrikam",
    "Tailspin Toys",
    "Adventure Works",
    "Litware",
    "Proseware",
    "Woodgrove Bank",
    "Blue Yonder Airlines",
    "Coho Winery",
    "Alpine Ski House",
    "Fourth Coffee",
    "Lucerne Publishing",
    "Humongous Insurance",
    "Trey Research",
    "Relecloud",
    "Wide World Importers",
    "Southridge Video",
)
_FOLD = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "đ": "d"})


# ── fast draws (Random.choice / randint cost ~3x more; these matter at 100,000 members) ─────


def below(rng: Random, n: int) -> int:
    """Uniform in ``range(n)``."""
    return int(rng.random() * n)


def between(rng: Random, a: int, b: int) -> int:
    """Uniform in ``[a, b]`` (like ``randint``)."""
    return a + int(rng.random() * (b - a + 1))


def one_of(rng: Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def weighted(rng: Random, cum_weights: Sequence[int]) -> int:
    """Index drawn by cumulative integer weights."""
    return bisect_right(cum_weights, rng.random() * cum_weights[-1])


def distinct(rng: Random, n: int, k: int) -> list[int]:
    """``k`` distinct values of ``range(n)`` in draw order (``k`` small)."""
    out: list[int] = []
    while len(out) < k:
        i = int(rng.random() * n)
        if i not in out:
            out.append(i)
    return out


@lru_cache(maxsize=4096)
def email_slug(text: str) -> str:
    """ASCII local-part piece of a name: 'Søren' -> 'soren', "O'Brien" -> 'obrien'."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def abbreviate(given: str, surname: str) -> str:
    return (given[:1] + surname[:1]).upper()


# ── places ────────────────────────────────────────────────────────────────────────────────


class Location(NamedTuple):
    code: str  # ISO 3166 alpha-2: team_log geo_location.country
    country: str  # country name: DeviceSession.country
    city: str
    region: str
    octets: tuple[int, ...]  # plausible first IPv4 octets for addresses there


_PLACES: tuple[tuple[str, str, int, tuple[int, ...], tuple[tuple[str, str], ...]], ...] = (
    (
        "US",
        "United States",
        45,
        (24, 67, 73, 98, 104, 174),
        (
            ("San Francisco", "California"),
            ("New York", "New York"),
            ("Austin", "Texas"),
            ("Seattle", "Washington"),
            ("Chicago", "Illinois"),
            ("Boston", "Massachusetts"),
        ),
    ),
    (
        "GB",
        "United Kingdom",
        10,
        (81, 86, 90),
        (("London", "England"), ("Manchester", "England"), ("Edinburgh", "Scotland")),
    ),
    ("DE", "Germany", 8, (84, 91, 93), (("Berlin", "Berlin"), ("Munich", "Bavaria"))),
    ("CA", "Canada", 6, (99, 142), (("Toronto", "Ontario"), ("Vancouver", "British Columbia"))),
    ("IN", "India", 6, (49, 106, 117), (("Bengaluru", "Karnataka"), ("Mumbai", "Maharashtra"))),
    ("FR", "France", 5, (82, 90), (("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes"))),
    ("AU", "Australia", 4, (101, 120), (("Sydney", "New South Wales"), ("Melbourne", "Victoria"))),
    ("JP", "Japan", 3, (126, 153), (("Tokyo", "Tokyo"), ("Osaka", "Osaka"))),
    ("BR", "Brazil", 3, (177, 189), (("São Paulo", "São Paulo"),)),
    ("ES", "Spain", 3, (83, 88), (("Madrid", "Madrid"), ("Barcelona", "Catalonia"))),
    ("NL", "Netherlands", 3, (77, 145), (("Amsterdam", "North Holland"),)),
    ("IE", "Ireland", 2, (87,), (("Dublin", "Leinster"),)),
    ("SG", "Singapore", 2, (116, 203), (("Singapore", "Singapore"),)),
)
LOCATIONS: tuple[Location, ...] = tuple(
    Location(code, country, city, region, octets)
    for code, country, _w, octets, cities in _PLACES
    for city, region in cities
)
# location indexes per country, and cumulative country weights for picking a home country
_COUNTRY_LOCS: tuple[tuple[int, ...], ...] = tuple(
    tuple(i for i, loc in enumerate(LOCATIONS) if loc.code == code) for code, *_ in _PLACES
)
_COUNTRY_CUM: tuple[int, ...] = tuple(
    sum(p[2] for p in _PLACES[: i + 1]) for i in range(len(_PLACES))
)


def pick_location(rng: Random) -> int:
    """A home location: country by weight, city uniform."""
    country = weighted(rng, _COUNTRY_CUM)
    return one_of(rng, _COUNTRY_LOCS[country])


def nearby_location(rng: Random, loc: int) -> int:
    """The location of someone's next network: mostly the same country, sometimes abroad."""
    if rng.random() < 0.15:
        return pick_location(rng)
    return one_of(rng, next(c for c in _COUNTRY_LOCS if loc in c))


def ip_address(rng: Random, loc: int) -> str:
    bits = rng.getrandbits(24)
    first = one_of(rng, LOCATIONS[loc].octets)
    return f"{first}.{bits >> 16}.{(bits >> 8) & 255}.{1 + (bits & 255) % 254}"


CARRIERS: dict[str, tuple[str, ...]] = {
    "US": ("Verizon", "AT&T", "T-Mobile"),
    "GB": ("EE", "Vodafone UK", "O2 - UK", "Three"),
    "DE": ("Telekom.de", "Vodafone.de", "o2 - de"),
    "CA": ("Rogers", "Bell", "TELUS"),
    "IN": ("Jio", "Airtel", "Vi India"),
    "FR": ("Orange F", "SFR", "Bouygues Telecom", "Free"),
    "AU": ("Telstra", "Optus", "Vodafone AU"),
    "JP": ("NTT DOCOMO", "au", "SoftBank"),
    "BR": ("Vivo", "Claro BR", "TIM"),
    "ES": ("Movistar", "Orange", "Vodafone ES"),
    "NL": ("KPN", "Vodafone NL", "Odido"),
    "IE": ("Vodafone IE", "Three", "eir"),
    "SG": ("Singtel", "StarHub", "M1"),
}

# ── devices ───────────────────────────────────────────────────────────────────────────────


class Browser(NamedTuple):
    os: str
    browser: str
    user_agent: str


_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
BROWSERS: tuple[Browser, ...] = (
    Browser(
        "Windows",
        "Chrome",
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36",
    ),
    Browser(
        "Windows",
        "Edge",
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36 "
        "Edg/131.0.0.0",
    ),
    Browser(
        "Windows",
        "Firefox",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    Browser(
        "Mac OS X",
        "Safari",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    ),
    Browser(
        "Mac OS X",
        "Chrome",
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36",
    ),
    Browser(
        "Linux",
        "Firefox",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    Browser(
        "iOS",
        "Mobile Safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    ),
    Browser(
        "Android",
        "Chrome Mobile",
        f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_WEBKIT} Chrome/131.0.6778.81 Mobile "
        "Safari/537.36",
    ),
)
_BROWSER_CUM: tuple[int, ...] = (30, 42, 48, 63, 80, 84, 94, 100)


class DesktopModel(NamedTuple):
    client_type: str  # DesktopPlatform tag
    platform: str
    delete_on_unlink: bool
    host_style: str  # how people name such machines


DESKTOPS: tuple[DesktopModel, ...] = (
    DesktopModel("windows", "Windows 11 (10.0.22631)", True, "win"),
    DesktopModel("windows", "Windows 10 (10.0.19045)", True, "win"),
    DesktopModel("mac", "Mac OS X 15.1", True, "mac"),
    DesktopModel("mac", "Mac OS X 14.7.1", True, "mac"),
    DesktopModel("linux", "Linux 6.8.0-49-generic (Ubuntu 24.04.1 LTS)", False, "linux"),
)
_DESKTOP_CUM: tuple[int, ...] = (35, 55, 80, 95, 100)


class MobileModel(NamedTuple):
    device_name: str
    client_type: str  # MobileClientPlatform tag
    os_versions: tuple[str, ...]
    cellular: bool


MOBILES: tuple[MobileModel, ...] = (
    MobileModel("iPhone 15 Pro", "iphone", ("17.6.1", "18.1", "18.1.1"), True),
    MobileModel("iPhone 14", "iphone", ("17.5.1", "18.0.1", "18.1"), True),
    MobileModel("iPhone 13", "iphone", ("16.7.10", "17.6.1"), True),
    MobileModel("iPad Pro (12.9-inch)", "ipad", ("17.6.1", "18.1"), False),
    MobileModel("iPad Air", "ipad", ("17.5", "18.1"), False),
    MobileModel("Pixel 8", "android", ("14", "15"), True),
    MobileModel("Galaxy S24", "android", ("14",), True),
    MobileModel("Galaxy Tab S9", "android", ("14",), False),
)


def pick_browser(rng: Random) -> int:
    return weighted(rng, _BROWSER_CUM)


def pick_desktop(rng: Random) -> int:
    return weighted(rng, _DESKTOP_CUM)


_HOST_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def host_name(rng: Random, model: int, given: str) -> str:
    style = DESKTOPS[model].host_style
    if style == "win":
        if rng.random() < 0.6:  # Windows' default name
            n, chars = rng.getrandbits(40), []
            for _ in range(7):
                n, r = divmod(n, len(_HOST_CHARS))
                chars.append(_HOST_CHARS[r])
            return "DESKTOP-" + "".join(chars)
        return f"{email_slug(given).upper()}-LAPTOP"
    if style == "mac":
        return f"{given}'s {one_of(rng, ('MacBook Pro', 'MacBook Air', 'iMac', 'Mac mini'))}"
    return f"{email_slug(given)}-{one_of(rng, ('thinkpad', 'xps', 'workstation', 'framework'))}"


# a team runs a handful of client builds at a time (shared strings, too)
DESKTOP_VERSIONS: tuple[str, ...] = (
    "207.4.5821",
    "208.4.5913",
    "209.4.6104",
    "210.4.6418",
    "211.4.6197",
    "212.4.5767",
    "213.4.6032",
)
MOBILE_VERSIONS: tuple[str, ...] = ("384.2.2", "388.2.4", "391.2.2", "393.2.6", "395.2.2")


# ── apps, groups, roles, files ────────────────────────────────────────────────────────────


class AppSpec(NamedTuple):
    name: str
    publisher: str | None
    publisher_url: str | None
    is_app_folder: bool


APPS: tuple[AppSpec, ...] = (
    AppSpec("Slack", "Slack Technologies", "https://slack.com", False),
    AppSpec("Zoom", "Zoom Video Communications", "https://zoom.us", False),
    AppSpec("Trello", "Atlassian", "https://trello.com", False),
    AppSpec("Asana", "Asana, Inc.", "https://asana.com", False),
    AppSpec("DocuSign", "DocuSign, Inc.", "https://www.docusign.com", False),
    AppSpec("Adobe Acrobat", "Adobe", "https://www.adobe.com", False),
    AppSpec("Canva", "Canva", "https://www.canva.com", False),
    AppSpec("Notion", "Notion Labs", "https://www.notion.so", False),
    AppSpec("Microsoft Office", "Microsoft", "https://www.microsoft.com", False),
    AppSpec("Zapier", "Zapier, Inc.", "https://zapier.com", False),
    AppSpec("IFTTT", "IFTTT", "https://ifttt.com", True),
    AppSpec("GoodNotes", "Time Base Technology", "https://www.goodnotes.com", True),
    AppSpec("Documents by Readdle", "Readdle", "https://readdle.com", False),
    AppSpec("Camera Uploads Helper", None, None, True),
    AppSpec("Expense Report Sync", "Internal IT", None, True),
)

GROUP_NAMES: tuple[str, ...] = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Legal",
    "Customer Support",
    "People Ops",
    "Design",
    "Operations",
    "Leadership",
    "Contractors",
)


class Role(NamedTuple):
    role_id: str  # "For roles defined by Dropbox, this is the same across all teams." [spec]
    name: str
    description: str


ROLE_TEAM_ADMIN = Role(
    "pid_dbtmr:2345",
    "Team admin",
    "User can do most user provisioning, de-provisioning and management.",
)
ROLE_USER_ADMIN = Role(
    "pid_dbtmr:3456", "User management admin", "Add, remove, and manage member accounts."
)
ROLE_SUPPORT_ADMIN = Role(
    "pid_dbtmr:4567", "Support admin", "Help members with limited tasks, including password reset."
)
ROLE_BILLING_ADMIN = Role("pid_dbtmr:5678", "Billing admin", "Make payments and renew contracts.")
ROLE_MEMBER = Role("pid_dbtmr:1234", "Member", "Use Dropbox with no admin permissions.")
ADMIN_ROLES: tuple[Role, ...] = (
    ROLE_TEAM_ADMIN,
    ROLE_USER_ADMIN,
    ROLE_SUPPORT_ADMIN,
    ROLE_BILLING_ADMIN,
)

FOLDERS: tuple[str, ...] = (
    "/Projects",
    "/Sales/Proposals",
    "/Marketing/Assets",
    "/Finance/Reports",
    "/Engineering/Specs",
    "/Shared/Templates",
    "/Legal/Contracts",
    "/People/Policies",
)
_FILES: tuple[str, ...] = (
    "Q3 plan.docx",
    "roadmap.pdf",
    "budget 2026.xlsx",
    "logo.png",
    "contract draft.docx",
    "meeting notes.txt",
    "pitch deck.pptx",
    "design review.key",
    "invoice-1042.pdf",
    "onboarding.pdf",
)
FILE_PATHS: tuple[str, ...] = tuple(f"{d}/{f}" for d in FOLDERS for f in _FILES)

# ── ids ───────────────────────────────────────────────────────────────────────────────────


def opaque_id(rng: Random, prefix: str) -> str:
    """``prefix`` + 35 url-safe chars starting ``AA``, like real account / member / app ids.

    With ``dbid:`` this is exactly 40 characters, as ``users_common.AccountId`` demands.
    """
    return prefix + "AA" + base64.urlsafe_b64encode(rng.randbytes(25)).decode()[:33]


def digits_id(rng: Random, prefix: str) -> str:
    """``prefix`` + 39 digits, like ``dbwsid:123456789012345678901234567890123456789``."""
    return prefix + str(rng.getrandbits(128)).zfill(39)


def hex_id(rng: Random, prefix: str) -> str:
    return prefix + format(rng.getrandbits(128), "032x")


# ── records ───────────────────────────────────────────────────────────────────────────────


class Who(NamedTuple):
    """A member as an audit record names them, frozen at the time of the event."""

    team_member_id: str
    account_id: str
    display_name: str
    email: str
    external_id: str | None


@dataclass(slots=True, eq=False)
class SessionRec:
    """A web session, desktop client or mobile client. Replaced, never mutated, when it changes."""

    sid: str
    kind: str  # web | desktop | mobile
    member: int  # index into the world's members
    loc: int  # index into LOCATIONS
    ip: str
    created: int  # epoch seconds
    updated: int
    model: int  # index into BROWSERS / DESKTOPS / MOBILES
    name: str | None  # desktop host_name / mobile device_name
    version: str | None  # client_version
    expires: int | None  # web only
    os_version: str | None  # mobile only
    carrier: str | None  # mobile only


@dataclass(slots=True, eq=False)
class MemberRec:
    idx: int
    team_member_id: str
    account_id: str
    email: str
    given: str
    surname: str
    status: str  # active | invited | suspended | removed
    role: Role
    loc: int  # home location
    member_folder_id: int
    groups: tuple[int, ...]  # indexes into the world's groups (0 = everyone)
    email_verified: bool = True
    invited_on: int | None = None
    joined_on: int | None = None
    suspended_on: int | None = None
    removed_at: int | None = None  # not on the wire; drives the audit history
    is_recoverable: bool = False
    is_disconnected: bool = False
    external_id: str | None = None
    persistent_id: str | None = None
    photo_url: str | None = None
    secondary: tuple[tuple[str, bool], ...] = ()
    sessions: dict[str, SessionRec] | None = None  # None when empty (saves memory)
    apps: dict[int, int] | None = None  # app catalogue index -> linked epoch seconds
    _who: Who | None = field(default=None, repr=False)

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.surname}"

    def who(self) -> Who:
        if self._who is None:
            self._who = Who(
                self.team_member_id,
                self.account_id,
                self.display_name,
                self.email,
                self.external_id,
            )
        return self._who

    def forget_who(self) -> None:
        """Call after changing email, name or external id."""
        self._who = None


@dataclass(slots=True, eq=False)
class AuditRec:
    """One team_log event, compact; ``world_wire.AuditEncoder`` renders it."""

    ts: int  # the timestamp as logged (may lag its append neighbours by a few seconds)
    etype: str  # EventType tag
    who: Who  # the member it is about (context); also the actor unless ``admin`` is set
    admin: Who | None  # the acting admin, for admin-console actions
    ip: str
    loc: int
    sess_kind: str  # web | desktop | mobile: SessionLogInfo subtype of the end-user origin
    sid: str | None  # session id of the origin, if known
    payload: tuple[Any, ...]  # per event type, see world_wire._details

    def accounts(self) -> tuple[str, ...]:
        """Account ids involved: the member it is about and, if any, the acting admin."""
        if self.admin is None:
            return (self.who.account_id,)
        return (self.who.account_id, self.admin.account_id)
