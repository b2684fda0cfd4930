"""Messages in the reader's language (issue 16): the texts of es, fr, de and pt for every
action type (English is notifier/templates.py's DEFAULTS), the words a voice call speaks
around the code, and the choice of a locale.

Texts are keyed by the action type's value, so a language can name an action type that is
newer than it (the check is the test that every action type has every language). Each SMS
text fits one segment in its encoding: most are written within GSM-7 (which has é, ñ, ä,
ö, ü, à but not á, ó, ç, ã); the few that need those letters stay within 70 UTF-16 units.

The locale of a message is chosen once, for the account: the one given at signup, else the
first language of Accept-Language that has texts, else the language of the phone's
country, else English (``choose_locale``, a pure function).
"""

from __future__ import annotations

import phonenumbers

DEFAULT_LOCALE = "en"
LANGUAGES = ("en", "es", "fr", "de", "pt")

SMS: dict[str, dict[str, str]] = {
    "es": {
        "verify_signup": "Usa {code} para verificar tu cuenta de {app}. Caduca en {minutes} "
        "min. No lo compartas con nadie.",
        "signup_verified": "Tu cuenta de {app} ya se puede usar. ¡Te damos la bienvenida!",
        "signup_existing": "Alguien quiso registrarse en {app} con este teléfono. Ya tienes "
        "una cuenta: entra, o restablece tu contraseña si la olvidaste.",
        "login_code": "Usa {code} para entrar en {app}. Caduca en {minutes} min. No lo "
        "compartas con nadie.",
        "reset_password": "Usa {code} para restablecer tu contraseña de {app}. Caduca en "
        "{minutes} min. Si no lo pediste, ignora esto.",
        "password_reset": "Se ha restablecido tu contraseña de {app} y se han cerrado todas "
        "las sesiones. Si no lo hiciste, restablécela de nuevo ya.",
        "password_changed": "Se ha cambiado tu contraseña de {app}. Si no lo hiciste, "
        "restablécela ahora.",
        "identity_change": "Usa {code} para confirmar el cambio de teléfono o de usuario en "
        "{app}. Caduca en {minutes} min.",
        "identity_changed": "Se ha cambiado el teléfono o el usuario de tu cuenta de {app}. "
        "Si no lo hiciste, ponte en contacto con soporte.",
        "identity_change_requested": "Se ha pedido cambiar el teléfono o el usuario de tu "
        "cuenta de {app}. Si no lo hiciste, cambia tu contraseña.",
        "two_factor_changed": "Se ha {state} el acceso en dos pasos de tu cuenta de {app}. "
        "Si no lo hiciste, restablece tu contraseña.",
        "account_deleted": "Se ha eliminado tu cuenta de {app}. Hasta pronto.",
        "totp_changed": "Se ha {state} el acceso con app autenticadora en tu cuenta de {app}. "
        "Si no lo hiciste, restablece tu contraseña.",
        "recovery_code_used": "Se ha entrado en tu cuenta de {app} con una de tus claves de "
        "respaldo. Si no lo hiciste, restablece tu contraseña y crea claves nuevas.",
        "recovery_codes_regenerated": "Se han creado claves de respaldo nuevas para tu cuenta "
        "de {app} y las anteriores ya no valen. Si no lo hiciste, restablece tu contraseña.",
    },
    "fr": {
        "verify_signup": "Votre code {app} est {code}. Il expire dans {minutes} min. Ne le "
        "communiquez à personne.",
        "signup_verified": "Votre compte {app} est prêt. Bienvenue !",
        "signup_existing": "Quelqu'un a tenté de s'inscrire sur {app} avec ce numéro. Vous "
        "avez déjà un compte : connectez-vous, ou réinitialisez votre mot de passe.",
        "login_code": "Votre code de connexion {app} est {code}. Il expire dans {minutes} "
        "min. Ne le communiquez à personne.",
        "reset_password": "Votre code {app} pour changer de mot de passe : {code}. Il expire "
        "dans {minutes} min. Pas vous ? Ignorez ce SMS.",
        "password_reset": "Le mot de passe de votre compte {app} a été réinitialisé et "
        "toutes les sessions fermées. Pas vous ? Réinitialisez-le tout de suite.",
        "password_changed": "Le mot de passe de votre compte {app} a été modifié. Pas "
        "vous ? Réinitialisez-le tout de suite.",
        "identity_change": "Votre code {app} pour confirmer le nouveau numéro ou nom "
        "d'utilisateur : {code}. Il expire dans {minutes} min.",
        "identity_changed": "Le numéro ou le nom d'utilisateur de votre compte {app} a été "
        "modifié. Pas vous ? Contactez le support.",
        "identity_change_requested": "Une demande de changement du numéro ou du nom "
        "d'utilisateur de votre compte {app} a été faite. Pas vous ? Changez votre mot "
        "de passe.",
        "two_factor_changed": "La connexion en deux étapes de votre compte {app} est "
        "maintenant {state}. Pas vous ? Réinitialisez votre mot de passe.",
        "account_deleted": "Votre compte {app} a été supprimé. Au revoir.",
        "totp_changed": "La connexion par application d'authentification de votre compte "
        "{app} est maintenant {state}. Pas vous ? Réinitialisez votre mot de passe.",
        "recovery_code_used": "Un code de secours a été utilisé sur votre compte {app}. Pas "
        "vous ? Réinitialisez votre mot de passe et créez de nouveaux codes.",
        "recovery_codes_regenerated": "De nouveaux codes de secours ont été créés pour votre "
        "compte {app} ; les anciens ne marchent plus. Pas vous ? Réinitialisez votre mot de "
        "passe.",
    },
    "de": {
        "verify_signup": "Dein {app}-Code lautet {code}. Er läuft in {minutes} Min. ab. Gib "
        "ihn an niemanden weiter.",
        "signup_verified": "Dein {app}-Konto ist bereit. Willkommen!",
        "signup_existing": "Jemand wollte sich mit dieser Nummer bei {app} registrieren. Du "
        "hast schon ein Konto: Melde dich an oder setze dein Passwort zurück.",
        "login_code": "Dein {app}-Anmeldecode lautet {code}. Er läuft in {minutes} Min. ab. "
        "Gib ihn an niemanden weiter.",
        "reset_password": "Dein {app}-Code für ein neues Passwort: {code}. Gültig für "
        "{minutes} Min. Nicht angefordert? Dann ignoriere ihn.",
        "password_reset": "Dein {app}-Passwort wurde zurückgesetzt und alle Sitzungen "
        "wurden beendet. Warst du das nicht? Setze es sofort erneut zurück.",
        "password_changed": "Dein {app}-Passwort wurde geändert. Warst du das nicht? Setze "
        "dein Passwort sofort zurück.",
        "identity_change": "Dein {app}-Code, um die neue Nummer oder den neuen Benutzernamen "
        "zu bestätigen: {code}. Gültig für {minutes} Min.",
        "identity_changed": "Nummer oder Benutzername deines {app}-Kontos wurde geändert. "
        "Warst du das nicht? Wende dich an den Support.",
        "identity_change_requested": "Für dein {app}-Konto wurde eine neue Nummer oder ein "
        "neuer Benutzername angefordert. Warst du das nicht? Ändere dein Passwort.",
        "two_factor_changed": "Die Anmeldung in zwei Schritten ist für dein {app}-Konto "
        "jetzt {state}. Warst du das nicht? Setze dein Passwort zurück.",
        "account_deleted": "Dein {app}-Konto wurde gelöscht. Auf Wiedersehen.",
        "totp_changed": "Die Anmeldung per Authenticator-App ist für dein {app}-Konto jetzt "
        "{state}. Warst du das nicht? Setze dein Passwort zurück.",
        "recovery_code_used": "Für dein {app}-Konto wurde ein Wiederherstellungscode benutzt. "
        "Warst du das nicht? Setze dein Passwort zurück und erstelle neue Codes.",
        "recovery_codes_regenerated": "Für dein {app}-Konto wurden neue "
        "Wiederherstellungscodes erstellt, die alten gelten nicht mehr. Warst du das nicht? "
        "Setze dein Passwort zurück.",
    },
    "pt": {
        "verify_signup": "Use {code} para verificar sua conta {app}. Expira em {minutes} "
        "min. Nunca o compartilhe.",
        "signup_verified": "Sua conta {app} está pronta. Boas-vindas!",
        "signup_existing": "Este telefone tem uma conta {app} e alguém tentou criar outra "
        "com ele. Entre, ou redefina a senha se a esqueceu.",
        "login_code": "Use {code} para entrar no {app}. Expira em {minutes} min. Nunca o "
        "compartilhe.",
        "reset_password": "Use {code} para redefinir sua senha do {app}. Expira em {minutes} "
        "min. Se foi outra pessoa, ignore.",
        "password_reset": "Sua senha do {app} foi redefinida e todos os acessos foram "
        "encerrados. Se foi outra pessoa, redefina a senha de novo agora.",
        "password_changed": "Sua senha do {app} foi alterada. Se foi outra pessoa, redefina "
        "a senha agora.",
        "identity_change": "Use {code} para confirmar a troca do telefone ou do login da sua "
        "conta {app}. Expira em {minutes} min.",
        "identity_changed": "O telefone ou o login da sua conta {app} foi alterado. Se foi "
        "outra pessoa, fale com o suporte.",
        "identity_change_requested": "Foi pedida a troca do telefone ou do login da sua "
        "conta {app}. Se foi outra pessoa, troque a senha.",
        "two_factor_changed": "O login em duas etapas da sua conta {app} foi {state}. Se foi "
        "outra pessoa, redefina a senha.",
        "account_deleted": "Sua conta {app} foi excluída. Até logo.",
        "totp_changed": "O login com app autenticador da sua conta {app} foi {state}. Se foi "
        "outra pessoa, redefina a senha.",
        "recovery_code_used": "{app}: código de recuperação usado. Não foi você? Mude a senha.",
        "recovery_codes_regenerated": "{app}: novos códigos de recuperação. Os antigos não "
        "valem mais.",
    },
}

