"""schema.graphql at the root is the exported schema, and it follows the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl

from schema.graphql import export

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_matches_the_code():
    assert (ROOT / "schema.graphql").read_text() == export(), (
        "schema.graphql drifted: run `uv run main.py export-schema > schema.graphql`"
    )


def test_every_contract_operation_has_the_contract_signature():
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    mutation = schema.mutation_type.fields
    expected = {
        "signup": "SignupResult!",
        "resendVerification": "ResendVerificationResult!",
        "verifyPhone": "VerifyPhoneResult!",
        "login": "LoginResult!",
        "verifyLogin": "VerifyLoginResult!",
        "setTwoFactor": "SetTwoFactorResult!",
        "refreshSession": "RefreshSessionResult!",
        "logout": "LogoutResult!",
        "requestReset": "RequestResetResult!",
        "resetPassword": "ResetPasswordResult!",
        "changePassword": "ChangePasswordResult!",
        "changeIdentity": "ChangeIdentityResult!",
        "confirmIdentityChange": "ConfirmIdentityChangeResult!",
        "deleteAccount": "DeleteAccountResult!",
        # issue 14: second factors beyond SMS
        "setupTotp": "SetupTotpResult!",
        "confirmTotp": "ConfirmTotpResult!",
        "disableTotp": "DisableTotpResult!",
        "regenerateRecoveryCodes": "RegenerateRecoveryCodesResult!",
        # issue 13: sessions you can see and end
        "revokeSession": "RevokeSessionResult!",
        "revokeOtherSessions": "RevokeSessionResult!",
    }
    assert {name: str(f.type) for name, f in mutation.items()} == expected
    assert str(schema.query_type.fields["me"].type) == "User"
    assert str(schema.query_type.fields["usernameAvailable"].args["username"].type) == "String!"
    assert str(mutation["logout"].args["everywhere"].type) == "Boolean!"
    assert "everywhere: Boolean! = false" in (ROOT / "schema.graphql").read_text()


def test_readme_documents_every_setting():
    from core.settings import env_name, options

    readme = (ROOT / "README.md").read_text()
    missing = [env_name(n) for n, _ in options() if f"`{env_name(n)}`" not in readme]
    assert not missing, f"README.md lacks: {missing}"
