// Generated from clients/operations/*.graphql by clients/trusted_documents.py: do not edit.
export const DOCUMENT_IDS: Record<string, string> = {
  ChangeIdentity: "sha256:9893cf77b64b2bfbbdf88cdfc52e21d817022e6b558f9edd9a386533e4ea3f0d",
  ChangePassword: "sha256:fac2857c886db061d33850ef6430b67332f4654945c3f7c6fb214924d71a5515",
  ConfirmIdentityChange: "sha256:0f7ed49caff5d38931c6ab162d94e55cc7e94ea9880796a2d3cceaf3989f7976",
  DeleteAccount: "sha256:aff30d1746ec8b90c7d19ee16da63d394b0676b5ec0c1d3fb792a083039a6dcd",
  Login: "sha256:e225ef01a3bc3f30903da8e3e24414e69287585153a4d098d7701eaf665f1a2a",
  Logout: "sha256:2d76c8bafdd958d75d1185e23a598942e03b10ef963996e3e5df733aa7990c6a",
  Me: "sha256:5f94d770344d9d520aeaf29fbee188a268fc81d0afae074641571a9d33ee482b",
  RefreshSession: "sha256:bf6443d94ff005521eb0157c38c135cb139e51a0a51d38035a42158328104d11",
  RequestReset: "sha256:0de81964e5b518f402b31045758660bedf1ba4639231064c0c8920184b4ba82c",
  ResendVerification: "sha256:e2a01c96bba5e354bb568ce5fc392ff9f92e0dd10e6bcec1f44ac6ee9b135c93",
  ResetPassword: "sha256:c17ed5072b28eb05f1abffa7412177b6a5becdd6e05f078f689748c6a967e02e",
  SetTwoFactor: "sha256:6a12d457f609449aaa0b43ab9a027e2dd44a3018460461f3e79a50751b3a9174",
  Signup: "sha256:09ff5094cb24ec2e1d415ecd5483fb12e7c0446f6f59cc7043f2edbde56f1311",
  UsernameAvailable: "sha256:0b3333afc2bc3156791d21fddba9cc956263f7c7f7b1763e386161b75d90e99b",
  VerifyLogin: "sha256:841d34e6fe3f80b7b54af9215c6a87b718a7acf7f8f81d07cfe017588630a983",
  VerifyPhone: "sha256:148dd50c99df53bde5f09c21574ffeb453de3c59bc3ab973e4c91cbaee60e76b",
};