# What {state} reads as in each language (two_factor_changed).
STATES: dict[str, dict[str, str]] = {
    "en": {"on": "on", "off": "off"},
    "es": {"on": "activado", "off": "desactivado"},
    "fr": {"on": "activée", "off": "désactivée"},
    "de": {"on": "aktiviert", "off": "deaktiviert"},
    "pt": {"on": "ativado", "off": "desativado"},
}

# A voice call: the lead-in before the code, per code action type; notices are spoken as
# their SMS text. Then the words around the digits.
VOICE_INTRO: dict[str, dict[str, str]] = {
    "en": {
        "verify_signup": "Hello. This is {app}. Your verification code is:",
        "login_code": "Hello. This is {app}. Your login code is:",
        "reset_password": "Hello. This is {app}. Your password reset code is:",
        "identity_change": "Hello. This is {app}. Your code to confirm the change is:",
    },
    "es": {
        "verify_signup": "Hola. Le llamamos de {app}. Su código de verificación es:",
        "login_code": "Hola. Le llamamos de {app}. Su código para entrar es:",
        "reset_password": "Hola. Le llamamos de {app}. Su código para restablecer la "
        "contraseña es:",
        "identity_change": "Hola. Le llamamos de {app}. Su código para confirmar el cambio es:",
    },
    "fr": {
        "verify_signup": "Bonjour. Ici {app}. Votre code de vérification est :",
        "login_code": "Bonjour. Ici {app}. Votre code de connexion est :",
        "reset_password": "Bonjour. Ici {app}. Votre code pour réinitialiser le mot de passe est :",
        "identity_change": "Bonjour. Ici {app}. Votre code pour confirmer le changement est :",
    },
    "de": {
        "verify_signup": "Hallo, hier ist {app}. Ihr Bestätigungscode lautet:",
        "login_code": "Hallo, hier ist {app}. Ihr Anmeldecode lautet:",
        "reset_password": "Hallo, hier ist {app}. Ihr Code zum Zurücksetzen des Passworts lautet:",
        "identity_change": "Hallo, hier ist {app}. Ihr Code zur Bestätigung der Änderung lautet:",
    },
    "pt": {
        "verify_signup": "Olá. Aqui é {app}. Seu código de verificação é:",
        "login_code": "Olá. Aqui é {app}. Seu código de acesso é:",
        "reset_password": "Olá. Aqui é {app}. Seu código para redefinir a senha é:",
        "identity_change": "Olá. Aqui é {app}. Seu código para confirmar a troca é:",
    },
}
VOICE_WORDS: dict[str, dict[str, str]] = {
    "en": {"again": "Again, your code is:", "bye": "Goodbye."},
    "es": {"again": "Se lo repito:", "bye": "Adiós."},
    "fr": {"again": "Je répète, votre code est :", "bye": "Au revoir."},
    "de": {"again": "Ich wiederhole, Ihr Code lautet:", "bye": "Auf Wiederhören."},
    "pt": {"again": "Repetindo, seu código é:", "bye": "Até logo."},
}
# <Say language=...>: the variant Twilio's voices speak for each language.
SAY_LANGUAGE = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "pt": "pt-BR"}
SAY_VARIANTS = {"pt-PT": "pt-PT", "es-MX": "es-MX", "es-US": "es-US", "en-GB": "en-GB",
                "fr-CA": "fr-CA"}  # fmt: skip

