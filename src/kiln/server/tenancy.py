"""One set of stores per tenant, and where each tenant's artifacts live (auth on).

``TenantStores`` opens a tenant's ``Stores`` on its first request and keeps them
(one open per tenant, under a lock; the SQL stores share the server's engines).

Artifacts, as ``mlflow server`` lays them out with workspaces on:

* proxied (``mlflow-artifacts:/``): a tenant's files live under
  ``workspaces/<tenant>/`` of the destination; ``TenantDestination`` rewrites
  and checks every path as MLflow's ``_get_workspace_scoped_repo_path`` does
  (``mlflow/server/handlers.py``): a path naming ``workspaces/<other>/`` is
  refused, ``default`` keeps the legacy root (its root listing hides the
  ``workspaces`` folder, which holds the other tenants);
* any other root: a tenant's new experiments get ``<root>/workspaces/<tenant>``
  (or the tenant's own ``default_artifact_root``), and ``create_experiment``
  refuses an ``artifact_location`` outside that (``location_check``).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlparse

from kiln.config import Settings
from kiln.entities import FileInfo
from kiln.entities.auth import DEFAULT_TENANT
from kiln.errors import InvalidInput, NotFound
from kiln.server.artifact_files import PROXY_SCHEME
from kiln.server.stores import PROXY_ARTIFACT_ROOT, Stores, open_stores
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.auth import AuthStore
from kiln.store.sql.engine import WouldBlock, must_not_wait

if TYPE_CHECKING:
    from kiln.store.sql.engine import EnginePool

WORKSPACES_DIR = "workspaces"


def scoped_path(path: str | None, tenant: str) -> tuple[str, str]:
    """-> (the destination path of a tenant's proxied ``path``, the prefix added to it).

    Raises:
        InvalidInput: ``path`` names ``workspaces/`` without a tenant, or another tenant.
    """
    normalized = (path or "").lstrip("/")
    base = posixpath.join(WORKSPACES_DIR, tenant)
    if not normalized:
        return ("", "") if tenant == DEFAULT_TENANT else (base, base)
    segments = normalized.split("/", 2)
    # any case: on a case-insensitive filesystem (macOS, Windows) 'Workspaces/b' is b's folder
    if segments[0].casefold() != WORKSPACES_DIR:
        return (normalized, "") if tenant == DEFAULT_TENANT else (f"{base}/{normalized}", base)
    if len(segments) == 1 or not segments[1]:
        raise InvalidInput(
            "Artifact paths prefixed with 'workspaces/' must include a workspace name."
        )
    if segments[1] != tenant:
        raise InvalidInput(
            f"Artifact path targets workspace '{segments[1]}' "
            f"but the workspace specified in the request is '{tenant}'."
        )
    return "/".join([WORKSPACES_DIR, *segments[1:]]), ""  # the one spelling


class TenantDestination:
    """The proxy's artifact store as one tenant sees it (``scoped_path``); paths in
    answers are relative to what the caller asked for, as the store's own are."""

    def __init__(self, inner: ArtifactStore, tenant: str) -> None:
        self.inner = inner
        self.tenant = tenant

    @property
    def root_uri(self) -> str:
        if self.tenant == DEFAULT_TENANT:
            return self.inner.root_uri
        return f"{self.inner.root_uri.rstrip('/')}/{WORKSPACES_DIR}/{self.tenant}"

    def _path(self, path: str | None) -> str:
        return scoped_path(path, self.tenant)[0]

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        self.inner.log_artifact(local_file, self._path(artifact_path) or None)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self.inner.log_artifacts(local_dir, self._path(artifact_path) or None)

    def write_stream(self, artifact_path: str, stream: BinaryIO) -> int:
        return self.inner.write_stream(self._path(artifact_path), stream)

    def open_read(self, artifact_path: str) -> BinaryIO:
        return self.inner.open_read(self._path(artifact_path))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        inner_path, added = scoped_path(path, self.tenant)
        try:
            infos = self.inner.list_artifacts(inner_path or None)
        except NotFound:  # a tenant whose folder does not exist yet has no files
            if added and inner_path == added:
                return []
            raise
        if not inner_path:  # default's root: the other tenants' folder is not its own
            infos = [i for i in infos if i.path.casefold() != WORKSPACES_DIR]
        if not added:
            return infos
        cut = len(added) + 1
        return [FileInfo(i.path[cut:], i.is_dir, i.file_size) for i in infos]

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        return self.inner.download_artifacts(self._path(artifact_path), dst_path)

    def delete_artifacts(self, artifact_path: str) -> None:
        inner_path, added = scoped_path(artifact_path, self.tenant)
        own_root = posixpath.join(WORKSPACES_DIR, self.tenant)
        # the tenant's root, like the store's own, is never deleted: neither as "" nor
        # by its long name workspaces/<tenant>
        if inner_path == added or (self.tenant != DEFAULT_TENANT and inner_path == own_root):
            raise InvalidInput("the artifact root cannot be deleted")
        self.inner.delete_artifacts(inner_path)


def tenant_artifact_root(settings: Settings, tenant: str, own_root: str | None = None) -> str:
    """The artifact root of a tenant's new experiments (see the module docstring)."""
    if own_root:
        return own_root
    root = settings.default_artifact_root or PROXY_ARTIFACT_ROOT
    if tenant == DEFAULT_TENANT or root.startswith(f"{PROXY_SCHEME}:"):
        return root
    return f"{root.rstrip('/')}/{WORKSPACES_DIR}/{tenant}"


def location_check(settings: Settings, tenant: str, root: str) -> Callable[[str], None]:
    """The check of a tenant's ``create_experiment`` ``artifact_location`` (auth on):
    a proxied location whose path ``scoped_path`` accepts, or one under ``root``."""

    def check(location: str) -> None:
        if _climbs(location):
            raise InvalidInput(
                f"artifact_location {location!r} has a '..' segment or a percent-encoded "
                f"'.', '/', '\\' or '%'; "
                f"leave it out to get one in workspace {tenant!r}'s artifact root"
            )
        if location.startswith(f"{PROXY_SCHEME}:"):
            if _names_a_host(location):
                raise InvalidInput(
                    f"artifact_location {location!r} names a host: a proxied location is "
                    f"{PROXY_SCHEME}:/<path> on this server (clients would send their files "
                    "and credentials to that host)"
                )
            scoped_path(location.split(":", 1)[1].lstrip("/"), tenant)
            return
        if root.startswith(f"{PROXY_SCHEME}:"):
            allowed = False
        else:
            inside = location.rstrip("/") == root.rstrip("/") or location.startswith(
                root.rstrip("/") + "/"
            )
            other = f"{root.rstrip('/')}/{WORKSPACES_DIR}/"
            # default's root holds the other tenants' folder (any case: see scoped_path)
            own = tenant != DEFAULT_TENANT or not location.casefold().startswith(other.casefold())
            allowed = inside and own
        if not allowed or ".." in location.split("/"):
            raise InvalidInput(
                f"artifact_location {location!r} is outside workspace {tenant!r}'s artifact "
                f"root {root!r}; leave it out to get one there"
            )

    return check


# a percent-encoded '.', '/', '\\' or '%': the local store decodes a file: URI before
# resolving it, so these would hide a '..' or a separator from the prefix checks
_ENCODED_PATH_CHARS = re.compile(r"%(2e|2f|5c|25)", re.IGNORECASE)


def names_a_proxy_host(uri: str) -> bool:
    """Whether ``uri`` is a proxied (``mlflow-artifacts:``, any case) URI naming a
    host: the mlflow client would fetch it, with its credentials, from that host."""
    try:
        parsed = urlparse(uri)
    except ValueError:
        return uri[: len(PROXY_SCHEME)].lower() == PROXY_SCHEME
    return parsed.scheme == PROXY_SCHEME and bool(parsed.netloc)


def _names_a_host(location: str) -> bool:
    try:
        return bool(urlparse(location).netloc)
    except ValueError:  # an unparsable authority is no place for artifacts either
        return True


def _climbs(location: str) -> bool:
    """Whether ``location`` has a ``..`` segment, as written or percent-decoded, or
    a percent-encoded dot, separator or percent sign (see ``_ENCODED_PATH_CHARS``)."""
    if _ENCODED_PATH_CHARS.search(location):
        return True
    text = location
    for _ in range(8):
        if ".." in text.replace("\\", "/").split("/"):
            return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return True  # still decoding after 8 rounds: refuse rather than guess


class TenantStores:
    """Each tenant's ``Stores``, opened on first use (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        base: Stores,
        *,
        engines: EnginePool | None,
        auth_store: AuthStore | None,
    ) -> None:
        self.settings = settings
        self.base = base
        self.engines = engines
        self.auth_store = auth_store
        self._lock = threading.Lock()
        default_root = tenant_artifact_root(settings, DEFAULT_TENANT)
        self._by_tenant: dict[str, Stores] = {
            DEFAULT_TENANT: dataclasses.replace(
                base,
                destination=TenantDestination(base.destination, DEFAULT_TENANT),
                location_check=location_check(settings, DEFAULT_TENANT, default_root),
            )
        }

    def get(self, tenant: str) -> Stores:
        stores = self._by_tenant.get(tenant)
        if stores is not None:
            return stores
        if must_not_wait():  # opening a tenant's stores blocks: not on the event loop
            raise WouldBlock(f"workspace {tenant!r}'s stores are not open yet")
        with self._lock:
            stores = self._by_tenant.get(tenant)
            if stores is None:
                stores = self._open(tenant)
                self._by_tenant[tenant] = stores
        return stores

    def _open(self, tenant: str) -> Stores:
        own = None
        if self.auth_store is not None:
            own = self.auth_store.get_tenant(tenant).default_artifact_root
        root = tenant_artifact_root(self.settings, tenant, own)
        settings = dataclasses.replace(self.settings, default_artifact_root=root)
        stores = open_stores(
            settings,
            tenant,
            engines=self.engines,
            destination=TenantDestination(self.base.destination, tenant),
        )
        return dataclasses.replace(stores, location_check=location_check(settings, tenant, root))

    def forget(self, tenant: str) -> None:
        """Drop a deleted tenant's stores (``AuthService.tenant_listeners``): a tenant
        made again under the name opens fresh ones, with its own artifact root."""
        if tenant == DEFAULT_TENANT:
            return
        with self._lock:
            self._by_tenant.pop(tenant, None)

    def opened(self) -> list[Stores]:
        """The stores opened for tenants other than ``default`` (closed with the app)."""
        with self._lock:
            return [s for t, s in self._by_tenant.items() if t != DEFAULT_TENANT]


__all__ = [
    "WORKSPACES_DIR",
    "TenantDestination",
    "TenantStores",
    "location_check",
    "names_a_proxy_host",
    "scoped_path",
    "tenant_artifact_root",
]
