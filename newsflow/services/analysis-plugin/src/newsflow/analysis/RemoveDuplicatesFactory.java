package newsflow.analysis;

import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

import java.io.IOException;
import java.util.Arrays;

/**
 * analysis-common's {@code remove_duplicates} token filter (Lucene's RemoveDuplicatesTokenFilter): a word dropped
 * where an earlier one at the same position is the same, as a stem equal to its word. The same tokens, but
 * the few words of a position are compared in place instead of copied into a hash set, which made Lucene's
 * filter the dearest step of {@code words_and_stems} (a fifth of its time on the benchmark pages).
 */
@NamedComponent("newsflow_remove_duplicates")
public class RemoveDuplicatesFactory implements TokenFilterFactory {

    @Override
    public TokenStream create(TokenStream input) {
        return new RemoveDuplicates(input);
    }

    private static final class RemoveDuplicates extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute increment = addAttribute(PositionIncrementAttribute.class);
        /** The words of the current position so far: the first `seen` of them, each reused from one position to the next. */
        private char[][] words = new char[2][16];
        private int[] lengths = new int[2];
        private int seen = 0;

        RemoveDuplicates(TokenStream input) {
            super(input);
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                if (increment.getPositionIncrement() > 0) {
                    seen = 0;
                } else if (isSeen()) {
                    continue;
                }
                remember();
                return true;
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen = 0;
        }

        private boolean isSeen() {
            for (int i = 0; i < seen; i++) {
                if (Arrays.equals(words[i], 0, lengths[i], term.buffer(), 0, term.length())) {
                    return true;
                }
            }
            return false;
        }

        private void remember() {
            if (seen == words.length) {
                words = Arrays.copyOf(words, seen * 2);
                lengths = Arrays.copyOf(lengths, seen * 2);
            }
            if (words[seen] == null || words[seen].length < term.length()) {
                words[seen] = new char[Math.max(16, term.length())];
            }
            System.arraycopy(term.buffer(), 0, words[seen], 0, term.length());
            lengths[seen++] = term.length();
        }
    }
}
