package newsflow.analysis;

import org.apache.lucene.analysis.charfilter.BaseCharFilter;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.CharFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.ListSetting;

import java.io.IOException;
import java.io.Reader;
import java.util.Arrays;
import java.util.List;

/**
 * analysis-common's {@code mapping} char filter for rules whose left side is one character
 * ({@code mappings: ["қ => к", "ж => zh", "\u0301 => "]}), which are all newsflow needs: each
 * character is looked up in a table, replaced by its string (empty: dropped), and the offsets of what
 * follows are corrected, so that highlights mark the original text. A lookup per character costs
 * nothing next to Lucene's general MappingCharFilter, which took half as long again as the standard
 * analyzer itself on the benchmark pages.
 */
@NamedComponent("newsflow_mapping")
public class MappingCharFilterFactory implements CharFilterFactory {

    @AnalysisSettings
    public interface Settings {
        @ListSetting(path = "mappings")
        List<String> mappings();
    }

    /** The string each character up to the highest mapped one becomes (null: itself). */
    private String[] replacements = new String[0];

    @Inject
    public MappingCharFilterFactory(Settings settings) {
        for (String rule : settings.mappings()) {
            String[] sides = rule.split("=>", -1);
            if (sides.length != 2 || sides[0].strip().length() != 1) {
                throw new IllegalArgumentException("newsflow_mapping: rule [" + rule + "] is not of the form \"c => text\" (one character on the left)");
            }
            char from = sides[0].strip().charAt(0);
            if (from >= replacements.length) {
                replacements = Arrays.copyOf(replacements, from + 1);
            }
            replacements[from] = sides[1].strip();
        }
    }

    @Override
    public Reader create(Reader reader) {
        return new Mapped(reader, replacements);
    }

    @Override
    public Reader normalize(Reader reader) {
        return create(reader);
    }

    private static final class Mapped extends BaseCharFilter {
        private final String[] replacements;
        private final char[] read = new char[1024];
        /** Replaced characters not yet handed out: a replacement longer than the caller's room. */
        private final StringBuilder pending = new StringBuilder();
        private int pendingAt = 0;
        private int inputOffset = 0;
        private int outputOffset = 0;

        Mapped(Reader input, String[] replacements) {
            super(input);
            this.replacements = replacements;
        }

        @Override
        public int read(char[] buffer, int offset, int length) throws IOException {
            int written = 0;
            while (written < length) {
                if (pendingAt < pending.length()) {
                    int n = Math.min(length - written, pending.length() - pendingAt);
                    pending.getChars(pendingAt, pendingAt + n, buffer, offset + written);
                    pendingAt += n;
                    written += n;
                    continue;
                }
                pending.setLength(0);
                pendingAt = 0;
                int got = input.read(read, 0, Math.min(read.length, length - written));
                if (got < 0) {
                    break;
                }
                for (int i = 0; i < got; i++) {
                    char c = read[i];
                    String replacement = c < replacements.length ? replacements[c] : null;
                    inputOffset++;
                    if (replacement == null || replacement.length() == 1) {
                        char out = replacement == null ? c : replacement.charAt(0);
                        if (pending.length() == 0 && written < length) {
                            buffer[offset + written++] = out;
                        } else {
                            pending.append(out);
                        }
                        outputOffset++;
                        continue;
                    }
                    // The characters after a replacement of another length start at another offset.
                    outputOffset += replacement.length();
                    addOffCorrectMap(outputOffset, inputOffset - outputOffset);
                    for (int k = 0; k < replacement.length(); k++) {
                        if (pending.length() == 0 && written < length) {
                            buffer[offset + written++] = replacement.charAt(k);
                        } else {
                            pending.append(replacement.charAt(k));
                        }
                    }
                }
            }
            return written == 0 && length > 0 ? -1 : written;
        }
    }
}
