package newsflow.analysis;

import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/**
 * newsflow.folding's steps after the transliteration, on each lower-case ASCII word: the romanization
 * variants (q → k, gh → g, zh → j, kh → h, w → v, in that order, each a left-to-right pass as Python's
 * re.sub makes it), then the consonant skeleton (the vowels and y after the first letter dropped, repeated
 * letters once). It stands in for the chain of analysis-common {@code pattern_replace} filters that
 * search/index.py writes for the same steps, which nearly doubled Elasticsearch's indexing CPU on the
 * benchmark pages; tests/integration/test_analysis.py compares both with newsflow.folding.
 */
@NamedComponent("newsflow_fold")
public class FoldFactory implements TokenFilterFactory {

    @Override
    public TokenStream create(TokenStream input) {
        return new FoldFilter(input);
    }

    private static final class FoldFilter extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);

        FoldFilter(TokenStream input) {
            super(input);
        }

        @Override
        public boolean incrementToken() throws java.io.IOException {
            if (input.incrementToken() == false) {
                return false;
            }
            char[] word = term.buffer();
            int length = term.length();
            length = replace(word, length, 'q', (char) 0, 'k');
            length = replace(word, length, 'g', 'h', 'g');
            length = replace(word, length, 'z', 'h', 'j');
            length = replace(word, length, 'k', 'h', 'h');
            length = replace(word, length, 'w', (char) 0, 'v');
            term.setLength(skeleton(word, length));
            return true;
        }

        /** `first` (followed by `second`, unless it is 0) becomes `replacement`, left to right, in place; the new length. */
        private static int replace(char[] word, int length, char first, char second, char replacement) {
            int written = 0;
            for (int read = 0; read < length; read++) {
                if (word[read] == first && (second == 0 || (read + 1 < length && word[read + 1] == second))) {
                    word[written++] = replacement;
                    if (second != 0) {
                        read++;
                    }
                } else {
                    word[written++] = word[read];
                }
            }
            return written;
        }

        /** The first letter, then the others but vowels and y, repeated letters once; the new length. */
        private static int skeleton(char[] word, int length) {
            if (length == 0) {
                return 0;
            }
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
