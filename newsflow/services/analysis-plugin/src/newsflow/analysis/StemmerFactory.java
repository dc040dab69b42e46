package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.StringSetting;

import java.util.function.UnaryOperator;

/**
 * analysis-common's {@code stemmer} token filter for the languages newsflow indexes, with the same
 * {@code language} setting and the same stemmers behind each language (Lucene's Porter, its English
 * possessive filter, Snowball's Russian), so that an index stems alike on the local node and on a
 * full Elasticsearch.
 */
@NamedComponent("newsflow_stemmer")
public class StemmerFactory implements TokenFilterFactory {

    @AnalysisSettings
    public interface Settings {
        @StringSetting(path = "language", defaultValue = "english")
        String language();
    }

    private final UnaryOperator<TokenStream> stemmer;

    @Inject
    public StemmerFactory(Settings settings) {
        this.stemmer = switch (settings.language()) {
            case "english" -> PorterStemFilter::new;
            case "possessive_english" -> EnglishPossessiveFilter::new;
            case "russian" -> RussianStemFilter::new;
            default -> throw new IllegalArgumentException(
                "newsflow_stemmer: language [" + settings.language() + "] is not one of english, possessive_english, russian"
            );
        };
    }

    @Override
    public TokenStream create(TokenStream input) {
        return stemmer.apply(input);
    }
}
