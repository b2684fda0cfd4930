"""GraphQL documents the tests send, one constant per operation."""

BASE_ERRORS = "__typename ... on MutationError { message }"
INVALID_INPUT = "... on InvalidInput { field }"
RATE_LIMITED = "... on RateLimited { retryAfterSeconds }"
ERROR_FIELDS = f"{BASE_ERRORS} {INVALID_INPUT} {RATE_LIMITED}"
LIMITED_ERRORS = f"{BASE_ERRORS} {RATE_LIMITED}"
SESSION_FIELDS = """
    ... on Session { accessToken refreshToken expiresAt
        user { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }
"""

SIGNUP = f"""
mutation Signup($input: SignupInput!) {{
  signup(input: $input) {{ {ERROR_FIELDS} ... on VerificationSent {{ phone expiresAt challenge }} }}
}}"""

RESEND = f"""
mutation Resend($phone: String!, $challenge: String!) {{
  resendVerification(phone: $phone, challenge: $challenge) {{ {ERROR_FIELDS}
    ... on VerificationSent {{ phone expiresAt challenge }} }}
}}"""

VERIFY_PHONE = f"""
mutation VerifyPhone($input: VerifyPhoneInput!) {{
  verifyPhone(input: $input) {{ {ERROR_FIELDS} {SESSION_FIELDS} }}
}}"""

LOGIN = f"""
mutation Login($input: LoginInput!) {{
  login(input: $input) {{ {ERROR_FIELDS} {SESSION_FIELDS}
    ... on SecondFactorRequired {{ challenge sentTo expiresAt }} }}
}}"""

VERIFY_LOGIN = f"""
mutation VerifyLogin($input: VerifyLoginInput!) {{
  verifyLogin(input: $input) {{ {ERROR_FIELDS} {SESSION_FIELDS} }}
}}"""

SET_TWO_FACTOR = f"""
mutation SetTwoFactor($input: SetTwoFactorInput!) {{
  setTwoFactor(input: $input) {{ {LIMITED_ERRORS} ... on TwoFactorUpdated {{ user {{ twoFactorEnabled }} }} }}
}}"""

REFRESH = f"""
mutation Refresh($token: String!) {{
  refreshSession(refreshToken: $token) {{ {BASE_ERRORS} {SESSION_FIELDS} }}
}}"""

LOGOUT = f"""
mutation Logout($refreshToken: String, $everywhere: Boolean! = false) {{
  logout(refreshToken: $refreshToken, everywhere: $everywhere) {{ {BASE_ERRORS} ... on LoggedOut {{ message }} }}
}}"""

REQUEST_RESET = f"""
mutation RequestReset($phone: String!) {{
  requestReset(phone: $phone) {{ {ERROR_FIELDS} ... on ResetCodeSent {{ phone expiresAt challenge }} }}
}}"""

RESET_PASSWORD = f"""
mutation ResetPassword($input: ResetPasswordInput!) {{
  resetPassword(input: $input) {{ {ERROR_FIELDS} ... on PasswordReset {{ message }} }}
}}"""

CHANGE_PASSWORD = f"""
mutation ChangePassword($input: ChangePasswordInput!) {{
  changePassword(input: $input) {{ {LIMITED_ERRORS}
    ... on PasswordChanged {{ session {{ accessToken refreshToken user {{ id }} }} }} }}
}}"""

CHANGE_IDENTITY = f"""
mutation ChangeIdentity($input: ChangeIdentityInput!) {{
  changeIdentity(input: $input) {{ {ERROR_FIELDS} ... on IdentityChangePending {{ sentTo expiresAt }} }}
}}"""

CONFIRM_IDENTITY = f"""
mutation ConfirmIdentity($code: String!) {{
  confirmIdentityChange(code: $code) {{ {LIMITED_ERRORS}
    ... on IdentityChanged {{ user {{ id phone username pendingPhone }} }} }}
}}"""

DELETE_ACCOUNT = f"""
mutation DeleteAccount($input: DeleteAccountInput!) {{
  deleteAccount(input: $input) {{ {LIMITED_ERRORS} ... on AccountDeleted {{ message }} }}
}}"""

ME = "query Me { me { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }"

USERNAME_AVAILABLE = "query Available($u: String!) { usernameAvailable(username: $u) }"

# --- issue 14: second factors beyond SMS, security history ----------------------------------

SETUP_TOTP = f"""
mutation SetupTotp($password: String!) {{
  setupTotp(currentPassword: $password) {{ {LIMITED_ERRORS} ... on TotpSetup {{ secret otpauthUri }} }}
}}"""

CONFIRM_TOTP = f"""
mutation ConfirmTotp($code: String!) {{
  confirmTotp(code: $code) {{ {LIMITED_ERRORS} ... on RecoveryCodes {{ codes }} }}
}}"""

DISABLE_TOTP = f"""
mutation DisableTotp($password: String!) {{
  disableTotp(currentPassword: $password) {{ {LIMITED_ERRORS}
    ... on TwoFactorUpdated {{ user {{ totpEnabled recoveryCodesLeft }} }} }}
}}"""

REGENERATE_RECOVERY_CODES = f"""
mutation RegenerateRecoveryCodes($password: String!) {{
  regenerateRecoveryCodes(currentPassword: $password) {{ {LIMITED_ERRORS}
    ... on RecoveryCodes {{ codes }} }}
}}"""

ME_SECOND_FACTORS = """
query MeSecondFactors($first: Int! = 20) {
  me { totpEnabled recoveryCodesLeft securityEvents(first: $first) { kind at ipAddress userAgent } }
}"""

LOGIN_METHODS = f"""
mutation LoginMethods($input: LoginInput!) {{
  login(input: $input) {{ {ERROR_FIELDS} {SESSION_FIELDS}
    ... on SecondFactorRequired {{ challenge sentTo expiresAt methods }} }}
}}"""

# --- issue 13: sessions you can see and end ---------------------------------------------------

SESSIONS = """
query Sessions { me { sessions { id current createdAt lastUsedAt userAgent ipAddress } } }"""

REVOKE_SESSION = f"""
mutation RevokeSession($id: ID!) {{
  revokeSession(id: $id) {{ {BASE_ERRORS} {INVALID_INPUT} ... on LoggedOut {{ message }} }}
}}"""

REVOKE_OTHER_SESSIONS = f"""
mutation RevokeOtherSessions {{
  revokeOtherSessions {{ {BASE_ERRORS} ... on LoggedOut {{ message }} }}
}}"""