# Countries where one of our languages is what nearly everybody reads (ISO 3166 -> BCP 47).
# Countries with several main languages (BE, CA, CH, LU) are left to Accept-Language.
COUNTRY_LANGUAGE: dict[str, str] = {
    **dict.fromkeys("ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY PR GQ".split(), "es"),
    **dict.fromkeys("FR MC SN CI ML BF NE TG BJ GA CG CD GN MG".split(), "fr"),
    **dict.fromkeys("DE AT LI".split(), "de"),
    **dict.fromkeys("PT AO MZ CV GW ST".split(), "pt"),
    "BR": "pt-BR",
}


def base_language(tag: str) -> str:
    """ "pt-BR" -> "pt", "ES" -> "es"."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def normalize(tag: str, available: frozenset[str] | set[str]) -> str | None:
    """A tag in canonical case ("pt-br" -> "pt-BR") if its language has texts, else None."""
    parts = tag.strip().replace("_", "-").split("-")
    if not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3 or len(tag) > 35:
        return None
    language = parts[0].lower()
    if language not in available:
        return None
    region = [p.upper() for p in parts[1:2] if len(p) == 2 and p.isalpha()]
    return "-".join([language, *region])


def accept_language(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag.strip() and tag.strip() != "*" and weight > 0:
            ranked.append((-weight, i, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def country_language(phone: str) -> str | None:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None
    return COUNTRY_LANGUAGE.get(region or "")


def choose_locale(
    explicit: str | None,
    accept_language_header: str | None,
    phone: str | None,
    available: frozenset[str] | set[str] = frozenset(LANGUAGES),
) -> str:
    """The account's locale: explicit, else Accept-Language, else the phone's country,
    else English; only languages that have texts (``available``) are chosen."""
    candidates = [explicit or ""]
    candidates += accept_language(accept_language_header or "")
    candidates.append((country_language(phone) or "") if phone else "")
    for candidate in candidates:
        chosen = normalize(candidate or "", available)
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def say_language(locale: str) -> str:
    """The ``language`` attribute of <Say> for a locale ("pt-BR", "de" -> "de-DE")."""
    return SAY_VARIANTS.get(locale) or SAY_LANGUAGE.get(base_language(locale), "en-US")
