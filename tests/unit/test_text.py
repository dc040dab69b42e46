"""Word counts by script (newsflow.text): a short text is short, and a long one long, in every language."""

from newsflow.text import tokens, word_count

# Three paragraphs of a Japanese news article, 372 characters: 23 `\w+` runs, for only punctuation splits them.
JAPANESE = [
    "東京都は十三日、首都直下地震に備えた新しい防災計画を発表した。計画では、都内の避難所を今後五年間で約二割増やし、"
    "高齢者や障害のある人が安心して過ごせる福祉避難所の整備を急ぐ。",
    "都の担当者によると、木造住宅が密集する地域では火災の延焼を防ぐため、道路の拡幅や公園の整備を進めるという。"
    "また、帰宅困難者の受け入れ施設として、民間のビルやホテルとの協定を新たに結ぶ方針だ。"
    "この計画には、総額で約三千億円の予算が充てられる見通しだという。",
    "知事は記者会見で「災害はいつ起きてもおかしくない。一人ひとりが備えを見直してほしい」と述べ、家庭での水や食料の備蓄を"
    "呼びかけた。計画の詳細は来月、都のホームページで公開される予定で、住民向けの説明会も各区で順次開かれる。"
    "専門家は、計画の実効性を高めるには地域の防災訓練への参加を増やすことが欠かせないと指摘している。",
]
JAPANESE_ARTICLE = "\n".join(JAPANESE)


def test_the_japanese_article_is_372_characters_and_about_180_words():
    assert len(JAPANESE_ARTICLE.replace("\n", "")) == 372
    assert 150 <= word_count(JAPANESE_ARTICLE) <= 200


def test_chinese_and_thai_count_characters_spaced_scripts_count_words():
    assert word_count("新华社北京11月17日电") == 2 + 4  # "11", "17", and 8 characters in pairs
    assert word_count("ผู้สื่อข่าวได้รับแจ้ง") == 6  # 21 code points, 4 to a word
    assert word_count("Парламент Казахстана обсуждал реформу") == 4
    assert word_count("") == 0


def test_tokens_split_unspaced_scripts_into_characters():
    assert tokens("Токаев 東京 2026年") == ["Токаев", "東", "京", "2026", "年"]
