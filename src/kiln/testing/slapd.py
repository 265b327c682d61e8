"""An OpenLDAP server for the session: the real directory the LDAP login tests bind to.

``slapd`` starts ``/usr/sbin/slapd -h ldap://127.0.0.1:<free port>/`` in the
foreground with a throwaway ``slapd.conf`` (mdb backend, suffix ``dc=kiln,dc=test``,
a rootdn/rootpw, the core/cosine/inetorgperson/nis schemas of ``/etc/ldap/schema``)
in a temporary folder, loads :data:`USERS` and :data:`GROUPS` with ``ldapadd`` (which
also proves the server answers), and kills it when the session ends. No TLS is
configured, so a StartTLS request is refused. ``slapd_tls`` is the same directory
with a certificate from a throwaway CA (``openssl``): StartTLS on its ``ldap://``
URL, ``ldaps://`` beside it, and password binds refused without TLS.

The seed holds what the tests need to be hard: DNs with a ``(`` and an escaped
comma (a group filter that forgets to escape the DN breaks on them), a user in no
group, a user named ``admin``, passwords both hashed (``{SSHA}``, by
``slappasswd``) and plain.

When slapd or ldapadd is missing, the tests fail if ``CI`` is set (CI must run
them) and are skipped otherwise (``apt-get install -y slapd ldap-utils``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
SUFFIX = "dc=kiln,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS_DN = f"ou=groups,{SUFFIX}"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


@dataclass(frozen=True, slots=True)
class LdapUser:
    uid: str
    rdn: str  # the DN's first part, as written in LDIF (escaped)
    password: str
    hashed: bool = False  # store userPassword as {SSHA} (slappasswd) instead of plain

    @property
    def dn(self) -> str:
        return f"{self.rdn},{PEOPLE}"


@dataclass(frozen=True, slots=True)
class LdapGroup:
    cn: str
    members: tuple[str, ...]  # uids

    @property
    def dn(self) -> str:
        return f"cn={self.cn},{GROUPS_DN}"


USERS: tuple[LdapUser, ...] = (
    LdapUser("alice", "uid=alice", "alice-pw-1", hashed=True),
    LdapUser("bob", "uid=bob", "bob-pw-2"),
    LdapUser("carol", "uid=carol", "carol-pw-3", hashed=True),  # in no group
    LdapUser("dana", "cn=Dana (Ops)", "dana-pw-4"),  # parentheses in the DN
    LdapUser("erin", r"cn=Smith\, Erin", "erin-pw-5", hashed=True),  # escaped comma in the DN
    LdapUser("admin", "uid=admin", "admin-pw-6"),
)

GROUPS: tuple[LdapGroup, ...] = (
    LdapGroup("ML-Team", ("alice", "bob", "erin")),
    LdapGroup("platform", ("alice",)),
    LdapGroup("ops", ("dana",)),
)


@dataclass(frozen=True, slots=True)
class Slapd:
    """A running slapd: where it listens and what it holds."""

    url: str
    suffix: str
    people_dn: str
    groups_dn: str
    root_dn: str
    root_password: str
    folder: Path
    # set when started with TLS (StartTLS on url works too); the same port answers on
    # 127.0.0.2, which the certificate does not name
    ldaps_url: str | None = None
    ca_file: Path | None = None  # the throwaway CA that signed the server's certificate

    def user(self, uid: str) -> LdapUser:
        return next(u for u in USERS if u.uid == uid)

    def log(self) -> str:
        path = self.folder / "slapd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the LDAP tests (apt-get install -y slapd ldap-utils)")
    pytest.skip(f"{reason} (apt-get install -y slapd ldap-utils)")


def _config(folder: Path, tls: bool) -> str:
    lines = [f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS]
    lines += [f"pidfile {folder / 'slapd.pid'}", f"argsfile {folder / 'slapd.args'}"]
    if tls:  # global directives: before the database
        lines += [
            f"TLSCACertificateFile {folder / 'ca.pem'}",
            f"TLSCertificateFile {folder / 'server.pem'}",
            f"TLSCertificateKeyFile {folder / 'server.key'}",
            # a password bind needs TLS, as many directories demand
            "security simple_bind=64",
        ]
    lines += [
        "modulepath /usr/lib/ldap",
        "moduleload back_mdb",
        "database mdb",
        "maxsize 16777216",
        f'suffix "{SUFFIX}"',
        f'rootdn "{ROOT_DN}"',
        f"rootpw {ROOT_PASSWORD}",
        f"directory {folder / 'db'}",
        # passwords are only ever compared by a bind; everything else is readable
        "access to attrs=userPassword by anonymous auth by self read by * none",
        "access to * by * read",
    ]
    return "\n".join(lines) + "\n"


def _hashed(password: str) -> str:
    done = subprocess.run(
        ["slappasswd", "-h", "{SSHA}", "-s", password],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _seed() -> str:
    """The LDIF of the organisation, its two units, the users and the groups."""
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: kiln\no: Kiln\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for user in USERS:
        password = _hashed(user.password) if user.hashed else user.password
        entries.append(
            f"dn: {user.dn}\nobjectClass: inetOrgPerson\nuid: {user.uid}\n"
            f"cn: {user.rdn.partition('=')[2].replace(chr(92), '')}\nsn: {user.uid}\n"
            f"userPassword: {password}\n"
        )
    by_uid = {u.uid: u for u in USERS}
    for group in GROUPS:
        members = "".join(f"member: {by_uid[uid].dn}\n" for uid in group.members)
        entries.append(f"dn: {group.dn}\nobjectClass: groupOfNames\ncn: {group.cn}\n{members}")
    return "\n".join(entries)


def _load(url: str, ldif: Path, deadline: float, ca_file: Path | None) -> None:
    """``ldapadd`` the seed (over StartTLS when ``ca_file`` is given), retrying until
    slapd answers (or the deadline passes)."""
    argv = ["ldapadd", "-x", "-H", url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-f", str(ldif)]
    env = dict(os.environ)
    if ca_file is not None:
        argv.append("-ZZ")
        env["LDAPTLS_CACERT"] = str(ca_file)
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if done.returncode == 0:
            return
        # not answering yet (255; 1 from a StartTLS); anything else is a bad seed
        waiting = done.returncode == 255 or "Can't contact LDAP server" in done.stderr
        if not waiting or time.monotonic() > deadline:
            raise RuntimeError(f"ldapadd failed ({done.returncode}): {done.stderr.strip()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, signed by it."""

    def openssl(*args: str) -> None:
        done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")

    key = ["-newkey", "rsa:2048", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", str(folder / "ca.key"), "-out",
            str(folder / "ca.pem"), "-days", "2", "-subj", "/CN=Kiln test CA")  # fmt: skip
    openssl("req", *key, "-keyout", str(folder / "server.key"), "-out",
            str(folder / "server.csr"), "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(folder / "ca.pem"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(folder / "san.ext"), "-out", str(folder / "server.pem"))  # fmt: skip


@contextmanager
def running_slapd(*, tls: bool = False) -> Iterator[Slapd]:
    """Start a seeded slapd (with ``tls``: a certificate, StartTLS and ldaps://), yield
    it, kill it and remove its folder."""
    if not Path(SLAPD).exists() or shutil.which("ldapadd") is None:
        _missing("slapd or ldapadd is not installed")
    if tls and shutil.which("openssl") is None:
        _missing("openssl is not installed")
    folder = Path(tempfile.mkdtemp(prefix="kiln-slapd-"))
    (folder / "db").mkdir()
    if tls:
        _certificates(folder)
    (folder / "slapd.conf").write_text(_config(folder, tls))
    (folder / "seed.ldif").write_text(_seed())
    process: subprocess.Popen[bytes] | None = None
    try:
        for _attempt in range(3):  # another process may take the free port first
            url = f"ldap://127.0.0.1:{_free_port()}"
            ldaps_url = f"ldaps://127.0.0.1:{_free_port()}" if tls else None
            listen = f"{url}/"
            if ldaps_url:  # and on 127.0.0.2, a name the certificate does not carry
                listen += f" {ldaps_url}/ {ldaps_url.replace('127.0.0.1', '127.0.0.2')}/"
            with open(folder / "slapd.log", "ab") as log:
                argv = [SLAPD, "-h", listen, "-f", str(folder / "slapd.conf"), "-d", "0"]
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                ca_file = folder / "ca.pem" if tls else None
                _load(url, folder / "seed.ldif", time.monotonic() + 20, ca_file)
                break
            except RuntimeError:
                if process.poll() is None:
                    raise
                process = None  # it exited: most likely a port was taken
        else:
            tail = (folder / "slapd.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"slapd did not start:\n{tail}")
        yield Slapd(
            url=url,
            suffix=SUFFIX,
            people_dn=PEOPLE,
            groups_dn=GROUPS_DN,
            root_dn=ROOT_DN,
            root_password=ROOT_PASSWORD,
            folder=folder,
            ldaps_url=ldaps_url,
            ca_file=folder / "ca.pem" if tls else None,
        )
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """A seeded OpenLDAP server on 127.0.0.1 for the whole session, without TLS."""
    with running_slapd() as server:
        yield server


@pytest.fixture(scope="session")
def slapd_tls() -> Iterator[Slapd]:
    """The same directory served with a certificate (StartTLS and ldaps://) signed by a
    throwaway CA (``ca_file``); a bind with a password needs TLS there."""
    with running_slapd(tls=True) as server:
        yield server


__all__ = [
    "GROUPS",
    "USERS",
    "LdapGroup",
    "LdapUser",
    "Slapd",
    "running_slapd",
    "slapd",
    "slapd_tls",
]
