"""GraphQL documents the tests send, one constant per operation."""

ERROR_FIELDS = """
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
"""
SESSION_FIELDS = """
    ... on Session { accessToken refreshToken expiresAt
        user { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }
"""

SIGNUP = f"""
mutation Signup($input: SignupInput!) {{
  signup(input: $input) {{ {ERROR_FIELDS} ... on VerificationSent {{ phone expiresAt }} }}
}}"""

RESEND = f"""
mutation Resend($phone: String!) {{
  resendVerification(phone: $phone) {{ {ERROR_FIELDS} ... on VerificationSent {{ phone expiresAt }} }}
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
  setTwoFactor(input: $input) {{ {ERROR_FIELDS} ... on TwoFactorUpdated {{ user {{ twoFactorEnabled }} }} }}
}}"""

REFRESH = f"""
mutation Refresh($token: String!) {{
  refreshSession(refreshToken: $token) {{ {ERROR_FIELDS} {SESSION_FIELDS} }}
}}"""

LOGOUT = f"""
mutation Logout($refreshToken: String, $everywhere: Boolean! = false) {{
  logout(refreshToken: $refreshToken, everywhere: $everywhere) {{ {ERROR_FIELDS} ... on LoggedOut {{ message }} }}
}}"""

REQUEST_RESET = f"""
mutation RequestReset($phone: String!) {{
  requestReset(phone: $phone) {{ {ERROR_FIELDS} ... on ResetCodeSent {{ phone expiresAt }} }}
}}"""

RESET_PASSWORD = f"""
mutation ResetPassword($input: ResetPasswordInput!) {{
  resetPassword(input: $input) {{ {ERROR_FIELDS} ... on PasswordReset {{ message }} }}
}}"""

CHANGE_PASSWORD = f"""
mutation ChangePassword($input: ChangePasswordInput!) {{
  changePassword(input: $input) {{ {ERROR_FIELDS}
    ... on PasswordChanged {{ session {{ accessToken refreshToken user {{ id }} }} }} }}
}}"""

CHANGE_IDENTITY = f"""
mutation ChangeIdentity($input: ChangeIdentityInput!) {{
  changeIdentity(input: $input) {{ {ERROR_FIELDS} ... on IdentityChangePending {{ sentTo expiresAt }} }}
}}"""

CONFIRM_IDENTITY = f"""
mutation ConfirmIdentity($code: String!) {{
  confirmIdentityChange(code: $code) {{ {ERROR_FIELDS}
    ... on IdentityChanged {{ user {{ id phone username pendingPhone }} }} }}
}}"""

DELETE_ACCOUNT = f"""
mutation DeleteAccount($input: DeleteAccountInput!) {{
  deleteAccount(input: $input) {{ {ERROR_FIELDS} ... on AccountDeleted {{ message }} }}
}}"""

ME = "query Me { me { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }"

USERNAME_AVAILABLE = "query Available($u: String!) { usernameAvailable(username: $u) }"
