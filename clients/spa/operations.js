// Generated from clients/operations/*.graphql by clients/spa_operations.py: do not edit.
// Each export is one operation's document, exactly as written there (the same documents
// the README shows and the generated Python and TypeScript clients are built from).

export const ChangeIdentity = `# Ask to change phone and/or username (logged in). Next: ConfirmIdentityChange.
mutation ChangeIdentity($input: ChangeIdentityInput!) {
  changeIdentity(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on IdentityChangePending { sentTo expiresAt }
  }
}
`;

export const ChangePassword = `# Change the password (logged in). Answers a fresh Session; other sessions end.
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on PasswordChanged {
      session {
        accessToken
        refreshToken
        expiresAt
        user { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
      }
    }
  }
}
`;

export const ConfirmIdentityChange = `# Apply the pending identity change with the identity_change code (logged in).
mutation ConfirmIdentityChange($code: String!) {
  confirmIdentityChange(code: $code) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on IdentityChanged { user { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }
  }
}
`;

export const DeleteAccount = `# Delete the account and every session (logged in; asks for the password).
mutation DeleteAccount($input: DeleteAccountInput!) {
  deleteAccount(input: $input) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on AccountDeleted { message }
  }
}
`;

export const Login = `# Log in with phone or username. With two-factor on: SecondFactorRequired, then VerifyLogin.
mutation Login($input: LoginInput!) {
  login(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
    }
    ... on SecondFactorRequired { challenge sentTo expiresAt }
  }
}
`;

export const Logout = `# End this session (give its refresh token), or every session with everywhere: true.
mutation Logout($refreshToken: String, $everywhere: Boolean! = false) {
  logout(refreshToken: $refreshToken, everywhere: $everywhere) {
    __typename
    ... on MutationError { message }
    ... on LoggedOut { message }
  }
}
`;

export const Me = `# The caller's account; null without a valid access token.
query Me {
  me { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
}
`;

export const RefreshSession = `# Trade the refresh token for a new Session before the access token expires.
mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    __typename
    ... on MutationError { message }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
    }
  }
}
`;

export const RequestReset = `# Forgotten password: a reset_password code goes to the phone if it has an account.
mutation RequestReset($phone: String!) {
  requestReset(phone: $phone) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on ResetCodeSent { phone expiresAt challenge }
  }
}
`;

export const ResendVerification = `# This signup's code again (after the resend wait); the same challenge back. Next: VerifyPhone.
mutation ResendVerification($phone: String!, $challenge: String!) {
  resendVerification(phone: $phone, challenge: $challenge) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on VerificationSent { phone expiresAt challenge }
  }
}
`;

export const ResetPassword = `# Set a new password with the reset challenge and code. Every session ends; log in again.
mutation ResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on PasswordReset { message }
  }
}
`;

export const SetTwoFactor = `# Turn two-factor login on or off. Needs "Authorization: Bearer <accessToken>".
mutation SetTwoFactor($input: SetTwoFactorInput!) {
  setTwoFactor(input: $input) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on TwoFactorUpdated { user { id phone username isVerified pendingPhone twoFactorEnabled createdAt } }
  }
}
`;

export const Signup = `# Start an account: a verify_signup code goes to the phone. Next: VerifyPhone with the
# phone, this challenge and the code.
mutation Signup($input: SignupInput!) {
  signup(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on VerificationSent { phone expiresAt challenge }
  }
}
`;

export const UsernameAvailable = `# Whether a username is free to take (false for invalid usernames).
query UsernameAvailable($username: String!) {
  usernameAvailable(username: $username)
}
`;

export const VerifyLogin = `# The second factor: SecondFactorRequired.challenge and the login_code from the SMS.
mutation VerifyLogin($input: VerifyLoginInput!) {
  verifyLogin(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
    }
  }
}
`;

export const VerifyPhone = `# Prove the phone with the signup's challenge and its verify_signup code: answers a Session.
mutation VerifyPhone($input: VerifyPhoneInput!) {
  verifyPhone(input: $input) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt }
    }
  }
}
`;
