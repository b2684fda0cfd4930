# ruff: noqa: E501  (a translation table: one sentence a line reads and diffs best)
"""The API's error and result messages in the reader's language (issue 16): one table, the
English text (as the flows write it) -> its es, fr, de and pt texts, and ``translate``.

The flows keep writing English (``DomainError.text``); the GraphQL layer translates the
``message`` of each union member for the request's Accept-Language, so ``__typename``,
``field`` and ``code`` never change with the language. A text with numbers in it is keyed
with ``{0}``, ``{1}`` where they go ("A code is {0} digits."). A text not in the table (the
password strength checker's own advice) stays English.
"""

from __future__ import annotations

import re
from functools import cache

from notifier.locales import accept_language, base_language

LANGUAGES = ("es", "fr", "de", "pt")  # English is the key

MESSAGES: dict[str, dict[str, str]] = {
    "Request refused.": {
        "es": "Solicitud rechazada.",
        "fr": "Demande refusée.",
        "de": "Anfrage abgelehnt.",
        "pt": "Solicitação recusada.",
    },
    "Choose a stronger password.": {
        "es": "Elige una contraseña más segura.",
        "fr": "Choisissez un mot de passe plus robuste.",
        "de": "Wähle ein sichereres Passwort.",
        "pt": "Escolha uma senha mais forte.",
    },
    "That username is taken.": {
        "es": "Ese nombre de usuario ya está en uso.",
        "fr": "Ce nom d'utilisateur est déjà pris.",
        "de": "Dieser Benutzername ist schon vergeben.",
        "pt": "Esse nome de usuário já está em uso.",
    },
    "That phone number belongs to another account.": {
        "es": "Ese número de teléfono pertenece a otra cuenta.",
        "fr": "Ce numéro de téléphone appartient à un autre compte.",
        "de": "Diese Telefonnummer gehört zu einem anderen Konto.",
        "pt": "Esse número de telefone pertence a outra conta.",
    },
    "That code is not right.": {
        "es": "Ese código no es correcto.",
        "fr": "Ce code n'est pas le bon.",
        "de": "Dieser Code stimmt nicht.",
        "pt": "Esse código não está correto.",
    },
    "That code has expired: ask for a new one.": {
        "es": "Ese código ha caducado: pide uno nuevo.",
        "fr": "Ce code a expiré : demandez-en un nouveau.",
        "de": "Dieser Code ist abgelaufen: Fordere einen neuen an.",
        "pt": "Esse código expirou: peça um novo.",
    },
    "Too many wrong codes: ask for a new code.": {
        "es": "Demasiados códigos incorrectos: pide un código nuevo.",
        "fr": "Trop de codes erronés : demandez un nouveau code.",
        "de": "Zu viele falsche Codes: Fordere einen neuen Code an.",
        "pt": "Códigos errados demais: peça um novo código.",
    },
    "Too many requests: try again later.": {
        "es": "Demasiadas solicitudes: inténtalo de nuevo más tarde.",
        "fr": "Trop de demandes : réessayez plus tard.",
        "de": "Zu viele Anfragen: Versuche es später noch einmal.",
        "pt": "Solicitações demais: tente novamente mais tarde.",
    },
    "Wrong phone, username or password.": {
        "es": "Teléfono, usuario o contraseña incorrectos.",
        "fr": "Téléphone, nom d'utilisateur ou mot de passe incorrect.",
        "de": "Telefonnummer, Benutzername oder Passwort falsch.",
        "pt": "Telefone, nome de usuário ou senha incorretos.",
    },
    "Verify your phone first: a code was sent when you signed up.": {
        "es": "Primero verifica tu teléfono: te enviamos un código al registrarte.",
        "fr": "Vérifiez d'abord votre téléphone : un code vous a été envoyé à l'inscription.",
        "de": "Bestätige zuerst deine Telefonnummer: Bei der Registrierung wurde dir ein Code geschickt.",
        "pt": "Verifique seu telefone primeiro: enviamos um código quando você se cadastrou.",
    },
    "Log in first.": {
        "es": "Inicia sesión primero.",
        "fr": "Connectez-vous d'abord.",
        "de": "Melde dich zuerst an.",
        "pt": "Entre na sua conta primeiro.",
    },
    "That token is not valid (expired, used or revoked).": {
        "es": "Ese token no es válido (ha caducado, ya se usó o se revocó).",
        "fr": "Ce jeton n'est pas valide (expiré, déjà utilisé ou révoqué).",
        "de": "Dieses Token ist nicht gültig (abgelaufen, verwendet oder widerrufen).",
        "pt": "Esse token não é válido (expirou, já foi usado ou foi revogado).",
    },
    "Wait before asking for another code.": {
        "es": "Espera antes de pedir otro código.",
        "fr": "Patientez avant de demander un autre code.",
        "de": "Warte, bevor du einen weiteren Code anforderst.",
        "pt": "Aguarde antes de pedir outro código.",
    },
    "A code is {0} digits.": {
        "es": "Un código tiene {0} dígitos.",
        "fr": "Un code compte {0} chiffres.",
        "de": "Ein Code hat {0} Ziffern.",
        "pt": "Um código tem {0} dígitos.",
    },
    "Enter your phone number or username.": {
        "es": "Escribe tu número de teléfono o tu nombre de usuario.",
        "fr": "Saisissez votre numéro de téléphone ou votre nom d'utilisateur.",
        "de": "Gib deine Telefonnummer oder deinen Benutzernamen ein.",
        "pt": "Digite seu número de telefone ou nome de usuário.",
    },
    "Enter your password.": {
        "es": "Escribe tu contraseña.",
        "fr": "Saisissez votre mot de passe.",
        "de": "Gib dein Passwort ein.",
        "pt": "Digite sua senha.",
    },
    "Use {0} to {1} characters.": {
        "es": "Usa entre {0} y {1} caracteres.",
        "fr": "Utilisez de {0} à {1} caractères.",
        "de": "Verwende {0} bis {1} Zeichen.",
        "pt": "Use de {0} a {1} caracteres.",
    },
    "Start with a letter.": {
        "es": "Empieza por una letra.",
        "fr": "Commencez par une lettre.",
        "de": "Beginne mit einem Buchstaben.",
        "pt": "Comece com uma letra.",
    },
    "Do not mix alphabets in one username.": {
        "es": "No mezcles alfabetos en un nombre de usuario.",
        "fr": "Ne mélangez pas plusieurs alphabets dans un nom d'utilisateur.",
        "de": "Mische keine Alphabete in einem Benutzernamen.",
        "pt": "Não misture alfabetos em um nome de usuário.",
    },
    "Use letters without extra invisible marks or accents.": {
        "es": "Usa letras sin marcas invisibles ni acentos añadidos.",
        "fr": "Utilisez des lettres sans marques invisibles ni accents ajoutés.",
        "de": "Verwende Buchstaben ohne unsichtbare Zeichen oder zusätzliche Akzente.",
        "pt": "Use letras sem marcas invisíveis ou acentos extras.",
    },
    "Use common letters (no phonetic or look-alike ones).": {
        "es": "Usa letras comunes (sin letras fonéticas ni de aspecto parecido).",
        "fr": "Utilisez des lettres courantes (ni lettres phonétiques ni sosies).",
        "de": "Verwende gängige Buchstaben (keine Lautschrift- oder Doppelgänger-Zeichen).",
        "pt": "Use letras comuns (sem letras fonéticas ou parecidas com outras).",
    },
    "Write accents as part of their letter (no extra accents).": {
        "es": "Escribe los acentos como parte de su letra (sin acentos sueltos).",
        "fr": "Écrivez les accents avec leur lettre (pas d'accents isolés).",
        "de": "Schreibe Akzente als Teil ihres Buchstabens (keine einzelnen Akzente).",
        "pt": "Escreva os acentos como parte da letra (sem acentos soltos).",
    },
    "Too many accents on one letter.": {
        "es": "Demasiados acentos en una sola letra.",
        "fr": "Trop d'accents sur une même lettre.",
        "de": "Zu viele Akzente auf einem Buchstaben.",
        "pt": "Acentos demais em uma só letra.",
    },
    "Use letters, digits, '.', '_' or '-' (no spaces or symbols).": {
        "es": "Usa letras, cifras, '.', '_' o '-' (sin espacios ni símbolos).",
        "fr": "Utilisez des lettres, des chiffres, '.', '_' ou '-' (ni espaces ni symboles).",
        "de": "Verwende Buchstaben, Ziffern, '.', '_' oder '-' (keine Leerzeichen oder Symbole).",
        "pt": "Use letras, dígitos, '.', '_' ou '-' (sem espaços nem símbolos).",
    },
    "This name could be mistaken for one in Latin letters.": {
        "es": "Este nombre podría confundirse con uno escrito en letras latinas.",
        "fr": "Ce nom pourrait être confondu avec un nom en lettres latines.",
        "de": "Dieser Name könnte mit einem in lateinischen Buchstaben verwechselt werden.",
        "pt": "Esse nome pode ser confundido com um escrito em letras latinas.",
    },
    "Enter a mobile phone number, e.g. +14155550123.": {
        "es": "Escribe un número de móvil, p. ej. +14155550123.",
        "fr": "Saisissez un numéro de mobile, par ex. +14155550123.",
        "de": "Gib eine Handynummer ein, z. B. +14155550123.",
        "pt": "Digite um número de celular, por exemplo +14155550123.",
    },
    "That is not a phone number.": {
        "es": "Eso no es un número de teléfono.",
        "fr": "Ce n'est pas un numéro de téléphone.",
        "de": "Das ist keine Telefonnummer.",
        "pt": "Isso não é um número de telefone.",
    },
    "That is not a valid phone number.": {
        "es": "Ese número de teléfono no es válido.",
        "fr": "Ce numéro de téléphone n'est pas valide.",
        "de": "Das ist keine gültige Telefonnummer.",
        "pt": "Esse número de telefone não é válido.",
    },
    "That number cannot receive SMS (premium-rate, shared-cost, toll-free, VoIP, pager or landline).": {
        "es": "Ese número no puede recibir SMS (tarificación especial, coste compartido, gratuito, VoIP, buscapersonas o fijo).",
        "fr": "Ce numéro ne peut pas recevoir de SMS (surtaxé, à coûts partagés, gratuit, VoIP, pager ou fixe).",
        "de": "Diese Nummer kann keine SMS empfangen (Mehrwert-, Shared-Cost-, gebührenfreie, VoIP-, Pager- oder Festnetznummer).",
        "pt": "Esse número não pode receber SMS (tarifa premium, custo compartilhado, gratuito, VoIP, pager ou fixo).",
    },
    "SMS cannot be sent to that country.": {
        "es": "No se pueden enviar SMS a ese país.",
        "fr": "Impossible d'envoyer des SMS vers ce pays.",
        "de": "In dieses Land können keine SMS gesendet werden.",
        "pt": "Não é possível enviar SMS para esse país.",
    },
    "SMS cannot be sent to satellite or international networks.": {
        "es": "No se pueden enviar SMS a redes satelitales o internacionales.",
        "fr": "Impossible d'envoyer des SMS vers les réseaux satellitaires ou internationaux.",
        "de": "An Satelliten- oder internationale Netze können keine SMS gesendet werden.",
        "pt": "Não é possível enviar SMS para redes de satélite ou internacionais.",
    },
    "This account uses an authenticator app: give a code from it, or a recovery code.": {
        "es": "Esta cuenta usa una app de autenticación: escribe un código de la app o un código de recuperación.",
        "fr": "Ce compte utilise une application d'authentification : saisissez un code de l'application ou un code de secours.",
        "de": "Dieses Konto nutzt eine Authenticator-App: Gib einen Code aus der App oder einen Wiederherstellungscode ein.",
        "pt": "Esta conta usa um app autenticador: digite um código do app ou um código de recuperação.",
    },
    "Give a new phone number or a new username.": {
        "es": "Indica un número de teléfono o un nombre de usuario nuevos.",
        "fr": "Indiquez un nouveau numéro de téléphone ou un nouveau nom d'utilisateur.",
        "de": "Gib eine neue Telefonnummer oder einen neuen Benutzernamen an.",
        "pt": "Informe um novo número de telefone ou um novo nome de usuário.",
    },
    "That signup is unknown or has expired: sign up again.": {
        "es": "Ese registro no existe o ha caducado: regístrate de nuevo.",
        "fr": "Cette inscription est inconnue ou a expiré : inscrivez-vous à nouveau.",
        "de": "Diese Registrierung ist unbekannt oder abgelaufen: Registriere dich erneut.",
        "pt": "Esse cadastro não existe ou expirou: cadastre-se novamente.",
    },
    "Codes cannot go by that channel here; use {0}.": {
        "es": "Aquí los códigos no se pueden enviar por ese canal; usa {0}.",
        "fr": "Les codes ne peuvent pas être envoyés par ce canal ici ; utilisez {0}.",
        "de": "Codes können hier nicht über diesen Kanal gesendet werden; verwende {0}.",
        "pt": "Aqui os códigos não podem ir por esse canal; use {0}.",
    },
    'Give a language tag such as "es" or "pt-BR".': {
        "es": 'Indica una etiqueta de idioma como "es" o "pt-BR".',
        "fr": "Indiquez une balise de langue comme « es » ou « pt-BR ».",
        "de": "Gib ein Sprachkürzel wie „es“ oder „pt-BR“ an.",
        "pt": 'Informe uma etiqueta de idioma como "es" ou "pt-BR".',
    },
    "Use at most {0} characters.": {
        "es": "Usa como máximo {0} caracteres.",
        "fr": "Utilisez au plus {0} caractères.",
        "de": "Verwende höchstens {0} Zeichen.",
        "pt": "Use no máximo {0} caracteres.",
    },
    "Use at least {0} characters.": {
        "es": "Usa al menos {0} caracteres.",
        "fr": "Utilisez au moins {0} caractères.",
        "de": "Verwende mindestens {0} Zeichen.",
        "pt": "Use pelo menos {0} caracteres.",
    },
    "Use only characters you can type: this one cannot be stored.": {
        "es": "Usa solo caracteres que se puedan escribir: este no se puede guardar.",
        "fr": "N'utilisez que des caractères que l'on peut saisir : celui-ci ne peut pas être enregistré.",
        "de": "Verwende nur Zeichen, die man tippen kann: Dieses lässt sich nicht speichern.",
        "pt": "Use apenas caracteres que possam ser digitados: este não pode ser armazenado.",
    },
    "Use only characters you can type: no control characters.": {
        "es": "Usa solo caracteres que se puedan escribir: sin caracteres de control.",
        "fr": "N'utilisez que des caractères que l'on peut saisir : pas de caractères de contrôle.",
        "de": "Verwende nur Zeichen, die man tippen kann: keine Steuerzeichen.",
        "pt": "Use apenas caracteres que possam ser digitados: sem caracteres de controle.",
    },
    "Do not build the password from your phone or username.": {
        "es": "No formes la contraseña a partir de tu teléfono o tu nombre de usuario.",
        "fr": "Ne construisez pas le mot de passe à partir de votre téléphone ou de votre nom d'utilisateur.",
        "de": "Bilde das Passwort nicht aus deiner Telefonnummer oder deinem Benutzernamen.",
        "pt": "Não crie a senha a partir do seu telefone ou nome de usuário.",
    },
    "Logged out.": {
        "es": "Sesión cerrada.",
        "fr": "Vous êtes déconnecté.",
        "de": "Abgemeldet.",
        "pt": "Você saiu.",
    },
    "Logged out everywhere.": {
        "es": "Sesión cerrada en todos los dispositivos.",
        "fr": "Vous êtes déconnecté partout.",
        "de": "Überall abgemeldet.",
        "pt": "Você saiu em todos os dispositivos.",
    },
    "Password reset. Log in with the new password.": {
        "es": "Contraseña restablecida. Inicia sesión con la nueva contraseña.",
        "fr": "Mot de passe réinitialisé. Connectez-vous avec le nouveau mot de passe.",
        "de": "Passwort zurückgesetzt. Melde dich mit dem neuen Passwort an.",
        "pt": "Senha redefinida. Entre com a nova senha.",
    },
    "Account deleted.": {
        "es": "Cuenta eliminada.",
        "fr": "Compte supprimé.",
        "de": "Konto gelöscht.",
        "pt": "Conta excluída.",
    },
    # what happened to a code's message (notifier/reasons.py)
    "The phone is switched off or out of reach.": {
        "es": "El teléfono está apagado o fuera de cobertura.",
        "fr": "Le téléphone est éteint ou hors de portée.",
        "de": "Das Telefon ist ausgeschaltet oder nicht erreichbar.",
        "pt": "O telefone está desligado ou fora de área.",
    },
    "That number does not exist or is no longer in service.": {
        "es": "Ese número no existe o ya no está en servicio.",
        "fr": "Ce numéro n'existe pas ou n'est plus attribué.",
        "de": "Diese Nummer gibt es nicht oder nicht mehr.",
        "pt": "Esse número não existe ou não está mais em serviço.",
    },
    "That number cannot receive texts.": {
        "es": "Ese número no puede recibir mensajes de texto.",
        "fr": "Ce numéro ne peut pas recevoir de SMS.",
        "de": "Diese Nummer kann keine SMS empfangen.",
        "pt": "Esse número não pode receber mensagens de texto.",
    },
    "The phone company did not deliver it.": {
        "es": "La operadora no lo entregó.",
        "fr": "L'opérateur ne l'a pas remis.",
        "de": "Der Mobilfunkanbieter hat sie nicht zugestellt.",
        "pt": "A operadora não entregou.",
    },
    "That number cannot be reached.": {
        "es": "No se puede contactar con ese número.",
        "fr": "Ce numéro est injoignable.",
        "de": "Diese Nummer ist nicht erreichbar.",
        "pt": "Não é possível contatar esse número.",
    },
    "That number has blocked our messages.": {
        "es": "Ese número ha bloqueado nuestros mensajes.",
        "fr": "Ce numéro a bloqué nos messages.",
        "de": "Diese Nummer hat unsere Nachrichten blockiert.",
        "pt": "Esse número bloqueou nossas mensagens.",
    },
    "That number is not on WhatsApp.": {
        "es": "Ese número no está en WhatsApp.",
        "fr": "Ce numéro n'est pas sur WhatsApp.",
        "de": "Diese Nummer ist nicht bei WhatsApp.",
        "pt": "Esse número não está no WhatsApp.",
    },
    "Nobody answered the call.": {
        "es": "Nadie contestó la llamada.",
        "fr": "Personne n'a répondu à l'appel.",
        "de": "Niemand hat den Anruf angenommen.",
        "pt": "Ninguém atendeu a ligação.",
    },
    "It could not be sent.": {
        "es": "No se pudo enviar.",
        "fr": "Il n'a pas pu être envoyé.",
        "de": "Sie konnte nicht gesendet werden.",
        "pt": "Não foi possível enviar.",
    },
}


def language_of(header: str | None) -> str:
    """The first language of an Accept-Language header that has texts here; "en" else."""
    for tag in accept_language(header or ""):
        language = base_language(tag)
        if language == "en" or language in LANGUAGES:
            return language
    return "en"


def translate(text: str, header: str | None) -> str:
    """``text`` in the language the header asks for, when the table has it."""
    language = language_of(header)
    if language == "en":
        return text
    exact = MESSAGES.get(text)
    if exact is not None:
        return exact[language]
    for pattern, key in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return MESSAGES[key][language].format(*match.groups())
    return text


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """The keys with numbers in them, as patterns that find the numbers."""
    out = []
    for key in MESSAGES:
        if "{0}" in key:
            parts = re.split(r"\{\d\}", key)
            out.append((re.compile("(.+?)".join(re.escape(p) for p in parts)), key))
    return out
