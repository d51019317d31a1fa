"""The one error tree of the project.

Every failure we expect is one of three kinds, and the kind decides what happens
next, in one place each:

- `BadInputError`: the input is wrong and retrying cannot help. CLI exit 2; a
  process reports it (status, Event) and waits for new input.
- `HostError`: the host, the platform or a dependency failed. CLI exit 1; a
  process reports it and retries with capped backoff.
- `TransientError`: worth retrying soon (timeouts, 5xx, lost races). CLI exit 1;
  a process retries with backoff, quietly at first.

The whole tree (module in brackets; the API errors mix `KubeApiError` into one of
the three kinds, so ``except TransientError`` catches a 409 as well as a lost lease):

* SriovOperatorError
  + BadInputError
  | + ManifestError                 [manifests]
  | + SupportedNicError             [api.supported_nics]
  | + RawJsonError                  [engine.nad]
  | + PlanError                     [host.plan]
  | + GuidPoolError                 [host.guid_pool: the GUID file; plan raises it as a PlanError]
  | + KernelArgsNotAppliedError     [host.kernel_args]
  | + FirmwareError                 [host.mellanox]
  | + NetnsRequiredError            [host.netns]
  | + KubeconfigError               [kube.session]
  | + InvalidObjectError            [kube.errors, also a KubeApiError]
  | + NetworksAnnotationError       [webhook.injector]
  | + MalformedReviewError          [webhook.review]
  | | + BodyTooLargeError           [webhook.server]
  | + CertificateFileError          [webhook.tls]
  + HostError
  | + HostLacksSupportError         [host.plan]
  | + ApplyError                    [host.apply]
  | + BootConfigError               [host.bootconfig]
  | + HostLockedError               [host.lock]
  | + OutsideRootError              [host.root]
  | + HostFileError                 [host.root]
  | + OvsdbError                    [host.ovsdb]
  | + FirmwareQueryError            [host.mellanox]
  | + MetadataError                 [host.openstack.metadata]
  | + ForbiddenError                [kube.errors, also a KubeApiError]
  | + BinariesUnavailableError      [controlplane.binaries]
  | + ControlPlaneError             [controlplane.process]
  | + SandboxError                  [sandbox.session]
  | + AptError, BuildError, VmError [sriov_vmtest: test tooling, tools/vmtest]
  + TransientError
  | + NotFoundError                 [kube.errors, also a KubeApiError]
  | + ConflictError                 [kube.errors, also a KubeApiError]
  | + ApiUnavailableError           [kube.errors, also a KubeApiError]
  | + ResourceExpiredError          [kube.errors, also a KubeApiError]
  | + EvictionBlockedError          [kube.errors, also a KubeApiError]
  | + NotLeaderError                [runtime.leader]
  | + NadLookupError                [webhook.injector]
  + KubeApiError                    [kube.errors: the HTTP status; never raised alone]

Messages are one line that names what, where and (when we know) what to do.
Raise with ``from error`` to keep the cause chained; `describe` renders the
message with its causes for logs.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CHANGES = 3  # a ``diff``-style command found differences
EXIT_INTERRUPTED = 130


class SriovOperatorError(Exception):
    """Root of every error we raise on purpose. Never raised itself."""

    exit_code: int = EXIT_FAILURE


class BadInputError(SriovOperatorError):
    """Permanent: a manifest, spec, flag or file the user gave cannot be taken."""

    exit_code = EXIT_BAD_INPUT


class HostError(SriovOperatorError):
    """The host, its metadata, the platform or a program we run failed us."""

    exit_code = EXIT_FAILURE


class TransientError(SriovOperatorError):
    """A failure that a retry with backoff is expected to get past."""

    exit_code = EXIT_FAILURE


def describe(error: BaseException) -> str:
    """``error`` and its chained causes on one line: ``outer: inner: root``.

    A cause whose text is already part of the message is not repeated.
    """
    parts: list[str] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current) or type(current).__name__
        if not any(text in part for part in parts):
            parts.append(text)
        current = current.__cause__
    return ": ".join(parts)


def exit_code_for(error: BaseException) -> int:
    """The CLI exit code for an error that reached the top of a command."""
    if isinstance(error, SriovOperatorError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILURE
