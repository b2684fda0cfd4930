// Generated from clients/operations/*.graphql by clients/spa_operations.py: do not edit.
// Each export is one operation's document, exactly as written there (the same documents
// the README shows and the generated Python and TypeScript clients are built from), and
// DOCUMENT_IDS, each one's trusted-document id (sha256 of the text), which the SPA sends.

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
        user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
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
    ... on IdentityChanged { user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale } }
  }
}
`;

export const ConfirmTotp = `# Turn the authenticator app on with a code it shows; answers ten recovery codes, shown once.
# Needs "Authorization: Bearer <accessToken>".
mutation ConfirmTotp($code: String!) {
  confirmTotp(code: $code) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on RecoveryCodes { codes }
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

export const DeliveryStatus = `# What happened to the code a challenge waits for (poll every few seconds); never tells whether
# a phone is registered.
query DeliveryStatus($challenge: String!) {
  deliveryStatus(challenge: $challenge) {
    __typename
    ... on DeliveryStatus { status channel reason }
    ... on RateLimited { message retryAfterSeconds }
  }
}
`;

export const DisableTotp = `# Turn the authenticator app off and end the recovery codes. Needs "Authorization: Bearer <accessToken>".
mutation DisableTotp($currentPassword: String!) {
  disableTotp(currentPassword: $currentPassword) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on TwoFactorUpdated { user { id totpEnabled recoveryCodesLeft } }
  }
}
`;

export const Login = `# Log in with phone or username. With two-factor or TOTP on: SecondFactorRequired (its methods), then VerifyLogin.
# channel: how a login_code goes when one is needed.
mutation Login($input: LoginInput!, $channel: Channel = SMS) {
  login(input: $input, channel: $channel) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
    }
    ... on SecondFactorRequired { challenge sentTo expiresAt methods }
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
  me { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
}
`;

export const RefreshSession = `# Trade the refresh token for a new Session before the access token expires (in cookie mode
# without refreshToken: the cookie is used, and the answer's refreshToken is null).
mutation RefreshSession($refreshToken: String) {
  refreshSession(refreshToken: $refreshToken) {
    __typename
    ... on MutationError { message }
    ... on Session {
      accessToken
      refreshToken
      expiresAt
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
    }
  }
}
`;

export const RegenerateRecoveryCodes = `# Ten new recovery codes, shown once; the old ones stop working. Needs "Authorization: Bearer <accessToken>".
mutation RegenerateRecoveryCodes($currentPassword: String!) {
  regenerateRecoveryCodes(currentPassword: $currentPassword) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on RecoveryCodes { codes }
  }
}
`;

export const RequestReset = `# Forgotten password: a reset_password code goes to the phone if it has an account.
mutation RequestReset($phone: String!, $channel: Channel = SMS) {
  requestReset(phone: $phone, channel: $channel) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on RateLimited { retryAfterSeconds }
    ... on ResetCodeSent { phone expiresAt challenge }
  }
}
`;

export const ResendVerification = `# This signup's code again (after the resend wait); the same challenge back. Next: VerifyPhone.
# A resend may switch channel ("Call me instead": VOICE); the wrong-guess count carries over.
mutation ResendVerification($phone: String!, $challenge: String!, $channel: Channel = SMS) {
  resendVerification(phone: $phone, challenge: $challenge, channel: $channel) {
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

export const RevokeOtherSessions = `# End every session of the caller's account except this one.
mutation RevokeOtherSessions {
  revokeOtherSessions {
    __typename
    ... on MutationError { message }
    ... on LoggedOut { message }
  }
}
`;

export const RevokeSession = `# End one of the caller's sessions by its id (from Sessions); its tokens stop working.
mutation RevokeSession($id: ID!) {
  revokeSession(id: $id) {
    __typename
    ... on MutationError { message }
    ... on InvalidInput { field }
    ... on LoggedOut { message }
  }
}
`;

export const SecurityActivity = `# The caller's second factors and recent security history (newest first); null without a valid access token.
query SecurityActivity($first: Int! = 20) {
  me {
    id
    totpEnabled
    recoveryCodesLeft
    securityEvents(first: $first) { kind at ipAddress userAgent }
  }
}
`;

export const Sessions = `# The caller's live sessions (one per login), most recently used first; null without a valid access token.
query Sessions {
  me {
    id
    sessions { id current createdAt lastUsedAt userAgent ipAddress }
  }
}
`;

export const SetTwoFactor = `# Turn two-factor login on or off. Needs "Authorization: Bearer <accessToken>".
mutation SetTwoFactor($input: SetTwoFactorInput!) {
  setTwoFactor(input: $input) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on TwoFactorUpdated { user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale } }
  }
}
`;

export const SetupTotp = `# Start enrolling an authenticator app: a new secret and its otpauth:// URI (show it as a QR
# code), shown once. Needs "Authorization: Bearer <accessToken>". Next: ConfirmTotp.
mutation SetupTotp($currentPassword: String!) {
  setupTotp(currentPassword: $currentPassword) {
    __typename
    ... on MutationError { message }
    ... on RateLimited { retryAfterSeconds }
    ... on TotpSetup { secret otpauthUri }
  }
}
`;

export const Signup = `# Start an account: a verify_signup code goes to the phone (input.channel: SMS, VOICE or
# WHATSAPP; input.locale: the account's language). Next: VerifyPhone with the
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
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
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
      user { id phone username isVerified pendingPhone twoFactorEnabled createdAt locale }
    }
  }
}
`;

export const DOCUMENT_IDS = {
  ChangeIdentity: "sha256:9893cf77b64b2bfbbdf88cdfc52e21d817022e6b558f9edd9a386533e4ea3f0d",
  ChangePassword: "sha256:803bb1293ea1a398f8e9343983e317a86d33c1ecc664ce04f60dfc4eeb0fb349",
  ConfirmIdentityChange: "sha256:6c8fcf68bf2e3ade476f6f8422d569d4c9ebb44dd0d4d7b1018592a6e7081068",
  ConfirmTotp: "sha256:b9763ba1ca3120788271bebb341d5b236fdda07bad63104f6d1d400232795462",
  DeleteAccount: "sha256:aff30d1746ec8b90c7d19ee16da63d394b0676b5ec0c1d3fb792a083039a6dcd",
  DeliveryStatus: "sha256:dec6a904e32e2bc8f1ae6b52eb9330673f2e0d9d57f4925d527fd7f49f466709",
  DisableTotp: "sha256:b4778df194e9a376e8148e5148ba0246adcd680acee06e632bd860c5d582b914",
  Login: "sha256:cfd76497449f5f6856a9bd3b730f0912addb254ba12a16f100cd2a22c8d94ef3",
  Logout: "sha256:2d76c8bafdd958d75d1185e23a598942e03b10ef963996e3e5df733aa7990c6a",
  Me: "sha256:32bf62c74da3f4fa75848dfeedebb680f749eb3c50283b936b5a0375e7a3ad1d",
  RefreshSession: "sha256:0d905be5b5e78ff04e3b174ce753f6dbae2022ef69942ff1f91461c9d954b66f",
  RegenerateRecoveryCodes: "sha256:1d7f09e79cde286d696cf33775d1c4f67da8d87d6ac21f0e964d3401c627d4b6",
  RequestReset: "sha256:622fb2c1be790d10c9a1d3b5d2f4dc81fdc8afe57104a995d91b47d8106bdad0",
  ResendVerification: "sha256:e98322200a7149ad903dec68730ba3a0e9dd1ee5834bb462a4c39ba2a63e0e58",
  ResetPassword: "sha256:c17ed5072b28eb05f1abffa7412177b6a5becdd6e05f078f689748c6a967e02e",
  RevokeOtherSessions: "sha256:7071e9a494b393dc586aee7382dba3e52723706eec3a8a63540614916ba780ab",
  RevokeSession: "sha256:59b7ae175534d05a6dc2291fbbecff0f3f6031c45ced24f94ae836645590c16a",
  SecurityActivity: "sha256:5461f5f6939a2add5442feead19db4675cde887d27c2246fc6c69d5dd57d7f99",
  Sessions: "sha256:14c488ac58929594eab3f4e228ecf9aed39c53c5becdcef823ca7765066fd212",
  SetTwoFactor: "sha256:9666cc004ebe3b995098a7276f9847d1e27c74d45c7b6c7c13d10e3843d070c8",
  SetupTotp: "sha256:e8b9e8cfbf5e6b8c3c36ba3348e7b6218d0915e2db13251b6d2356adc17382ec",
  Signup: "sha256:289f3ad6d61e63a5983c746dd29abee4c5950ac702e4c361310a24232f9b3453",
  UsernameAvailable: "sha256:0b3333afc2bc3156791d21fddba9cc956263f7c7f7b1763e386161b75d90e99b",
  VerifyLogin: "sha256:2eeba2424518426822eab3bed3a61b3bb348520a2e04057f5a2111230e43fb7e",
  VerifyPhone: "sha256:0d32fc641da294fe512cdb9cef8bfcb8fb293945b2a8928745b8d9965587c6bb",
};
