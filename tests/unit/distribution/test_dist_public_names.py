import cais.distribution


def test_public_names_are_pinned() -> None:
    assert sorted(cais.distribution.__all__) == [
        "AuthFile",
        "AuthFiles",
        "BlobUnknownError",
        "ContentMismatchError",
        "Credential",
        "CredentialSource",
        "DeniedError",
        "DistributionError",
        "LineProgress",
        "ManifestUnknownError",
        "NoMatchingPlatformError",
        "NoProgress",
        "PullResult",
        "Puller",
        "PushResult",
        "Pusher",
        "RegistryClient",
        "RegistryResponseError",
        "RegistryUnreachableError",
        "RepositoryUnknownError",
        "RichProgress",
        "StaticCredentials",
        "TransferInterruptedError",
        "TransferProgress",
        "UnauthorizedError",
        "UnsupportedContentError",
        "credentials_for",
        "default_auth_files",
        "login",
        "logout",
        "progress_for",
        "pull",
        "push",
        "registry_of",
    ]
    for name in cais.distribution.__all__:
        assert getattr(cais.distribution, name) is not None
