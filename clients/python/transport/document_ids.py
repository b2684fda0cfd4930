"""Generated from clients/operations/*.graphql by clients/trusted_documents.py: do not edit."""

DOCUMENT_IDS: dict[str, str] = {
    "ChangeIdentity": "sha256:9893cf77b64b2bfbbdf88cdfc52e21d817022e6b558f9edd9a386533e4ea3f0d",
    "ChangePassword": "sha256:fac2857c886db061d33850ef6430b67332f4654945c3f7c6fb214924d71a5515",
    "ConfirmIdentityChange": "sha256:0f7ed49caff5d38931c6ab162d94e55cc7e94ea9880796a2d3cceaf3989f7976",
    "DeleteAccount": "sha256:d9eec6bd7b1c36047a233c190a8d7c5b190873ea1fd6befef6203baed208fc8e",
    "Login": "sha256:e225ef01a3bc3f30903da8e3e24414e69287585153a4d098d7701eaf665f1a2a",
    "Logout": "sha256:2d76c8bafdd958d75d1185e23a598942e03b10ef963996e3e5df733aa7990c6a",
    "Me": "sha256:5f94d770344d9d520aeaf29fbee188a268fc81d0afae074641571a9d33ee482b",
    "RefreshSession": "sha256:bf6443d94ff005521eb0157c38c135cb139e51a0a51d38035a42158328104d11",
    "RequestReset": "sha256:f23172e4d056001d8bfc049c6464aa21e1b1ebe3101a5ee5d632e9fe3384d377",
    "ResendVerification": "sha256:8abe9cc797a8af9080cfed12d1a0d7d0d5ad689f485a5940664dd0b672fde4de",
    "ResetPassword": "sha256:7b7bf8612f35c1ed48a4234b153fb914f785e1289c650cd0650ba1801d87c4bb",
    "SetTwoFactor": "sha256:6a12d457f609449aaa0b43ab9a027e2dd44a3018460461f3e79a50751b3a9174",
    "Signup": "sha256:ae6b5c3898a46ce1c8005778f00114854ee5859fc0e004c12c4a8dc1bcffb7f2",
    "UsernameAvailable": "sha256:0b3333afc2bc3156791d21fddba9cc956263f7c7f7b1763e386161b75d90e99b",
    "VerifyLogin": "sha256:f7ddb99bbd0e6fc03045ae93bccd78ba3207ff561e7a68e06da54f295b441991",
    "VerifyPhone": "sha256:67a6fe358162344223b343e154ea1730ceb8d334bd1b6db0ed3a054dbcaefe80",
}
