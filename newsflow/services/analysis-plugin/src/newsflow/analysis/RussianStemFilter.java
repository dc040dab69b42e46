package newsflow.analysis;

import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.KeywordAttribute;
import org.tartarus.snowball.ext.RussianStemmer;

import java.io.IOException;

/**
 * Snowball's Russian stemmer (Lucene's SnowballFilter with a RussianStemmer) on the words that have a
 * Cyrillic letter. It leaves other words as they are anyway, but working that out took it longer
 * than the standard analyzer takes for the whole text of an English page.
 */
final class RussianStemFilter extends TokenFilter {
    private final RussianStemmer stemmer = new RussianStemmer();
    private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
    private final KeywordAttribute keyword = addAttribute(KeywordAttribute.class);

    RussianStemFilter(TokenStream input) {
        super(input);
    }

    @Override
    public boolean incrementToken() throws IOException {
        if (input.incrementToken() == false) {
            return false;
        }
        if (keyword.isKeyword() == false && hasCyrillic()) {
            stemmer.setCurrent(term.buffer(), term.length());
            stemmer.stem();
            char[] stemmed = stemmer.getCurrentBuffer();
            if (stemmed == term.buffer()) {
                term.setLength(stemmer.getCurrentBufferLength());
            } else {
                term.copyBuffer(stemmed, 0, stemmer.getCurrentBufferLength());
            }
        }
        return true;
    }

    private boolean hasCyrillic() {
        char[] buffer = term.buffer();
        for (int i = 0; i < term.length(); i++) {
            if (buffer[i] >= '\u0400' && buffer[i] <= '\u04FF') {
                return true;
            }
        }
        return false;
    }
}
