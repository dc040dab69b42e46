package newsflow.analysis;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.OffsetAttribute;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenizerFactory;

import java.io.IOException;

/**
 * newsflow.folding's words after the transliteration, in one pass over the text: the words are the runs of
 * ASCII letters and digits (as the {@code simple_pattern_split} tokenizer on {@code [^A-Za-z0-9]+} makes them),
 * lower-cased, then folded: the romanization variants (q → k, gh → g, zh → j, kh → h, w → v: what their
 * left-to-right passes in that order, as Python's re.sub makes them, give, in one), then the consonant skeleton (the vowels and y after
 * the first letter dropped, repeated letters once). It stands in for that tokenizer, the lowercase filter and
 * the chain of analysis-common {@code pattern_replace} filters that search/index.py writes for the steps,
 * which took the folded sub-fields twice the standard analyzer's time on the benchmark pages as three
 * components; tests/integration/test_analysis.py compares it with newsflow.folding.
 */
@NamedComponent("newsflow_folded_words")
public class FoldedWordsTokenizerFactory implements TokenizerFactory {

    @Override
    public Tokenizer create() {
        return new FoldedWords();
    }

    private static final class FoldedWords extends Tokenizer {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final OffsetAttribute offsets = addAttribute(OffsetAttribute.class);
        private final char[] read = new char[4096];
        private int readLength = 0;
        private int readAt = 0;
        /** The offset in the (char-filtered) text of read[0]. */
        private int readOffset = 0;

        @Override
        public boolean incrementToken() throws IOException {
            clearAttributes();
            char[] word = term.buffer();
            int length = 0;
            int start = -1;
            int end = 0;
            boolean lastReplaced = false; // word[length - 1] is what a variant (gh → g, ...) was replaced by
            while (true) {
                if (readAt == readLength) {
                    readOffset += readLength;
                    readLength = Math.max(0, input.read(read, 0, read.length));
                    readAt = 0;
                    if (readLength == 0) {
                        break;
                    }
                }
                char c = read[readAt];
                if (c >= 'A' && c <= 'Z') {
                    c = (char) (c + ('a' - 'A'));
                } else if ((c < 'a' || c > 'z') && (c < '0' || c > '9')) {
                    if (start >= 0) {
                        break;
                    }
                    readAt++;
                    continue;
                }
                if (start < 0) {
                    start = readOffset + readAt;
                }
                end = readOffset + ++readAt;
                // The variants in one pass: q and w are letters of their own; an h goes with the g, z or k
                // before it, unless that letter is itself a replacement (ghh → gh, as re.sub's passes make it).
                char previous = length > 0 && lastReplaced == false ? word[length - 1] : 0;
                lastReplaced = c == 'h' && (previous == 'g' || previous == 'z' || previous == 'k');
                if (lastReplaced) {
                    word[length - 1] = previous == 'g' ? 'g' : previous == 'z' ? 'j' : 'h';
                    continue;
                }
                if (length == word.length) {
                    word = term.resizeBuffer(length + 1);
                }
                word[length++] = c == 'q' ? 'k' : c == 'w' ? 'v' : c;
            }
            if (start < 0) {
                return false;
            }
            offsets.setOffset(correctOffset(start), correctOffset(end));
            term.setLength(skeleton(word, length));
            return true;
        }

        @Override
        public void end() throws IOException {
            super.end();
            int end = correctOffset(readOffset + readLength);
            offsets.setOffset(end, end);
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            readLength = readAt = readOffset = 0;
        }

        /** The first letter, then the others but vowels and y, repeated letters once; the new length. */
        private static int skeleton(char[] word, int length) {
            int written = 1;
            for (int read = 1; read < length; read++) {
                char c = word[read];
                boolean vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
                if (vowel == false && c != word[written - 1]) {
                    word[written++] = c;
                }
            }
            return written;
        }
    }
}
