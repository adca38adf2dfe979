"""Language codes the toolkit knows (ISO 639-1), for validating --lang/--src/--tgt."""

from __future__ import annotations

from toolkit.errors import ToolkitError

ISO_639_1 = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian", "bg": "Bulgarian",
    "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "gu": "Gujarati",
    "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian",
    "kk": "Kazakh", "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ky": "Kyrgyz", "lt": "Lithuanian",
    "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay",
    "mt": "Maltese", "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi",
    "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "si": "Sinhala",
    "sk": "Slovak", "sl": "Slovenian", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "xh": "Xhosa", "yo": "Yoruba",
    "zh": "Chinese", "zu": "Zulu",
}


# ISO 639-1 → (ISO 639-3, NLLB-200 code). NLLB names the macrolanguage member it was trained on.
CODES = {
    "af": ("afr", "afr_Latn"), "am": ("amh", "amh_Ethi"), "ar": ("ara", "arb_Arab"), "az": ("aze", "azj_Latn"),
    "be": ("bel", "bel_Cyrl"), "bg": ("bul", "bul_Cyrl"), "bn": ("ben", "ben_Beng"), "bs": ("bos", "bos_Latn"),
    "ca": ("cat", "cat_Latn"), "cs": ("ces", "ces_Latn"), "cy": ("cym", "cym_Latn"), "da": ("dan", "dan_Latn"),
    "de": ("deu", "deu_Latn"), "el": ("ell", "ell_Grek"), "en": ("eng", "eng_Latn"), "eo": ("epo", "epo_Latn"),
    "es": ("spa", "spa_Latn"), "et": ("est", "est_Latn"), "eu": ("eus", "eus_Latn"), "fa": ("fas", "pes_Arab"),
    "fi": ("fin", "fin_Latn"), "fr": ("fra", "fra_Latn"), "ga": ("gle", "gle_Latn"), "gl": ("glg", "glg_Latn"),
    "gu": ("guj", "guj_Gujr"), "ha": ("hau", "hau_Latn"), "he": ("heb", "heb_Hebr"), "hi": ("hin", "hin_Deva"),
    "hr": ("hrv", "hrv_Latn"), "hu": ("hun", "hun_Latn"), "hy": ("hye", "hye_Armn"), "id": ("ind", "ind_Latn"),
    "ig": ("ibo", "ibo_Latn"), "is": ("isl", "isl_Latn"), "it": ("ita", "ita_Latn"), "ja": ("jpn", "jpn_Jpan"),
    "ka": ("kat", "kat_Geor"), "kk": ("kaz", "kaz_Cyrl"), "km": ("khm", "khm_Khmr"), "kn": ("kan", "kan_Knda"),
    "ko": ("kor", "kor_Hang"), "ky": ("kir", "kir_Cyrl"), "lt": ("lit", "lit_Latn"), "lv": ("lav", "lvs_Latn"),
    "mk": ("mkd", "mkd_Cyrl"), "ml": ("mal", "mal_Mlym"), "mn": ("mon", "khk_Cyrl"), "mr": ("mar", "mar_Deva"),
    "ms": ("msa", "zsm_Latn"), "mt": ("mlt", "mlt_Latn"), "my": ("mya", "mya_Mymr"), "ne": ("nep", "npi_Deva"),
    "nl": ("nld", "nld_Latn"), "no": ("nor", "nob_Latn"), "pa": ("pan", "pan_Guru"), "pl": ("pol", "pol_Latn"),
    "ps": ("pus", "pbt_Arab"), "pt": ("por", "por_Latn"), "ro": ("ron", "ron_Latn"), "ru": ("rus", "rus_Cyrl"),
    "si": ("sin", "sin_Sinh"), "sk": ("slk", "slk_Latn"), "sl": ("slv", "slv_Latn"), "so": ("som", "som_Latn"),
    "sq": ("sqi", "als_Latn"), "sr": ("srp", "srp_Cyrl"), "sv": ("swe", "swe_Latn"), "sw": ("swa", "swh_Latn"),
    "ta": ("tam", "tam_Taml"), "te": ("tel", "tel_Telu"), "tg": ("tgk", "tgk_Cyrl"), "th": ("tha", "tha_Thai"),
    "tl": ("tgl", "tgl_Latn"), "tr": ("tur", "tur_Latn"), "uk": ("ukr", "ukr_Cyrl"), "ur": ("urd", "urd_Arab"),
    "uz": ("uzb", "uzn_Latn"), "vi": ("vie", "vie_Latn"), "xh": ("xho", "xho_Latn"), "yo": ("yor", "yor_Latn"),
    "zh": ("zho", "zho_Hans"), "zu": ("zul", "zul_Latn"),
}
_FROM_ISO3 = {iso3: code for code, (iso3, _) in CODES.items()}
_FROM_NLLB = {nllb.lower(): code for code, (_, nllb) in CODES.items()}
# Other ISO 639-3 / 639-2 spellings that people and models use.
_FROM_ISO3.update({"fre": "fr", "ger": "de", "dut": "nl", "chi": "zh", "cmn": "zh", "arb": "ar", "pes": "fa",
                   "nob": "no", "zsm": "ms", "swh": "sw", "als": "sq", "lvs": "lv", "khk": "mn", "npi": "ne",
                   "uzn": "uz", "pbt": "ps", "alb": "sq", "arm": "hy", "baq": "eu", "bur": "my", "cze": "cs",
                   "geo": "ka", "gre": "el", "ice": "is", "mac": "mk", "may": "ms", "per": "fa", "rum": "ro",
                   "slo": "sk", "wel": "cy"})


def normalize_language(code: str) -> str | None:
    """ISO 639-1, ISO 639-3/639-2 or NLLB code (``fr``, ``fra``, ``fre``, ``fra_Latn``) → ISO 639-1,
    or None when unknown."""
    raw = code.strip()
    lowered = raw.lower()
    if lowered.replace("-", "_") in _FROM_NLLB:
        return _FROM_NLLB[lowered.replace("-", "_")]
    base = lowered.replace("_", "-").split("-")[0]
    if base in ISO_639_1:
        return base
    return _FROM_ISO3.get(base)


def check_language(code: str, option: str = "--lang") -> str:
    """Return the normalised ISO 639-1 code, or raise a one-line error for an unknown one."""
    normalised = normalize_language(code)
    if normalised is None:
        raise ToolkitError(f"{option} {code}: unknown language code (expected ISO 639-1/3 or NLLB, e.g. fr, fra, fra_Latn)")
    return normalised


def iso3(code: str) -> str:
    return CODES[code][0]


def nllb(code: str) -> str:
    return CODES[code][1]
